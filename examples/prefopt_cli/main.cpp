// SPDX-License-Identifier: MIT
// prefopt: the command-line face of the library. `prefopt <command> --help` documents each
// command's flags with their defaults.
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>

#include "cli_common.hpp"
#include "commands.hpp"

namespace {
struct Entry {
  const char* name;
  prefopt::cli::Command run;
  const char* summary;
};
constexpr Entry commands[] = {
    {"tokenize", prefopt::cli::tokenize_command, "GPT-2 BPE: JSON strings in, JSON id arrays out (--decode: reverse)"},
    {"pairs", prefopt::cli::pairs_command, "build and tokenize preference pairs from hh-rlhf / JSONL, with stage counts"},
    {"init", prefopt::cli::init_command, "write a fresh, randomly initialised GPT-2-architecture model directory"},
    {"score", prefopt::cli::score_command, "policy/reference log-probs, loss and rewards of each pair, without training"},
    {"sft", prefopt::cli::sft_command, "supervised fine-tuning on the chosen (or rejected) completions"},
    {"dpo", prefopt::cli::dpo_command, "preference optimization: dpo, ipo, hinge, slic, simpo, orpo"},
    {"generate", prefopt::cli::generate_command, "complete prompts with a KV cache: sampling (temperature, top-k, top-p) or --greedy"},
};

void print_usage(std::ostream& out) {
  out << "usage: prefopt <command> [options]\n\ncommands:\n";
  for (const auto& c : commands) out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
  out << "\n`prefopt <command> --help` lists a command's options and their defaults.\n";
}
}  // namespace

namespace {
prefopt::cli::CliComm* the_communicator = nullptr;

// Runs one command; exit status 2 for a bad command line, 1 for an error.
int run_command(const Entry& c, int argc, char** argv) {
  try {
    return c.run(argc - 1, argv + 1);
  } catch (const prefopt::cli::UsageError& e) {
    std::cerr << "prefopt " << c.name << ": " << e.what() << "\n";
    return 2;
  }
}
}  // namespace

prefopt::cli::CliComm& prefopt::cli::communicator() { return *the_communicator; }

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : commands) {
    if (std::string_view(argv[1]) != c.name) continue;
#if defined(PREFOPT_HAVE_MPI)
    // Under mpirun/srun every rank runs the command; an error on any rank ends the whole job.
    prefopt::MpiLaunch launch(argc, argv);
    the_communicator = &launch.comm();
    const std::string program = std::string("prefopt ") + c.name;
    return launch.run(program.c_str(), [&](prefopt::MpiComm& comm) {
      const std::string_view name = c.name;
      if (comm.world_size() > 1 && name != "sft" && name != "dpo")
        throw prefopt::cli::UsageError("prefopt " + std::string(name) + " runs as one process; only sft and dpo are data parallel (run it without mpirun)");
      return run_command(c, argc, argv);  // a non-zero status on any rank ends the job (MpiLaunch::run)
    });
#else
    prefopt::cli::CliComm none;
    the_communicator = &none;
    try {
      return run_command(c, argc, argv);
    } catch (const std::exception& e) {
      std::cerr << "prefopt " << c.name << ": error: " << e.what() << "\n";
      return 1;
    }
#endif
  }
  std::cerr << "prefopt: unknown command '" << argv[1] << "'\n\n";
  print_usage(std::cerr);
  return 2;
}
