#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kill -9 a `prefopt dpo` run eight times (each after it wrote a new checkpoint, at varied delays),
# resume it each time with --resume, and check that the final weights and metrics.jsonl are
# byte-identical to an uninterrupted run's.
#   resume_kill_test.sh PREFOPT_BINARY TOKENIZER_DIR
set -euo pipefail
prefopt="$1"
tokenizer="$2"
[ -f "${tokenizer}/vocab.json" ] || { echo "SKIPPED: no tokenizer at ${tokenizer} (run scripts/setup.sh)"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cd "${work}"

# 40 small synthetic text pairs (TRL's prompt/chosen/rejected format).
python3 - <<'PY'
import json, random
r = random.Random(7)
words = "the a cat dog sat ran on under mat log red blue quick slow very".split()
with open("pairs.jsonl", "w") as f:
    for i in range(40):
        s = lambda n: " ".join(r.choice(words) for _ in range(n))
        f.write(json.dumps({"prompt": "### Question: " + s(r.randint(2, 6)) + "\n### Answer: ",
                            "chosen": "Let me explain. " + s(r.randint(2, 8)),
                            "rejected": s(r.randint(2, 8))}) + "\n")
PY
"${prefopt}" init --n-layer 2 --n-head 2 --n-embd 64 --n-positions 64 --seed 3 --tokenizer "${tokenizer}" --out model >/dev/null

# The same flags every time; a run is "${prefopt}" dpo "${common[@]}" --output-dir DIR [--resume].
common=(--model model --pairs pairs.jsonl --per-device-train-batch-size 2 --gradient-accumulation-steps 2
        --max-steps 40 --save-steps 3 --save-total-limit 3 --logging-steps 4 --learning-rate 1e-3
        --warmup-steps 2 --beta 0.2 --no-progress)
run() { local out="$1"; shift; "${prefopt}" dpo "${common[@]}" --output-dir "${out}" "$@"; }

run straight >straight.log 2>&1 || { cat straight.log; exit 1; }
[ -f straight/model.safetensors ] || { echo "FAIL: the uninterrupted run wrote no model"; exit 1; }

latest_step() {  # the step of killed/'s newest complete checkpoint, 0 if none
  local best=0 d s
  for d in killed/checkpoint-*; do
    [ -f "${d}/trainer_state.json" ] || continue
    s="${d##*-}"
    [ "${s}" -gt "${best}" ] && best="${s}"
  done
  echo "${best}"
}

# Up to eight rounds: start (or resume) the run, wait until it has written a checkpoint newer
# than the last round's, wait a little more (a different delay each round, so some kills land in
# the middle of a step and some while a checkpoint is being written), then SIGKILL it. Progress,
# not time, decides when to kill, so the test does not depend on the machine's speed or load.
kills=0
finished=0
delays=(0.00 0.13 0.05 0.21 0.02 0.17 0.09 0.27)
for round in 0 1 2 3 4 5 6 7; do
  before="$(latest_step)"
  if [ "${round}" -eq 0 ]; then
    "${prefopt}" dpo "${common[@]}" --output-dir killed >>killed.log 2>&1 &
  else
    "${prefopt}" dpo "${common[@]}" --output-dir killed --resume >>killed.log 2>&1 &
  fi
  pid=$!  # prefopt itself (started directly, not through a shell function)
  while kill -0 "${pid}" 2>/dev/null && [ "$(latest_step)" -le "${before}" ]; do sleep 0.02; done
  sleep "${delays[${round}]}"
  if kill -9 "${pid}" 2>/dev/null; then
    wait "${pid}" 2>/dev/null || true
    kills=$((kills + 1))
    echo "round ${round}: killed after checkpoint-$(latest_step)"
  elif wait "${pid}"; then
    finished=1
    echo "round ${round}: finished on its own"
    break
  else
    echo "FAIL: prefopt dpo exited with an error before it was killed"; cat killed.log; exit 1
  fi
done
if [ "${finished}" -eq 0 ]; then
  run killed --resume >>killed.log 2>&1 || { cat killed.log; exit 1; }
fi
[ "${kills}" -ge 3 ] || { echo "FAIL: only ${kills} kills landed inside the run"; exit 1; }
echo "kills: ${kills}, resumes: $(grep -c "resumed from" killed.log || true)"

status=0
cmp straight/model.safetensors killed/model.safetensors || { echo "FAIL: final weights differ"; status=1; }
cmp straight/metrics.jsonl killed/metrics.jsonl || { echo "FAIL: metrics.jsonl differs"; diff straight/metrics.jsonl killed/metrics.jsonl | head; status=1; }
# Every checkpoint directory left is complete and loads as a model.
for c in killed/checkpoint-*; do
  for f in config.json model.safetensors optimizer.safetensors trainer_state.json; do
    [ -f "${c}/${f}" ] || { echo "FAIL: ${c} lacks ${f}"; status=1; }
  done
done
[ "${status}" -eq 0 ] && echo "PASS: killed and resumed run equals the uninterrupted one, byte for byte"
exit "${status}"
