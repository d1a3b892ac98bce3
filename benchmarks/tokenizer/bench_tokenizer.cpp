// SPDX-License-Identifier: MIT
// Encoding throughput of Gpt2Tokenizer on one core: every chosen and rejected text of the shared
// hh-rlhf harmless-base test split, in file order. Modes:
//   cold     - a fresh tokenizer (empty cache) per pass: what a first epoch over new data sees;
//   warm     - the same tokenizer again and again (its cache filled by an untimed pass);
//   uncached - the cache turned off, every piece merged.
// One JSON line per mode; benchmarks/tokenizer/run.sh runs it beside tiktoken and prints the ratio.
// No threads are started (run it with OMP_NUM_THREADS=1 and taskset for a clean single core).
#include <zlib.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../bench_common.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"

namespace po = boost::program_options;
using namespace prefopt;

namespace {

// The lines of a gzip'd text file. TODO(#3): use the data layer's gzip reader once it exists.
std::vector<std::string> read_gz_lines(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> lines;
  std::string line;
  char buffer[1 << 16];
  while (gzgets(f, buffer, sizeof buffer) != nullptr) {
    line.append(buffer);
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      lines.push_back(std::move(line));
      line.clear();
    }
  }
  gzclose(f);
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

struct Pass {
  std::size_t tokens = 0;
};

Pass encode_all(const Gpt2Tokenizer& tok, const std::vector<std::string>& texts, std::vector<token_t>& ids) {
  Pass p;
  for (const std::string& t : texts) {
    ids.clear();
    tok.encode(t, ids);
    p.tokens += ids.size();
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = PREFOPT_SHARED_DIR "/data/hh-rlhf/harmless-base-test.jsonl.gz";
  std::string tokenizer_dir = PREFOPT_SOURCE_DIR "/data/gpt2";
  int repeats = 7;
  po::options_description opts("bench_tokenizer: GPT-2 tokenizer throughput on one core");
  opts.add_options()("help", "this text")
      ("data", po::value(&data)->default_value(data), "hh-rlhf JSONL.gz with chosen/rejected texts")
      ("tokenizer-dir", po::value(&tokenizer_dir)->default_value(tokenizer_dir), "directory with vocab.json + merges.txt or tokenizer.json")
      ("repeats", po::value(&repeats)->default_value(repeats), "timed passes per mode (the median is reported)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  po::notify(vm);

  std::vector<std::string> texts;
  std::size_t bytes = 0;
  const std::vector<std::string> rows = read_gz_lines(data);
  for (const std::string& line : rows) {
    const nlohmann::json row = nlohmann::json::parse(line);
    for (const char* field : {"chosen", "rejected"}) {
      texts.push_back(row.at(field).get<std::string>());
      bytes += texts.back().size();
    }
  }
  const Gpt2Tokenizer base = Gpt2Tokenizer::from_directory(tokenizer_dir);
  std::vector<token_t> ids;
  ids.reserve(1 << 16);

  std::size_t tokens = 0;
  const auto report = [&](const char* mode, double seconds) {
    std::printf("{\"impl\": \"prefopt\", \"mode\": \"%s\", \"rows\": %zu, \"texts\": %zu, \"bytes\": %zu, "
                "\"tokens\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.3f, \"rows_per_s\": %.1f, \"threads\": 1}\n",
                mode, rows.size(), texts.size(), bytes, tokens, seconds, bytes / seconds / 1e6, rows.size() / seconds);
    std::fflush(stdout);
  };

  // cold: a copy shares the tables and starts with an empty cache.
  std::vector<double> cold;
  for (int r = 0; r < repeats; ++r) {
    const Gpt2Tokenizer fresh = base;
    const double t0 = bench::now_seconds();
    tokens = encode_all(fresh, texts, ids).tokens;
    cold.push_back(bench::now_seconds() - t0);
  }
  report("cold", bench::median(cold));

  const Gpt2Tokenizer warm = base;
  report("warm", bench::time_median(1, repeats, [&] { tokens = encode_all(warm, texts, ids).tokens; }));

  Gpt2Tokenizer uncached = base;
  uncached.set_cache_capacity(0);
  report("uncached", bench::time_median(1, repeats, [&] { tokens = encode_all(uncached, texts, ids).tokens; }));
  return 0;
}
