// Device time of expand_cuda inside CUDA graphs, next to the floor of any
// launch (an empty kernel) measured the same way, in one process.
//
//   per call, 100-call graph: one graph holds 100 launches, each on one of
//     kInputSets rotating input sets; replay time / 100. Kernel time plus the
//     gap between consecutive kernels of a graph.
//   one-call graph replay: a graph of one launch, events around each replay.
//
// Each cell is the median over kReplays replays after warm-up. Before timing,
// every variant's outputs are checked against the CPU backend.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/common/backends.h"
#include "bench_cuda.cuh"
#include "specmeta/expand.h"

namespace {

constexpr int kCallsPerGraph = 100;
constexpr int kInputSets = 8;
constexpr int kWarmup = 20;
constexpr int kReplays = 200;
// N (draft tokens) of the main table; the second table repeats some sizes with kWideN.
constexpr int64_t kN = 4;
constexpr int64_t kWideN = 16;

// The floor of any kernel that reads its inputs: one dependent global load,
// then one store.
__global__ void load_store_kernel(const int64_t* in, int32_t* out) {
  if (threadIdx.x == 0) out[0] = static_cast<int32_t>(in[0]);
}

// The same with a block-wide barrier between the load and the store.
__global__ void load_sync_store_kernel(const int64_t* in, int32_t* out) {
  __shared__ int64_t value;
  if (threadIdx.x == 0) value = in[0];
  __syncthreads();
  if (threadIdx.x == 255) out[0] = static_cast<int32_t>(value);
}

template <class T>
T* device_copy(const std::vector<T>& host) {
  T* ptr = nullptr;
  CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(1, host.size()) * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return ptr;
}

struct Timing {
  float per_call_us;   // 100-call graph, per call
  float one_call_us;   // one-call graph, per replay
};

// Times `launch(set)` (which enqueues one call on `stream`) both ways.
Timing time_in_graphs(cudaStream_t stream, const std::function<void(int)>& launch) {
  auto per_call_us = [&](int calls) {
    return bench::median_graph_us(stream, calls, kWarmup, kReplays, [&](int i) { launch(i % kInputSets); });
  };
  Timing t;
  t.per_call_us = per_call_us(kCallsPerGraph);
  t.one_call_us = per_call_us(1);
  return t;
}

struct Case {
  const char* mode;
  int64_t bs;
  bool all_outputs;
  int64_t n;
};

// Device buffers of one case: kInputSets input sets, one set of outputs.
struct Buffers {
  std::vector<int64_t*> kv;   // seq_lens as SGLang keeps them: int64
  std::vector<int32_t*> qo;   // accept lengths: int32
  std::vector<std::vector<int64_t>> kv_host;
  std::vector<std::vector<int32_t>> qo_host;
  int32_t *seqlens = nullptr, *cu_q = nullptr, *row_to_req = nullptr, *num_rows = nullptr, *status = nullptr;
};

specmeta::ExpandArgs args_for(const Case& c, const Buffers& b, int set, bool device) {
  const bool uniform = std::string(c.mode) == "target_verify";
  specmeta::ExpandArgs a;
  a.bs = c.bs;
  a.capacity = c.bs * c.n;
  a.kv_lens = {device ? static_cast<const void*>(b.kv[set]) : b.kv_host[set].data(), specmeta::IntType::kInt64, c.bs};
  if (uniform) {
    a.qo_uniform = c.n;
  } else {
    a.qo_lens = {device ? static_cast<const void*>(b.qo[set]) : b.qo_host[set].data(), specmeta::IntType::kInt32, c.bs};
    a.max_qo = c.n;
  }
  a.out.seqlens_expanded = {b.seqlens, a.capacity};
  if (c.all_outputs) {
    a.out.cu_seqlens_q = {b.cu_q, c.bs + 1};
    a.out.row_to_req = {b.row_to_req, a.capacity};
    a.out.num_rows = {b.num_rows, 1};
    a.out.status = {b.status, 1};
  }
  return a;
}

// A CUDA entry point: expand_cuda, or the builder's kernel alone.
using Launcher = specmeta::Status (*)(const specmeta::ExpandArgs&, cudaStream_t);

// The first element where `got` and `want` differ, for the mismatch report ("" when they agree).
std::string first_difference(const char* name, const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) {
      return std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", CPU " +
             std::to_string(want[i]);
    }
  }
  return "";
}

// Copies `elems` int32 from the device into `host`, ordered on `stream`.
void download(std::vector<int32_t>* host, const int32_t* device, int64_t elems, cudaStream_t stream) {
  CUDA_CHECK(cudaMemcpyAsync(host->data(), device, elems * 4, cudaMemcpyDeviceToHost, stream));
}

// Runs the case once on the GPU and once on the CPU and compares every output
// (every device operation on `stream`, so the poison lands before the kernel).
void verify(const Case& c, const Buffers& b, cudaStream_t stream, Launcher launch, const char* name) {
  const specmeta::ExpandArgs dev = args_for(c, b, 0, true);
  const int64_t cap = dev.capacity;
  CUDA_CHECK(cudaMemsetAsync(b.seqlens, 0x7f, cap * 4, stream));
  if (c.all_outputs) {
    CUDA_CHECK(cudaMemsetAsync(b.row_to_req, 0x7f, cap * 4, stream));
    CUDA_CHECK(cudaMemsetAsync(b.cu_q, 0x7f, (c.bs + 1) * 4, stream));
    CUDA_CHECK(cudaMemsetAsync(b.num_rows, 0x7f, 4, stream));
    CUDA_CHECK(cudaMemsetAsync(b.status, 0x7f, 4, stream));
  }
  bench::status_check(launch(dev, stream), "launch");
  std::vector<int32_t> got_seq(cap), got_cu(c.bs + 1), got_r2r(cap), got_rows(1), got_status(1);
  std::vector<int32_t> want_seq(cap), want_cu(c.bs + 1), want_r2r(cap), want_rows(1), want_status(1);
  download(&got_seq, b.seqlens, cap, stream);
  specmeta::ExpandArgs host = args_for(c, b, 0, false);
  host.out.seqlens_expanded.data = want_seq.data();
  if (c.all_outputs) {
    download(&got_cu, b.cu_q, c.bs + 1, stream);
    download(&got_r2r, b.row_to_req, cap, stream);
    download(&got_rows, b.num_rows, 1, stream);
    download(&got_status, b.status, 1, stream);
    host.out.cu_seqlens_q.data = want_cu.data();
    host.out.row_to_req.data = want_r2r.data();
    host.out.num_rows.data = want_rows.data();
    host.out.status.data = want_status.data();
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  bench::status_check(specmeta::expand_cpu(host), "expand_cpu");
  std::string difference = first_difference("seqlens_expanded", got_seq, want_seq);
  if (c.all_outputs) {
    for (const std::string& d : {first_difference("cu_seqlens_q", got_cu, want_cu),
                                 first_difference("row_to_req", got_r2r, want_r2r),
                                 first_difference("num_rows", got_rows, want_rows),
                                 first_difference("status", got_status, want_status)}) {
      if (difference.empty()) difference = d;
    }
  }
  if (!difference.empty()) {
    throw bench::Failure(bench::format("MISMATCH: %s, %s bs=%lld N=%lld: %s", name, c.mode,
                                       static_cast<long long>(c.bs), static_cast<long long>(c.n),
                                       difference.c_str()));
  }
}

// Two table rows (seqlens_expanded alone, all five outputs) for one mode, bs and N.
void measure_rows(const char* mode, int64_t bs, int64_t n, std::mt19937_64& rng, cudaStream_t stream) {
  std::uniform_int_distribution<int64_t> seq(1024, 32768);
  std::uniform_int_distribution<int32_t> accept(1, static_cast<int32_t>(n));
  Buffers b;
  for (int s = 0; s < kInputSets; ++s) {
    std::vector<int64_t> kv(bs);
    std::vector<int32_t> qo(bs);
    for (int64_t i = 0; i < bs; ++i) {
      kv[i] = seq(rng) + (std::string(mode) == "target_verify" ? n : 0);
      qo[i] = accept(rng);
    }
    b.kv.push_back(device_copy(kv));
    b.qo.push_back(device_copy(qo));
    b.kv_host.push_back(std::move(kv));
    b.qo_host.push_back(std::move(qo));
  }
  CUDA_CHECK(cudaMalloc(&b.seqlens, bs * n * 4));
  CUDA_CHECK(cudaMalloc(&b.row_to_req, bs * n * 4));
  CUDA_CHECK(cudaMalloc(&b.cu_q, (bs + 1) * 4));
  CUDA_CHECK(cudaMalloc(&b.num_rows, 4));
  CUDA_CHECK(cudaMalloc(&b.status, 4));
  for (bool all : {false, true}) {
    const Case c{mode, bs, all, n};
    verify(c, b, stream, specmeta::expand_cuda, "expand_cuda");
    verify(c, b, stream, specmeta::detail::expand_cuda_general, "builder's kernel");
    const Timing t = time_in_graphs(stream, [&](int set) {
      bench::status_check(specmeta::expand_cuda(args_for(c, b, set, true), stream), "expand_cuda");
    });
    const Timing builder = time_in_graphs(stream, [&](int set) {
      bench::status_check(specmeta::detail::expand_cuda_general(args_for(c, b, set, true), stream), "builder kernel");
    });
    std::printf("| %s | %lld | %s | %.2f | %.2f | %.2f | %.2fx |\n", mode, static_cast<long long>(bs),
                all ? "all 5" : "seqlens_expanded", t.per_call_us, t.one_call_us, builder.per_call_us,
                builder.per_call_us / t.per_call_us);
  }
  for (int s = 0; s < kInputSets; ++s) {
    CUDA_CHECK(cudaFree(b.kv[s]));
    CUDA_CHECK(cudaFree(b.qo[s]));
  }
  for (int32_t* p : {b.seqlens, b.row_to_req, b.cu_q, b.num_rows, b.status}) CUDA_CHECK(cudaFree(p));
}

}  // namespace

static int run() {
  if (!specmeta::cuda_available()) {
    std::printf("no CUDA device visible: nothing to measure\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::printf("## expand_cuda device time in CUDA graphs (%s, N=%lld, seq_lens int64, accept_lens int32)\n\n",
              prop.name, static_cast<long long>(kN));
  std::printf("expand_cuda gives these calls to the expansion-only kernels; the builder's kernel (which serves\n"
              "every call) is timed on the same calls for comparison, and both are checked against the CPU first.\n\n");
  std::printf("| mode | bs | outputs | per call, 100-call graph (us) | one-call graph replay (us) | builder's kernel, "
              "per call (us) | builder / expand_cuda |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");

  bench::warm_up_clocks(stream);
  const Timing empty1 = time_in_graphs(stream, [&](int) { bench::empty_kernel<<<1, 1, 0, stream>>>(); });
  std::printf("| empty kernel <<<1,1>>> | - | - | %.2f | %.2f | | |\n", empty1.per_call_us, empty1.one_call_us);
  const Timing empty256 = time_in_graphs(stream, [&](int) { bench::empty_kernel<<<1, 256, 0, stream>>>(); });
  std::printf("| empty kernel <<<1,256>>> | - | - | %.2f | %.2f | | |\n", empty256.per_call_us,
              empty256.one_call_us);
  const Timing empty_pdl = time_in_graphs(stream, [&](int) { bench::launch_empty_pdl(stream); });
  std::printf("| empty kernel <<<1,256>>>, programmatic launch | - | - | %.2f | %.2f | | |\n", empty_pdl.per_call_us,
              empty_pdl.one_call_us);

  {
    std::vector<int64_t*> in;
    for (int s = 0; s < kInputSets; ++s) in.push_back(device_copy(std::vector<int64_t>{s + 1}));
    int32_t* out = nullptr;
    CUDA_CHECK(cudaMalloc(&out, 4));
    const Timing ls = time_in_graphs(stream, [&](int set) { load_store_kernel<<<1, 256, 0, stream>>>(in[set], out); });
    std::printf("| load + store <<<1,256>>> | - | - | %.2f | %.2f | | |\n", ls.per_call_us, ls.one_call_us);
    const Timing lss =
        time_in_graphs(stream, [&](int set) { load_sync_store_kernel<<<1, 256, 0, stream>>>(in[set], out); });
    std::printf("| load + barrier + store <<<1,256>>> | - | - | %.2f | %.2f | | |\n", lss.per_call_us,
                lss.one_call_us);
    for (int64_t* p : in) CUDA_CHECK(cudaFree(p));
    CUDA_CHECK(cudaFree(out));
  }

  std::mt19937_64 rng(std::random_device{}());
  for (const char* mode : {"target_verify", "draft_extend"}) {
    for (int64_t bs : {1, 16, 64, 256, 1024, 4096}) measure_rows(mode, bs, kN, rng, stream);
  }
  std::printf("\nThe same with N=%lld (more rows per request):\n\n", static_cast<long long>(kWideN));
  std::printf("| mode | bs | outputs | per call, 100-call graph (us) | one-call graph replay (us) | builder's kernel, "
              "per call (us) | builder / expand_cuda |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const char* mode : {"target_verify", "draft_extend"}) {
    for (int64_t bs : {16, 256, 1024}) measure_rows(mode, bs, kWideN, rng, stream);
  }
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}

int main() {
  return bench::run_main(run);
}
