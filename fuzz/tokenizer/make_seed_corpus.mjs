#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Seed corpus of fuzz_tokenizer: the first 300 chosen and rejected texts of the shared hh-rlhf
// harmless-base test split (cut to 4 kB) and every input of the tokenizer's golden stress set,
// one file each. Usage: node fuzz/tokenizer/make_seed_corpus.mjs <out dir> [shared dir]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) throw new Error("usage: make_seed_corpus.mjs <out dir> [shared dir]");
const shared = resolve(process.argv[3] ?? join(here, "../../../shared"));
mkdirSync(out, { recursive: true });

let n = 0;
const write = (bytes) => writeFileSync(join(out, `seed_${String(n++).padStart(4, "0")}`), bytes);
const rows = gunzipSync(readFileSync(join(shared, "data/hh-rlhf/harmless-base-test.jsonl.gz")))
  .toString("utf8").split("\n").filter((l) => l.length > 0).slice(0, 150);
for (const line of rows) {
  const row = JSON.parse(line);
  for (const text of [row.chosen, row.rejected]) write(Buffer.from(text, "utf8").subarray(0, 4096));
}
const stress = JSON.parse(readFileSync(join(here, "../../tests/reference/tokenizer/stress_golden.json"), "utf8"));
for (const c of stress.cases) if (c.hex.length > 0) write(Buffer.from(c.hex, "hex"));
console.log(`wrote ${n} seeds to ${out}`);
