#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The flagship example end to end on a very small budget (a 1-layer model, a fraction of an epoch,
# 4 new tokens): every stage runs, prints its counts and writes results.json, the curves and both
# models. The real default run is `bash scripts/run.sh` (README).
#   smoke_test.sh LET_ME_EXPLAIN_BINARY TOKENIZER_DIR
set -euo pipefail
binary="$1"
tokenizer="$2"
[ -f "${tokenizer}/vocab.json" ] || { echo "SKIPPED: no tokenizer at ${tokenizer} (run scripts/setup.sh)"; exit 77; }
out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT
"${binary}" --out "${out}" --tokenizer "${tokenizer}" --n-layer 1 --n-head 2 --n-embd 32 --sft-epochs 0.3 \
  --num-train-epochs 0.2 --max-new-tokens 4 --no-progress > "${out}/log.txt" 2>&1 || { cat "${out}/log.txt"; exit 1; }
fail() { echo "FAIL: $*"; cat "${out}/log.txt"; exit 1; }
grep -q "original rows:             2312" "${out}/log.txt" || fail "row count"
grep -q "after single-turn filter:  642" "${out}/log.txt" || fail "single-turn count"
grep -q "after length filter:       639" "${out}/log.txt" || fail "length-filter count"
grep -q "\[question\] What is machine learning?" "${out}/log.txt" || fail "seed question 1"
grep -q "\[question\] Explain the artificial intelligence" "${out}/log.txt" || fail "seed question 2"
grep -q "held-out reward accuracy" "${out}/log.txt" || fail "held-out accuracy"
for f in results.json dpo_curves.svg sft_model/model.safetensors dpo_model/model.safetensors dpo_run/metrics.jsonl; do
  [ -s "${out}/${f}" ] || fail "missing ${f}"
done
python3 - "${out}/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["pairs"] == 639 and r["train_pairs"] + r["held_out_pairs"] == 639, r
assert len(r["held_out"]) == r["held_out_pairs"]
for key in ("sft_success_rate", "dpo_success_rate", "held_out_reward_accuracy"):
    assert 0.0 <= r[key] <= 1.0, key
PY
grep -q "<svg" "${out}/dpo_curves.svg" || fail "curves are not an SVG"
echo "PASS"
