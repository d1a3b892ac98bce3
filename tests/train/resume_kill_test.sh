#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kill -9 a `prefopt dpo` run up to eight times (while it trains, while it writes a checkpoint),
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

t0=$(date +%s.%N)
run straight >straight.log 2>&1 || { cat straight.log; exit 1; }
t1=$(date +%s.%N)
duration=$(awk -v a="${t0}" -v b="${t1}" 'BEGIN { printf "%.3f", b - a }')
echo "uninterrupted run: ${duration} s"
[ -f straight/model.safetensors ] || { echo "FAIL: the uninterrupted run wrote no model"; exit 1; }

# Kill each process at a fraction of the uninterrupted run's duration (start-up included, so
# every resumed process gets a little further), then resume from whatever the kill left behind.
first=1
for fraction in 0.3 0.35 0.1 0.4 0.3 0.45 0.5 0.35; do
  delay=$(awk -v d="${duration}" -v f="${fraction}" 'BEGIN { printf "%.3f", d * f }')
  # Started directly (not through the shell function) so that $! is prefopt itself.
  if [ "${first}" -eq 1 ]; then
    "${prefopt}" dpo "${common[@]}" --output-dir killed >>killed.log 2>&1 &
    first=0
  else
    "${prefopt}" dpo "${common[@]}" --output-dir killed --resume >>killed.log 2>&1 &
  fi
  pid=$!
  # Wait up to the delay, but stop waiting as soon as the process ends on its own.
  finished=0
  started=$(date +%s.%N)
  deadline=$(awk -v a="${started}" -v d="${delay}" 'BEGIN { printf "%.3f", a + d }')
  while kill -0 "${pid}" 2>/dev/null; do
    now=$(date +%s.%N)
    if awk -v n="${now}" -v e="${deadline}" 'BEGIN { exit !(n >= e) }'; then break; fi
    sleep 0.05
  done
  if kill -9 "${pid}" 2>/dev/null; then
    wait "${pid}" 2>/dev/null || true
    echo "killed after ${delay} s: $(cd killed 2>/dev/null && ls -d checkpoint-* 2>/dev/null | tr '\n' ' ')"
  elif wait "${pid}"; then
    finished=1
    echo "finished on its own before ${delay} s"
  else
    echo "FAIL: prefopt dpo exited with an error before it was killed"; cat killed.log; exit 1
  fi
  [ "${finished}" -eq 1 ] && break
done
if [ "${finished}" -eq 0 ]; then
  if ls killed/checkpoint-* >/dev/null 2>&1; then
    run killed --resume >>killed.log 2>&1 || { cat killed.log; exit 1; }
  else
    run killed >>killed.log 2>&1 || { cat killed.log; exit 1; }
  fi
fi
grep -c "resumed from" killed.log | sed 's/^/resumes: /'

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
