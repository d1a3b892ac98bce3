// SPDX-License-Identifier: MIT
// Model benchmark on the CPU device: tokens/s of a training step (forward + backward over a packed
// batch, every position scored) and of forward-only scoring, plus the machine's measured fp32 GEMM
// peak and the fraction of it the training step reaches. Prints one JSON line. The body is
// device-generic (gpt2_step.hpp); `bench_cuda_step train` (cuda_step.cu) runs it on CudaDevice.
//
//   bench_gpt2_step --config small --seq-len 256 --batch 4 --steps 5 --warmup 1
//   bench_gpt2_step --config 124m --seq-len 512 --batch 1
//
// benchmarks/run_model_benchmark.sh runs it next to the PyTorch peer in the same invocation.
#include "prefopt/device/cpu.hpp"
#include "gpt2_step.hpp"

int main(int argc, char** argv) {
  prefopt::bench::RunOptions ro;
  ro.program = "bench_gpt2_step";
  return prefopt::bench::run_gpt2_step<prefopt::CpuDevice>(argc, argv, ro);
}
