// SPDX-License-Identifier: MIT
// Shared pieces of the `prefopt` command-line tool: option parsing with --help, default paths,
// and the signature every subcommand implements.
#pragma once

#include <boost/program_options.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#if defined(PREFOPT_HAVE_MPI)
#include "prefopt/train/mpi_launch.hpp"
#else
#include "prefopt/train/communicator.hpp"
#endif

namespace prefopt::cli {

/// The communicator of `prefopt sft` / `prefopt dpo`: MPI when prefopt was built with it (a single
/// process unless started by mpirun/srun), otherwise none.
#if defined(PREFOPT_HAVE_MPI)
using CliComm = MpiComm;
#else
using CliComm = NoComm;
#endif
/// This process's communicator (main.cpp sets it up).
CliComm& communicator();

namespace po = boost::program_options;

/// A subcommand: parses its own arguments (argv[0] is the subcommand name) and returns the
/// process exit status. Errors are thrown; main() prints them.
using Command = int (*)(int argc, char** argv);

/// Thrown for bad command lines; main() prints the message and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses argv against `options`; prints usage and returns false on --help.
inline bool parse_options(int argc, char** argv, const std::string& usage,
                          po::options_description& options, po::variables_map& vm,
                          const po::positional_options_description* positional = nullptr) {
  options.add_options()("help,h", "show this help and exit");
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

/// The GPT-2 tokenizer directory used when --tokenizer is not given: $PREFOPT_TOKENIZER, else
/// the data/gpt2 folder that scripts/setup.sh fills in the source tree prefopt was built from.
inline std::string default_tokenizer_dir() {
  if (const char* env = std::getenv("PREFOPT_TOKENIZER")) return env;
#ifdef PREFOPT_DEFAULT_DATA_DIR
  return std::string(PREFOPT_DEFAULT_DATA_DIR) + "/gpt2";
#else
  return "data/gpt2";
#endif
}

}  // namespace prefopt::cli
