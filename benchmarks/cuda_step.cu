// SPDX-License-Identifier: MIT
// The model and DPO step benchmarks on the CUDA device (nvcc; CMake target bench_cuda_step, built
// when PREFOPT_CUDA): one translation unit for both, since every nvcc TU costs minutes to build.
//
//   bench_cuda_step train --config 124m --seq-len 512 --batch 8 --steps 5 --warmup 2
//   bench_cuda_step dpo --config 124m --workload equal --reference precompute --steps 5 --warmup 2
//   bench_cuda_step dpo --config 124m --workload real --pairs pairs.jsonl --steps 10
//   bench_cuda_step train --config 124m --seq-len 512 --batch 8 --tf32
//   bench_cuda_step dpo --config 124m --workload equal --pageable-uploads
//
// The first argument picks the benchmark; the rest are the flags of bench_gpt2_step
// (gpt2_step.hpp) or bench_dpo_step (dpo_step.hpp), whose bodies run here on CudaDevice; --tf32
// switches the float GEMMs to TF32 tensor cores and --bf16 to bfloat16 ones (set_cuda_gemm_precision,
// reported as gemm_precision and cublas_math_mode); --pageable-uploads turns the pinned, queued
// host → device uploads off (set_cuda_staged_uploads(false), reported as uploads). The JSON
// line adds the GPU (cudaGetDeviceProperties), the CUDA runtime/driver and cuBLAS versions, the
// cuBLAS math mode of prefopt's handle (CUBLAS_DEFAULT_MATH: strict fp32 SGEMM, no TF32 — the
// precision of PyTorch's default, torch.backends.cuda.matmul.allow_tf32 = False), the GPU memory
// in use at the end (cudaMemGetInfo: total - free, the CUDA context included) and, for train, the
// GEMM rate at the batch's own row count. Without a CUDA device it exits 1 at once saying
// "no CUDA device: ...".
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "prefopt/device/cuda.hpp"
#include "dpo_step.hpp"
#include "gpt2_step.hpp"

namespace {

using prefopt::CudaDevice;

const char* math_mode_name(cublasMath_t m) {
  switch (static_cast<int>(m) & ~static_cast<int>(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)) {
    case CUBLAS_DEFAULT_MATH: return "CUBLAS_DEFAULT_MATH (fp32 SGEMM, no TF32)";
    case CUBLAS_PEDANTIC_MATH: return "CUBLAS_PEDANTIC_MATH";
    case CUBLAS_TF32_TENSOR_OP_MATH: return "CUBLAS_TF32_TENSOR_OP_MATH (TF32)";
    default: return "other";
  }
}

int device_ready(const char* prog) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();  // clear the sticky error
    std::fprintf(stderr, "%s: no CUDA device: %s\n", prog,
                 e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0 devices");
    return 1;
  }
  return 0;
}

nlohmann::ordered_json device_fields() {
  nlohmann::ordered_json f;
  int dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) == cudaSuccess) {
    f["gpu"] = p.name;
    f["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
    f["gpu_memory_gib"] = std::round(static_cast<double>(p.totalGlobalMem) / (1 << 30) * 10) / 10;
    f["sm_count"] = p.multiProcessorCount;
  }
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  f["cuda_runtime"] = runtime;
  f["cuda_driver"] = driver;
  cublasHandle_t h = prefopt::thrust_device::cuda_detail::cublas_handle();
  int cublas_version = 0;
  cublasGetVersion(h, &cublas_version);
  f["cublas"] = cublas_version;
  cublasMath_t mode{};
  cublasGetMathMode(h, &mode);
  f["cublas_math_mode"] = math_mode_name(mode);
  f["gemm_precision"] = prefopt::thrust_device::to_string(prefopt::cuda_gemm_precision());
  f["uploads"] = prefopt::cuda_staged_uploads() ? "staged (pinned, cudaMemcpyAsync)" : "pageable (blocking cudaMemcpy)";
  const char* tf32 = std::getenv("NVIDIA_TF32_OVERRIDE");
  f["nvidia_tf32_override"] = tf32 ? tf32 : "";
  std::size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
    f["gpu_memory_used_mib"] = std::round(static_cast<double>(total_b - free_b) / 1048576.0 * 10) / 10;
  return f;
}

int usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: bench_cuda_step train|dpo [flags]   (train: bench_gpt2_step's flags; dpo: bench_dpo_step's;\n"
               "       bench_cuda_step train --help lists them)\n");
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(2);
  const std::string which = argv[1];
  if (which == "--help" || which == "-h") return usage(0);
  if (which != "train" && which != "dpo") {
    std::fprintf(stderr, "bench_cuda_step: unknown benchmark '%s'\n", which.c_str());
    return usage(2);
  }
  // --tf32 and --bf16 (anywhere after the benchmark's name) are this program's own flags: TF32 or
  // bfloat16 tensor-core GEMMs (set_cuda_gemm_precision), the peers of the PyTorch scripts' --tf32
  // (allow_tf32) and --bf16 (autocast); so is --pageable-uploads. The rest goes to the benchmark.
  std::vector<char*> args(argv + 1, argv + argc);
  bool tf32 = false, bf16 = false, pageable = false;
  for (auto it = args.begin(); it != args.end();) {
    if (std::strcmp(*it, "--pageable-uploads") == 0) {
      pageable = true;
      it = args.erase(it);
    } else if (std::strcmp(*it, "--tf32") == 0 || std::strcmp(*it, "--bf16") == 0) {
      (std::strcmp(*it, "--tf32") == 0 ? tf32 : bf16) = true;
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  if (tf32 && bf16) {
    std::fprintf(stderr, "bench_cuda_step: --tf32 and --bf16 both set the GEMM precision: choose one\n");
    return 2;
  }
  using prefopt::CudaGemmPrecision;
  const CudaGemmPrecision precision = bf16 ? CudaGemmPrecision::bf16 : tf32 ? CudaGemmPrecision::tf32 : CudaGemmPrecision::fp32;
  prefopt::bench::RunOptions ro;
  ro.program = "bench_cuda_step " + which + (tf32 ? " --tf32" : bf16 ? " --bf16" : "") +
               (pageable ? " --pageable-uploads" : "");
  ro.device_ready = [&] {
    const int status = device_ready(ro.program.c_str());
    if (status == 0) {
      prefopt::set_cuda_gemm_precision(precision);
      prefopt::set_cuda_staged_uploads(!pageable);
    }
    return status;
  };
  ro.device_fields = device_fields;
  ro.gemm_at_batch_rows = true;
  try {
    // argv[1] ("train"/"dpo") stands in for the program name, which the option parser skips.
    const int n = static_cast<int>(args.size());
    return which == "train" ? prefopt::bench::run_gpt2_step<CudaDevice>(n, args.data(), ro)
                            : prefopt::bench::run_dpo_step<CudaDevice>(n, args.data(), ro);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", ro.program.c_str(), e.what());
    return 1;
  }
}
