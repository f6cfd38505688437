// The request-block kernel: per-request qo for batches larger than the
// group kernel's (expansion_groups.cuh), up to kRaggedMaxBs requests, with
// saturating row sums (kSaturate) where they may pass INT32_MAX
// (expand_seqlens with a device qo_lens and no max_qo). Row blocks of up to kThreads
// requests (one per thread; more blocks, fewer requests each, when the
// capacity is large), and one status block, the writer of status, that
// checks every request. No workspace: every row block sums the qo of the
// whole batch itself (kLoadsInFlight loads per thread per memory round
// trip), which gives it the rows before its own requests and the total (one
// block needs neither); a warp scan (warp_rows_scan) and one
// exchange of warp sums through shared memory give each request its first
// row. Owners of narrow requests (kDirectMaxQo) store their rows
// themselves; wider ones are placed in shared memory, from where
// consecutive threads store consecutive rows (stores by the owners would
// hit a 32-byte sector per element). The rows past the total are dealt to
// the row blocks in runs of kThreads. Limits: kRaggedMaxBs (every block
// reads the whole batch: beyond it the builder's kernel, whose blocks
// stream the batch in chunks, is the better choice) and kRaggedMaxCapacity
// (a block stages its rows kRowWindow at a time, so the capacity bounds its
// windows).
#pragma once

#include <cstdint>

#include "expansion_common.cuh"

namespace specmeta {
namespace cuda_detail {

constexpr int64_t kRaggedMaxBs = 4096;
constexpr int64_t kRaggedMaxCapacity = 65536;
// Capacity rows per row block: with more, the requests are spread over more
// blocks, fewer each, so that many rows are stored by several
// multiprocessors (measured: bs = 256, qo up to 16, 4096 rows, took 2.4 us
// in one block, 1.9 us in the builder's four; N = 4, bs = 1024 1.8 us with
// 1024 rows per block, 1.65 us with 512).
constexpr int64_t kRowsPerRaggedBlock = 512;
// A row block whose requests have at most this many rows each lets their
// owners store them; wider ones go through shared memory (measured, qo drawn
// from 1..N: N = 4, bs <= 1024, 0.1-0.2 us faster stored by the owners;
// N = 16 0.2-0.3 us slower, as each row then costs a 32-byte sector).
constexpr uint32_t kDirectMaxQo = 8;
// Rows a row block stages in shared memory at a time (32 KB): all of its
// requests' rows whenever qo <= 16.
constexpr int kRowWindow = kThreads * 16;

// Per-warp partial results, exchanged once through shared memory, one
// 16-byte word per warp: x = rows of the warp's own requests, y = the warp's
// share of the rows before the block's requests, z = its share of every
// request's rows, w = the warp's largest qo.
struct RaggedExchange {
  uint4 warp[kWarps];
};

// A block's rows on their way to coalesced stores: the request owners write
// them here, then consecutive threads store consecutive rows.
struct RaggedRows {
  int32_t len[kRowWindow];
  int32_t req[kRowWindow];
};

// The two roles' shared memory.
union RaggedShared {
  struct {
    RaggedExchange exchange;
    RaggedRows rows;
  } row_block;
  struct {
    int32_t warp_faults[kWarps];
    uint32_t warp_rows[kWarps];
  } status_block;
};

// Rows [min(total, capacity), capacity), in runs of kThreads dealt to the
// row blocks in turn (no division on the device).
__device__ __forceinline__ void write_tail_rows(const ExpansionParams& p, uint32_t total) {
  const uint32_t stride = p.row_blocks * kThreads;
  for (uint32_t row = min(total, p.capacity) + blockIdx.x * kThreads + threadIdx.x; row < p.capacity;
       row += stride) {
    if (p.seqlens_expanded) p.seqlens_expanded[row] = 0;
    if (p.row_to_req) p.row_to_req[row] = -1;
  }
}

// A row block of narrow requests: each request's owner stores its rows
// itself. With a few rows per request a warp's stores stay within a few
// sectors, and the block skips the staging and its barrier.
__device__ __forceinline__ void write_own_rows(const ExpansionParams& p, uint32_t first_row, uint32_t qo,
                                               int32_t first_len, uint32_t request) {
  const uint32_t live = first_row < p.capacity ? min(qo, p.capacity - first_row) : 0;
  for (uint32_t j = 0; j < live; ++j) {
    if (p.seqlens_expanded) p.seqlens_expanded[first_row + j] = detail::row_len(first_len, j);
    if (p.row_to_req) p.row_to_req[first_row + j] = static_cast<int32_t>(request);
  }
}

// A row block: the rows of its requests, [block_first_row,
// block_first_row + block_rows), through shared memory kRowWindow rows at a
// time; the thread of request b places the rows [first_row - block_first_row,
// + qo) of the block's run.
__device__ __forceinline__ void write_block_rows(const ExpansionParams& p, uint32_t block_first_row,
                                                 uint32_t block_rows, uint32_t offset, uint32_t qo,
                                                 int32_t first_len, uint32_t request, RaggedRows& rows) {
  // Rows past the capacity are not written, so windows stop there.
  const uint32_t writable = p.capacity - min(block_first_row, p.capacity);  // no sum that could wrap
  for (uint32_t window = 0; window < block_rows && window < writable; window += kRowWindow) {
    const uint32_t j_begin = window > offset ? window - offset : 0;
    const uint32_t j_end = min(qo, window + kRowWindow - min(offset, window + kRowWindow));
    for (uint32_t j = j_begin; j < j_end; ++j) {
      rows.len[offset + j - window] = detail::row_len(first_len, j);
      rows.req[offset + j - window] = static_cast<int32_t>(request);
    }
    __syncthreads();
    const uint32_t first = block_first_row + window;
    const uint32_t count = min(min(block_rows - window, static_cast<uint32_t>(kRowWindow)),
                               p.capacity - min(first, p.capacity));
    for (uint32_t i = threadIdx.x; i < count; i += kThreads) {
      if (p.seqlens_expanded) p.seqlens_expanded[first + i] = rows.len[i];
      if (p.row_to_req) p.row_to_req[first + i] = rows.req[i];
    }
    __syncthreads();  // the next window reuses the rows
  }
}

template <class KvT, class QoT, bool kSaturate>
__global__ void __launch_bounds__(kThreads) ragged_expansion_kernel(const __grid_constant__ ExpansionParams p) {
  __shared__ RaggedShared shared;
  warm_parameter_cache(p);
  enter_after_prior_grid();
  if (blockIdx.x == p.row_blocks) {
    request_status_block<KvT, QoT, kSaturate>(p, shared.status_block.warp_faults, shared.status_block.warp_rows);
    return;
  }
  RaggedExchange& exchange = shared.row_block.exchange;
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  const uint32_t block_first = blockIdx.x * p.block_requests;
  const uint32_t own = block_first + threadIdx.x;
  const bool owns = threadIdx.x < p.block_requests && own < p.bs;
  // This thread's request, then the rows of every request: the ones before
  // the block's and the total. All loads are issued before any is used.
  const QoT own_raw_qo = owns ? qo_lens[own] : QoT{0};
  const KvT own_raw_kv = owns ? kv_lens[own] : KvT{0};
  // With one row block its requests are the batch: no other rows to sum.
  uint32_t before = 0;
  uint32_t all = 0;
  for (uint32_t base = threadIdx.x; p.row_blocks > 1 && base < p.bs; base += kLoadsInFlight * kThreads) {
    QoT raw[kLoadsInFlight];
    load_requests(base, p.bs, raw, [&](uint32_t b) { return qo_lens[b]; });
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      const uint32_t qo = checked_qo(raw[i], p.max_qo);
      all = add_rows<kSaturate>(all, qo);
      before = add_rows<kSaturate>(before, base + i * kThreads < block_first ? qo : 0);
    }
  }
  const uint32_t qo = checked_qo(own_raw_qo, p.max_qo);
  const int32_t first_len = detail::clipped_first_len(detail::offset_kv(own_raw_kv, p.kv_offset), qo);

  const uint32_t lane = threadIdx.x % kWarpThreads;
  const uint32_t warp = threadIdx.x / kWarpThreads;
  const uint2 scan = warp_rows_scan<kSaturate>(qo, p.qo_bits);
  uint32_t offset = scan.x;  // within the block's run of rows, for now within the warp's
  const uint32_t warp_rows = scan.y;
  before = warp_rows_sum<kSaturate>(before);
  all = warp_rows_sum<kSaturate>(all);
  const uint32_t warp_widest = __reduce_max_sync(kFullWarp, qo);
  if (lane == 0) exchange.warp[warp] = make_uint4(warp_rows, before, all, warp_widest);
  __syncthreads();
  uint32_t block_first_row = 0;
  uint32_t total = 0;
  uint32_t block_rows = 0;
  uint32_t widest = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const uint4 partial = exchange.warp[w];
    block_rows = add_rows<kSaturate>(block_rows, partial.x);
    block_first_row = add_rows<kSaturate>(block_first_row, partial.y);
    total = add_rows<kSaturate>(total, partial.z);
    widest = max(widest, partial.w);
    offset = add_rows<kSaturate>(offset, static_cast<uint32_t>(w) < warp ? partial.x : 0);
  }
  if (p.row_blocks == 1) total = block_rows;
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    if (p.cu_seqlens_q) p.cu_seqlens_q[p.bs] = to_int32(total);
    if (p.num_rows) *p.num_rows = static_cast<int32_t>(min(total, p.capacity));
  }
  const uint32_t first_row = add_rows<kSaturate>(block_first_row, offset);
  if (p.cu_seqlens_q && owns) p.cu_seqlens_q[own] = to_int32(first_row);
  if (p.seqlens_expanded || p.row_to_req) {
    if (widest <= kDirectMaxQo) {
      write_own_rows(p, first_row, qo, first_len, own);
    } else {
      write_block_rows(p, block_first_row, block_rows, offset, qo, first_len, own, shared.row_block.rows);
    }
    write_tail_rows(p, total);
  }
}

}  // namespace cuda_detail
}  // namespace specmeta
