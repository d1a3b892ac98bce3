// SPDX-License-Identifier: MIT
// DPO step benchmark (issue 4) on the CPU device: pairs/s and tokens/s of prefopt's
// Trainer<Gpt2<CpuDevice>, loss::Dpo>, next to its PyTorch peer
// (benchmarks/reference/pytorch_dpo_step.py, run together by benchmarks/run_dpo_benchmark.sh).
// Prints one JSON line. The body, its flags and what it measures are in dpo_step.hpp (device
// generic); `bench_cuda_step dpo` (cuda_step.cu) runs the same on CudaDevice.
//
//   bench_dpo_step --config small --workload equal --reference precompute --steps 8
//   bench_dpo_step --config 124m --workload real --pairs pairs.jsonl --reference model --steps 3
#include "prefopt/device/cpu.hpp"
#include "dpo_step.hpp"

int main(int argc, char** argv) {
  prefopt::bench::RunOptions ro;
  ro.program = "bench_dpo_step";
  return prefopt::bench::run_dpo_step<prefopt::CpuDevice>(argc, argv, ro);
}
