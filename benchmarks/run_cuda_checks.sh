#!/usr/bin/env bash
# Device tool: run(command="bash benchmarks/run_cuda_checks.sh", carry=[".gpu"], timeout_s=540)
# SPDX-License-Identifier: MIT
# Runs prefopt's CUDA checks on a GPU machine from the prebuilt bundle .gpu/ (scripts/gpu_bundle.sh,
# made on a machine with nvcc; docs/gpu-checks.md): the four CUDA test binaries, bench_cuda_step
# (training step and DPO step, GPT-2 124M) with its PyTorch peers (--device cuda) on the same
# configurations back to back, and let_me_explain_cuda's default run if time remains. Every step
# has its own timeout, a failure never stops the run, and the whole stays inside $BUDGET_S seconds
# (default 420). Run from anywhere, as root or not; writes into $OUT (default ./out-cuda), at most
# 8 files: checks.log (everything), env.log, tests.log, bench.log, let_me_explain.log,
# cuda_results.jsonl (one JSON line per run), summary.txt (the final table, also printed last).
# Without a GPU it stops at once, saying so (exit 1).
#   env: OUT, BUDGET_S, PYTHON (python3), PEER_THREADS (4), QUICK=1 (tests + 124M train only),
#        CHECKS_WITHOUT_GPU=1 (go on without a GPU: a dry run of the script itself),
#        FORCE_LINK_MODE=bundle-libs|bundled-glibc-loader|host-libstdc++ (how prefopt's binaries start)
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}" || exit 1
OUT="${OUT:-${REPO_ROOT}/out-cuda}"
BUDGET_S="${BUDGET_S:-420}"
PY="${PYTHON:-python3}"
PEER_THREADS="${PEER_THREADS:-4}"
QUICK="${QUICK:-0}"
BUNDLE="${REPO_ROOT}/.gpu"
START=$(date +%s)
DEADLINE=$(( START + BUDGET_S ))

mkdir -p "${OUT}"
OUT="$(cd "${OUT}" && pwd)"
LOG="${OUT}/checks.log"; ENV_LOG="${OUT}/env.log"; TESTS_LOG="${OUT}/tests.log"; BENCH_LOG="${OUT}/bench.log"
LME_LOG="${OUT}/let_me_explain.log"; RESULTS="${OUT}/cuda_results.jsonl"; SUMMARY="${OUT}/summary.txt"
: >"${LOG}"; : >"${RESULTS}"; : >"${TESTS_LOG}"; : >"${BENCH_LOG}"; : >"${LME_LOG}"  # a rerun starts them afresh
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

say() { printf '[cuda_checks %3ds] %s\n' "$(( $(date +%s) - START ))" "$*" | tee -a "${LOG}"; }
stop() {  # message: no point going on (no GPU, no bundle)
  say "STOP: $*"
  printf 'run_cuda_checks: %s\n' "$*" >"${SUMMARY}"
  printf '{"check":"preflight","ok":false,"message":%s}\n' "$("${PY}" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$*" 2>/dev/null || echo '"?"')" >>"${RESULTS}"
  exit 1
}

# ---- preflight: the bundle, a GPU ---------------------------------------------------------------
[ -f "${BUNDLE}/MANIFEST" ] || stop "no .gpu bundle in ${REPO_ROOT}: run scripts/gpu_bundle.sh on the build machine and carry [\".gpu\"]"
manifest() { sed -n "s/^$1=//p" "${BUNDLE}/MANIFEST" | head -1; }
gpus=""
if [ "${CHECKS_WITHOUT_GPU:-0}" = 1 ]; then
  gpus="none (CHECKS_WITHOUT_GPU=1: a dry run of this script's logic; every GPU step fails)"
elif command -v nvidia-smi >/dev/null 2>&1; then
  gpus="$(timeout 30 nvidia-smi -L 2>&1)" || gpus=""
  printf '%s' "${gpus}" | grep -q '^GPU [0-9]' || stop "no GPU: nvidia-smi -L lists none (${gpus:-no output})"
elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
  gpus="(no nvidia-smi; $(ls /dev/nvidia[0-9]* | tr '\n' ' '))"
else
  stop "no GPU: no nvidia-smi and no /dev/nvidia* on $(hostname)"
fi
say "GPU: ${gpus}"
say "bundle: commit $(manifest git_commit | cut -c1-12), built $(manifest build_time), CUDA arch $(manifest cuda_architectures)"

# ---- libraries: .gpu/lib + this machine's CUDA runtime and cuBLAS --------------------------------
find_cuda_lib() {  # soname -> directories holding it, best first
  local lib="$1" d sp
  for d in /usr/local/cuda*/lib64 /usr/local/cuda*/lib /usr/local/cuda*/targets/x86_64-linux/lib \
           /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -e "${d}/${lib}" ] && echo "${d}"
  done
  for sp in $("${PY}" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    [ -d "${sp}/nvidia" ] && find "${sp}/nvidia" -maxdepth 4 -name "${lib}" -printf '%h\n' 2>/dev/null
  done
  ldconfig -p 2>/dev/null | awk -v l="${lib}" '$1 == l {sub("/[^/]*$", "", $NF); print $NF}'
}
CUDA_DIRS=""
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
  d="$(find_cuda_lib "${lib}" 2>/dev/null | head -1)"
  if [ -z "${d}" ]; then say "WARNING: ${lib} not found (searched /usr/local/cuda*, python3's nvidia/ packages, ldconfig)"; continue; fi
  say "${lib}: ${d}"
  case ":${CUDA_DIRS}:" in *":${d}:"*) ;; *) CUDA_DIRS="${CUDA_DIRS:+${CUDA_DIRS}:}${d}" ;; esac
done
PREFOPT_LD="${BUNDLE}/lib${CUDA_DIRS:+:${CUDA_DIRS}}"
# How prefopt's binaries start: with .gpu/lib (the build machine's libstdc++ etc.); if this
# machine's glibc is too old for those, through the bundled glibc's loader; or with this machine's
# own libstdc++/libgcc_s/libgomp. PX prefixes every prefopt command (never the python peers).
probe() { timeout 30 "$@" "${BUNDLE}/bin/bench_cuda_step" train --help >"${TMP}/probe.out" 2>&1; }
use_mode() {  # sets PX and LINK_MODE for one of the three ways
  LINK_MODE="$1"
  case "$1" in
    bundle-libs) PX=(env "LD_LIBRARY_PATH=${PREFOPT_LD}") ;;
    bundled-glibc-loader) PX=("${BUNDLE}/glibc/ld-linux-x86-64.so.2" --library-path "${PREFOPT_LD}:${BUNDLE}/glibc") ;;
    host-libstdc++)
      mkdir -p "${TMP}/lib"
      for f in "${BUNDLE}"/lib/*; do
        case "$(basename "${f}")" in libstdc++*|libgcc_s*|libgomp*) ;; *) ln -sf "${f}" "${TMP}/lib/" ;; esac
      done
      PX=(env "LD_LIBRARY_PATH=${TMP}/lib${CUDA_DIRS:+:${CUDA_DIRS}}") ;;
  esac
}
FORCE="${FORCE_LINK_MODE:-}"  # bundle-libs | bundled-glibc-loader | host-libstdc++: skip the probing
case "${FORCE}" in
  bundle-libs|bundled-glibc-loader|host-libstdc++) use_mode "${FORCE}" ;;
  *)
    [ -n "${FORCE}" ] && say "WARNING: FORCE_LINK_MODE=${FORCE} unknown, probing"
    for mode in bundle-libs bundled-glibc-loader host-libstdc++; do
      use_mode "${mode}"
      probe "${PX[@]}" && break
      say "bench_cuda_step does not start as ${mode}: $(head -c 300 "${TMP}/probe.out")"
    done ;;
esac
probe "${PX[@]}" || say "WARNING: bench_cuda_step --help fails as ${LINK_MODE}: $(head -c 300 "${TMP}/probe.out")"
say "prefopt binaries start as: ${LINK_MODE} (${PX[*]})"

# ---- the build's compiled-in paths ------------------------------------------------------------------
# The test binaries read <source_dir>/tests/reference/fixtures, write under <binary_dir>, and the
# examples default to <source_dir>/data/gpt2: point them at this copy of the repository.
link_dir() {  # path target: make path lead to target when path does not exist
  local path="$1" target="$2"
  if [ -e "${path}" ]; then
    say "$(basename "${path}") dir ${path} exists ($( [ "$(cd "${path}" && pwd -P)" = "$(cd "${target}" && pwd -P)" ] && echo 'it is this copy' || echo 'NOT this copy: compiled-in paths read it'))"
  else
    mkdir -p "$(dirname "${path}")" && ln -s "${target}" "${path}" && say "linked ${path} -> ${target}"
  fi
}
link_dir "$(manifest source_dir)" "${REPO_ROOT}"
link_dir "$(manifest shared_dir)" "${BUNDLE}/shared"
mkdir -p "$(manifest binary_dir)" && say "binary dir $(manifest binary_dir) ready"
[ -e "${REPO_ROOT}/data/gpt2" ] || { mkdir -p "${REPO_ROOT}/data" && ln -s ../.gpu/data/gpt2 "${REPO_ROOT}/data/gpt2"; }

# ---- helpers ----------------------------------------------------------------------------------------
cat >"${TMP}/helper.py" <<'PY'
import json, re, sys

def test_summary(out_file, binary, prefix, rc, wall):
    """Catch2 v2 console output -> one JSON line: counts and the failing cases."""
    text = open(out_file, errors="replace").read()
    r = {"check": "test", "binary": binary, "rc": rc, "wall_s": wall}
    m = re.search(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)", text)
    if m:
        r.update(cases=int(m.group(2)), passed=int(m.group(2)), failed=0, assertions=int(m.group(1)), assertions_failed=0)
    else:
        def row(label):
            m = re.search(label + r": +(\d+|- none -)([^\n]*)", text)
            if not m:
                return None
            total = 0 if m.group(1) == "- none -" else int(m.group(1))
            p = re.search(r"(\d+) passed", m.group(2)); f = re.search(r"(\d+) failed(?! as)", m.group(2))
            return total, int(p.group(1)) if p else 0, int(f.group(1)) if f else 0
        c, a = row("test cases"), row("assertions")
        if c:
            r.update(cases=c[0], passed=c[1], failed=c[2])
        if a:
            r.update(assertions=a[0], assertions_failed=a[2])
    # failing cases: the header (between two dashed lines) in force when a FAILED line appears
    lines, header, failed, i = text.splitlines(), None, [], 0
    while i < len(lines):
        if re.fullmatch(r"-{60,}", lines[i]):
            j = i + 1
            while j < len(lines) and not re.fullmatch(r"-{60,}", lines[j]):
                j += 1
            if j < len(lines) and j - i <= 8:
                # the case's name (wrapped at 80 columns), then its sections indented
                name, sections = [], []
                for s in lines[i + 1:j]:
                    (sections if s.startswith("  ") else name).append(s.strip())
                header = " / ".join([" ".join(name)] + [s for s in sections if s])
                i = j
        elif "FAILED:" in lines[i] and header:
            name = prefix + header
            if name not in failed:
                failed.append(name)
        i += 1
    r["failed_cases"] = failed[:40]
    if "cases" not in r:
        r["note"] = "no Catch2 totals in the output (crash, timeout or skip): " + " | ".join(text.strip().splitlines()[-3:])[:300]
    print(json.dumps(r))

def last_lines(path, n=2):
    try:
        return " | ".join(open(path, errors="replace").read().strip().splitlines()[-n:])[:300]
    except OSError:
        return ""

def annotate(json_file, check, impl, rc, wall):
    """The benchmark's JSON line (last line starting with '{') with check/impl/rc/wall_s added."""
    line = None
    for l in open(json_file, errors="replace"):
        if l.startswith("{"):
            line = l
    r = {"check": check, "run": impl, "rc": rc, "wall_s": wall}
    if line:
        try:
            r.update(json.loads(line))
        except ValueError:
            r["note"] = "unparsable JSON line"
    else:
        r["note"] = "no JSON line (failed or timed out): " + last_lines(json_file[:-4] + ".err")
    print(json.dumps(r))

def lme(results_json, log_file, rc, wall):
    r = {"check": "let_me_explain", "rc": rc, "wall_s": wall}
    try:
        j = json.load(open(results_json))
        for k in ("pairs", "parameters", "dpo_steps", "dpo_seconds", "sft_success_rate", "dpo_success_rate",
                  "held_out_reward_accuracy", "held_out_pairs"):
            r[k] = j.get(k)
    except (OSError, ValueError):
        r["note"] = "no results.json: " + last_lines(log_file, 3) + " " + last_lines(log_file[:-4] + ".err", 3)
    print(json.dumps(r))

def brief(results, check):
    """One line: the tokens/s (and pairs/s) of both sides of a check."""
    rows = [json.loads(l) for l in open(results) if l.strip()]
    parts = []
    for r in rows:
        if r.get("check") == check and "run" in r:
            vals = [f"{k} {r[k]:,.1f}" for k in ("train_tokens_per_s", "forward_tokens_per_s", "tokens_per_s", "pairs_per_s")
                    if isinstance(r.get(k), (int, float))]
            parts.append(f"{r['run']}: " + (", ".join(vals) if vals else f"rc {r.get('rc')} {r.get('note', '')}"))
    print("   " + " | ".join(parts))

def quick(results, check, limit):
    """1 when prefopt's training step of `check` took under `limit` seconds (median), else 0."""
    rows = [json.loads(l) for l in open(results) if l.strip()]
    r = next((r for r in rows if r.get("check") == check and r.get("run") == "prefopt"), {})
    s = r.get("train_step_s_median")
    print(1 if isinstance(s, (int, float)) and s < limit else 0)

def table(results):
    rows = [json.loads(l) for l in open(results) if l.strip()]
    out = []
    env = next((r for r in rows if r.get("check") == "env"), {})
    out.append(f"prefopt CUDA checks: {env.get('gpu', '?')} (driver {env.get('driver', '?')}), bundle {env.get('bundle_commit', '?')[:12]}, "
               f"prefopt binaries via {env.get('link_mode', '?')}")
    out.append("")
    out.append("tests (Catch2; rc 0 = all passed)")
    out.append(f"  {'binary':26s} {'rc':>4s} {'cases':>6s} {'passed':>6s} {'failed':>6s} {'time':>7s}")
    for r in rows:
        if r.get("check") == "test":
            out.append(f"  {r['binary']:26s} {str(r.get('rc')):>4s} {str(r.get('cases', '?')):>6s} {str(r.get('passed', '?')):>6s} "
                       f"{str(r.get('failed', '?')):>6s} {r.get('wall_s', 0):6.1f}s")
            for n in r.get("failed_cases", [])[:12]:
                out.append(f"      FAILED {n[:110]}")
            if r.get("note"):
                out.append(f"      {r['note'][:150]}")
        elif r.get("check") == "skipped":
            out.append(f"  {r['name']:26s} skipped: {r.get('why', '')}")
    out.append("")
    out.append("throughput, GPT-2 124M fp32 (_tf32 / _bf16: TF32 / bfloat16 GEMMs on both sides) (tokens/s; ratio = prefopt / PyTorch)")
    by = {}
    for r in rows:
        if "run" in r:
            by.setdefault(r["check"], {})[r["run"]] = r
    def f(x, fmt="{:,.0f}"):
        return fmt.format(x) if isinstance(x, (int, float)) else "-"
    for check, d in by.items():
        a, b = d.get("prefopt", {}), d.get("pytorch", {})
        if check.startswith("train"):
            for key, label in (("train_tokens_per_s", "train"), ("forward_tokens_per_s", "forward")):
                x, y = a.get(key), b.get(key)
                ratio = f"{x / y:.2f}x" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "-"
                out.append(f"  {check:26s} {label:8s} prefopt {f(x):>9s}  pytorch {f(y):>9s}  ratio {ratio}")
            if a.get("gemm_peak_gflops"):
                out.append(f"  {'':26s} prefopt step {f(a.get('train_gflops'))} GFLOP/s = {f(a.get('fraction_of_gemm_peak'), '{:.0%}')} of "
                           f"cuBLAS SGEMM peak {f(a.get('gemm_peak_gflops'))} (512-row shapes), "
                           f"{f(a.get('fraction_of_gemm_batch_rows'), '{:.0%}')} of {f(a.get('gemm_batch_rows_gflops'))} at the batch's rows")
        else:
            x, y = a.get("tokens_per_s"), b.get("tokens_per_s")
            ratio = f"{x / y:.2f}x" if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else "-"
            out.append(f"  {check:26s} dpo step prefopt {f(x):>9s}  pytorch {f(y):>9s}  ratio {ratio}"
                       f"  (pairs/s {f(a.get('pairs_per_s'), '{:.1f}')} vs {f(b.get('pairs_per_s'), '{:.1f}')};"
                       f" PyTorch padded {f(b.get('padded_fraction'), '{:.0%}')})")
            if a.get("precompute_pairs_per_s") or b.get("precompute_pairs_per_s"):
                out.append(f"  {'':26s} reference precompute pairs/s prefopt {f(a.get('precompute_pairs_per_s'), '{:.1f}')}"
                           f" pytorch {f(b.get('precompute_pairs_per_s'), '{:.1f}')}")
        for impl, r in (("prefopt", a), ("pytorch", b)):
            if r.get("note") or (r and r.get("rc") not in (0, None)):
                out.append(f"  {'':26s} {impl}: rc {r.get('rc')} {r.get('note', '')}")
        if a.get("cublas_math_mode") or "allow_tf32" in b:
            out.append(f"  {'':26s} precision: prefopt {a.get('gemm_precision', '?')} ({a.get('cublas_math_mode', '?')}); "
                       f"pytorch allow_tf32={b.get('allow_tf32', '?')} autocast_bf16={b.get('autocast_bf16', '?')}"
                       + (f", pytorch 1024^3 matmul {f(b.get('matmul_gflops'))} GFLOP/s" if b.get("matmul_gflops") else ""))
    for r in rows:
        if r.get("check") == "skipped_bench":
            out.append(f"  {r['name']:26s} skipped: {r.get('why', '')}")
    out.append("")
    l = next((r for r in rows if r.get("check") == "let_me_explain"), None)
    if l is None:
        out.append("let_me_explain_cuda: not run")
    elif "dpo_success_rate" in l:
        out.append(f"let_me_explain_cuda: rc {l['rc']}, {l['wall_s']:.0f} s; held-out 'Let me explain' rate SFT {l['sft_success_rate']:.3f} -> "
                   f"DPO {l['dpo_success_rate']:.3f} ({l.get('held_out_pairs')} prompts), reward accuracy {l['held_out_reward_accuracy']:.3f}, "
                   f"DPO {l['dpo_steps']} steps in {l['dpo_seconds']:.1f} s (CPU reference: 1.000, 1.000)")
    else:
        out.append(f"let_me_explain_cuda: rc {l['rc']}, {l['wall_s']:.0f} s: {l.get('note', '')}")
    print("\n".join(out))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "test":
        test_summary(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif cmd == "bench":
        annotate(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif cmd == "lme":
        lme(args[0], args[1], int(args[2]), float(args[3]))
    elif cmd == "table":
        table(args[0])
    elif cmd == "brief":
        brief(args[0], args[1])
    elif cmd == "quick":
        quick(args[0], args[1], float(args[2]))
PY
helper() { "${PY}" "${TMP}/helper.py" "$@"; }
left() { echo $(( DEADLINE - $(date +%s) )); }
append_capped() {  # file log...: at most 2 MiB of the head and 512 KiB of the tail of file
  local f="$1"; shift
  local size; size=$(stat -c %s "${f}")
  if [ "${size}" -le 2621440 ]; then cat "${f}"; else head -c 2097152 "${f}"; printf '\n[... %s bytes cut ...]\n' "$(( size - 2621440 ))"; tail -c 524288 "${f}"; fi \
    | tee -a "$@" >/dev/null
}
# run_step name timeout log cmd...: runs cmd with its own timeout (cut to the budget left); stdout
# to ${TMP}/name.out, stderr to ${TMP}/name.err, both appended to log and checks.log. Sets RC, WALL.
run_step() {
  local name="$1" t="$2" log="$3"; shift 3
  local l; l=$(left)
  if [ "${l}" -lt 20 ]; then RC=124; WALL=0; say "SKIP ${name}: budget spent"; return 1; fi
  [ "${t}" -gt $(( l - 10 )) ] && t=$(( l - 10 ))
  printf '\n=== %s (timeout %ss): %s\n' "${name}" "${t}" "$*" | tee -a "${log}" "${LOG}" >/dev/null
  say "${name}: start (timeout ${t}s)"
  local t0 t1; t0=$(date +%s.%N)
  timeout -k 5 "${t}" "$@" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" </dev/null
  RC=$?
  t1=$(date +%s.%N)
  WALL=$("${PY}" -c "print(round(${t1} - ${t0}, 2))")
  append_capped "${TMP}/${name}.out" "${log}" "${LOG}"
  [ -s "${TMP}/${name}.err" ] && { echo "--- stderr:" | tee -a "${log}" "${LOG}" >/dev/null; append_capped "${TMP}/${name}.err" "${log}" "${LOG}"; }
  printf -- '--- %s: rc %s, %ss%s\n' "${name}" "${RC}" "${WALL}" "$([ "${RC}" -eq 124 ] && echo ' (TIMED OUT)')" | tee -a "${log}" "${LOG}" >/dev/null
  say "${name}: rc ${RC}, ${WALL}s$([ "${RC}" -eq 124 ] && echo ' (TIMED OUT)')"
  return 0
}

# ---- the machine, once --------------------------------------------------------------------------------
{
  echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ), host $(hostname), $(nproc) CPUs, $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME}")"
  echo "== glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}') (bundle needs $(manifest glibc_needed)); prefopt binaries: ${LINK_MODE}"
  echo "== CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
  echo "== nvidia-smi --query-gpu"
  timeout 30 nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.draw,power.limit,temperature.gpu,pstate,compute_mode,persistence_mode --format=csv 2>&1
  echo "== nvidia-smi"
  timeout 30 nvidia-smi 2>&1
  echo "== nvidia-smi -q -d CLOCK,PERFORMANCE"
  timeout 30 nvidia-smi -q -d CLOCK,PERFORMANCE 2>&1 | head -80
  echo "== CUDA libraries: ${CUDA_DIRS}"
  for d in ${CUDA_DIRS//:/ }; do ls -la "${d}"/libcudart.so* "${d}"/libcublas*.so* 2>/dev/null; done
  echo "== ldd bench_cuda_step (${LINK_MODE})"
  if [ "${LINK_MODE}" = bundled-glibc-loader ]; then "${PX[@]}" --list "${BUNDLE}/bin/bench_cuda_step" 2>&1; else "${PX[@]}" ldd "${BUNDLE}/bin/bench_cuda_step" 2>&1; fi
  echo "== python: $(${PY} --version 2>&1), nvcc: $(nvcc --version 2>/dev/null | tail -2 | head -1), cmake: $(cmake --version 2>/dev/null | head -1)"
  echo "== MANIFEST"
  cat "${BUNDLE}/MANIFEST"
} >"${ENV_LOG}" 2>&1
cat "${ENV_LOG}" >>"${LOG}"
smi="$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)"
"${PY}" - "${smi}" "$(manifest git_commit)" "${LINK_MODE}" "${CUDA_DIRS}" >>"${RESULTS}" <<'PY'
import json, sys
f = [s.strip() for s in sys.argv[1].split(",")] + ["?"] * 4
print(json.dumps({"check": "env", "gpu": f[0], "driver": f[1], "memory": f[2], "max_sm_clock": f[3],
                  "bundle_commit": sys.argv[2], "link_mode": sys.argv[3], "cuda_lib_dirs": sys.argv[4]}))
PY
[ -n "${smi}" ] && say "nvidia-smi: ${smi}"

# ---- a. the CUDA test binaries ------------------------------------------------------------------------
# Catch2 v2, console reporter with per-case durations; cuda_device_test compares every CudaDevice
# kernel (and its [fast] kernels' portable twins) with the CPU device; the _cuda suites are the CPU
# suites on CudaManagedDevice (their CTest names carry the prefix "cuda:").
TEST_PHASE_END=$(( $(date +%s) + 240 ))
for spec in cuda_device_test:90: device_kernels_test_cuda:90:cuda: model_test_cuda:120:cuda: train_test_cuda:120:cuda:; do
  IFS=: read -r bin t prefix _ <<<"${spec}"
  prefix="${prefix:+${prefix}:}"
  phase_left=$(( TEST_PHASE_END - $(date +%s) ))
  if [ "${phase_left}" -lt 20 ]; then
    printf '{"check":"skipped","name":"%s","why":"test phase (240 s) spent"}\n' "${bin}" >>"${RESULTS}"; say "SKIP ${bin}"; continue
  fi
  [ "${t}" -gt "${phase_left}" ] && t="${phase_left}"
  if ! run_step "${bin}" "${t}" "${TESTS_LOG}" "${PX[@]}" "${BUNDLE}/bin/${bin}" -r console --use-colour no -d yes; then
    printf '{"check":"skipped","name":"%s","why":"budget spent"}\n' "${bin}" >>"${RESULTS}"; continue
  fi
  cat "${TMP}/${bin}.err" >>"${TMP}/${bin}.out"
  helper test "${TMP}/${bin}.out" "${bin}" "${prefix}" "${RC}" "${WALL}" >>"${RESULTS}"
done

# ---- b/c. benchmarks: prefopt then PyTorch, same configuration, back to back ----------------------------
PAIRS="${BUNDLE}/$(manifest pairs)"
PEER_GPT2="${REPO_ROOT}/benchmarks/reference/pytorch_gpt2_step.py"
PEER_DPO="${REPO_ROOT}/benchmarks/reference/pytorch_dpo_step.py"
bench_pair() {  # check min_seconds_left prefopt_args -- peer_script peer_args
  local check="$1" need="$2"; shift 2
  local ours=() theirs=()
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift
  theirs=("$@")
  if [ "$(left)" -lt "${need}" ]; then
    printf '{"check":"skipped_bench","name":"%s","why":"%ss left, needs %s"}\n' "${check}" "$(left)" "${need}" >>"${RESULTS}"
    say "SKIP ${check}: $(left)s left"; return
  fi
  if run_step "${check}.prefopt" 150 "${BENCH_LOG}" "${PX[@]}" "${BUNDLE}/bin/bench_cuda_step" "${ours[@]}"; then
    helper bench "${TMP}/${check}.prefopt.out" "${check}" prefopt "${RC}" "${WALL}" >>"${RESULTS}"
  fi
  if run_step "${check}.pytorch" 150 "${BENCH_LOG}" "${PY}" "${theirs[@]}" --device cuda --threads "${PEER_THREADS}"; then
    helper bench "${TMP}/${check}.pytorch.out" "${check}" pytorch "${RC}" "${WALL}" >>"${RESULTS}"
  fi
  helper brief "${RESULTS}" "${check}" | tee -a "${LOG}"
}
TRAIN_ARGS=(--config 124m --seq-len 512 --steps 5 --warmup 2)
bench_pair train_124m_T512_B8 60 train "${TRAIN_ARGS[@]}" --batch 8 -- "${PEER_GPT2}" "${TRAIN_ARGS[@]}" --batch 8
if [ "${QUICK}" != 1 ]; then
  DPO_EQ=(--config 124m --workload equal --reference precompute --batch 4 --steps 5 --warmup 2)
  bench_pair dpo_124m_equal_precompute 60 dpo "${DPO_EQ[@]}" -- "${PEER_DPO}" "${DPO_EQ[@]}"
  DPO_REAL=(--config 124m --workload real --pairs "${PAIRS}" --reference precompute --batch 4 --steps 10 --warmup 2)
  bench_pair dpo_124m_real_precompute 60 dpo "${DPO_REAL[@]}" -- "${PEER_DPO}" "${DPO_REAL[@]}"
  # TF32 tensor cores on both sides (prefopt --tf32 = set_cuda_tf32; PyTorch allow_tf32 = True)
  bench_pair train_124m_T512_B8_tf32 60 train "${TRAIN_ARGS[@]}" --batch 8 --tf32 -- "${PEER_GPT2}" "${TRAIN_ARGS[@]}" --batch 8 --tf32
  # bfloat16 tensor-core GEMMs (prefopt --bf16 = set_cuda_gemm_precision(bf16); PyTorch autocast(bfloat16))
  bench_pair train_124m_T512_B8_bf16 60 train "${TRAIN_ARGS[@]}" --batch 8 --bf16 -- "${PEER_GPT2}" "${TRAIN_ARGS[@]}" --batch 8 --bf16
  # --batch 16 only when the batch-8 step was quick and 200 s remain (let_me_explain comes after it)
  quick="$(helper quick "${RESULTS}" train_124m_T512_B8 1.0)"
  if [ "${quick}" = 1 ]; then
    bench_pair train_124m_T512_B16 200 train "${TRAIN_ARGS[@]}" --batch 16 -- "${PEER_GPT2}" "${TRAIN_ARGS[@]}" --batch 16
  else
    printf '{"check":"skipped_bench","name":"train_124m_T512_B16","why":"batch-8 step not under 1 s (or failed)"}\n' >>"${RESULTS}"
  fi
fi

# ---- d. let_me_explain_cuda, its embedded default run ---------------------------------------------------
if [ "${QUICK}" != 1 ] && [ "$(left)" -ge 60 ]; then
  LME_OUT="${TMP}/let_me_explain_out"
  if run_step let_me_explain_cuda 240 "${LME_LOG}" "${PX[@]}" "${BUNDLE}/bin/let_me_explain_cuda" --no-progress \
       --data "${REPO_ROOT}/examples/let_me_explain/data/harmless-base-test.jsonl.gz" --tokenizer "${BUNDLE}/data/gpt2" \
       --out "${LME_OUT}"; then
    helper lme "${LME_OUT}/results.json" "${TMP}/let_me_explain_cuda.out" "${RC}" "${WALL}" >>"${RESULTS}"
  fi
else
  say "SKIP let_me_explain_cuda: $(left)s left"
fi

# ---- the table, last ----------------------------------------------------------------------------------
helper table "${RESULTS}" >"${SUMMARY}" 2>&1
{ echo; echo "== $(( $(date +%s) - START )) s in all; files in ${OUT}: $(cd "${OUT}" && ls | tr '\n' ' ')"; } >>"${SUMMARY}"
cat "${SUMMARY}" >>"${LOG}"
echo
cat "${SUMMARY}"
