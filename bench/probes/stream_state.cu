// Diagnosis probe (not the library): does a process's history of streams slow graphs of programmatic
// dependent launches? In a Python process the suite's target_verify bs 16 N 4 W 4096 builder cell takes
// 1.87-1.96 us per call in its first graphs and 2.2-2.3 us in every later one, same buffers, same clock
// (bench/results/nvidia-h100-2026-11-27-ownpages/, H7-H10). With CuPy captures alone the change came once
// eager launches had run on about eight distinct streams (H10); bench_metadata, on one stream, never sees it.
//
// This probe times small kernels in graphs of kCalls calls (median of kReplays replays), first in a fresh
// process, then after eager launches on 4, 8, 12 and 16 new streams (kept alive), as H10 did:
//   pdl trigger-wait:  an empty kernel that lets the next grid launch, then waits (specmeta's larger grids);
//   pdl wait-trigger:  waits, then lets the next grid launch (specmeta's grids of at most 384 blocks);
//   plain:             an empty kernel launched without the programmatic attribute;
//   chase pdl / plain: kSmallCallBlocks blocks, each following two dependent loads after the wait, then a store
//                      (a builder-sized grid with a short memory path).
// If only the programmatic rows move, the slow state is the programmatic launch's; if every row moves, it is
// the graph launch's. Written after H10; not yet run on a GPU.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/stream_state.cu -o stream_state && ./stream_state
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "../bench_cuda.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kCalls = 100;
constexpr int kReplays = 21;
constexpr int kSmallCallBlocks = 34;   // a bs-1 builder call's grid
constexpr int kChaseSlots = 1024;      // 8 KiB of indices: in L2 after the first call
constexpr int kStreamsPerStep = 4;
constexpr int kSteps = 4;              // 4, 8, 12, 16 new streams

__global__ void empty_wait_then_trigger_kernel() {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
}

template <bool kProgrammatic>
__global__ void __launch_bounds__(kThreads) chase_kernel(const int64_t* next, int32_t* out) {
  if constexpr (kProgrammatic) bench::enter_after_prior_grid();
  if (threadIdx.x != 0) return;
  const int64_t first = next[blockIdx.x % kChaseSlots];
  out[blockIdx.x] = static_cast<int32_t>(next[first]);
}

struct Row {
  std::string name;
  std::function<void(cudaStream_t)> launch;
};

std::vector<float> time_rows(cudaStream_t stream, const std::vector<Row>& rows) {
  std::vector<float> us;
  for (const Row& row : rows) {
    us.push_back(bench::median_graph_us(stream, kCalls, 2, kReplays, [&](int) { row.launch(stream); }));
  }
  return us;
}

int run() {
  bench::ProbeDevice d = bench::probe_device();
  int64_t* next = nullptr;
  int32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&next, kChaseSlots * sizeof(int64_t)));
  CUDA_CHECK(cudaMalloc(&out, kSmallCallBlocks * sizeof(int32_t)));
  std::vector<int64_t> host(kChaseSlots);
  for (int i = 0; i < kChaseSlots; ++i) host[i] = (i * 7 + 3) % kChaseSlots;
  CUDA_CHECK(cudaMemcpy(next, host.data(), kChaseSlots * sizeof(int64_t), cudaMemcpyHostToDevice));

  const std::vector<Row> rows = {
      {"pdl trigger-wait (1 block)", [](cudaStream_t s) { bench::launch_empty_pdl(s); }},
      {"pdl wait-trigger (1 block)",
       [](cudaStream_t s) { bench::launch_programmatic(empty_wait_then_trigger_kernel, 1, kThreads, 0, s); }},
      {"plain (1 block)",
       [](cudaStream_t s) {
         bench::empty_kernel<<<1, kThreads, 0, s>>>();
         CUDA_CHECK_LAUNCH();
       }},
      {"chase pdl (34 blocks)",
       [&](cudaStream_t s) { bench::launch_programmatic(chase_kernel<true>, kSmallCallBlocks, kThreads, 0, s, next, out); }},
      {"chase plain (34 blocks)",
       [&](cudaStream_t s) {
         chase_kernel<false><<<kSmallCallBlocks, kThreads, 0, s>>>(next, out);
         CUDA_CHECK_LAUNCH();
       }},
  };

  bench::warm_up_clocks(d.stream);
  std::vector<std::vector<float>> columns{time_rows(d.stream, rows)};
  std::vector<std::string> headers{"fresh"};
  std::vector<cudaStream_t> streams;
  for (int step = 1; step <= kSteps; ++step) {
    for (int i = 0; i < kStreamsPerStep; ++i) {
      cudaStream_t s;
      CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      for (const Row& row : rows) row.launch(s);  // eager launches on a new stream, as H10's warm-ups
      CUDA_CHECK(cudaStreamSynchronize(s));
      streams.push_back(s);
    }
    columns.push_back(time_rows(d.stream, rows));
    headers.push_back("after " + std::to_string(streams.size()) + " streams");
  }

  std::printf("# Graphs of small kernels against the process's streams (%s): us per call, median of %d replays of %d calls\n\n",
              d.prop.name, kReplays, kCalls);
  std::printf("| kernel |");
  for (const std::string& h : headers) std::printf(" %s |", h.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < headers.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (size_t r = 0; r < rows.size(); ++r) {
    std::printf("| %s |", rows[r].name.c_str());
    for (const std::vector<float>& column : columns) std::printf(" %.3f |", column[r]);
    std::printf("\n");
  }
  for (cudaStream_t s : streams) CUDA_CHECK(cudaStreamDestroy(s));
  CUDA_CHECK(cudaFree(next));
  CUDA_CHECK(cudaFree(out));
  CUDA_CHECK(cudaStreamDestroy(d.stream));
  return 0;
}

}  // namespace

int main() { return bench::run_main(run); }
