// SPDX-License-Identifier: MIT
// The subcommands of the `prefopt` tool, one source file each.
#pragma once

namespace prefopt::cli {
int tokenize_command(int argc, char** argv);
int pairs_command(int argc, char** argv);
int init_command(int argc, char** argv);
int score_command(int argc, char** argv);
int sft_command(int argc, char** argv);
int dpo_command(int argc, char** argv);
int generate_command(int argc, char** argv);
}  // namespace prefopt::cli
