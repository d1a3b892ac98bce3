// SPDX-License-Identifier: MIT
// The umbrella header: everything a program needs to train GPT-2 with a preference loss on the CPU
// device. Library headers include what they use; this one is for users.
#pragma once

#include "prefopt/core/error.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/batcher.hpp"
#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"
#include "prefopt/data/pairs_file.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/io/load_pretrained.hpp"
#include "prefopt/loss/losses.hpp"
#include "prefopt/model/generate.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/optim/adamw.hpp"
#include "prefopt/optim/grad_clip.hpp"
#include "prefopt/optim/lr_schedule.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "prefopt/train/metrics_plot.hpp"
#include "prefopt/train/trainer.hpp"
