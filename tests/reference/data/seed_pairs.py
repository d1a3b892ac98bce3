#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reference for prefopt's data stage (issue 3): the seed notebook's data cells, re-implemented
with plain Python string operations and the standard library only (gzip, json), run over the
shared hh-rlhf rows.

  cell 2 (conversation_count_filter) and cell 3 (extract_conversation, create_preference_pairs)
  of ../shared/seed/000_bb45ecff21c73357.txt, copied rule for rule below, with
  tokenizer.eos_token = "<|endoftext|>" (GPT-2's). The tokenizer-dependent length filter of cell 3
  needs GPT-2 BPE, which this Python lacks: seed_lengths.mjs (js-tiktoken) does that part.

Also hh-rlhf's own preference pairs (prefopt::HhRlhfPreference): prompt = the conversation up to
and including the last "\\n\\nAssistant:", completions = the rest; dropped when chosen and
rejected disagree on that prompt.

Writes beside this script (or --out-dir):
  seed_pairs_counts.json        counts per stage and drop reason, for both builders
  seed_pairs_expected.jsonl.gz  every LetMeExplain pair: {"line", "prompt", "chosen", "rejected"}
--check recomputes and compares with the files on disk (JSON content, not gzip bytes); exit 1 on
a difference.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "hh-rlhf", "harmless-base-test.jsonl.gz"))
EOS_TOKEN = "<|endoftext|>"  # GPT-2's tokenizer.eos_token
COUNTS_FILE = "seed_pairs_counts.json"
PAIRS_FILE = "seed_pairs_expected.jsonl.gz"


# ---- the seed's cells, verbatim apart from the tokenizer object --------------------------------
def conversation_count_filter(example):
    if example["chosen"].count("Human: ") >= 2:
        return False
    if example["rejected"].count("Human: ") >= 2:
        return False
    return True


def extract_conversation(text):
    parts = text.split("Assistant: ")
    if len(parts) < 2:
        return "", ""
    human = parts[0].replace("Human: ", "")
    assistant = parts[1]
    return human.strip(), assistant.strip()


def create_preference_pair(chosen_text):
    """create_preference_pairs for one row: (pair or None, reason). The seed only skips; the reason
    (prefopt's DropReason) is attributed in the order prefopt checks, for the per-reason counts."""
    human, answer = extract_conversation(chosen_text)
    if not human or not answer:
        if len(chosen_text.split("Assistant: ")) < 2:
            return None, "no_assistant_turn"
        return None, "empty_question" if not human else "empty_answer"
    if answer.lower().startswith("let me explain"):
        return None, "already_starts_with_phrase"
    chosen = "Let me explain. " + answer + EOS_TOKEN
    rejected = answer + EOS_TOKEN
    prompt = f"### Question: {human}\n### Answer: "
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}, None


# ---- hh-rlhf's own pairs -----------------------------------------------------------------------
def hh_rlhf_preference(row):
    tag = "\n\nAssistant:"
    c, r = row["chosen"], row["rejected"]
    ci, ri = c.rfind(tag), r.rfind(tag)
    if ci < 0 or ri < 0:
        return None, "no_assistant_turn"
    prompt = c[: ci + len(tag)]
    if r[: ri + len(tag)] != prompt:
        return None, "prompt_mismatch"
    return {"prompt": prompt, "chosen": c[len(prompt):], "rejected": r[len(prompt):]}, None


def read_rows(path):
    rows = []
    with gzip.open(path, "rb") as f:  # binary: lines end at b"\n" only, as in prefopt
        for number, raw in enumerate(f, start=1):
            line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
            if line.strip(" \t\r") == "":
                continue  # trailing blank lines (there are none in the shared file)
            rows.append((number, json.loads(line)))
    return rows


def compute(path):
    rows = read_rows(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()

    seed_drops = {}
    pairs = []
    single_turn = 0
    for number, row in rows:
        if not conversation_count_filter(row):
            seed_drops["multi_turn"] = seed_drops.get("multi_turn", 0) + 1
            continue
        single_turn += 1
        pair, reason = create_preference_pair(row["chosen"])
        if pair is None:
            seed_drops[reason] = seed_drops.get(reason, 0) + 1
            continue
        pairs.append(dict(line=number, **pair))

    hh_drops = {}
    hh_pairs = []
    for number, row in rows:
        pair, reason = hh_rlhf_preference(row)
        if pair is None:
            hh_drops[reason] = hh_drops.get(reason, 0) + 1
            continue
        hh_pairs.append(dict(line=number, **pair))

    counts = {
        "source": os.path.basename(path),
        "source_sha256": digest,
        "python": sys.version.split()[0],
        "let_me_explain": {
            "rows_read": len(rows),
            "single_turn": single_turn,
            "pairs_built": len(pairs),
            "drops": dict(sorted(seed_drops.items())),
        },
        "hh_rlhf_preference": {
            "rows_read": len(rows),
            "pairs_built": len(hh_pairs),
            "drops": dict(sorted(hh_drops.items())),
            "multi_turn_pairs": sum(1 for p in hh_pairs if p["prompt"].count("\n\nHuman:") >= 2),
            "samples": [hh_pairs[i] for i in (0, 1, len(hh_pairs) - 1)],
        },
    }
    return counts, pairs


def pairs_jsonl(pairs):
    return "".join(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n" for p in pairs)


def write(out_dir, counts, pairs):
    os.makedirs(out_dir, exist_ok=True)
    counts_path = os.path.join(out_dir, COUNTS_FILE)
    with open(counts_path, "w", encoding="utf-8") as f:
        json.dump(counts, f, ensure_ascii=False, indent=1)
        f.write("\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(pairs_jsonl(pairs).encode("utf-8"))
    pairs_path = os.path.join(out_dir, PAIRS_FILE)
    with open(pairs_path, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {counts_path}")
    print(f"wrote {pairs_path} ({len(pairs)} pairs, {len(buf.getvalue())} bytes)")


def check(out_dir, counts, pairs):
    ok = True
    with open(os.path.join(out_dir, COUNTS_FILE), encoding="utf-8") as f:
        on_disk = json.load(f)
    mine = dict(counts, python=on_disk.get("python"))  # the Python version may differ
    if on_disk != mine:
        print(f"{COUNTS_FILE} differs from a fresh computation", file=sys.stderr)
        ok = False
    with gzip.open(os.path.join(out_dir, PAIRS_FILE), "rt", encoding="utf-8") as f:
        if f.read() != pairs_jsonl(pairs):
            print(f"{PAIRS_FILE} differs from a fresh computation", file=sys.stderr)
            ok = False
    print("reference files reproduce" if ok else "reference files are stale")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help="hh-rlhf rows (.jsonl.gz)")
    parser.add_argument("--out-dir", default=HERE)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    if not os.path.exists(args.data):
        print(f"SKIPPED: {args.data} is absent")
        return 77
    counts, pairs = compute(args.data)
    le = counts["let_me_explain"]
    print(f"let-me-explain: rows {le['rows_read']}, single-turn {le['single_turn']}, pairs {le['pairs_built']}, "
          f"drops {le['drops']}")
    hh = counts["hh_rlhf_preference"]
    print(f"hh-rlhf-preference: pairs {hh['pairs_built']}, drops {hh['drops']}")
    if args.check:
        return 0 if check(args.out_dir, counts, pairs) else 1
    write(args.out_dir, counts, pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
