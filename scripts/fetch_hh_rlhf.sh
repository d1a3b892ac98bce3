#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Downloads Anthropic/hh-rlhf (the seed experiment's full dataset: four subsets, each with
# train.jsonl.gz and test.jsonl.gz) from the Hugging Face hub into DIR (default data/hh-rlhf),
# in the layout `--data DIR` reads. Where the hub cannot be reached it says what to fetch by hand.
#   scripts/fetch_hh_rlhf.sh [DIR]
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-${REPO_ROOT}/data/hh-rlhf}"
base="https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main"
subsets="harmless-base helpful-base helpful-online helpful-rejection-sampled"
files=""
for s in ${subsets}; do files="${files} ${s}/train.jsonl.gz ${s}/test.jsonl.gz"; done

if ! curl -sSfI --max-time 10 "${base}/README.md" >/dev/null 2>&1; then
  cat >&2 <<MSG
[fetch] cannot reach huggingface.co from this machine.
[fetch] On a machine that can, download these 8 files of https://huggingface.co/datasets/Anthropic/hh-rlhf
[fetch] (or clone https://github.com/anthropics/hh-rlhf, which has the same files):
$(for f in ${files}; do echo "          ${f}"; done)
[fetch] and copy them here, keeping the folders:  ${dest}/<subset>/<split>.jsonl.gz
[fetch] Then:  build/examples/let_me_explain --data ${dest} --split train
MSG
  exit 1
fi
for f in ${files}; do
  mkdir -p "${dest}/$(dirname "${f}")"
  if [ -s "${dest}/${f}" ]; then echo "[fetch] ${f}: present"; continue; fi
  echo "[fetch] ${f}"
  curl -sSfL --retry 3 -o "${dest}/${f}.part" "${base}/${f}"
  gzip -t "${dest}/${f}.part"
  mv "${dest}/${f}.part" "${dest}/${f}"
done
echo "[fetch] done: ${dest} (train split: 160,800 conversations)"
