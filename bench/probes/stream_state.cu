// Diagnosis probe (not the library): does a process's history of streams slow graphs of programmatic
// dependent launches? In a Python process the suite's target_verify bs 16 N 4 W 4096 builder cell takes
// 1.87-1.96 us per call in its first graphs and 2.2-2.3 us in every later one, same buffers, same clock
// (bench/results/nvidia-h100-2026-11-27-ownpages/, H7-H10). With CuPy captures alone the change came once
// eager launches had run on about eight distinct streams (H10); bench_metadata, on one stream, never sees it.
//
// This probe times small kernels in graphs of kCalls calls (median of kReplays replays), in a fresh process
// twice (a control), after one kernel on the legacy stream, after 1 GiB more is allocated and written (no new
// stream), then after eager launches on 1, 2 and 4 new streams (kept alive), as H10 did:
//   pdl trigger-wait:  an empty kernel that lets the next grid launch, then waits (specmeta's larger grids);
//   pdl wait-trigger:  waits, then lets the next grid launch (specmeta's grids of at most 384 blocks);
//   plain:             an empty kernel launched without the programmatic attribute;
//   chase pdl / plain: kSmallCallBlocks blocks, each following two dependent loads after the wait, then a store
//                      (a builder-sized grid with a short memory path);
//   spread:            lane l of warp 0 copies a word from input array l to output array l, the 32 arrays in
//                      their own allocations or in one (is it address translation?);
//   stores:            16 KiB of stores per block (a builder-sized amount);
//   builder:           specmeta's build_metadata_cuda, the suite's cell (target_verify bs 16 N 4 W 4096, page
//                      size 64, every output; one input set), its buffers in their own allocations or in one.
// Then the streams are destroyed (does the state leave with them?) and the rows timed on a stream created in
// that state.
//
// Found (bench/results/nvidia-h100-2026-11-27-rowgroups/, I0a, I0b, I2): every row moves, not only the
// programmatic ones (plain empty kernels 0.80 -> 0.98 us, programmatic 0.53 -> 0.61, the builder 1.87 -> 2.1),
// and the state stays after the streams are destroyed. The probe's first form was fast until four new streams had
// run eager launches; the next form, which zeroed its arrays with cudaMemset (kernels on the legacy stream)
// before its first graph, was slow from the start on three machines (I0b, I2, J0).
// J3 (bench/results/nvidia-h100-2026-11-27-copysizes/), every set-up kernel on the probe's own stream: fast
// (builder 1.75 us, plain 0.81, programmatic 0.52-0.55) after a kernel on the legacy stream, after 1 GiB
// allocated, after one and two new streams; slow after four (builder 1.93-1.96, plain 0.98, programmatic
// 0.61-0.62). So the state follows the streams that have run kernels (and perhaps which ran first); allocations
// do not bring it. A server's process runs kernels on several streams (the default stream, the graph capture stream,
// NCCL's): the suite, whose captures each take a stream from PyTorch's pool, measures in the state a server is in.
// One allocation or many for the builder's buffers, and CUDA_DEVICE_MAX_CONNECTIONS=1, change nothing.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/stream_state.cu build/cpp/libspecmeta_core.a \
//     -o stream_state && ./stream_state [spread bytes]
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "../bench_cuda.cuh"
#include "specmeta/metadata.h"

namespace {

constexpr int kThreads = 256;
constexpr int kCalls = 100;
constexpr int kReplays = 21;
constexpr int kSmallCallBlocks = 34;   // a bs-1 builder call's grid
constexpr int kChaseSlots = 1024;      // 8 KiB of indices: in L2 after the first call
constexpr int kSteps = 3;  // after 1, 2 and 4 new streams
constexpr size_t kAllocationBytes = size_t{1} << 30;
// The builder's cell.
constexpr int64_t kBs = 16;
constexpr int64_t kDraftTokens = 4;
constexpr int64_t kWidth = 4096;
constexpr int64_t kPageSize = 64;
constexpr int64_t kCapacity = kBs * kDraftTokens;

__global__ void empty_wait_then_trigger_kernel() {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
}

// kSpreadArrays input and as many output arrays; lane l of warp 0 copies one word of input l to output l.
constexpr int kSpreadArrays = 16;
struct SpreadArrays {
  const int32_t* in[kSpreadArrays];
  int32_t* out[kSpreadArrays];
};

__global__ void __launch_bounds__(kThreads) spread_kernel(SpreadArrays a) {
  bench::enter_after_prior_grid();
  if (threadIdx.x >= kSpreadArrays) return;
  a.out[threadIdx.x][blockIdx.x] = a.in[threadIdx.x][blockIdx.x] + 1;
}

// Every thread stores kStoreInt4s int4 (16 KiB per block): a builder-sized amount of stores.
constexpr int kStoreInt4s = 4;
__global__ void __launch_bounds__(kThreads) store_kernel(int4* out) {
  bench::enter_after_prior_grid();
  const int4 v = make_int4(blockIdx.x, threadIdx.x, 1, 2);
  for (int i = 0; i < kStoreInt4s; ++i) out[(blockIdx.x * kStoreInt4s + i) * kThreads + threadIdx.x] = v;
}

template <bool kProgrammatic>
__global__ void __launch_bounds__(kThreads) chase_kernel(const int64_t* next, int32_t* out) {
  if constexpr (kProgrammatic) bench::enter_after_prior_grid();
  if (threadIdx.x != 0) return;
  const int64_t first = next[blockIdx.x % kChaseSlots];
  out[blockIdx.x] = static_cast<int32_t>(next[first]);
}

// Device buffers of the builder's cell and the arguments that point at them.
// With a slab, every buffer is carved from one allocation (256-byte aligned), as a caching allocator would place
// small tensors; without, each is its own cudaMalloc.
constexpr size_t kSlabBytes = size_t{16} << 20;
constexpr size_t kSlabAlign = 256;
struct BuilderCell {
  std::vector<void*> buffers;
  specmeta::MetadataArgs args;
  char* slab = nullptr;
  size_t slab_used = 0;

  template <class T>
  T* alloc(int64_t n) {
    const size_t bytes = static_cast<size_t>(n) * sizeof(T);
    if (slab != nullptr) {
      T* p = reinterpret_cast<T*>(slab + slab_used);
      slab_used += (bytes + kSlabAlign - 1) / kSlabAlign * kSlabAlign;
      if (slab_used > kSlabBytes) throw bench::Failure("slab too small");
      return p;
    }
    void* p = nullptr;
    CUDA_CHECK(cudaMalloc(&p, bytes));
    buffers.push_back(p);
    return static_cast<T*>(p);
  }
  specmeta::OutSpan out(int64_t n) { return {alloc<int32_t>(n), n}; }
  specmeta::OutTable table(int64_t cols) {
    return {alloc<int32_t>(kCapacity * cols), kCapacity, cols, cols};
  }

  explicit BuilderCell(bool use_slab) {
    if (use_slab) {
      CUDA_CHECK(cudaMalloc(&slab, kSlabBytes));
      buffers.push_back(slab);
    }
    std::vector<int64_t> seq(kBs), rpi(kBs);
    std::vector<int32_t> slots(kBs * kWidth);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    auto next_random = [&x] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
    for (int64_t b = 0; b < kBs; ++b) {
      seq[b] = kDraftTokens + 1 + static_cast<int64_t>(next_random() >> 33) % (kWidth - 2 * kDraftTokens);
      rpi[b] = (b * 5 + 3) % kBs;
    }
    for (int32_t& slot : slots) slot = static_cast<int32_t>(next_random() >> 34);
    int64_t* d_seq = alloc<int64_t>(kBs);
    int64_t* d_rpi = alloc<int64_t>(kBs);
    int32_t* d_slots = alloc<int32_t>(kBs * kWidth);
    CUDA_CHECK(cudaMemcpy(d_seq, seq.data(), kBs * sizeof(int64_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_rpi, rpi.data(), kBs * sizeof(int64_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_slots, slots.data(), slots.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
    args.mode = specmeta::Mode::kTargetVerify;
    args.bs = kBs;
    args.seq_lens = {d_seq, specmeta::IntType::kInt64, kBs};
    args.num_draft_tokens = kDraftTokens;
    args.capacity = kCapacity;
    args.req_pool_indices = {d_rpi, specmeta::IntType::kInt64, kBs};
    args.req_to_token = {d_slots, kBs, kWidth, kWidth};
    args.width = kWidth;
    args.page_size = kPageSize;
    specmeta::ExpandOutputs& o = args.out;
    o.seqlens_expanded = out(kCapacity);
    o.cu_seqlens_q = out(kBs + 1);
    o.row_to_req = out(kCapacity);
    o.num_rows = out(1);
    o.status = out(1);
    o.cache_seqlens = out(kBs);
    o.cu_seqlens_k = out(kBs + 1);
    o.sparse_seqlens = out(kCapacity);
    o.sparse_cu_seqlens_k = out(kCapacity + 1);
    o.page_table_1 = table(kWidth);
    o.real_page_table = table((kWidth + kPageSize - 1) / kPageSize);
  }
  ~BuilderCell() {
    for (void* p : buffers) cudaFree(p);
  }
  void launch(cudaStream_t stream) const {
    bench::status_check(specmeta::build_metadata_cuda(args, stream), "build_metadata_cuda");
  }
};

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

// argv[1]: the spread arrays' size in bytes (default 4 MiB: 128 MiB in all). A small size keeps the process's
// allocations small before the fresh columns, for the allocation column below.
int run(size_t spread_bytes) {
  bench::ProbeDevice d = bench::probe_device();
  int64_t* next = nullptr;
  int32_t* out = nullptr;
  CUDA_CHECK(cudaMalloc(&next, kChaseSlots * sizeof(int64_t)));
  CUDA_CHECK(cudaMalloc(&out, kSmallCallBlocks * sizeof(int32_t)));
  std::vector<int64_t> host(kChaseSlots);
  for (int i = 0; i < kChaseSlots; ++i) host[i] = (i * 7 + 3) % kChaseSlots;
  CUDA_CHECK(cudaMemcpy(next, host.data(), kChaseSlots * sizeof(int64_t), cudaMemcpyHostToDevice));

  const BuilderCell cell(false);
  const BuilderCell slab_cell(true);
  // Spread arrays: each its own allocation (of 4 MiB by default: distinct 2 MiB pages), or all in one at 4 KiB
  // spacing.
  constexpr size_t kSpreadStride = 4096;
  SpreadArrays separate{}, packed{};
  std::vector<void*> spread_buffers;
  char* pack = nullptr;
  CUDA_CHECK(cudaMalloc(&pack, 2 * kSpreadArrays * kSpreadStride));
  CUDA_CHECK(cudaMemsetAsync(pack, 0, 2 * kSpreadArrays * kSpreadStride, d.stream));
  spread_buffers.push_back(pack);
  for (int i = 0; i < kSpreadArrays; ++i) {
    void* in = nullptr;
    void* o = nullptr;
    CUDA_CHECK(cudaMalloc(&in, spread_bytes));
    CUDA_CHECK(cudaMalloc(&o, spread_bytes));
    CUDA_CHECK(cudaMemsetAsync(in, 0, spread_bytes, d.stream));
    spread_buffers.push_back(in);
    spread_buffers.push_back(o);
    separate.in[i] = static_cast<const int32_t*>(in);
    separate.out[i] = static_cast<int32_t*>(o);
    packed.in[i] = reinterpret_cast<const int32_t*>(pack + i * kSpreadStride);
    packed.out[i] = reinterpret_cast<int32_t*>(pack + (kSpreadArrays + i) * kSpreadStride);
  }
  int4* stores = nullptr;
  CUDA_CHECK(cudaMalloc(&stores, size_t{kSmallCallBlocks} * kStoreInt4s * kThreads * sizeof(int4)));
  spread_buffers.push_back(stores);
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
      {"spread pdl, 32 arrays in own allocations (34 blocks)",
       [&](cudaStream_t s) { bench::launch_programmatic(spread_kernel, kSmallCallBlocks, kThreads, 0, s, separate); }},
      {"spread pdl, 32 arrays in one allocation (34 blocks)",
       [&](cudaStream_t s) { bench::launch_programmatic(spread_kernel, kSmallCallBlocks, kThreads, 0, s, packed); }},
      {"stores pdl, 16 KiB per block (34 blocks)",
       [&](cudaStream_t s) { bench::launch_programmatic(store_kernel, kSmallCallBlocks, kThreads, 0, s, stores); }},
      {"builder (tv bs 16 N 4 W 4096)", [&](cudaStream_t s) { cell.launch(s); }},
      {"builder, buffers in one allocation", [&](cudaStream_t s) { slab_cell.launch(s); }},
  };

  CUDA_CHECK(cudaStreamSynchronize(d.stream));
  bench::warm_up_clocks(d.stream);
  std::vector<std::vector<float>> columns{time_rows(d.stream, rows)};
  std::vector<std::string> headers{"fresh"};
  columns.push_back(time_rows(d.stream, rows));  // a control: the same rows again, no new stream
  headers.push_back("fresh, again");
  // Does one kernel on another stream bring the state? The legacy default stream, on purpose: until here every
  // kernel (memsets included) ran on d.stream, and the only other work was synchronous host-to-device copies.
  bench::empty_kernel<<<1, 1>>>();
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaDeviceSynchronize());
  columns.push_back(time_rows(d.stream, rows));
  headers.push_back("after a kernel on the legacy stream");
  // Does a process's allocation bring the state? kAllocationBytes written once and kept, no new stream.
  void* allocation = nullptr;
  CUDA_CHECK(cudaMalloc(&allocation, kAllocationBytes));
  CUDA_CHECK(cudaMemsetAsync(allocation, 0, kAllocationBytes, d.stream));
  CUDA_CHECK(cudaStreamSynchronize(d.stream));
  columns.push_back(time_rows(d.stream, rows));
  headers.push_back("after 1 GiB allocated");
  std::vector<cudaStream_t> streams;
  for (int step = 1; step <= kSteps; ++step) {
    const int new_streams = step == 1 ? 1 : static_cast<int>(streams.size());  // 1, 2, 4
    for (int i = 0; i < new_streams; ++i) {
      cudaStream_t s;
      CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      for (const Row& row : rows) row.launch(s);  // eager launches on a new stream, as H10's warm-ups
      CUDA_CHECK(cudaStreamSynchronize(s));
      streams.push_back(s);
    }
    columns.push_back(time_rows(d.stream, rows));
    headers.push_back("after " + std::to_string(streams.size()) + " streams");
  }
  // Does the state leave with the streams, and does a stream created in it see it?
  for (cudaStream_t s : streams) CUDA_CHECK(cudaStreamDestroy(s));
  streams.clear();
  columns.push_back(time_rows(d.stream, rows));
  headers.push_back("streams destroyed");
  cudaStream_t fresh_stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&fresh_stream, cudaStreamNonBlocking));
  columns.push_back(time_rows(fresh_stream, rows));
  headers.push_back("on a new stream");
  CUDA_CHECK(cudaStreamDestroy(fresh_stream));

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
  for (void* p : spread_buffers) CUDA_CHECK(cudaFree(p));
  CUDA_CHECK(cudaFree(allocation));
  CUDA_CHECK(cudaFree(next));
  CUDA_CHECK(cudaFree(out));
  CUDA_CHECK(cudaStreamDestroy(d.stream));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t spread_bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{4} << 20;
  if (spread_bytes < kSmallCallBlocks * sizeof(int32_t)) {
    std::fprintf(stderr, "stream_state: spread bytes must be at least %zu, got %s\n",
                 kSmallCallBlocks * sizeof(int32_t), argv[1]);
    return 2;
  }
  return bench::run_main([spread_bytes] { return run(spread_bytes); });
}
