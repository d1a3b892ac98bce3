// SPDX-License-Identifier: MIT
// Catch2 main of the data tests that need files outside the repository (../shared rows, the
// GPT-2 tokenizer files): after Catch has parsed its arguments (catch_discover_tests lists the
// cases at build time, which must work without the files), a run whose requirement is missing
// exits 77, which CTest reports as skipped (SKIP_RETURN_CODE 77), not passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>
#include <string>

// Defined by the test binary: "" when everything it needs is there, else what is missing.
std::string data_test_missing_requirement();

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int status = session.applyCommandLine(argc, argv); status != 0) return status;
  const Catch::ConfigData& config = session.configData();
  const bool listing = config.listTests || config.listTestNamesOnly || config.listTags || config.listReporters ||
                       config.showHelp;
  if (!listing) {
    const std::string missing = data_test_missing_requirement();
    if (!missing.empty()) {
      std::cout << "SKIPPED: " << missing << "\n";
      return 77;
    }
  }
  return session.run();
}
