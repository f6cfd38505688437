// Diagnosis probe (not the library): does code a kernel has not yet run on a multiprocessor cost
// its time in a CUDA graph? Edits that leave a small builder call's work alone move its in-graph
// time by 0.1-0.3 us either way (docs/perf-notes.md). That would follow if each launch fetched
// its instructions from L2 again, so that the length of the code on the critical path, not its
// barriers or loads, set a small call's floor. This probe checks for that directly.
//
// Each kernel is one chain of kOps-long runs of dependent integer multiply-adds after
// griddepcontrol.wait, launched as a programmatic dependent (as specmeta launches), timed
// in a graph of kCalls calls:
//   loop:       n operations as n / kOps turns of a loop of one run: little code, warm after the
//               first turn;
//   straight:   the same n operations unrolled: n instructions of code, each run once;
//   straight2:  the straight code run twice (a loop of two turns): the second turn's code is
//               warm, so straight2 - straight is the cost of n warm operations.
// Same operations, same dependences: if straight - loop grows with n (and straight2 - straight
// stays near loop - empty), straight-line code a launch has not yet run costs fetch time, about
// (straight - loop) / n per instruction. Run with one block and with a block per multiprocessor.
// Prints a Markdown table of in-graph us per call.
//
// Answer on an H100 (bench/results/nvidia-h100-2026-11-26-warpsum/experiments/Y1-*.md): no. At every
// size from 1 to 64 KiB of code, straight-line code was faster than the loop, and running it
// twice cost what running it once did.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/instruction_fetch.cu -o instruction_fetch && ./instruction_fetch
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>

#include "../bench_cuda.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kOps = 8;      // operations per loop turn
constexpr int kCalls = 100;  // calls per graph
constexpr int kReplays = 21;

// kOps dependent operations (volatile: neither folded nor moved).
__device__ __forceinline__ void run_ops(uint32_t& x, uint32_t a, uint32_t b) {
#pragma unroll
  for (int i = 0; i < kOps; ++i) asm volatile("mad.lo.u32 %0, %0, %1, %2;" : "+r"(x) : "r"(a), "r"(b));
}

// The result is stored only when it equals `never` (it does not), so the chain is kept.
__device__ __forceinline__ void keep(uint32_t x, uint32_t never, uint32_t* out) {
  if (x == never) out[threadIdx.x] = x;
}

template <int kN>
__global__ void __launch_bounds__(kThreads) loop_kernel(uint32_t a, uint32_t b, uint32_t never, uint32_t* out) {
  bench::enter_after_prior_grid();
  uint32_t x = threadIdx.x;
#pragma unroll 1
  for (int i = 0; i < kN / kOps; ++i) run_ops(x, a, b);
  keep(x, never, out);
}

template <int kN, int kTurns>
__global__ void __launch_bounds__(kThreads) straight_kernel(uint32_t a, uint32_t b, uint32_t never, uint32_t* out) {
  bench::enter_after_prior_grid();
  uint32_t x = threadIdx.x;
#pragma unroll 1
  for (int turn = 0; turn < kTurns; ++turn) {
#pragma unroll
    for (int i = 0; i < kN / kOps; ++i) run_ops(x, a, b);
  }
  keep(x, never, out);
}

// us per call: the median of kReplays replays (after 2) of a graph of kCalls calls of f.
float graph_us(cudaStream_t stream, const std::function<void()>& f) {
  return bench::median_graph_us(stream, kCalls, 2, kReplays, [&](int) { f(); });
}

template <int kN>
void row(cudaStream_t stream, int blocks, uint32_t* out, float empty_us) {
  constexpr uint32_t kA = 3, kB = 7, kNever = 0xdeadbeefu;
  auto time = [&](void (*kernel)(uint32_t, uint32_t, uint32_t, uint32_t*)) {
    return graph_us(stream, [&] { bench::launch_programmatic(kernel, blocks, kThreads, 0, stream, kA, kB, kNever, out); });
  };
  const float loop = time(loop_kernel<kN>);
  const float straight = time(straight_kernel<kN, 1>);
  const float straight2 = time(straight_kernel<kN, 2>);
  std::printf("| %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", blocks, kN, kN * 16 / 1024, empty_us, loop,
              straight, straight2, straight - loop, straight2 - straight);
}

int run() {
  const bench::ProbeDevice device = bench::probe_device();
  const int sms = device.sms;
  const cudaDeviceProp& prop = device.prop;
  cudaStream_t stream = device.stream;
  uint32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&out, kThreads * sizeof(uint32_t)));
  bench::warm_up_clocks(stream);
  std::printf("# Instruction fetch in a graph (%s): us per call, median of %d replays of %d calls\n\n", prop.name,
              kReplays, kCalls);
  std::printf("| blocks | operations | straight code KiB | empty | loop | straight | straight2 | straight - loop | "
              "straight2 - straight |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const int blocks : {1, sms}) {
    const float empty_us = graph_us(stream, [&] { bench::launch_programmatic(bench::empty_pdl_kernel, blocks, kThreads, 0, stream); });
    row<64>(stream, blocks, out, empty_us);
    row<256>(stream, blocks, out, empty_us);
    row<1024>(stream, blocks, out, empty_us);
    row<4096>(stream, blocks, out, empty_us);
  }
  CUDA_CHECK(cudaFree(out));
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}

}  // namespace

int main() { return bench::run_main(run); }
