// SPDX-License-Identifier: MIT
// Reading vocab.json + merges.txt and tokenizer.json: the two formats agree on GPT-2, a model
// directory picks the right files, and every malformed or missing file is named in the error.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "tokenizer_test_support.hpp"

using namespace prefopt;
using namespace prefopt::test;

namespace {
using Ids = std::vector<token_t>;
namespace fs = std::filesystem;

// GPT-2's merges.txt lines, without the "#version" line.
std::vector<std::string> gpt2_merge_lines() {
  std::vector<std::string> lines;
  const std::string text = read_file(gpt2_tokenizer_dir() / "merges.txt");
  std::size_t pos = text.find('\n') + 1;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  return lines;
}

// A tokenizer.json as Hugging Face writes it for "gpt2", built from data/gpt2's files; merges as
// "a b" strings (tokenizers < 0.20) or as ["a", "b"] pairs (>= 0.20).
nlohmann::json gpt2_tokenizer_json(bool pair_merges) {
  nlohmann::json merges = nlohmann::json::array();
  for (const std::string& line : gpt2_merge_lines()) {
    const std::size_t space = line.find(' ');
    if (pair_merges) merges.push_back({line.substr(0, space), line.substr(space + 1)});
    else merges.push_back(line);
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", true}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false},
        {"vocab", nlohmann::json::parse(read_file(gpt2_tokenizer_dir() / "vocab.json"))}, {"merges", merges}}}};
}

// A toy vocabulary: the 256 byte tokens (ids 0..255 in byte order), "ab" = 256, "<|endoftext|>" = 257.
nlohmann::ordered_json toy_vocab() {
  nlohmann::ordered_json v = nlohmann::ordered_json::object();
  for (unsigned b = 0; b < 256; ++b) v[byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  v["ab"] = 256;
  v["<|endoftext|>"] = 257;
  return v;
}
const char* const toy_merges = "#version: 0.2\na b\n";

fs::path toy_dir(const std::string& name, const std::string& vocab, const std::string& merges) {
  const fs::path dir = tokenizer_scratch_dir(name);
  write_file(dir / "vocab.json", vocab);
  write_file(dir / "merges.txt", merges);
  return dir;
}

Gpt2Tokenizer load_toy(const std::string& name, const std::string& vocab, const std::string& merges = toy_merges) {
  return Gpt2Tokenizer::from_directory(toy_dir(name, vocab, merges));
}
}  // namespace

TEST_CASE("a toy vocabulary loads and merges", "[tokenizer][files]") {
  const Gpt2Tokenizer tok = load_toy("toy", toy_vocab().dump());
  CHECK(tok.vocab_size() == 258);
  CHECK(tok.eos_token_id() == 257);
  CHECK(tok.encode("ab") == Ids{256});
  CHECK(tok.encode("abc<|endoftext|>") == Ids{256, 'c', 257});  // toy ids: byte b has id b
  CHECK(tok.encode(" ab") == Ids{' ', 256});
}

TEST_CASE("tokenizer.json loads to the same tokenizer as vocab.json + merges.txt", "[tokenizer][files]") {
  const Gpt2Tokenizer& reference = gpt2_tokenizer();
  const auto cases = stress_cases();
  for (const bool pair_merges : {false, true}) {
    CAPTURE(pair_merges);
    const fs::path dir = tokenizer_scratch_dir(pair_merges ? "hf_pairs" : "hf_strings");
    write_file(dir / "tokenizer.json", gpt2_tokenizer_json(pair_merges).dump());
    const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(dir);
    CHECK(tok.vocab_size() == reference.vocab_size());
    CHECK(tok.eos_token_id() == reference.eos_token_id());
    CHECK(tok.vocabulary().token_bytes == reference.vocabulary().token_bytes);
    CHECK(tok.vocabulary().merges.size() == reference.vocabulary().merges.size());
    for (const StressCase& c : cases) {
      CAPTURE(c.name);
      CHECK(tok.encode(c.bytes) == c.ids);
    }
  }
}

TEST_CASE("a model directory prefers tokenizer.json, as transformers does", "[tokenizer][files]") {
  const fs::path dir = toy_dir("both", toy_vocab().dump(), toy_merges);
  nlohmann::json tj;
  tj["model"] = {{"type", "BPE"}, {"vocab", nlohmann::json::parse(toy_vocab().dump())}, {"merges", {"a b"}}};
  tj["added_tokens"] = {{{"id", 258}, {"content", "<|pad|>"}, {"special", true}}};
  write_file(dir / "tokenizer.json", tj.dump());
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(dir);
  CHECK(tok.vocab_size() == 259);
  CHECK(tok.encode("x<|pad|>ab") == Ids{'x', 258, 256});
  fs::remove(dir / "tokenizer.json");
  CHECK(Gpt2Tokenizer::from_directory(dir).vocab_size() == 258);
}

TEST_CASE("missing tokenizer files are named", "[tokenizer][files]") {
  const fs::path dir = tokenizer_scratch_dir("missing");
  CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir / "nope"), CheckpointError,
                       WhatContains({"nope", "directory not found"}));
  CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir), CheckpointError,
                       WhatContains({"no tokenizer files", "vocab.json and merges.txt"}));
  write_file(dir / "vocab.json", toy_vocab().dump());
  CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir), CheckpointError,
                       WhatContains({"merges.txt", "file not found"}));
  fs::remove(dir / "vocab.json");
  write_file(dir / "merges.txt", toy_merges);
  CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir), CheckpointError,
                       WhatContains({"vocab.json", "file not found"}));
  CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir / "merges.txt"), CheckpointError,
                       WhatContains({"is not a directory"}));
}

TEST_CASE("malformed vocab.json is refused with the file and what was expected", "[tokenizer][files]") {
  struct Case {
    const char* name;
    std::string vocab;
    const char* expected;
  };
  auto with = [](const char* key, nlohmann::ordered_json value) {
    nlohmann::ordered_json v = toy_vocab();
    v[key] = value;
    return v.dump();
  };
  auto without = [](const std::string& key, const char* replacement) {
    nlohmann::ordered_json v = toy_vocab();
    const auto id = v.at(key);
    v.erase(key);
    if (replacement != nullptr) v[replacement] = id;  // keeps the ids dense
    return v.dump();
  };
  const Case cases[] = {
      {"empty", "", "is empty, expected a JSON object"},
      {"not json", "{\"a\": 1,", "not valid JSON"},
      {"array", "[1, 2]", "expected a JSON object, found array"},
      {"string id", with("xyz", "7"), "the id must be an integer, found string"},
      {"negative id", with("xyz", -3), "has id -3"},
      {"huge id", with("xyz", 1LL << 40), "expected 0 <= id < 16777216"},
      {"gap", with("xyz", 300), "no token has id 258"},
      {"duplicate id", with("xyz", 256), "id 256 is given to both"},
      {"literal space", with("a b", 258), "outside GPT-2's byte-level alphabet at byte 1"},
      {"missing byte", without("\xC4\xA0", "zz"), "lacks the token of byte 32"},
      {"no end of text", without("<|endoftext|>", nullptr), "no \"<|endoftext|>\" token"},
      {"duplicate key", "{\"a\": 1, \"a\": 2}", "repeats the key"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK_THROWS_MATCHES(load_toy("bad_vocab", c.vocab), CheckpointError,
                         WhatContains({"vocab.json", c.expected}));
  }
}

TEST_CASE("malformed merges.txt is refused with the file, line and what was expected", "[tokenizer][files]") {
  struct Case {
    const char* name;
    const char* merges;
    const char* expected;
  };
  const Case cases[] = {
      {"one token", "#version: 0.2\nab\n", "line 2: expected two tokens separated by one space"},
      {"three tokens", "a b c\n", "line 1: expected two tokens"},
      {"empty line inside", "#version: 0.2\n\na b\n", "line 2: expected two tokens"},
      {"unknown part", "#version: 0.2\na b\nab zz\n", "line 3: merge \"ab zz\": \"zz\" is not in the vocabulary"},
      {"unknown result", "b a\n", "line 1: the result \"ba\" of the merge \"b a\" is not in the vocabulary"},
      {"foreign character", "a \xE4\xB8\x80\n", "not two tokens in GPT-2's byte-level alphabet"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK_THROWS_MATCHES(load_toy("bad_merges", toy_vocab().dump(), c.merges), CheckpointError,
                         WhatContains({"merges.txt", c.expected}));
  }
  // Windows line endings and trailing empty lines are fine.
  CHECK(load_toy("crlf_merges", toy_vocab().dump(), "#version: 0.2\r\na b\r\n\r\n\n").encode("ab") == Ids{256});
}

TEST_CASE("tokenizer.json settings that would change GPT-2's encoding are refused", "[tokenizer][files]") {
  struct Case {
    const char* name;
    const char* pointer;  // JSON pointer of the setting
    nlohmann::json value;
    const char* expected;
  };
  const Case cases[] = {
      {"prefix space", "/pre_tokenizer/add_prefix_space", true, "add_prefix_space is true"},
      {"other pre-tokenizer", "/pre_tokenizer/type", "Whitespace", "the pre-tokenizer is not \"ByteLevel\""},
      {"normalizer", "/normalizer", {{"type", "NFC"}}, "a normalizer is set"},
      {"not BPE", "/model/type", "WordPiece", "the model is not \"BPE\""},
      {"dropout", "/model/dropout", 0.1, "BPE dropout is set"},
      {"suffix", "/model/end_of_word_suffix", "</w>", "a subword prefix or suffix is set"},
      {"lstrip", "/added_tokens/0/lstrip", true, "\"lstrip\" is true"},
      {"no vocab", "/model/vocab", nullptr, "expected an object \"model.vocab\""},
      {"bad merge", "/model/merges/0", 5, "model.merges[0]: expected \"left right\" or [\"left\", \"right\"]"},
      {"bad added token", "/added_tokens/0/id", "x", "added_tokens[0]: expected an integer \"id\""},
  };
  const nlohmann::json good = gpt2_tokenizer_json(false);
  const fs::path dir = tokenizer_scratch_dir("bad_tokenizer_json");
  for (const Case& c : cases) {
    CAPTURE(c.name);
    nlohmann::json j = good;
    j[nlohmann::json::json_pointer(c.pointer)] = c.value;
    write_file(dir / "tokenizer.json", j.dump());
    CHECK_THROWS_MATCHES(Gpt2Tokenizer::from_directory(dir), CheckpointError,
                         WhatContains({"tokenizer.json", c.expected}));
  }
}
