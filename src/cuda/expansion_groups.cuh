// The group kernel: per-request qo for batches of up to kGroupMaxBs
// requests (draft_extend), with saturating row sums (kSaturate) where they
// may pass INT32_MAX. Requests form groups of 32, one per lane. Every warp
// of a group's block computes the group's exclusive scan itself
// (warp_rows_scan), so no barrier stands between the scan and the stores, and
// writes 32-row chunks of the group's rows: a lane finds its row's request
// by a binary search over the lanes' first rows (five shuffles), so each
// store instruction writes 32 consecutive rows whatever the requests'
// widths (stores by the requests' owners cost a 32-byte sector per row once
// requests are wide).
//
// One group (kChunksPerWarp == 0, bs <= 32): every block holds the whole
// batch, rows and tail are dealt to all warps of all blocks, and block 0's
// first warp writes the scalars and status: no barrier at all. Several
// groups: a block per group (up to four for wide requests, see
// group_block_shift). The rows before the group and the total come from the
// whole batch's qo: up to kWarpSumMaxGroups groups, each warp sums it alone
// (no barrier); beyond, the block's warps sum kChunksPerWarp chunks of 32
// each and combine them through shared memory (one barrier).
// Blocks past the last group write only tail rows, and a status block
// checks every request.
//
// Why groups of 32 and a block-wide prefix: each warp scanning the whole
// batch itself (no barrier) was as fast up to 256 requests but 0.6-1.0 us
// slower at 1024, its loads repeated by every warp; the request-block kernel
// (expansion_blocks.cuh; a barrier, shared-memory exchange and owner or
// staged stores) took 0.1-0.5 us more everywhere (docs/perf-notes.md).
#pragma once

#include "expansion_common.cuh"

namespace specmeta {
namespace cuda_detail {

constexpr int64_t kGroupMaxBs = 1024;
constexpr uint32_t kGroupSize = kWarpThreads;
// Rows per block of a one-group batch: one 32-row chunk per warp, so a
// capacity of many rows is spread over many multiprocessors.
constexpr int64_t kOneGroupRowsPerBlock = kThreads;
// Blocks beyond one per group: one per this many rows of capacity, for tails
// far longer than the batch's rows.
constexpr int64_t kGroupTailRowsPerBlock = 4 * kThreads;
// Blocks per group, a power of two up to 2^kMaxGroupBlockShift (the host's
// group_block_shift picks it): consecutive blocks share a group's rows, so
// wide requests (N = 16: up to 512 rows a group) take one pass per warp, not two.
constexpr int64_t kRowsPerGroupBlock = kThreads;
constexpr uint32_t kMaxGroupBlockShift = 2;

// Batches of at most this many groups skip the block's exchange: every warp
// loads and sums the whole batch's qo itself (kEveryWarpSums), which costs no
// barrier. Measured on an H100 against the exchange: 0.01-0.02 us faster for
// 33-128 requests (N = 1, 4, 16); past 256 the repeated loads cost more.
constexpr int kEveryWarpSums = -1;
constexpr uint32_t kWarpSumMaxGroups = 4;

// The rows of the requests of chunks [first_chunk, first_chunk + kChunks) of
// kGroupSize requests (a request per lane) that come before group `group`
// (x) and after it (y), summed over the calling warp; the group's own chunk
// counts in neither.
template <class QoT, int kChunks, bool kSaturate>
__device__ __forceinline__ uint2 warp_rows_around_group(const ExpansionParams& p, uint32_t first_chunk,
                                                        uint32_t group) {
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  const uint32_t lane = threadIdx.x % kWarpThreads;
  QoT raw[kChunks];
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    const uint32_t chunk = first_chunk + i;
    const uint32_t b = chunk * kGroupSize + lane;
    raw[i] = b < p.bs && chunk != group ? qo_lens[b] : QoT{0};
  }
  uint32_t before = 0;
  uint32_t after = 0;
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    const uint32_t qo = checked_qo(raw[i], p.max_qo);
    if (first_chunk + i < group) {
      before = add_rows<kSaturate>(before, qo);
    } else {
      after = add_rows<kSaturate>(after, qo);
    }
  }
  return make_uint2(warp_rows_sum<kSaturate>(before), warp_rows_sum<kSaturate>(after));
}

// The rows of every request before group `group` (x) and after it (y),
// summed by the block: each warp sums kChunksPerWarp chunks, then the warps'
// sums are combined through shared memory.
template <class QoT, int kChunksPerWarp, bool kSaturate>
__device__ __forceinline__ uint2 rows_around_group(const ExpansionParams& p, uint32_t group, uint2* warp_sums) {
  const uint32_t warp = threadIdx.x / kWarpThreads;
  const uint2 mine = warp_rows_around_group<QoT, kChunksPerWarp, kSaturate>(p, warp * kChunksPerWarp, group);
  if (threadIdx.x % kWarpThreads == 0) warp_sums[warp] = mine;
  __syncthreads();
  uint2 sums = make_uint2(0, 0);
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const uint2 part = warp_sums[w];
    sums.x = add_rows<kSaturate>(sums.x, part.x);
    sums.y = add_rows<kSaturate>(sums.y, part.y);
  }
  return sums;
}

// Faults of a one-group batch, from its first warp: every request is a lane.
template <class QoT>
__device__ __forceinline__ void write_group_status(const ExpansionParams& p, bool owns, QoT raw_qo, int64_t kv,
                                                   uint32_t total) {
  int32_t faults = 0;
  if (owns) {
    const int64_t qo = detail::checked_qo(static_cast<int64_t>(raw_qo), p.max_qo, faults);
    faults |= detail::request_faults(kv, qo);
  }
  faults = static_cast<int32_t>(__reduce_or_sync(kFullWarp, static_cast<unsigned>(faults)));
  if (total > static_cast<uint32_t>(detail::kInt32Max)) faults |= kInt32Overflow;
  if (total > p.capacity) faults |= kCapacityExceeded;
  if (threadIdx.x == 0) *p.status = faults;
}

// kOneRow: max_qo <= 1 (decode-like draft_extend, N = 1), so a request has
// at most one row and its lane writes it: one store per output, no search for
// a row's request (five dependent shuffles). The host picks it; such sums
// never saturate (bs <= kGroupMaxBs rows in all).
template <class KvT, class QoT, int kChunksPerWarp, bool kSaturate, bool kOneRow = false>
__global__ void __launch_bounds__(kThreads) group_expansion_kernel(const __grid_constant__ ExpansionParams p) {
  static_assert(!(kOneRow && kSaturate), "at most kGroupMaxBs rows: the sums fit 32 bits");
  constexpr bool kOneGroup = kChunksPerWarp == 0;
  __shared__ uint2 warp_sums[kWarps];
  __shared__ int32_t warp_faults[kWarps];
  __shared__ uint32_t warp_rows[kWarps];
  warm_parameter_cache(p);
  enter_after_prior_grid();
  if (!kOneGroup && blockIdx.x == p.row_blocks) {
    request_status_block<KvT, QoT, kSaturate>(p, warp_faults, warp_rows);
    return;
  }
  const uint32_t lane = threadIdx.x % kWarpThreads;
  const uint32_t warp = threadIdx.x / kWarpThreads;
  // Several groups: 2^group_block_shift consecutive blocks per group share its rows.
  const uint32_t group = kOneGroup ? 0 : blockIdx.x >> p.group_block_shift;
  const uint32_t group_part = kOneGroup ? 0 : blockIdx.x - (group << p.group_block_shift);
  const uint32_t first_request = group * kGroupSize;
  const uint32_t own = first_request + lane;
  const bool owns = own < p.bs;
  const QoT raw_qo = owns ? static_cast<const QoT*>(p.qo_lens)[own] : QoT{0};
  const KvT raw_kv = owns ? static_cast<const KvT*>(p.kv_lens)[own] : KvT{0};
  uint2 around = make_uint2(0, 0);
  if constexpr (kChunksPerWarp == kEveryWarpSums) {
    around = warp_rows_around_group<QoT, kWarpSumMaxGroups, kSaturate>(p, 0, group);
  } else if constexpr (!kOneGroup) {
    around = rows_around_group<QoT, kChunksPerWarp, kSaturate>(p, group, warp_sums);
  }
  const uint32_t qo = checked_qo(raw_qo, p.max_qo);
  const int64_t kv = detail::offset_kv(static_cast<int64_t>(raw_kv), p.kv_offset);
  const int32_t first_len = detail::clipped_first_len(kv, qo);

  const uint2 scan = warp_rows_scan<kSaturate>(qo, p.qo_bits);
  const uint32_t first_row = add_rows<kSaturate>(around.x, scan.x);
  const uint32_t group_end = add_rows<kSaturate>(around.x, scan.y);
  const uint32_t total = add_rows<kSaturate>(group_end, around.y);
  const bool writes_requests = warp == 0 && (kOneGroup ? blockIdx.x == 0 : group_part == 0);
  if (writes_requests && owns && p.cu_seqlens_q) p.cu_seqlens_q[own] = to_int32(first_row);
  if (writes_requests && blockIdx.x == 0) {
    if constexpr (kOneGroup) {
      if (p.status) write_group_status(p, owns, raw_qo, kv, total);
    }
    if (lane == 0 && p.cu_seqlens_q) p.cu_seqlens_q[p.bs] = to_int32(total);
    if (lane == 0 && p.num_rows) *p.num_rows = static_cast<int32_t>(min(total, p.capacity));
  }
  if (!p.seqlens_expanded && !p.row_to_req) return;

  // The group's rows, by this block's warps (by every warp of the kernel for one group).
  const uint32_t global_warp = blockIdx.x * kWarps + warp;
  const uint32_t all_warps = p.row_blocks * kWarps;
  const uint32_t chunk_warp = kOneGroup ? global_warp : (group_part * kWarps + warp);
  const uint32_t chunk_warps = kOneGroup ? all_warps : (kWarps << p.group_block_shift);
  const uint32_t rows_end = min(group_end, p.capacity);
  if constexpr (kOneRow) {
    if (chunk_warp == 0 && qo > 0 && first_row < rows_end) {
      if (p.seqlens_expanded) p.seqlens_expanded[first_row] = detail::row_len(first_len, 0);
      if (p.row_to_req) p.row_to_req[first_row] = static_cast<int32_t>(own);
    }
  }
  // Clamped so the first chunk cannot wrap when the rows before the group saturated.
  const uint32_t rows_begin = kOneRow ? rows_end : min(around.x, rows_end);
  for (uint32_t chunk = rows_begin + chunk_warp * kWarpThreads; chunk < rows_end; chunk += chunk_warps * kWarpThreads) {
    const uint32_t row = chunk + lane;
    // The row's request: the last lane whose first row is at or before it
    // (lanes past the batch start at group_end, past every row here).
    uint32_t holder = 0;
#pragma unroll
    for (uint32_t step = kWarpThreads / 2; step > 0; step >>= 1) {
      if (__shfl_sync(kFullWarp, first_row, holder + step) <= row) holder += step;
    }
    const uint32_t holder_first_row = __shfl_sync(kFullWarp, first_row, holder);
    const int32_t holder_first_len = __shfl_sync(kFullWarp, first_len, holder);
    if (row < rows_end) {
      if (p.seqlens_expanded) p.seqlens_expanded[row] = detail::row_len(holder_first_len, row - holder_first_row);
      if (p.row_to_req) p.row_to_req[row] = static_cast<int32_t>(first_request + holder);
    }
  }
  // Rows past the total, dealt to every warp of the kernel.
  for (uint32_t row = min(total, p.capacity) + global_warp * kWarpThreads + lane; row < p.capacity;
       row += all_warps * kWarpThreads) {
    if (p.seqlens_expanded) p.seqlens_expanded[row] = 0;
    if (p.row_to_req) p.row_to_req[row] = -1;
  }
}

}  // namespace cuda_detail
}  // namespace specmeta
