// Diagnosis probe (not the library): what the steps on a small builder call's critical path cost in
// a CUDA graph, under programmatic dependent launch as specmeta launches. A block trace of the
// builder (bench/results/nvidia-h100-2026-11-26-timeline/) shows each launch's blocks released
// about 0.54 us after the prior grid's last block ends, and its slowest block (the one row block at
// small bs) taking 1.6-2.3 us after that (traced builds). Two questions:
//
//   chase<k>:  thread 0 of each block follows k dependent loads through an index array that stays in
//              L2, then stores. The step from k to k + 1 is one memory round trip after the wait.
//   odd-one:   block 0 runs kN dependent multiply-adds of one piece of straight code, every other
//              block the same number in a second piece: block 0's multiprocessor changes from launch
//              to launch, so its code is code that multiprocessor has likely not run lately (as the
//              builder's row block is). `same` runs the first piece in every block. odd-one - same
//              is what fetching that code costs, if anything.
//
// Each with one block, 34 blocks (a bs-1 builder call) and a block per multiprocessor, in a graph of
// kCalls calls; prints a Markdown table of us per call (median of kReplays replays).
//
// Answer on an H100 (bench/results/nvidia-h100-2026-11-26-timeline/experiments/A2-critical-path-probe.md): a
// dependent load after the wait costs 0.14-0.155 us (1 to 132 blocks); code one block runs costs
// 0.04 us at 4 KiB and 0.11 us at 16 KiB (1.8 us at 64 KiB). Neither accounts for the builder's 1.4-1.9 us
// after the release: its slowest block's instruction path does.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/critical_path.cu -o critical_path && ./critical_path
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <vector>

#include "../bench_cuda.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kOps = 8;      // multiply-adds per unrolled run
constexpr int kCalls = 100;  // calls per graph
constexpr int kReplays = 21;
constexpr int kChaseSlots = 1024;  // the index array: 8 KiB, in L2 after the first call
constexpr int kSmallCallBlocks = 34;

template <int kLoads>
__global__ void __launch_bounds__(kThreads) chase_kernel(const int64_t* next, int32_t* out) {
  bench::enter_after_prior_grid();
  if (threadIdx.x != 0) return;
  int64_t i = blockIdx.x % kChaseSlots;
#pragma unroll
  for (int k = 0; k < kLoads; ++k) i = next[i];
  out[blockIdx.x] = static_cast<int32_t>(i);
}

// kOps dependent operations; kPiece tells the pieces of code apart (volatile: neither folded,
// merged nor moved).
template <int kPiece>
__device__ __forceinline__ void run_ops(uint32_t& x, uint32_t a, uint32_t b) {
#pragma unroll
  for (int i = 0; i < kOps; ++i) {
    if constexpr (kPiece == 0) {
      asm volatile("mad.lo.u32 %0, %0, %1, %2;" : "+r"(x) : "r"(a), "r"(b));
    } else {
      asm volatile("mad.lo.u32 %0, %0, %2, %1;" : "+r"(x) : "r"(a), "r"(b));
    }
  }
}

template <int kN, int kPiece>
__device__ __forceinline__ uint32_t straight(uint32_t a, uint32_t b) {
  uint32_t x = threadIdx.x;
#pragma unroll
  for (int i = 0; i < kN / kOps; ++i) run_ops<kPiece>(x, a, b);
  return x;
}

template <int kN, bool kOddOne>
__global__ void __launch_bounds__(kThreads) pieces_kernel(uint32_t a, uint32_t b, uint32_t never, uint32_t* out) {
  bench::enter_after_prior_grid();
  const uint32_t x = blockIdx.x == 0 || !kOddOne ? straight<kN, 0>(a, b) : straight<kN, 1>(a, b);
  if (x == never) out[threadIdx.x] = x;  // never true: the chain is kept
}

float graph_us(cudaStream_t stream, const std::function<void()>& f) {
  return bench::median_graph_us(stream, kCalls, 2, kReplays, [&](int) { f(); });
}

template <int kLoads>
float chase_us(cudaStream_t stream, int blocks, const int64_t* next, int32_t* out) {
  return graph_us(stream, [&] { bench::launch_programmatic(chase_kernel<kLoads>, blocks, kThreads, 0, stream, next, out); });
}

template <int kN>
void pieces_row(cudaStream_t stream, int blocks, uint32_t* out) {
  constexpr uint32_t kA = 3, kB = 7, kNever = 0xdeadbeefu;
  auto time = [&](void (*kernel)(uint32_t, uint32_t, uint32_t, uint32_t*)) {
    return graph_us(stream, [&] { bench::launch_programmatic(kernel, blocks, kThreads, 0, stream, kA, kB, kNever, out); });
  };
  const float same = time(pieces_kernel<kN, false>);
  const float odd = time(pieces_kernel<kN, true>);
  std::printf("| %d | %d | %d | %.2f | %.2f | %.2f |\n", blocks, kN, kN * 16 / 1024, same, odd, odd - same);
}

int run() {
  const bench::ProbeDevice device = bench::probe_device();
  const int sms = device.sms;
  const cudaDeviceProp& prop = device.prop;
  cudaStream_t stream = device.stream;
  // A random cycle through the slots, so consecutive loads share no line.
  std::vector<int64_t> order(kChaseSlots), next(kChaseSlots);
  for (int i = 0; i < kChaseSlots; ++i) order[i] = i;
  uint64_t state = 88172645463325252ull;
  for (int i = kChaseSlots - 1; i > 0; --i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::swap(order[i], order[state % static_cast<uint64_t>(i + 1)]);
  }
  for (int i = 0; i < kChaseSlots; ++i) next[order[i]] = order[(i + 1) % kChaseSlots];
  int64_t* next_d = nullptr;
  int32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&next_d, kChaseSlots * sizeof(int64_t)));
  CUDA_CHECK(cudaMalloc(&out, 4096 * sizeof(int32_t)));
  CUDA_CHECK(cudaMemcpy(next_d, next.data(), kChaseSlots * sizeof(int64_t), cudaMemcpyHostToDevice));
  bench::warm_up_clocks(stream);

  std::printf("# Critical-path steps in a graph (%s): us per call, median of %d replays of %d calls\n\n", prop.name,
              kReplays, kCalls);
  std::printf("## Dependent loads after the wait (thread 0 of each block)\n\n");
  std::printf("| blocks | empty | 0 loads + store | 1 | 2 | 3 | 4 | per load (4 - 1) / 3 |\n|---|---|---|---|---|---|---|---|\n");
  for (const int blocks : {1, kSmallCallBlocks, sms}) {
    const float empty = graph_us(stream, [&] { bench::launch_programmatic(bench::empty_pdl_kernel, blocks, kThreads, 0, stream); });
    const float t0 = chase_us<0>(stream, blocks, next_d, out);
    const float t1 = chase_us<1>(stream, blocks, next_d, out);
    const float t2 = chase_us<2>(stream, blocks, next_d, out);
    const float t3 = chase_us<3>(stream, blocks, next_d, out);
    const float t4 = chase_us<4>(stream, blocks, next_d, out);
    std::printf("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f |\n", blocks, empty, t0, t1, t2, t3, t4,
                (t4 - t1) / 3);
  }
  std::printf("\n## Code one block runs and the others do not\n\n");
  std::printf("| blocks | operations | code KiB | same | odd-one | odd-one - same |\n|---|---|---|---|---|---|\n");
  for (const int blocks : {kSmallCallBlocks, sms}) {
    pieces_row<256>(stream, blocks, reinterpret_cast<uint32_t*>(out));
    pieces_row<1024>(stream, blocks, reinterpret_cast<uint32_t*>(out));
    pieces_row<4096>(stream, blocks, reinterpret_cast<uint32_t*>(out));
  }
  CUDA_CHECK(cudaFree(next_d));
  CUDA_CHECK(cudaFree(out));
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}

}  // namespace

int main() { return bench::run_main(run); }
