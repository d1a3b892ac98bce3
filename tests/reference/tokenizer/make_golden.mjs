#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Golden GPT-2 token ids for prefopt's tokenizer tests (README.md beside this file).
//
// Oracle 1: js-tiktoken's bundled "gpt2" ranks, with GPT-2's pre-tokenizer pattern re-spelled so
// that \s is Unicode White_Space (Python `regex`'s \s, which OpenAI's encoder.py used) instead of
// JavaScript's \s (which lacks U+0085 and adds U+FEFF). "<|endoftext|>" is allowed as special.
// Oracle 2: a direct transcription of encoder.py's Encoder.bpe() over data/gpt2/{vocab.json,
// merges.txt} (what scripts/setup.sh installs), run on the same pre-tokenized pieces. The script
// stops if the two disagree on any text, so a fixture is only written when both agree.
//
// Inputs that are not valid UTF-8 are first decoded with the WHATWG decoder (TextDecoder, which
// puts one U+FFFD per maximal ill-formed subpart, as prefopt does); a leading U+FEFF is kept.
//
// Usage: node make_golden.mjs [--shared ../../../../shared] [--check]
//   --check: regenerate in memory and compare with the committed fixtures (exit 1 on a difference).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2 from "js-tiktoken/ranks/gpt2";
import { STRESS_CASES } from "./stress_cases.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const args = process.argv.slice(2);
const sharedDir = args.includes("--shared") ? resolve(args[args.indexOf("--shared") + 1]) : resolve(repo, "../shared");
const check = args.includes("--check");

// ---- the pattern ---------------------------------------------------------------------------------
const STOCK = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
if (gpt2.pat_str !== STOCK) throw new Error(`js-tiktoken's gpt2 pattern changed: ${gpt2.pat_str}`);
// Unicode White_Space (PropList.txt): U+0009..000D, 0020, 0085, 00A0, 1680, 2000..200A, 2028, 2029,
// 202F, 205F, 3000.
const WS = String.raw`\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;
const PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^${WS}\p{L}\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;
const EOT = "<|endoftext|>";

const tiktoken = new Tiktoken({ ...gpt2, pat_str: PATTERN });
const encodeTiktoken = (text) => tiktoken.encode(text, [EOT]);

// ---- oracle 2: encoder.py's bpe() over merges.txt -----------------------------------------------
const gpt2Dir = join(repo, "data/gpt2");
if (!existsSync(join(gpt2Dir, "merges.txt"))) throw new Error(`${gpt2Dir}/merges.txt missing: run scripts/setup.sh`);
const encoder = JSON.parse(readFileSync(join(gpt2Dir, "vocab.json"), "utf8"));
const bpeRanks = new Map();
readFileSync(join(gpt2Dir, "merges.txt"), "utf8")
  .split("\n")
  .slice(1, -1)
  .forEach((line, rank) => bpeRanks.set(line, rank)); // key "first second"

// encoder.py's bytes_to_unicode().
const byteToUnicode = (() => {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; ++b) bs.push(b);
  for (let b = 0xa1; b <= 0xac; ++b) bs.push(b);
  for (let b = 0xae; b <= 0xff; ++b) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; ++b) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n += 1;
    }
  }
  const table = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
})();

// Encoder.bpe(): merge the lowest-ranked pair everywhere, left to right, until none is left.
function bpe(symbols) {
  let word = symbols;
  while (word.length > 1) {
    let best = null;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < word.length; ++i) {
      const r = bpeRanks.get(word[i] + " " + word[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = [word[i], word[i + 1]];
      }
    }
    if (best === null) break;
    const merged = [];
    for (let i = 0; i < word.length; ) {
      if (i + 1 < word.length && word[i] === best[0] && word[i + 1] === best[1]) {
        merged.push(best[0] + best[1]);
        i += 2;
      } else {
        merged.push(word[i]);
        i += 1;
      }
    }
    word = merged;
  }
  return word;
}

const utf8Encoder = new TextEncoder();
const pieceRegex = new RegExp(PATTERN, "gu");
function encodeMerges(text) {
  const ids = [];
  text.split(EOT).forEach((segment, k) => {
    if (k > 0) ids.push(encoder[EOT]);
    for (const m of segment.matchAll(pieceRegex)) {
      const symbols = Array.from(utf8Encoder.encode(m[0]), (b) => byteToUnicode[b]);
      for (const token of bpe(symbols)) {
        const id = encoder[token];
        if (id === undefined) throw new Error(`bpe produced ${token}, not in vocab.json`);
        ids.push(id);
      }
    }
  });
  return ids;
}

function golden(text, what) {
  const a = encodeTiktoken(text);
  const b = encodeMerges(text);
  if (a.length !== b.length || a.some((x, i) => x !== b[i]))
    throw new Error(`oracles disagree on ${what}:\n  js-tiktoken ${JSON.stringify(a)}\n  encoder.py  ${JSON.stringify(b)}`);
  return a;
}

// ---- (b) stress set -------------------------------------------------------------------------------
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // keeps a leading U+FEFF
const stress = STRESS_CASES.map(({ name, text, hex }) => {
  const bytes = hex !== undefined ? Buffer.from(hex, "hex") : Buffer.from(text, "utf8");
  const ids = golden(decoder.decode(bytes), name);
  return { name, hex: bytes.toString("hex"), ids };
});
const names = new Set(stress.map((c) => c.name));
if (names.size !== stress.length) throw new Error("stress case names must be unique");
const stressJson =
  '{"generator": "make_golden.mjs", "cases": [\n' +
  stress.map((c) => "  " + JSON.stringify(c)).join(",\n") +
  "\n]}\n";

// ---- (a) every chosen and rejected text of the shared harmless-base test split ------------------
const sharedFile = join(sharedDir, "data/hh-rlhf/harmless-base-test.jsonl.gz");
const lines = gunzipSync(readFileSync(sharedFile)).toString("utf8").split("\n").filter((l) => l.length > 0);
let tokens = 0;
let bytes = 0;
const rows = lines.map((line, i) => {
  const row = JSON.parse(line);
  if (typeof row.chosen !== "string" || typeof row.rejected !== "string") throw new Error(`row ${i + 1}: no texts`);
  const c = golden(row.chosen, `row ${i + 1} chosen`);
  const r = golden(row.rejected, `row ${i + 1} rejected`);
  tokens += c.length + r.length;
  bytes += utf8Encoder.encode(row.chosen).length + utf8Encoder.encode(row.rejected).length;
  return JSON.stringify([c, r]);
});
const header = JSON.stringify({
  source: "data/hh-rlhf/harmless-base-test.jsonl.gz",
  rows: rows.length,
  text_bytes: bytes,
  tokens,
  format: "one line per row after this one: [chosen ids, rejected ids]",
});
const sharedText = [header, ...rows].join("\n") + "\n";

// ---- write or check --------------------------------------------------------------------------------
const stressPath = join(here, "stress_golden.json");
const sharedPath = join(here, "harmless_base_test_ids.jsonl.gz");
if (check) {
  let ok = true;
  if (readFileSync(stressPath, "utf8") !== stressJson) {
    console.error(`${stressPath} differs from what the oracles give now`);
    ok = false;
  }
  if (gunzipSync(readFileSync(sharedPath)).toString("utf8") !== sharedText) {
    console.error(`${sharedPath} differs from what the oracles give now`);
    ok = false;
  }
  console.log(`${stress.length} stress cases, ${rows.length} rows (${tokens} tokens): ${ok ? "fixtures reproduce" : "MISMATCH"}`);
  process.exit(ok ? 0 : 1);
}
writeFileSync(stressPath, stressJson);
writeFileSync(sharedPath, gzipSync(Buffer.from(sharedText, "utf8"), { level: 9 }));
const version = JSON.parse(readFileSync(join(here, "node_modules/js-tiktoken/package.json"), "utf8")).version;
console.log(`js-tiktoken ${version}, node ${process.version}`);
console.log(`wrote ${stressPath}: ${stress.length} cases`);
console.log(`wrote ${sharedPath}: ${rows.length} rows, ${tokens} tokens, ${bytes} text bytes`);
