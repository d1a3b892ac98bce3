// SPDX-License-Identifier: MIT
// The SIMT emulator (tests/support/simt/) that runs CudaDevice's code in CI: CUDA's thread
// coordinates, shuffles and barriers behave as on a GPU, what a GPU would hang on or leave
// undefined is reported rather than passed, and the reference cuBLAS follows cuBLAS's
// column-major contract and argument checks. The device suites' *_simt builds rely on all three.
#include <catch2/catch.hpp>

#include <vector>

// The emulator first: device/cuda/ reads CUDA's names from it.
#include "support/simt/simt_device.hpp"
// (then the kernels' reductions)
#include "prefopt/device/cuda/reduce.hpp"

using namespace prefopt;
using Catch::Matchers::Contains;
namespace ck = prefopt::thrust_device::cuda_kernels;

namespace {

__global__ void write_coordinates(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = block * 10000 + thread;
}

__global__ void warp_and_block_sums(double* warp_out, double* block_out) {
  __shared__ double shared[128 / 32];
  const double v = 1.0 + threadIdx.x;  // lanes of warp w hold 32w + 1 .. 32w + 32
  warp_out[threadIdx.x] = ck::warp_sum(v);
  block_out[threadIdx.x] = ck::block_sum<128>(v, shared);
}

__global__ void shuffle_after_early_return(float* out) {
  if (threadIdx.x == 5) return;  // one lane leaves: the warp's full-mask shuffle can never complete
  out[threadIdx.x] = ck::warp_sum(1.f);
}

__global__ void barrier_after_early_return(float* out) {
  if (threadIdx.x >= 32) return;  // the second warp leaves before the block's barrier
  __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void barrier_in_one_warp_shuffle_in_the_other(float* out) {
  // half a warp at the barrier, half at the shuffle
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    out[threadIdx.x] = ck::warp_sum(1.f);
  }
}

__global__ void shuffle_in_a_short_warp(float* out) { out[threadIdx.x] = ck::warp_sum(1.f); }

__global__ void lanes_with_different_masks(float* out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, threadIdx.x == 0 ? 1 : 2);
}

__global__ void indexed_shuffles(int* broadcast, int* rotated) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int mine = static_cast<int>(100 * (threadIdx.x / 32) + lane);  // warp w, lane l: 100w + l
  broadcast[threadIdx.x] = __shfl_sync(0xffffffffu, mine, 7);            // every lane reads lane 7
  rotated[threadIdx.x] = __shfl_sync(0xffffffffu, mine, (lane + 3) % 32);  // each its own source lane
}

__global__ void xor_and_indexed_in_one_warp(float* out) {
  out[threadIdx.x] = threadIdx.x < 16 ? __shfl_xor_sync(0xffffffffu, 1.f, 1) : __shfl_sync(0xffffffffu, 1.f, 1);
}

__global__ void shared_memory_reverse(int* out) {
  __shared__ int tile[64];
  tile[threadIdx.x] = static_cast<int>(blockIdx.x * 64 + threadIdx.x);
  __syncthreads();  // every write lands before any thread reads its mirror
  out[blockIdx.x * 64 + threadIdx.x] = tile[63 - threadIdx.x];
}

}  // namespace

TEST_CASE("the emulator runs every thread of the grid once, with CUDA's coordinates", "[simt]") {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  std::vector<unsigned> out(12 * 64, 0xffffffffu);
  ck::launch(write_coordinates, grid, block, out.data());
  for (unsigned b = 0; b < 12; ++b)
    for (unsigned t = 0; t < 64; ++t) REQUIRE(out[b * 64 + t] == b * 10000 + t);
}

TEST_CASE("warp_sum leaves the warp's sum and block_sum the block's in every thread", "[simt]") {
  std::vector<double> warp(128), block(128);
  ck::launch(warp_and_block_sums, 1, 128, warp.data(), block.data());
  for (int t = 0; t < 128; ++t) {
    const int w = t / 32;
    const double warp_total = 32.0 * (32 * w) + 32.0 * 33.0 / 2;  // Σ (32w + 1 .. 32w + 32)
    REQUIRE(warp[t] == warp_total);
    REQUIRE(block[t] == 128.0 * 129.0 / 2);
  }
}

TEST_CASE("__shfl_sync reads the source lane each lane names, within its own warp", "[simt]") {
  std::vector<int> broadcast(64, -1), rotated(64, -1);
  ck::launch(indexed_shuffles, 1, 64, broadcast.data(), rotated.data());
  for (int t = 0; t < 64; ++t) {
    const int w = t / 32, lane = t % 32;
    REQUIRE(broadcast[t] == 100 * w + 7);
    REQUIRE(rotated[t] == 100 * w + (lane + 3) % 32);
  }
}

TEST_CASE("__shared__ is one array per block and __syncthreads orders it", "[simt]") {
  std::vector<int> out(3 * 64);
  ck::launch(shared_memory_reverse, 3, 64, out.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 64; ++t) REQUIRE(out[b * 64 + t] == b * 64 + (63 - t));
}

TEST_CASE("what a GPU would hang on or leave undefined is a KernelFault naming block and thread", "[simt]") {
  std::vector<float> out(128);
  REQUIRE_THROWS_WITH(ck::launch(shuffle_after_early_return, 2, 32, out.data()),
                      Contains("block (0,0,0)") && Contains("lane 5 of warp 0 had returned"));
  REQUIRE_THROWS_WITH(ck::launch(barrier_after_early_return, 1, 64, out.data()),
                      Contains("wait at __syncthreads") && Contains("32 of the block's 64"));
  REQUIRE_THROWS_WITH(ck::launch(barrier_in_one_warp_shuffle_in_the_other, 1, 32, out.data()),
                      Contains("waits at __syncthreads (divergent warp)"));
  REQUIRE_THROWS_WITH(ck::launch(shuffle_in_a_short_warp, 1, 48, out.data()), Contains("warp of 16 threads"));
  REQUIRE_THROWS_WITH(ck::launch(lanes_with_different_masks, 1, 32, out.data()), Contains("different shuffles"));
  REQUIRE_THROWS_WITH(ck::launch(xor_and_indexed_in_one_warp, 1, 32, out.data()),
                      Contains("different shuffles") && Contains("source lane 1 vs lane mask 1"));
  REQUIRE_THROWS_WITH(ck::launch(shuffle_in_a_short_warp, 1, 1056, out.data()), Contains("1 to 1024 threads"));
  REQUIRE_THROWS_WITH(ck::launch(shuffle_in_a_short_warp, dim3(1, 70000), 32, out.data()),
                      Contains("y, z in [1, 65535]"));
  REQUIRE_THROWS_WITH(ck::launch(shuffle_in_a_short_warp, 0, 32, out.data()), Contains("launch with grid (0,1,1)"));
  // and it still runs a good kernel after each fault
  std::vector<double> warp(128), block(128);
  ck::launch(warp_and_block_sums, 1, 128, warp.data(), block.data());
  REQUIRE(block[0] == 128.0 * 129.0 / 2);
}

TEST_CASE("the reference cuBLAS is column-major, checks leading dimensions and skips C when beta is 0",
          "[simt][cublas]") {
  cublasHandle_t h = nullptr;
  REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  // A (2×3) and B (3×2), column-major: A = [1 3 5; 2 4 6], B = [1 2 3; 4 5 6]ᵀ
  const float A[] = {1, 2, 3, 4, 5, 6}, B[] = {1, 2, 3, 4, 5, 6};
  float C[] = {NAN, NAN, NAN, NAN};
  const float one = 1, zero = 0;
  REQUIRE(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, A, 2, B, 3, &zero, C, 2) == CUBLAS_STATUS_SUCCESS);
  // A·B = [1+6+15, 4+15+30; 2+8+18, 8+20+36] = [22 49; 28 64], stored by columns
  CHECK(C[0] == 22);
  CHECK(C[1] == 28);
  CHECK(C[2] == 49);
  CHECK(C[3] == 64);
  // both transposed, B now read as 3×2 (ldb 3): Aᵀ (3×2) · Bᵀ (2×3) = (B·A)ᵀ, 3×3
  float D[9];
  REQUIRE(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_T, 3, 3, 2, &one, A, 2, B, 3, &zero, D, 3) == CUBLAS_STATUS_SUCCESS);
  // (B·A) with B = [1 4; 2 5; 3 6] and A = [1 3 5; 2 4 6]: row i of B·A = B[i,0]·A[0,:] + B[i,1]·A[1,:]
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const float ba = B[i] * A[2 * j] + B[3 + i] * A[2 * j + 1];
      CHECK(D[j + 3 * i] == ba);  // D = (B·A)ᵀ: D(j, i) = (B·A)(i, j)
    }
  // cuBLAS's argument checks
  CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, A, 1, B, 3, &zero, C, 2) ==
        CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, A, 2, B, 2, &zero, C, 2) ==
        CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, A, 2, B, 3, &zero, C, 2) ==
        CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, A, 2, B, 3, &zero, C, 1) ==
        CUBLAS_STATUS_INVALID_VALUE);
  // strided batches: the second product reads and writes its own strides; beta = 1 accumulates
  const double A2[] = {1, 0, 0, 1, /*batch 1*/ 2, 0, 0, 2}, B2[] = {1, 2, 3, 4, /*batch 1*/ 5, 6, 7, 8};
  double C2[] = {1, 1, 1, 1, 1, 1, 1, 1};
  const double d1 = 1;
  REQUIRE(cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &d1, A2, 2, 4, B2, 2, 4, &d1, C2, 2, 4, 2) ==
          CUBLAS_STATUS_SUCCESS);
  const double want[] = {2, 3, 4, 5, 11, 13, 15, 17};
  for (int i = 0; i < 8; ++i) CHECK(C2[i] == want[i]);
  // TF32: operands lose their low 13 mantissa bits before the product
  const float x = 1.0f + 1.0f / 4096, y = 1;  // 1 + 2^-12 is not a TF32 number (10-bit mantissa)
  float z = 0;
  REQUIRE(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, &x, 1, &y, 1, &zero, &z, 1) == CUBLAS_STATUS_SUCCESS);
  CHECK(z == 1.0f);
  REQUIRE(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, &x, 1, &y, 1, &zero, &z, 1) == CUBLAS_STATUS_SUCCESS);
  CHECK(z == x);
  // cublasGemmEx's compute types: FAST_16BF rounds to bfloat16 (7-bit mantissa, to nearest even),
  // FAST_TF32 to TF32, plain 32F follows the math mode; non-float data is not emulated.
  auto gemm_ex = [&](const float* a, cublasComputeType_t c) {
    float out = -1;
    const cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a, CUDA_R_32F, 1, &y, CUDA_R_32F,
                                           1, &zero, &out, CUDA_R_32F, 1, c, CUBLAS_GEMM_DEFAULT);
    REQUIRE(st == CUBLAS_STATUS_SUCCESS);
    return out;
  };
  const float u = 1.0f + 1.0f / 128 + 1.0f / 512;  // nearer bf16's 1 + 2^-7 than its 1 + 2^-6
  const float tie_even = 1.0f + 1.0f / 256;        // halfway between 1 and 1 + 2^-7: to the even one, 1
  CHECK(gemm_ex(&u, CUBLAS_COMPUTE_32F_FAST_16BF) == 1.0f + 1.0f / 128);
  CHECK(gemm_ex(&tie_even, CUBLAS_COMPUTE_32F_FAST_16BF) == 1.0f);
  CHECK(gemm_ex(&u, CUBLAS_COMPUTE_32F_FAST_TF32) == u);  // TF32 holds 10 mantissa bits
  CHECK(gemm_ex(&x, CUBLAS_COMPUTE_32F_FAST_TF32) == 1.0f);
  CHECK(gemm_ex(&x, CUBLAS_COMPUTE_32F) == x);
  float out = 0;
  CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, &x, CUDA_R_16BF, 1, &y, CUDA_R_32F, 1, &zero, &out,
                     CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_SUPPORTED);
  // The strided-batched form rounds each batch's operands the same way.
  const float a2[] = {u, tie_even}, b2[] = {1, 1};
  float c2[] = {0, 0};
  REQUIRE(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a2, CUDA_R_32F, 1, 1, b2, CUDA_R_32F, 1,
                                     1, &zero, c2, CUDA_R_32F, 1, 1, 2, CUBLAS_COMPUTE_32F_FAST_16BF,
                                     CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
  CHECK(c2[0] == 1.0f + 1.0f / 128);
  CHECK(c2[1] == 1.0f);
  REQUIRE(cublasDestroy(h) == CUBLAS_STATUS_SUCCESS);
}

TEST_CASE("SimtDevice runs the fast kernels and cuBLAS, not the portable twins", "[simt]") {
  // The overloads of device/cuda/cuda_system.hpp must win for SimtDevice as for CudaDevice: a
  // layernorm launches the emulator, a dense layer goes through the reference cuBLAS.
  const test::SimtDevice dev{};
  const index_t rows = 3, C = 40;
  std::vector<float> x(rows * C, 1.f), w(C, 1.f), b(C, 0.f), y(rows * C), mean(rows), rstd(rows);
  for (index_t i = 0; i < rows * C; ++i) x[i] = static_cast<float>(i % 5);
  const std::size_t launches = prefopt_simt::launch_count(), gemms = prefopt_simt::gemm_count();
  layernorm_forward(dev, y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), rows, C, 1e-5f);
  CHECK(prefopt_simt::launch_count() == launches + 1);
  std::vector<float> out(rows * 7), weight(C * 7, 0.5f);
  matmul_forward(dev, out.data(), x.data(), weight.data(), static_cast<const float*>(nullptr), rows, C, 7,
                 WeightLayout::in_out);
  CHECK(prefopt_simt::gemm_count() == gemms + 1);
  CHECK(mean[0] == Approx(2.0));  // 0 1 2 3 4 repeated
  CHECK(out[0] == Approx(0.5 * 80));
}
