#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the DPO step benchmark (benchmarks/dpo_step.cpp, prefopt's Trainer<Gpt2, loss::Dpo>) next to
# its PyTorch peer (benchmarks/reference/pytorch_dpo_step.py) in one invocation: every
# configuration (config x workload x reference) of both sides, each in its own process so that peak
# RSS does not mix, prefopt then PyTorch back to back. Prints every JSON line and a comparison table,
# and appends the lines (with date, CPU and the CPU time other processes took during each run) to
# benchmarks/results/dpo_step.jsonl.
#   benchmarks/run_dpo_benchmark.sh [--quick] [--threads N] [--build-dir DIR] [--results FILE]
#                                   [--wait-idle SECONDS] [--no-setup]
# --quick runs the small config only. The build directory defaults to $PREFOPT_BUILD_DIR or build/.
# --wait-idle waits (up to SECONDS) before each run until the cores are idle (< 10% busy over 2 s).
# Measured steps per workload can be changed with SMALL_EQUAL_STEPS, SMALL_REAL_STEPS,
# M124_EQUAL_STEPS, M124_REAL_STEPS (one warm-up step each).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFOPT_BUILD_DIR:-${REPO_ROOT}/build}"
RESULTS="${REPO_ROOT}/benchmarks/results/dpo_step.jsonl"
THREADS=2
QUICK=0
WAIT_IDLE=0
SETUP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --threads) THREADS="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --results) RESULTS="$2"; shift ;;
    --wait-idle) WAIT_IDLE="$2"; shift ;;
    --no-setup) SETUP=0 ;;
    *) echo "run_dpo_benchmark.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
SMALL_EQUAL_STEPS="${SMALL_EQUAL_STEPS:-8}"
SMALL_REAL_STEPS="${SMALL_REAL_STEPS:-40}"
M124_EQUAL_STEPS="${M124_EQUAL_STEPS:-3}"
M124_REAL_STEPS="${M124_REAL_STEPS:-15}"
PY=/usr/bin/python3  # Debian's python3 has python3-torch; a pyenv python3 on PATH may not

[ "${SETUP}" -eq 1 ] && bash "${REPO_ROOT}/scripts/setup.sh" >&2

cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Release -DPREFOPT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "${BUILD_DIR}" --target bench_dpo_step prefopt_cli -j"$(nproc)" >/dev/null
BENCH="${BUILD_DIR}/benchmarks/bench_dpo_step"
CLI="${BUILD_DIR}/examples/prefopt"
PEER="${REPO_ROOT}/benchmarks/reference/pytorch_dpo_step.py"

multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
blas="$(readlink -f "/usr/lib/${multiarch}/libblas.so.3" 2>/dev/null || true)"
case "${blas}" in
  *openblas*) echo "== BLAS: libblas.so.3 -> ${blas} (OpenBLAS: the PyTorch peer runs on it)" >&2 ;;
  *) echo "== BLAS: WARNING libblas.so.3 -> ${blas:-none} is not OpenBLAS; PyTorch's GEMMs will be ~30x slow" \
          "(install libopenblas0-pthread: scripts/setup.sh)" >&2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
trap 'exit 130' INT TERM
PAIRS="${work}/hh-rlhf-harmless-base-test.pairs.jsonl"
"${CLI}" pairs --data "${REPO_ROOT}/../shared/data/hh-rlhf/harmless-base-test.jsonl.gz" \
  --tokenizer "${REPO_ROOT}/data/gpt2" --out "${PAIRS}" >"${work}/pairs.log" 2>&1 \
  || { cat "${work}/pairs.log" >&2; exit 1; }
echo "== pairs: $(wc -l <"${PAIRS}") hh-rlhf pairs (harmless-base test) -> ${PAIRS}" >&2

mkdir -p "$(dirname "${RESULTS}")"
stamp="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
echo "== ${cpu}, $(nproc) cores, ${THREADS} threads, $(uptime | sed 's/.*load average/load average/')" >&2
RUN_LINES="${work}/lines.jsonl"
: >"${RUN_LINES}"

# Runs one benchmark process; prints its JSON line with date, cpu, the cores' business in the 2 s
# before it and the CPU seconds other processes used while it ran (system busy time - its own).
measured() {
  "${PY}" - "${stamp}" "${cpu}" "${blas}" "${WAIT_IDLE}" "$@" <<'PY'
import json, os, resource, subprocess, sys, time
stamp, cpu, blas, wait_idle, cmd = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:]
tick = os.sysconf("SC_CLK_TCK")
def busy_total():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return (sum(f[:8]) - idle) / tick, sum(f[:8]) / tick
def busy_frac(seconds=2.0):
    b0, t0 = busy_total(); time.sleep(seconds); b1, t1 = busy_total()
    return (b1 - b0) / max(t1 - t0, 1e-9)
deadline = time.time() + wait_idle
before = busy_frac()
while before > 0.10 and time.time() < deadline:
    before = busy_frac(5.0)
if before > 0.10:
    print(f"   warning: cores {before * 100:.0f}% busy before the run (someone else is computing)", file=sys.stderr)
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
b0, _ = busy_total(); w0 = time.time()
p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
b1, _ = busy_total(); w1 = time.time()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}")
line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
j = json.loads(line)
own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
others = max(0.0, (b1 - b0) - own)
j.update({"date": stamp, "cpu": cpu, "cores": os.cpu_count(), "libblas": blas,
          "cores_busy_before": round(before, 3), "process_wall_s": round(w1 - w0, 2),
          "others_cpu_s": round(others, 2), "others_cpu_frac": round(others / ((w1 - w0) * os.cpu_count()), 3)})
print(json.dumps(j))
PY
}

run_config() {  # config workload reference steps
  local cfg="$1" wl="$2" ref="$3" steps="$4" extra=()
  [ "${wl}" = real ] && extra=(--pairs "${PAIRS}")
  echo "== ${cfg} / ${wl} / reference ${ref}: 4 pairs per step, 1 warm-up + ${steps} measured steps" >&2
  local ours theirs
  ours="$(measured env OMP_NUM_THREADS="${THREADS}" "${BENCH}" --config "${cfg}" --workload "${wl}" --reference "${ref}" \
          --steps "${steps}" --warmup 1 "${extra[@]}")"
  echo "${ours}"
  theirs="$(measured "${PY}" "${PEER}" --config "${cfg}" --workload "${wl}" --reference "${ref}" --steps "${steps}" \
            --warmup 1 --threads "${THREADS}" "${extra[@]}")"
  echo "${theirs}"
  printf '%s\n%s\n' "${ours}" "${theirs}" | tee -a "${RESULTS}" >>"${RUN_LINES}"
  "${PY}" - "${ours}" "${theirs}" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"   prefopt {a['pairs_per_s']:7.2f} pairs/s {a['tokens_per_s']:8.1f} tok/s {a['peak_rss_mib']:6.0f} MiB"
      f" | pytorch {b['pairs_per_s']:7.2f} pairs/s {b['tokens_per_s']:8.1f} tok/s {b['peak_rss_mib']:6.0f} MiB"
      f" (padded {b['padded_fraction'] * 100:.0f}%) | ratio {a['pairs_per_s'] / b['pairs_per_s']:.2f}x"
      f" | others' CPU {a['others_cpu_frac'] * 100:.0f}% / {b['others_cpu_frac'] * 100:.0f}%", file=sys.stderr)
PY
}

run_all() {  # config equal_steps real_steps
  run_config "$1" equal precompute "$2"
  run_config "$1" equal model "$2"
  run_config "$1" real precompute "$3"
  run_config "$1" real model "$3"
}

run_all small "${SMALL_EQUAL_STEPS}" "${SMALL_REAL_STEPS}"
[ "${QUICK}" -eq 0 ] && run_all 124m "${M124_EQUAL_STEPS}" "${M124_REAL_STEPS}"

"${PY}" - "${RUN_LINES}" <<'PY' >&2
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["name"], r["config"], r["workload"], r["reference"]): r for r in rows}
configs = [c for c in ("small", "124m") if any(r["config"] == c for r in rows)]
print("\nDPO step, 4 pairs per step (pairs/s; tokens/s = real, unpadded tokens; ratio = prefopt / PyTorch)\n")
print("| config | workload | reference | prefopt pairs/s | prefopt tok/s | PyTorch pairs/s | PyTorch tok/s"
      " | ratio | PyTorch padded | prefopt peak RSS | PyTorch peak RSS |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for c in configs:
    for wl in ("equal", "real"):
        for ref in ("precompute", "model"):
            a, b = by.get(("prefopt", c, wl, ref)), by.get(("pytorch", c, wl, ref))
            if not a or not b:
                continue
            print(f"| {c} | {wl} | {ref} | {a['pairs_per_s']:.2f} | {a['tokens_per_s']:,.0f} | {b['pairs_per_s']:.2f}"
                  f" | {b['tokens_per_s']:,.0f} | **{a['pairs_per_s'] / b['pairs_per_s']:.2f}x** |"
                  f" {b['padded_fraction'] * 100:.0f}% | {a['peak_rss_mib']:,.0f} MiB | {b['peak_rss_mib']:,.0f} MiB |")
print("\nReference precompute pass (pairs/s over all the run's pairs; prefopt packs 16 pairs per forward,"
      " PyTorch pads batches of 4 as TRL does)\n")
print("| config | workload | prefopt | PyTorch | ratio |")
print("| --- | --- | --- | --- | --- |")
for c in configs:
    for wl in ("equal", "real"):
        a, b = by.get(("prefopt", c, wl, "precompute")), by.get(("pytorch", c, wl, "precompute"))
        if a and b:
            print(f"| {c} | {wl} | {a['precompute_pairs_per_s']:.2f} | {b['precompute_pairs_per_s']:.2f}"
                  f" | {a['precompute_pairs_per_s'] / b['precompute_pairs_per_s']:.2f}x |")
print("\nAgainst the targets (prefopt's default = precomputed reference)\n")
for c in configs:
    a, b = by.get(("prefopt", c, "equal", "precompute")), by.get(("pytorch", c, "equal", "precompute"))
    if a and b:
        print(f"  {c} equal lengths, both precomputed: {a['pairs_per_s'] / b['pairs_per_s']:.2f}x (target 1.2x)")
    a = by.get(("prefopt", c, "real", "precompute"))
    for ref, label in (("model", "PyTorch with TRL's default frozen reference"), ("precompute", "PyTorch precomputed too")):
        b = by.get(("pytorch", c, "real", ref))
        if a and b:
            print(f"  {c} real mix, prefopt precomputed vs {label}: {a['pairs_per_s'] / b['pairs_per_s']:.2f}x (target 2x)")
    bp = by.get(("pytorch", c, "real", "precompute"))
    if a and bp:  # one epoch over the run's pairs, the precompute pass included on both sides
        ta = 1 / a["pairs_per_s"] + 1 / a["precompute_pairs_per_s"]
        tb = 1 / bp["pairs_per_s"] + 1 / bp["precompute_pairs_per_s"]
        print(f"  {c} real mix, both precomputed, precompute pass counted (1 epoch): {tb / ta:.2f}x")
busy = max(max(r.get("others_cpu_frac", 0), r.get("cores_busy_before", 0)) for r in rows)
print(f"\nLargest share of the cores other processes used during a run (or just before it): {busy * 100:.0f}%"
      + ("  -- timings disturbed, rerun on idle cores" if busy > 0.1 else ""))
PY
echo "results appended to ${RESULTS}" >&2
