// SPDX-License-Identifier: MIT
// GPT-2 token counts of the seed pairs (seed_pairs_expected.jsonl.gz, written by seed_pairs.py),
// for the tokenizer-dependent length filter of the seed's cell 3:
//   prompt_len = len(tokenizer.encode(prompt)); chosen_len = len(tokenizer.encode(chosen))
//   keep when prompt_len <= 256 and prompt_len + chosen_len <= 512
// Hugging Face's GPT-2 tokenizer reads "<|endoftext|>" in the text as the special token, so the
// encoding here allows all special tokens. js-tiktoken's pre-tokenizer regex uses JavaScript's
// \s, which differs from Python regex's (Unicode White_Space: JS lacks U+0085 and adds U+FEFF);
// the pattern is rebuilt with the Python class spelled out, so the ids are GPT-2's.
//
// Usage (in this folder, after `npm ci`):  node seed_lengths.mjs [--check]
// Writes seed_pairs_lengths.json: per pair [prompt, chosen, rejected] token counts (without any
// appended EOS) and the number of pairs the filter keeps. --check compares with the file on disk.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2 from "js-tiktoken/ranks/gpt2";

const here = dirname(fileURLToPath(import.meta.url));
const MAX_PROMPT_LENGTH = 256;
const MAX_LENGTH = 512;

const PY_WHITESPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const stock = gpt2.pat_str;
const patched = stock
  .replace("[^\\s\\p{L}\\p{N}]", `[^${PY_WHITESPACE}\\p{L}\\p{N}]`)
  .replace("\\s+(?!\\S)", `[${PY_WHITESPACE}]+(?![^${PY_WHITESPACE}])`)
  .replace(/\\s\+$/, `[${PY_WHITESPACE}]+`);
if (patched.includes("\\s") || patched.includes("\\S")) throw new Error(`unpatched \\s in ${patched}`);
const encoder = new Tiktoken({ ...gpt2, pat_str: patched });
const version = JSON.parse(readFileSync(join(here, "node_modules/js-tiktoken/package.json"), "utf8")).version;

const lines = gunzipSync(readFileSync(join(here, "seed_pairs_expected.jsonl.gz"))).toString("utf8").split("\n");
const lengths = [];
let kept = 0;
for (const line of lines) {
  if (line === "") continue;
  const pair = JSON.parse(line);
  const n = ["prompt", "chosen", "rejected"].map((k) => encoder.encode(pair[k], "all").length);
  lengths.push([pair.line, ...n]);
  if (n[0] <= MAX_PROMPT_LENGTH && n[0] + n[1] <= MAX_LENGTH) kept += 1;
}
const result = {
  tokenizer: `js-tiktoken ${version}, gpt2 ranks, allowedSpecial "all", Python regex whitespace`,
  node: process.version,
  max_prompt_length: MAX_PROMPT_LENGTH,
  max_length: MAX_LENGTH,
  pairs: lengths.length,
  after_length_filter: kept,
  columns: ["line", "prompt", "chosen", "rejected"],
  lengths,
};
const text =
  JSON.stringify({ ...result, lengths: undefined }, null, 1).replace(/\n}$/, ",\n") +
  ' "lengths": [\n' + lengths.map((l) => `  ${JSON.stringify(l)}`).join(",\n") + "\n ]\n}\n";
const out = join(here, "seed_pairs_lengths.json");
if (process.argv.includes("--check")) {
  const onDisk = JSON.parse(readFileSync(out, "utf8"));
  const same = JSON.stringify({ ...onDisk, node: "" }) === JSON.stringify({ ...JSON.parse(text), node: "" });
  console.log(same ? "seed_pairs_lengths.json reproduces" : "seed_pairs_lengths.json is stale");
  process.exit(same ? 0 : 1);
}
writeFileSync(out, text);
console.log(`wrote ${out}: ${lengths.length} pairs, ${kept} within ${MAX_PROMPT_LENGTH}/${MAX_LENGTH} tokens`);
