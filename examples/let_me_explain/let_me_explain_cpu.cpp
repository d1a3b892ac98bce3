// SPDX-License-Identifier: MIT
// The "Let me explain" experiment on the CPU device. `let_me_explain --help` lists the options.
#include "command_line.hpp"
#include "prefopt/device/cpu.hpp"

int main(int argc, char** argv) {
  return let_me_explain::main_with<prefopt::CpuDevice>(argc, argv, [] { return 0; });
}
