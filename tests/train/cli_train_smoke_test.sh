#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The training commands end to end on synthetic pairs: init -> sft (with a --config file) ->
# dpo for each loss type -> score, and the errors a user meets first.
#   cli_train_smoke_test.sh PREFOPT_BINARY TOKENIZER_DIR
set -euo pipefail
prefopt="$1"
tokenizer="$2"
[ -f "${tokenizer}/vocab.json" ] || { echo "SKIPPED: no tokenizer at ${tokenizer} (run scripts/setup.sh)"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cd "${work}"
fail() { echo "FAIL: $*"; exit 1; }

python3 - <<'PY'
import json, random
r = random.Random(1)
words = "the a cat dog sat ran on under mat log red blue".split()
s = lambda n: " ".join(r.choice(words) for _ in range(n))
with open("text.jsonl", "w") as f:
    for i in range(24):
        f.write(json.dumps({"prompt": "Q: " + s(3) + "\nA: ", "chosen": "Yes. " + s(4), "rejected": s(4)}) + "\n")
PY

"${prefopt}" init --n-layer 1 --n-head 2 --n-embd 32 --n-positions 64 --tokenizer "${tokenizer}" --out m0 | grep -q "parameters" \
  || fail "init"
[ -f m0/config.json ] && [ -f m0/model.safetensors ] && [ -f m0/vocab.json ] || fail "init wrote an incomplete model directory"

# --help documents every training flag with its default.
help="$("${prefopt}" dpo --help)"
for flag in --output-dir --per-device-train-batch-size --num-train-epochs --max-steps --learning-rate \
            --gradient-accumulation-steps --logging-steps --save-strategy --beta --max-length \
            --max-prompt-length --loss-type --seed --resume --config; do
  grep -q -- "${flag}" <<<"${help}" || fail "dpo --help lacks ${flag}"
done
grep -q -- "--beta" <<<"${help}" && grep -q "(=8)" <<<"${help}" || fail "dpo --help shows no defaults"

# SFT from a config file; the command line overrides the file.
cat > sft.cfg <<'CFG'
output-dir = sft
max-steps = 50
per-device-train-batch-size = 4
learning-rate = 3e-3
logging-steps = 2
save-strategy = no
CFG
"${prefopt}" sft --config sft.cfg --model m0 --pairs text.jsonl --max-steps 4 --no-progress > sft.log 2>&1 || { cat sft.log; fail "sft"; }
grep -q "step 4/4" sft.log || { cat sft.log; fail "sft did not take the command line's --max-steps 4 over the file's 50"; }
[ -f sft/model.safetensors ] || fail "sft wrote no model"
[ "$(wc -l < sft/metrics.jsonl)" -eq 2 ] || fail "sft: expected 2 log lines"

for loss in dpo ipo hinge slic simpo orpo; do
  "${prefopt}" dpo --model sft --pairs text.jsonl --output-dir "dpo-${loss}" --loss-type "${loss}" --max-steps 2 \
    --per-device-train-batch-size 2 --logging-steps 1 --save-strategy no --no-progress > "dpo-${loss}.log" 2>&1 \
    || { cat "dpo-${loss}.log"; fail "dpo --loss-type ${loss}"; }
  grep -q '"rewards/accuracies"' "dpo-${loss}/metrics.jsonl" || fail "${loss}: no rewards/accuracies in metrics.jsonl"
done
# The frozen-reference path gives the same first-step loss as the precomputed one.
"${prefopt}" dpo --model sft --pairs text.jsonl --output-dir dpo-frozen --max-steps 2 --per-device-train-batch-size 2 \
  --logging-steps 1 --save-strategy no --no-progress --precompute-ref-log-probs false > frozen.log 2>&1 || { cat frozen.log; fail "frozen reference"; }
a="$(head -1 dpo-dpo/metrics.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')"
b="$(head -1 dpo-frozen/metrics.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')"
python3 -c "import sys; a, b = float('${a}'), float('${b}'); sys.exit(0 if abs(a - b) < 1e-5 and abs(a - 0.693147) < 1e-4 else 1)" \
  || fail "first DPO loss: precomputed ${a}, frozen ${b}, expected both ln 2"

# score: one line per pair plus a summary.
"${prefopt}" score --model dpo-dpo --ref sft --pairs text.jsonl --beta 0.1 > score.jsonl
[ "$(wc -l < score.jsonl)" -eq 25 ] || fail "score: expected 24 pair lines and a summary"
tail -1 score.jsonl | grep -q '"rewards/accuracies"' || fail "score: no summary line"
head -1 score.jsonl | grep -q '"policy_chosen_mean"' || fail "score: no per-pair log-probs"

# Errors name what is wrong.
err="$("${prefopt}" dpo --model nowhere --pairs text.jsonl --output-dir x 2>&1)" && fail "a missing model was accepted"
grep -q "nowhere" <<<"${err}" || fail "missing model: message does not name it: ${err}"
printf '{"prompt_ids": [1, 2], "chosen_ids": [3, "x"], "rejected_ids": [4]}\n' > bad.jsonl
err="$("${prefopt}" dpo --model sft --pairs bad.jsonl --output-dir x 2>&1)" && fail "a bad id row was accepted"
grep -q "bad.jsonl:1" <<<"${err}" || fail "bad ids: message does not name file:line: ${err}"
err="$("${prefopt}" dpo --model sft --pairs text.jsonl --output-dir dpo-dpo --resume --per-device-train-batch-size 3 2>&1)" \
  && fail "resume without a checkpoint was accepted"
grep -q "nothing to resume" <<<"${err}" || fail "resume: unclear message: ${err}"
echo "PASS"
