#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The peer of bench_tokenizer: npm `tiktoken` (OpenAI's Rust tokenizer compiled to WASM),
// get_encoding("gpt2"), on the same texts in the same order; one JSON line per mode:
//   first - the first pass (includes WASM compilation warm-up; tiktoken has no piece cache);
//   warm  - median of the next passes.
// Usage: node tiktoken_bench.mjs [data.jsonl.gz] [repeats]
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { get_encoding } from "tiktoken";

const here = dirname(fileURLToPath(import.meta.url));
const data = process.argv[2] ?? resolve(here, "../../../shared/data/hh-rlhf/harmless-base-test.jsonl.gz");
const repeats = Number(process.argv[3] ?? 7);

const rows = gunzipSync(readFileSync(data)).toString("utf8").split("\n").filter((l) => l.length > 0);
const texts = [];
let bytes = 0;
for (const line of rows) {
  const row = JSON.parse(line);
  for (const field of ["chosen", "rejected"]) {
    texts.push(row[field]);
    bytes += Buffer.byteLength(row[field], "utf8");
  }
}

const enc = get_encoding("gpt2");
let tokens = 0;
function pass() {
  let n = 0;
  for (const t of texts) n += enc.encode(t, "all").length;  // "<|endoftext|>" recognized, as prefopt's default
  tokens = n;
}
function timed() {
  const t0 = process.hrtime.bigint();
  pass();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
function report(mode, seconds) {
  const version = JSON.parse(readFileSync(resolve(here, "node_modules/tiktoken/package.json"), "utf8")).version;
  console.log(JSON.stringify({
    impl: `tiktoken-wasm ${version}`, mode, rows: rows.length, texts: texts.length, bytes, tokens,
    seconds: Number(seconds.toFixed(6)), mb_per_s: Number((bytes / seconds / 1e6).toFixed(3)),
    rows_per_s: Number((rows.length / seconds).toFixed(1)), threads: 1, node: process.version,
  }));
}

report("first", timed());
const times = [];
for (let r = 0; r < repeats; ++r) times.push(timed());
times.sort((a, b) => a - b);
const mid = times.length >> 1;
report("warm", times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2);
enc.free();
