// What the CUDA benchmark programs share: failures (a CUDA error, a wrong
// result) as exceptions that main() reports and turns into exit status 1, the
// empty-kernel floors (plain, and as a programmatic dependent launch the way
// specmeta's kernels are launched), the clock warm-up before timing, and the
// capture and timed replay of CUDA graphs.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "specmeta/types.h"

namespace bench {

// A benchmark that cannot go on; run_main prints it.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// printf-style formatting into a string, for Failure messages.
template <class... Args>
std::string format(const char* pattern, Args... args) {
  const int n = std::max(0, std::snprintf(nullptr, 0, pattern, args...));
  std::string text(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(text.data(), text.size(), pattern, args...);
  text.resize(static_cast<size_t>(n));
  return text;
}

inline void cuda_check(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess) {
    throw Failure(format("%s:%d: %s failed: %s (%s)", file, line, what, cudaGetErrorString(err),
                         cudaGetErrorName(err)));
  }
}

inline void status_check(const specmeta::Status& s, const char* what) {
  if (!s.ok()) throw Failure(std::string(what) + ": " + s.message());
}

// main()'s body: its return value, or 1 after printing a Failure.
template <class Body>
int run_main(Body&& body) {
  try {
    return body();
  } catch (const Failure& failure) {
    std::fprintf(stderr, "%s\n", failure.what());
    return 1;
  }
}

}  // namespace bench

#define CUDA_CHECK(call) ::bench::cuda_check((call), #call, __FILE__, __LINE__)
// After a <<<>>> launch: configuration errors surface here.
#define CUDA_CHECK_LAUNCH() ::bench::cuda_check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

namespace bench {
namespace {

__global__ void empty_kernel() {}

// Spins for `cycles` SM clocks. Queued before a timed replay, it keeps the GPU
// busy while the host launches the graph, so the start event is reached only
// once the replay is queued (as the suite's replay_sample does).
__global__ void hold_kernel(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

// What specmeta's kernels do first under programmatic dependent launch: let
// the next grid launch, then wait for the prior one.
__device__ __forceinline__ void enter_after_prior_grid() {
  asm volatile("griddepcontrol.launch_dependents;");
  asm volatile("griddepcontrol.wait;" ::: "memory");
}

// An empty kernel that takes part in programmatic dependent launch as
// specmeta's kernels do (the floor for them).
__global__ void empty_pdl_kernel() { enter_after_prior_grid(); }

// Launches `kernel` as a programmatic dependent of the work before it on
// `stream`, the way specmeta launches its kernels.
template <class Kernel, class... Args>
void launch_programmatic(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                         Args... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, args...));
}

void launch_empty_pdl(cudaStream_t stream) { launch_programmatic(empty_pdl_kernel, 1, 256, 0, stream); }

// Keeps the GPU busy for half a second so its clocks leave idle before timing.
void warm_up_clocks(cudaStream_t stream) {
  constexpr float kWarmUpMs = 500.0f;
  constexpr int kLaunchesPerCheck = 1000;
  constexpr int kBlocks = 132;  // one per H100 multiprocessor
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start, stream));
  float ms = 0;
  while (ms < kWarmUpMs) {
    for (int i = 0; i < kLaunchesPerCheck; ++i) {
      empty_kernel<<<kBlocks, 256, 0, stream>>>();
      CUDA_CHECK_LAUNCH();
    }
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
}

// What a probe needs first: the device's name, its multiprocessor count and
// a non-blocking stream of its own (the caller destroys it).
struct ProbeDevice {
  cudaDeviceProp prop{};
  int sms = 0;
  cudaStream_t stream = nullptr;
};

ProbeDevice probe_device() {
  ProbeDevice d;
  CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, 0));
  CUDA_CHECK(cudaGetDeviceProperties(&d.prop, 0));
  CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  return d;
}

// One CUDA graph of launch(0), ..., launch(calls - 1), each of which enqueues
// one call on `stream`. The caller destroys it.
template <class Launch>
cudaGraphExec_t capture_graph(cudaStream_t stream, int calls, Launch&& launch) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < calls; ++i) launch(i);
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CUDA_CHECK(cudaGraphDestroy(graph));
  return exec;
}

// Replays `exec` `warmups` times untimed, then `replays` times each between
// two CUDA events, each after a hold_kernel of `hold_cycles` (0: none, the
// start event then recorded on an idle GPU); returns each timed replay's
// milliseconds, in order.
std::vector<float> replay_ms(cudaStream_t stream, cudaGraphExec_t exec, int warmups, int replays,
                             long long hold_cycles = 0) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < warmups; ++i) CUDA_CHECK(cudaGraphLaunch(exec, stream));
  std::vector<float> ms;
  ms.reserve(static_cast<size_t>(replays));
  for (int i = 0; i < replays; ++i) {
    if (hold_cycles > 0) {
      hold_kernel<<<1, 1, 0, stream>>>(hold_cycles);
      CUDA_CHECK_LAUNCH();
    }
    CUDA_CHECK(cudaEventRecord(start, stream));
    CUDA_CHECK(cudaGraphLaunch(exec, stream));
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float t = 0;
    CUDA_CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return ms;
}

// us per call: the median (the middle of the sorted times) of `replays` timed
// replays, after `warmups`, of a graph of launch(0), ..., launch(calls - 1).
template <class Launch>
float median_graph_us(cudaStream_t stream, int calls, int warmups, int replays, Launch&& launch) {
  cudaGraphExec_t exec = capture_graph(stream, calls, launch);
  std::vector<float> ms = replay_ms(stream, exec, warmups, replays);
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2] * 1e3f / static_cast<float>(calls);
}

}  // namespace
}  // namespace bench
