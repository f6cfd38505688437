// CUDA backend of the ragged expansion: one launch, no workspace, no host sync.
//
// The grid has three kinds of blocks, told apart by blockIdx.x:
//   [0, row_blocks)        row blocks: per-row outputs of one tile of rows
//                          (row_blocks.cuh, which explains the algorithm by size)
//   row_blocks             the request block: per-request outputs, scalars, status
//                          (request_block.cuh)
//   after it               page-table blocks, parts_per_request per request
//                          (page_table_block.cuh)
// Every block's role, and the grid, follow from host ints only (bs, capacity,
// width), so a captured graph replays with any input values. The roles run
// side by side; none waits for another. Calls that want only the
// expansion's own outputs take the shorter kernels of expansion_only.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../common/backends.h"
#include "expansion_only.h"
#include "kernel_params.cuh"
#include "page_table_block.cuh"
#include "programmatic_launch.h"
#include "request_block.cuh"
#include "row_blocks.cuh"
#include "specmeta/expand.h"

namespace specmeta {
namespace cuda_detail {
namespace {

// Each block plays one role, so the roles share one shared-memory union.
union SharedStorage {
  RowBlockStorage rows;
  RequestBlockStorage requests;
  PageTableStorage page_table;
};

// The request block of a uniform-qo call fetches into L2, before its wait,
// the first line of each input array and of set 0's nine outputs before the
// page tables. L2 is the point of coherence, so a line the prior grid still
// writes reads right after the wait; what the fetch takes off the critical
// path is each array's first miss and address translation, which after the
// release cost 640-1010 cycles (docs/perf-notes.md). The request block alone:
// with every block fetching the same lines, most calls were 3-34% slower.
// Measured (H100, bench_metadata, two rounds behind a held GPU and one idle):
// uniform calls of 1-4 requests 1.03-1.05x faster (target_verify W 131072
// bs 1 2.05 -> 1.96 us), the others 0.99-1.01x; per-request calls lost up to
// 1.6% (extend W 4096 bs 16), so their instantiations go without.
__device__ __forceinline__ void prefetch_request_block_lines(const KernelParams& p) {
  constexpr uint32_t kInputs = 3;   // kv_lens, qo_lens, req_pool_indices: KernelParams' first members
  constexpr uint32_t kOutputs = 9;  // DestSet's members before page_table_1
  static_assert(offsetof(KernelParams, req_pool_indices) == (kInputs - 1) * sizeof(void*), "inputs first");
  static_assert(offsetof(DestSet, page_table_1) == kOutputs * sizeof(void*), "nine outputs first");
  const uint32_t lane = threadIdx.x;
  if (blockIdx.x != p.row_blocks || lane >= kInputs + kOutputs || p.bs == 0) return;
  const void* address = lane < kInputs ? reinterpret_cast<const void* const*>(&p)[lane]
                                       : reinterpret_cast<void* const*>(&p.sets[0])[lane - kInputs];
  if (address != nullptr) prefetch_l2(address);
}

// One block's role. kStreaming: the page-table stores carry the evict-first
// hint (kernel_params.cuh). kLaunchAfterWait: the launch order of small grids
// (kernel_params.cuh, kLaunchAfterWaitMaxBlocks). Template parameters, so
// that calls without them run the same code as before they existed: a branch
// in the copy loop cost decode 1-2% and small calls 0.03 us, one at the
// entry large decode tables 8-13%. kFewPairs: the high-occupancy kernel's
// copy (page_table_block.cuh).
//
// Per-request page-table blocks of the larger grids (those that let the next
// launch before their wait) sum the rows before their request after their
// first pass's loads (page_table_block.cuh, RowsAfterFirstLoads). Measured
// (H100, bench_metadata, docs/perf-notes.md): draft_extend W 8192 bs 256
// 7.27 -> 6.62 us. In every per-request instantiation, small calls took
// 0.87-0.98x, hence only where the grid is large. The high-occupancy kernel
// does it too since its per-request grids have half the blocks
// (kPerRequestBlockTarget): together, one or two rows per request at bs 1024
// W 4096 1.05-1.20x, W 32768 and 131072 draft_extend 1.015-1.028x, extend E 1
// there 0.991-0.993x (on its own, before the smaller target: 0.985x).
//
// kNextPass: page-table blocks that prefetch their next pass (kernel_params.cuh,
// prefetches_next_pass). kInFlight: the high-occupancy copy's passes loaded
// before any is stored (kernel_params.cuh, in_flight_pass_order).
//
// kEarlySum (page_table_block.cuh, RowsAfterFirstLoads): in the kernels for
// batches of over kNarrowItems * kThreads requests, per-request blocks with
// passes in flight issue their sum's first loads before their row's.
// Measured (H100, bench_metadata, three rounds behind the suite's state):
// one and two rows per request at bs 1024 W 4096 1.02-1.04x faster (extend
// E 1 6.84 -> 6.57 us); in the kernels for smaller batches (where the sum
// reads at most a length per thread) 0.96-0.99x at W 1048576 bs 4.
template <class KvT, class QoT, int kItems, bool kStreaming, bool kLaunchAfterWait, bool kFewPairs, bool kNextPass,
          int kInFlight = 1>
__device__ __forceinline__ void expand_block(const KernelParams& p, SharedStorage& smem) {
  // The parameter lines read before the wait: the scalars and the first
  // destination set (the other sets' lines matter to multi-set calls alone).
  constexpr size_t kWarmBytes = offsetof(KernelParams, sets) + sizeof(DestSet);
  if constexpr (kLaunchAfterWait) {
    // With two grids on the GPU at a time the lines read here stay cached
    // until the wait ends, in every instantiation.
    warm_parameter_cache<kWarmBytes>(p);
    if constexpr (std::is_same_v<QoT, UniformQo>) prefetch_request_block_lines(p);
    if (p.prefetch_first_pass && blockIdx.x > p.row_blocks) prefetch_first_pass(p, blockIdx.x - p.row_blocks - 1);
    enter_after_prior_grid_then_launch_next();
  } else {
    if constexpr (std::is_same_v<QoT, UniformQo>) {
      // Measured (bench_metadata, H100): uniform-qo calls 0.03-0.07 us
      // faster at bs 1-16 and 3-4% on large decode tables (four-set decode
      // 1% slower); calls of per-request qo launched this way were 0.1-0.3 us
      // slower with it, so their instantiations go without here.
      warm_parameter_cache<kWarmBytes>(p);
      prefetch_request_block_lines(p);
    }
    enter_after_prior_grid();
  }
  if (blockIdx.x < p.row_blocks) {
    if constexpr (std::is_same_v<QoT, UniformQo>) {
      uniform_rows_block<KvT>(p, smem.rows);
    } else {
      scan_rows_block<KvT, QoT, kItems>(p, smem.rows);
    }
  } else if (blockIdx.x == p.row_blocks) {
    request_block<KvT, QoT, kItems>(p, smem.requests);
  } else {
    constexpr bool kSumAfterFirstLoads = !kLaunchAfterWait;
    constexpr bool kEarlySum = kItems == kWideItems;
    page_table_block<KvT, QoT, kStreaming, kFewPairs, kSumAfterFirstLoads, kNextPass, kInFlight, kEarlySum>(
        p, blockIdx.x - p.row_blocks - 1, smem.page_table);
  }
}

template <class KvT, class QoT, int kItems, bool kStreaming, bool kLaunchAfterWait, bool kNextPass>
__global__ void __launch_bounds__(kThreads) expand_kernel(const __grid_constant__ KernelParams p) {
  __shared__ SharedStorage smem;
  expand_block<KvT, QoT, kItems, kStreaming, kLaunchAfterWait, false, kNextPass>(p, smem);
}

// The same, compiled for kCopyMinBlocks resident blocks per multiprocessor
// (kernel_params.cuh): large tables of about two pairs per request or fewer,
// laid out without row groups, whose code it leaves out (measured, E5: per-request tables
// of one or two rows at bs 1024 1.006-1.025x faster, bench_metadata --large),
// and storing real_page_table from the copying threads' own columns
// (page_table_block.cuh, kFewPairs). With kPassesInFlight passes in flight,
// for kInFlightMinBlocks, or kPerRequestInFlightMinBlocks where rows are per
// request: the passes' registers; with kPassesInFlightTwoPairs, for
// kCopyMinBlocks still (kernel_params.cuh).
template <class QoT, int kInFlight>
constexpr int copy_min_blocks() {
  if constexpr (kInFlight == 1 || kInFlight == kPassesInFlightTwoPairs) return kCopyMinBlocks;
  return std::is_same_v<QoT, UniformQo> ? kInFlightMinBlocks : kPerRequestInFlightMinBlocks;
}

template <class KvT, class QoT, int kItems, bool kNextPass, int kInFlight>
__global__ void __launch_bounds__(kThreads, copy_min_blocks<QoT, kInFlight>())
    expand_kernel_high_occupancy(const __grid_constant__ KernelParams p) {
  __shared__ SharedStorage smem;
  expand_block<KvT, QoT, kItems, false, false, true, kNextPass, kInFlight>(p, smem);
}

DestSet dest_set(const ExpandOutputs& o) {
  DestSet d{};
  d.seqlens_expanded = o.seqlens_expanded.data;
  d.sparse_seqlens = o.sparse_seqlens.data;
  d.sparse_cu_seqlens_k = o.sparse_cu_seqlens_k.data;
  d.row_to_req = o.row_to_req.data;
  d.cache_seqlens = o.cache_seqlens.data;
  d.cu_seqlens_k = o.cu_seqlens_k.data;
  d.cu_seqlens_q = o.cu_seqlens_q.data;
  d.num_rows = o.num_rows.data;
  d.status = o.status.data;
  d.page_table_1 = o.page_table_1.data;
  d.real_page_table = o.real_page_table.data;
  d.page_table_1_stride = static_cast<uint64_t>(o.page_table_1.row_stride);
  d.real_page_table_stride = static_cast<uint64_t>(o.real_page_table.row_stride);
  return d;
}

bool aligned_rows(const void* data, int64_t row_stride) {
  return (reinterpret_cast<uintptr_t>(data) & 15) == 0 && row_stride % kColsPerThread == 0;
}

// Outputs the kernel writes, by what they need: an empty call launches nothing.
bool wants_rows(const ExpandOutputs& o) {
  return o.seqlens_expanded.data || o.sparse_seqlens.data || o.sparse_cu_seqlens_k.data || o.row_to_req.data;
}

bool wants_page_tables(const ExpandArgs& a) {
  return a.wants_page_table() && (a.out.page_table_1.data || a.out.real_page_table.data);
}

bool wants_request_block(const ExpandOutputs& o) {
  return o.cache_seqlens.data || o.cu_seqlens_k.data || o.cu_seqlens_q.data || o.num_rows.data || o.status.data;
}

// next_pass: prefetches_next_pass, which takes kernels of their own, so that
// the others keep code without the prefetch (kernel_params.cuh). It holds only
// for the streaming and high-occupancy copies, and for uniform rows only in
// the latter, so no other kernel is compiled with it.
template <class KvT, class QoT, int kItems, bool kStreaming>
void launch_in_order(const KernelParams& p, unsigned grid, bool next_pass, cudaStream_t stream) {
  constexpr bool kMayPrefetch = kStreaming && !std::is_same_v<QoT, UniformQo>;
  if (launches_after_wait(grid, std::is_same_v<QoT, UniformQo>, p.bs)) {
    launch_programmatic(expand_kernel<KvT, QoT, kItems, kStreaming, true, false>, grid, kThreads, stream, p);
  } else if (kMayPrefetch && next_pass) {
    launch_programmatic(expand_kernel<KvT, QoT, kItems, kStreaming, false, kMayPrefetch>, grid, kThreads, stream, p);
  } else {
    launch_programmatic(expand_kernel<KvT, QoT, kItems, kStreaming, false, false>, grid, kThreads, stream, p);
  }
}

template <class KvT, class QoT, int kItems>
void launch_overlapped(const KernelParams& p, TableCopy copy, PassOrder order, unsigned grid, cudaStream_t stream) {
  constexpr bool kUniform = std::is_same_v<QoT, UniformQo>;
  const bool next_pass = order == PassOrder::kPrefetchNext;
  if (copy == TableCopy::kStreaming) {
    launch_in_order<KvT, QoT, kItems, true>(p, grid, next_pass, stream);
  } else if (copy == TableCopy::kHighOccupancy && next_pass) {
    launch_programmatic(expand_kernel_high_occupancy<KvT, QoT, kItems, true, 1>, grid, kThreads, stream, p);
  } else if (copy == TableCopy::kHighOccupancy && order == PassOrder::kInFlight) {
    launch_programmatic(expand_kernel_high_occupancy<KvT, QoT, kItems, false, kPassesInFlight>, grid, kThreads, stream,
                        p);
  } else if (copy == TableCopy::kHighOccupancy && order == PassOrder::kTwoInFlight && !kUniform) {
    // Rows per request only (in_flight_pass_order): no uniform kernel is compiled
    // for it, and a uniform call given this order would copy one pass at a time.
    if constexpr (!kUniform) {
      launch_programmatic(expand_kernel_high_occupancy<KvT, QoT, kItems, false, kPassesInFlightTwoPairs>, grid,
                          kThreads, stream, p);
    }
  } else if (copy == TableCopy::kHighOccupancy) {
    launch_programmatic(expand_kernel_high_occupancy<KvT, QoT, kItems, false, 1>, grid, kThreads, stream, p);
  } else {
    launch_in_order<KvT, QoT, kItems, false>(p, grid, false, stream);
  }
}

template <class KvT, class QoT>
void launch_qo(const KernelParams& p, TableCopy copy, PassOrder order, unsigned grid, cudaStream_t stream) {
  if (p.bs <= kNarrowItems * kThreads) {
    launch_overlapped<KvT, QoT, kNarrowItems>(p, copy, order, grid, stream);
  } else {
    launch_overlapped<KvT, QoT, kWideItems>(p, copy, order, grid, stream);
  }
}

template <class KvT>
void launch_kv(const ExpandArgs& a, const KernelParams& p, TableCopy copy, PassOrder order, unsigned grid,
               cudaStream_t stream) {
  if (a.uniform_qo() && !a.out.cu_seqlens_k.data) {
    // No scan anywhere (measured: this narrow instantiation is the faster one here).
    launch_overlapped<KvT, UniformQo, kNarrowItems>(p, copy, order, grid, stream);
  } else if (a.uniform_qo()) {
    launch_qo<KvT, UniformQo>(p, copy, order, grid, stream);
  } else if (a.qo_lens.type == IntType::kInt64) {
    launch_qo<KvT, int64_t>(p, copy, order, grid, stream);
  } else {
    launch_qo<KvT, int32_t>(p, copy, order, grid, stream);
  }
}

// The column passes of a row `a.width` wide: of kColsPerPass columns, or of
// a 2^kRowGroupShift-th of that in the row-group layout.
int64_t width_passes(const ExpandArgs& a, bool row_groups) {
  const int64_t cols = row_groups ? kColsPerPass >> kRowGroupShift : kColsPerPass;
  return (a.width + cols - 1) / cols;
}

// The page-table blocks of `a` in `layout`, and the column passes each block
// copies of a row `a.width` wide: what the pass-order rules below weigh.
int64_t table_blocks(const ExpandArgs& a, const PageTableLayout& layout) {
  return a.bs * static_cast<int64_t>(layout.parts_per_request);
}
int64_t passes_of_a_block(const ExpandArgs& a, const PageTableLayout& layout) {
  return (width_passes(a, layout.row_groups) + layout.parts_per_request - 1) / layout.parts_per_request;
}

// What passes in flight need of a call's outputs: page_table_1 wanted, and
// real_page_table, where wanted, stored from the copying threads' own
// columns (a power-of-two page size of at least kColsPerThread).
bool in_flight_outputs(const ExpandArgs& a) {
  const bool own_pages = (a.page_size & (a.page_size - 1)) == 0 && a.page_size >= kColsPerThread;
  return a.out.page_table_1.data && (!a.out.real_page_table.data || own_pages);
}

}  // namespace

PartsDivisor parts_divisor(uint32_t divisor) {
  if (divisor <= 1) return {divisor, 0, 0};  // 0: a call without page-table blocks, which never divide
  const uint32_t shift = 31 - static_cast<uint32_t>(__builtin_clz(divisor - 1));  // ceil(log2 divisor) - 1
  const uint64_t magic = ((uint64_t{1} << (32 + shift)) + divisor - 1) / divisor;
  return {divisor, static_cast<uint32_t>(magic), shift};
}

// The page-table layout: its row-group shift (kernel_params.cuh explains the
// choice) and its blocks per request, enough to approach
// page_table_block_target blocks in all, or on large tables about
// kUnitsPerTableBlock units per block, never more than the widest row has
// column passes. (Fewer, fuller blocks measured slower: a block's stores are
// its cost, so they are best spread over many multiprocessors; see
// docs/perf-notes.md.)
PageTableLayout page_table_layout(const ExpandArgs& a) {
  const int64_t bs = a.bs > 0 ? a.bs : 1;
  const int64_t pairs = table_pairs(a);
  const int64_t grid_limit = pairs >= kRowGroupManyPairs ? kRowGroupGridLimit : kRowGroupFewPairsGridLimit;
  const bool row_groups = pairs >= (int64_t{1} << kRowGroupShift) && bs * width_passes(a, true) <= grid_limit;
  const int64_t passes = width_passes(a, row_groups);
  if (a.uniform_qo() && passes >= kPassesInFlightMinPasses && in_flight_outputs(a) &&
      high_occupancy_table_copy(a, {row_groups, 1})) {
    // One round of kPassesInFlight passes a block (kernel_params.cuh).
    const int64_t parts = std::min((passes + kPassesInFlight - 1) / kPassesInFlight, kSpreadGridLimit / bs);
    return {row_groups, static_cast<uint32_t>(std::max<int64_t>(1, parts))};
  }
  const int64_t target = (page_table_block_target(a) + bs - 1) / bs;
  const int64_t passes_per_block = std::max<int64_t>(1, kUnitsPerTableBlock / (1 + average_table_pairs(a)));
  const int64_t spread = std::min((passes + passes_per_block - 1) / passes_per_block, kSpreadGridLimit / bs);
  const int64_t wanted = std::max(target, spread);
  return {row_groups, static_cast<uint32_t>(std::max<int64_t>(1, std::min(wanted, passes)))};
}

int64_t page_table_block_target(const ExpandArgs& a) {
  return a.uniform_qo() ? kPageTableBlockTarget : kPerRequestBlockTarget;
}

int64_t table_pairs(const ExpandArgs& a) {
  return table_row_bound(a) * (1 + a.extra_out_count);
}

int64_t table_row_bound(const ExpandArgs& a) {
  if (a.uniform_qo()) return a.qo_uniform;
  const int64_t bs = a.bs > 0 ? a.bs : 1;
  return std::min(a.max_qo, (a.capacity + bs - 1) / bs);
}

int64_t average_table_pairs(const ExpandArgs& a) {
  const int64_t sets = 1 + a.extra_out_count;
  if (a.uniform_qo()) return a.qo_uniform * sets;
  return std::max<int64_t>(1, table_row_bound(a) / kVariableRowsFactor) * sets;
}

bool table_units_at_least(const ExpandArgs& a, int64_t units) {
  if (a.bs <= 0) return false;
  // The batch's rows are at most bs x the row bound and at most the capacity
  // (neither product can overflow: both factors are at most INT32_MAX).
  const int64_t rows = std::min(a.bs * table_row_bound(a), a.capacity);
  const int64_t row_units = rows * (1 + a.extra_out_count);
  const int64_t passes = width_passes(a, false);
  const int64_t needed = a.uniform_qo() ? units : kVariableRowsFactor * units;
  // row_units * passes >= needed, without forming the product (it may pass 2^63).
  return row_units > 0 && passes >= (needed + row_units - 1) / row_units;
}

bool launches_after_wait(int64_t grid, bool uniform_qo, int64_t bs) {
  return grid <= kLaunchAfterWaitMaxBlocks && !(uniform_qo && bs >= kLaunchFirstUniformMinBatch);
}

bool prefetches_first_pass(const ExpandArgs& a) {
  return a.bs <= kPrefetchMaxBatch && a.capacity * a.width <= kPrefetchMaxTableCells;
}

BuilderGrid builder_grid(const ExpandArgs& a) {
  // At least one row block whenever a per-row output is wanted: row block 0
  // also writes sparse_cu_seqlens_k[0], even at capacity 0.
  const int64_t tiles = (a.capacity + kRowsPerBlock - 1) / kRowsPerBlock;
  BuilderGrid g{};
  g.row_blocks = static_cast<uint32_t>(wants_rows(a.out) ? std::max<int64_t>(tiles, 1) : 0);
  g.layout = page_table_layout(a);
  g.blocks = g.row_blocks + 1 + (wants_page_tables(a) ? table_blocks(a, g.layout) : 0);
  return g;
}

namespace {
// The streaming rule's pairs and units, before the high-occupancy kernel
// takes its tables (table_copy asks that first).
bool streaming_pairs_and_units(const ExpandArgs& a) {
  return table_pairs(a) >= kStreamingStoreMinPairs && table_units_at_least(a, kStreamingStoreMinUnits);
}
}  // namespace

bool streaming_table_stores(const ExpandArgs& a) {
  return streaming_pairs_and_units(a) && !high_occupancy_table_copy(a);
}

bool high_occupancy_table_copy(const ExpandArgs& a, const PageTableLayout& layout) {
  if (average_table_pairs(a) > kCopyMaxPairs) return false;
  const int64_t units = table_pairs(a) <= kCopyMaxPairs ? kCopyMinUnits : kCopyAveragedMinUnits;
  return table_units_at_least(a, units) && !layout.row_groups;
}

bool high_occupancy_table_copy(const ExpandArgs& a) { return high_occupancy_table_copy(a, page_table_layout(a)); }

TableCopy table_copy(const ExpandArgs& a, const PageTableLayout& layout) {
  if (high_occupancy_table_copy(a, layout)) return TableCopy::kHighOccupancy;
  return streaming_pairs_and_units(a) ? TableCopy::kStreaming : TableCopy::kPlain;
}

TableCopy table_copy(const ExpandArgs& a) { return table_copy(a, page_table_layout(a)); }

bool prefetches_next_pass(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout) {
  if (copy == TableCopy::kPlain || average_table_pairs(a) > kPrefetchNextPassMaxPairs) return false;
  if (a.uniform_qo() && copy != TableCopy::kHighOccupancy) return false;
  if (table_blocks(a, layout) < kPrefetchNextPassMinBlocks) return false;
  const int64_t min_passes = a.uniform_qo() ? kPrefetchNextPassMinPassesUniform : kPrefetchNextPassMinPasses;
  return passes_of_a_block(a, layout) >= min_passes;
}

PassOrder in_flight_pass_order(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout) {
  if (copy != TableCopy::kHighOccupancy || !in_flight_outputs(a)) return PassOrder::kOneByOne;
  if (passes_of_a_block(a, layout) < kPassesInFlightMinPasses) return PassOrder::kOneByOne;
  if (a.uniform_qo() || average_table_pairs(a) <= kPassesInFlightMaxPerRequestPairs) return PassOrder::kInFlight;
  return table_blocks(a, layout) <= kTwoPairsInFlightMaxBlocks ? PassOrder::kTwoInFlight : PassOrder::kOneByOne;
}

PassOrder pass_order(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout) {
  const PassOrder loaded = in_flight_pass_order(a, copy, layout);
  const bool first = a.uniform_qo() || table_blocks(a, layout) <= kPerRequestInFlightFirstMaxBlocks;
  if (loaded != PassOrder::kOneByOne && first) return loaded;
  if (prefetches_next_pass(a, copy, layout)) return PassOrder::kPrefetchNext;
  return loaded;
}

}  // namespace cuda_detail

Status expand_cuda(const ExpandArgs& a, cudaStream_t stream) {
  if (Status s = validate(a); !s.ok()) return s;
  return detail::expand_cuda_validated(a, stream);
}

Status detail::expand_cuda_validated(const ExpandArgs& a, cudaStream_t stream) {
  if (cuda_detail::fits_expansion_only(a)) return cuda_detail::launch_expansion_only(a, stream);
  return expand_cuda_general(a, stream);
}

Status detail::expand_cuda_general(const ExpandArgs& a, cudaStream_t stream) {
  using namespace cuda_detail;
  const ExpandOutputs& o = a.out;
  const bool page_tables = wants_page_tables(a);
  if (!wants_rows(o) && !wants_request_block(o) && !page_tables) return {};

  KernelParams p{};
  p.kv_lens = a.kv_lens.data;
  p.qo_lens = a.qo_lens.data;
  p.req_pool_indices = a.req_pool_indices.data;
  p.req_to_token = a.req_to_token.data;
  p.req_to_token_stride = static_cast<uint64_t>(a.req_to_token.row_stride);
  p.pool_rows = a.req_to_token.rows;
  p.bs = static_cast<uint32_t>(a.bs);
  p.qo_uniform = static_cast<uint32_t>(a.qo_uniform);
  p.max_qo = static_cast<uint32_t>(a.max_qo);
  p.capacity = static_cast<uint32_t>(a.capacity);
  p.kv_offset = static_cast<uint32_t>(a.kv_offset);
  p.topk = static_cast<uint32_t>(a.topk);
  p.kpool = static_cast<uint32_t>(a.kpool);
  p.width = static_cast<uint32_t>(a.width);
  p.page_size = static_cast<uint32_t>(a.page_size);
  p.page_shift = (a.page_size & (a.page_size - 1)) == 0 ? __builtin_ctzll(static_cast<uint64_t>(a.page_size)) : -1;
  p.rpi_int64 = a.req_pool_indices.type == IntType::kInt64;
  p.check_pool_indices = a.wants_page_table();
  p.full_width = a.full_width;
  const int64_t max_sparse_row = std::min(a.topk + a.kpool - 1, detail::kInt32Max);
  p.check_sparse_overflow = o.sparse_cu_seqlens_k.data != nullptr && a.capacity * max_sparse_row > detail::kInt32Max;
  p.num_sets = 1 + a.extra_out_count;
  p.sets[0] = dest_set(o);
  for (int i = 0; i < a.extra_out_count; ++i) p.sets[i + 1] = dest_set(a.extra_out[i]);
  p.vector_copy = aligned_rows(a.req_to_token.data, a.req_to_token.row_stride);
  for (int i = 0; i < p.num_sets; ++i) {
    const ExpandOutputs& set = i == 0 ? o : a.extra_out[i - 1];
    p.vector_copy = p.vector_copy && aligned_rows(set.page_table_1.data, set.page_table_1.row_stride);
  }

  const BuilderGrid g = builder_grid(a);
  p.row_blocks = g.row_blocks;
  p.parts = parts_divisor(g.layout.parts_per_request);
  p.row_groups = g.layout.row_groups;
  p.prefetch_first_pass = prefetches_first_pass(a);
  const int64_t grid = g.blocks;
  constexpr int64_t kMaxGrid = 2147483647;  // gridDim.x limit
  if (grid > kMaxGrid) {
    return Status::invalid_argument("bs: expected a batch whose launch fits " + std::to_string(kMaxGrid) +
                                    " blocks, got " + std::to_string(a.bs) + " requests needing " +
                                    std::to_string(grid));
  }
  const TableCopy copy = page_tables ? table_copy(a, g.layout) : TableCopy::kPlain;
  const PassOrder order = pass_order(a, copy, g.layout);
  if (a.kv_lens.type == IntType::kInt64) {
    launch_kv<int64_t>(a, p, copy, order, static_cast<unsigned>(grid), stream);
  } else {
    launch_kv<int32_t>(a, p, copy, order, static_cast<unsigned>(grid), stream);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status::cuda_error(std::string("expand_cuda: kernel launch failed: ") + cudaGetErrorString(err));
  }
  return {};
}

bool cuda_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

Status use_cuda_device(int device) {
  int current = -1;
  cudaError_t err = cudaGetDevice(&current);
  if (err == cudaSuccess && current != device) err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    cudaGetLastError();  // consumed here, so the next launch check does not report it
    return Status::cuda_error("cannot use CUDA device " + std::to_string(device) + ": " + cudaGetErrorString(err));
  }
  return {};
}

}  // namespace specmeta
