#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes the seed corpora of fuzz_jsonl and fuzz_gzip from the shared hh-rlhf rows plus a few
# hand-made edge cases. Usage: fuzz/data/make_corpus.sh <out dir> [<rows .jsonl.gz>]
# Creates <out dir>/jsonl and <out dir>/gzip. Inputs are kept small (libFuzzer's -max_len).
set -eu
out=${1:?usage: make_corpus.sh <out dir> [rows.jsonl.gz]}
rows=${2:-$(dirname "$0")/../../../shared/data/hh-rlhf/harmless-base-test.jsonl.gz}
mkdir -p "$out/jsonl" "$out/gzip"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zcat "$rows" > "$tmp/rows.jsonl"

# Single rows (short ones: libFuzzer truncates inputs to -max_len), plain and gzip.
n=0
awk 'length($0) < 1500' "$tmp/rows.jsonl" | head -n 12 | while IFS= read -r line; do
  n=$((n + 1))
  printf '%s\n' "$line" > "$out/jsonl/row_$n.jsonl"
  printf '%s\n' "$line" | gzip -9n > "$out/jsonl/row_$n.jsonl.gz"
  printf '%s\n' "$line" | gzip -1n > "$out/gzip/row_$n.gz"
done
# A few rows together, CRLF, trailing blank lines, concatenated members, zero padding.
awk 'length($0) < 600' "$tmp/rows.jsonl" | head -n 3 > "$tmp/three.jsonl"
cp "$tmp/three.jsonl" "$out/jsonl/three.jsonl"
sed 's/$/\r/' "$tmp/three.jsonl" > "$out/jsonl/three_crlf.jsonl"
{ cat "$tmp/three.jsonl"; printf '\n \n\t\n'; } > "$out/jsonl/trailing_blank.jsonl"
{ head -n 1 "$tmp/three.jsonl" | gzip -n; tail -n 2 "$tmp/three.jsonl" | gzip -n; } > "$out/jsonl/two_members.jsonl.gz"
cp "$out/jsonl/two_members.jsonl.gz" "$out/gzip/two_members.gz"
{ gzip -n < "$tmp/three.jsonl"; printf '\0\0\0\0'; } > "$out/gzip/zero_padding.gz"
printf '' | gzip -n > "$out/gzip/empty_member.gz"
# Hand-made edge cases of the record layer.
printf '{"prompt": "p", "chosen": " c", "rejected": " r"}\n' > "$out/jsonl/explicit_pairs.jsonl"
printf '{"chosen": 1, "rejected": null}\n[1]\n"s"\n\n{"chosen": "\\u00e9\\ud83d\\ude42"}\n' > "$out/jsonl/bad_records.jsonl"
printf '{"chosen": "\\n\\nHuman: q\\n\\nAssistant: Assistant: a", "rejected": "\\n\\nHuman: q\\n\\nAssistant:"}\n' \
  > "$out/jsonl/double_assistant.jsonl"
echo "wrote $(ls "$out/jsonl" | wc -l) jsonl and $(ls "$out/gzip" | wc -l) gzip seeds under $out"
