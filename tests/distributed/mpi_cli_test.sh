#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `mpirun -np 2 prefopt sft|dpo` end to end on synthetic pairs:
#   * every rank announces itself; rank 0 alone logs; the global batch is per-device x accumulation x ranks;
#   * 2 ranks x batch 2 train as 1 rank x batch 4 (every logged number to 1e-6 relative to
#     max(1, |value|), the weights to 1e-6 relative: ||w2 - w1|| / ||w1||);
#   * resuming with another number of ranks is refused with the reason, and allowed with --reshard;
#   * SIGKILL of rank 1 mid-run: mpirun exits non-zero within seconds; the checkpoints left are
#     intact, and resuming from them ends byte for byte as an uninterrupted 2-rank run.
#   mpi_cli_test.sh PREFOPT_BINARY TOKENIZER_DIR MPIRUN [mpirun options...]
set -euo pipefail
prefopt="$1"; tokenizer="$2"; shift 2
mpirun=("$@")
[ -f "${tokenizer}/vocab.json" ] || { echo "SKIPPED: no tokenizer at ${tokenizer} (run scripts/setup.sh)"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cd "${work}"
fail() { echo "FAIL: $*"; exit 1; }

python3 - <<'PY'
import json, random
r = random.Random(3)
words = "the a cat dog sat ran on under mat log red blue".split()
s = lambda n: " ".join(r.choice(words) for _ in range(n))
with open("text.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"prompt": "Q: " + s(1 + i % 4) + "\nA: ", "chosen": "Yes. " + s(2 + i % 5), "rejected": s(1 + i % 3)}) + "\n")
PY
"${prefopt}" init --n-layer 1 --n-head 2 --n-embd 32 --n-positions 64 --tokenizer "${tokenizer}" --out m0 > /dev/null || fail "init"

common=(--pairs text.jsonl --learning-rate 1e-3 --no-progress)

# ---- SFT on 2 ranks: both announce themselves, rank 0 alone logs -----------------------------------
"${mpirun[@]}" "${prefopt}" sft --model m0 "${common[@]}" --output-dir sft --max-steps 3 --logging-steps 1 --per-device-train-batch-size 2 \
  --save-strategy no > sft.log 2>&1 || { cat sft.log; fail "mpirun prefopt sft"; }
grep -q "rank 0 of 2" sft.log && grep -q "rank 1 of 2" sft.log || { cat sft.log; fail "sft: the ranks did not announce themselves"; }
grep -q "global batch 2 x 1 x 2 = 4 pairs per step" sft.log || { cat sft.log; fail "sft: no global batch line"; }
[ "$(grep -c '^step ' sft.log)" -eq 3 ] || { cat sft.log; fail "sft: expected 3 step lines (rank 0 only)"; }
[ -f sft/model.safetensors ] || fail "sft wrote no model"

# ---- DPO: 2 ranks x 2 == 1 rank x 4 ------------------------------------------------------------------
dpo=(dpo --model sft "${common[@]}" --beta 0.3 --logging-steps 1)
"${mpirun[@]}" "${prefopt}" "${dpo[@]}" --max-steps 5 --output-dir dpo2 --per-device-train-batch-size 2 --save-strategy no > dpo2.log 2>&1 \
  || { cat dpo2.log; fail "mpirun prefopt dpo"; }
"${prefopt}" "${dpo[@]}" --max-steps 5 --output-dir dpo1 --per-device-train-batch-size 4 --save-strategy no > dpo1.log 2>&1 || { cat dpo1.log; fail "prefopt dpo"; }
python3 - dpo2 dpo1 <<'PY' || fail "2 ranks x 2 differ from 1 rank x 4"
import json, struct, sys
def metrics(d):
    return [json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()]
def tensors(d):
    b = open(d + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n]); body = b[8 + n:]
    out = {}
    for k, v in head.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        out[k] = struct.unpack("<%df" % ((e - s) // 4), body[s:e])
    return out
a, b = metrics(sys.argv[1]), metrics(sys.argv[2])
assert len(a) == len(b) == 5, (len(a), len(b))
worst = 0
for x, y in zip(a, b):
    for k, v in y.items():
        if isinstance(v, (int, float)):
            worst = max(worst, abs(x[k] - v) / max(1.0, abs(v)))
wa, wb = tensors(sys.argv[1]), tensors(sys.argv[2])
# Weights: the relative error of the whole vector, ||w2 - w1|| / ||w1||. Element-wise it can reach a
# few 1e-6: AdamW divides by sqrt(v) + eps, so on a gradient near eps the summation order's last bit
# becomes a visible fraction of the learning rate (printed, not asserted).
import math
diff2 = sum((p - q) ** 2 for k in wb for p, q in zip(wa[k], wb[k]))
norm2 = sum(q * q for k in wb for q in wb[k])
rel = math.sqrt(diff2 / norm2)
elem = max(abs(p - q) / max(1.0, abs(q)) for k in wb for p, q in zip(wa[k], wb[k]))
print("worst metric difference %.3g; weights: relative difference %.3g (worst element %.3g)" % (worst, rel, elem))
sys.exit(0 if worst < 1e-6 and rel < 1e-6 else 1)
PY

# ---- resume across world sizes -----------------------------------------------------------------------
"${prefopt}" "${dpo[@]}" --max-steps 5 --output-dir one --per-device-train-batch-size 2 --save-strategy steps --save-steps 2 > one.log 2>&1 \
  || { cat one.log; fail "single-rank run for the resume check"; }
if "${mpirun[@]}" "${prefopt}" "${dpo[@]}" --output-dir one --per-device-train-batch-size 2 --max-steps 8 --resume one/checkpoint-4 > refuse.log 2>&1; then
  cat refuse.log; fail "a 1-rank checkpoint was resumed by 2 ranks without --reshard"
fi
grep -q "world_size was 1 in the saved run, is 2 now" refuse.log && grep -q -- "--reshard" refuse.log \
  || { cat refuse.log; fail "the refusal does not name the world size and --reshard"; }
"${mpirun[@]}" "${prefopt}" "${dpo[@]}" --output-dir one --per-device-train-batch-size 2 --max-steps 8 --resume one/checkpoint-4 \
  --reshard > reshard.log 2>&1 || { cat reshard.log; fail "--reshard"; }
grep -q "re-sharding" reshard.log && grep -q "^step 8/8" reshard.log || { cat reshard.log; fail "--reshard did not continue to step 8"; }

# ---- a rank killed mid-run -----------------------------------------------------------------------------
long=(dpo --model sft "${common[@]}" --per-device-train-batch-size 2 --max-steps 400 --save-strategy steps --save-steps 25 --logging-steps 25)
"${mpirun[@]}" "${prefopt}" "${long[@]}" --output-dir whole > whole.log 2>&1 || { cat whole.log; fail "uninterrupted 2-rank run"; }
"${mpirun[@]}" "${prefopt}" "${long[@]}" --output-dir killed > killed.log 2>&1 &
job=$!
for _ in $(seq 1 600); do [ -d killed/checkpoint-50 ] && break; sleep 0.1; done
[ -d killed/checkpoint-50 ] || { kill "${job}" || true; cat killed.log; fail "no checkpoint-50 appeared"; }
rank1="$(sed -n 's/.*rank 1 of 2 (MPI, host [^,]*, pid \([0-9]*\)).*/\1/p' killed.log)"
[ -n "${rank1}" ] || { kill "${job}" || true; cat killed.log; fail "rank 1's pid not announced"; }
kill -9 "${rank1}"
start=$(date +%s)
rc=0
wait "${job}" || rc=$?
took=$(( $(date +%s) - start ))
[ "${rc}" -ne 0 ] || { cat killed.log; fail "mpirun exited 0 after rank 1 was killed"; }
[ "${took}" -le 20 ] || fail "mpirun took ${took} s to notice the dead rank"
echo "rank 1 killed: mpirun exited ${rc} after ${took} s"
[ ! -d killed/checkpoint-400 ] || fail "the killed run finished anyway"
"${mpirun[@]}" "${prefopt}" "${long[@]}" --output-dir killed --resume > resumed.log 2>&1 || { cat resumed.log; fail "resume after the kill"; }
grep -q "resumed from" resumed.log || { cat resumed.log; fail "the run did not resume"; }
cmp whole/model.safetensors killed/model.safetensors || fail "the resumed run's weights differ from the uninterrupted run's"
cmp whole/metrics.jsonl killed/metrics.jsonl || fail "the resumed run's metrics.jsonl differs"
echo "PASS"
