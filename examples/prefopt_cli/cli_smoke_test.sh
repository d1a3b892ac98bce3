#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end checks of the prefopt tool: tokenize round trip, error messages with line numbers,
# and the seed's stage counts on the shared hh-rlhf split (skipped, exit 77, without ../shared
# or the tokenizer files).
#   cli_smoke_test.sh PREFOPT_BINARY TOKENIZER_DIR SHARED_DIR
set -uo pipefail
bin="$1" tok="$2" shared="$3"
[ -f "${tok}/vocab.json" ] || { echo "SKIP: no tokenizer files in ${tok} (run scripts/setup.sh)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

out=$(printf '%s\n' '"Hello world"' '"Let me explain. <|endoftext|>"' | "${bin}" tokenize --tokenizer "${tok}") || fail "tokenize exited $?"
[ "${out}" = $'[15496,995]\n[5756,502,4727,13,220,50256]' ] || fail "tokenize printed: ${out}"
back=$(printf '%s\n' "[5756,502,4727,13,220,50256]" | "${bin}" tokenize --tokenizer "${tok}" --decode) || fail "decode exited $?"
[ "${back}" = '"Let me explain. <|endoftext|>"' ] || fail "decode printed: ${back}"

err=$(printf '%s\n' '"ok"' 'not json' | "${bin}" tokenize --tokenizer "${tok}" 2>&1 >/dev/null); rc=$?
[ ${rc} -eq 1 ] || fail "bad JSON: exit ${rc}, expected 1"
[[ "${err}" == *"<stdin>:2: not valid JSON"* ]] || fail "bad JSON message: ${err}"
err=$(printf '%s\n' '[1, 99999]' | "${bin}" tokenize --tokenizer "${tok}" --decode 2>&1 >/dev/null)
[[ "${err}" == *"<stdin>:1: token id 99999 is outside the vocabulary"* ]] || fail "bad id message: ${err}"
err=$("${bin}" pairs --builder nope --data /nonexistent 2>&1); rc=$?
[ ${rc} -ne 0 ] || fail "pairs with a missing file succeeded"
"${bin}" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command did not exit 2"

data="${shared}/data/hh-rlhf/harmless-base-test.jsonl.gz"
[ -f "${data}" ] || { echo "SKIP: ${data} absent"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "${tmp}"' EXIT
report=$("${bin}" pairs --data "${data}" --tokenizer "${tok}" --out "${tmp}/pairs.jsonl") || fail "pairs exited $?"
for want in "rows read *2312" "single-turn kept *642" "pairs built *639" "after length filter *639"; do
  grep -Eq "${want}" <<<"${report}" || fail "pairs report lacks '${want}':"$'\n'"${report}"
done
[ "$(wc -l < "${tmp}/pairs.jsonl")" -eq 639 ] || fail "pairs.jsonl does not have 639 lines"
head -1 "${tmp}/pairs.jsonl" | grep -q '"chosen_ids":\[5756,502,4727,13,' || fail "chosen does not start with Let me explain."
echo "prefopt CLI: all checks passed"
