// Row blocks: each writes the per-row outputs of one tile of kRowsPerBlock
// rows (seqlens_expanded, sparse_seqlens, sparse_cu_seqlens_k, row_to_req);
// each thread owns kRowsPerThread consecutive rows.
//
// Finding each row's request:
// - Uniform qo (decode, target_verify, draft_extend_static): row r belongs
//   to request r / qo. No scan.
// - Per-request qo (draft_extend, extend): every row block runs the exclusive
//   prefix sum of the requests' rows itself with cub::BlockScan: one request
//   per thread for batches of up to kThreads (straight from memory), four per
//   thread beyond (a chunk of 1024 loaded coalesced and transposed through
//   shared memory). The thread holding a request then writes the request's
//   rows that fall in the tile into shared memory, from where the row owners
//   read them. Blocks repeat the scan (bs lengths are a few KB, served from
//   L2) instead of exchanging partial sums, which would need a second launch
//   or a workspace that every CUDA-graph replay must reset first. Batches
//   over 1024 requests stream through the scan chunk by chunk; a block stops
//   once its rows are placed.
// sparse_cu_seqlens_k is a scan over the tile's rows, offset by the sum over
// the rows before the tile: zero for the first tile (every tile when the
// capacity is at most kRowsPerBlock), otherwise a closed form per request
// (row_math.h's sparse_rows_sum) reduced over the block.
//
// Small capacities (at most kWarpRows): warp 0's lanes would own every row
// and the other warps none, and one warp storing the four outputs in turn
// makes a dependent path of four store steps. Instead each of the first
// kRowOutputs warps computes the same rows, and warp w stores output w alone
// (H100: draft_extend and extend bs 1 0.05 us faster, decode bs 16 0.03;
// the block's time is then about that of the request block).
//
// These blocks are latency-bound (one memory round trip), so the code favours
// a short dependent path over unrolled width.
#pragma once

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/warp/warp_scan.cuh>

#include "device_util.cuh"
#include "uniform_rows.cuh"

namespace specmeta {
namespace cuda_detail {

using RowScan = cub::BlockScan<uint32_t, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
using RowWarpScan = cub::WarpScan<uint32_t>;
using SumReduce = cub::BlockReduce<uint64_t, kThreads>;

// A row block's shared memory; one member of the kernel's shared union.
struct RowBlockStorage {
  typename RowScan::TempStorage scan;  // the request scan, then the sparse row scan
  typename RowWarpScan::TempStorage warp_scan;
  uint32_t one_warp_rows;  // the rows of a one-warp batch, for the whole block
  typename SumReduce::TempStorage reduce;
  uint32_t reduce_result;
  // This block's rows. The thread that holds a request after the scan writes
  // that request's rows here (no search: a binary search over shared memory
  // costs a bank-conflicted round trip per step); the thread that owns the
  // rows then reads them back with one 16-byte access per array.
  __align__(16) int32_t tile_len[kRowsPerBlock];
  __align__(16) int32_t tile_req[kRowsPerBlock];
  // A chunk of requests on its way from the striped to the blocked arrangement.
  __align__(16) uint32_t staged_qo[kThreads * kWideItems];
  __align__(16) int32_t staged_first_len[kThreads * kWideItems];
};

// The per-row outputs; with split outputs, warp w stores output w.
enum RowOutput : uint32_t { kSeqlensExpanded, kRowToReq, kSparseSeqlens, kSparseCuSeqlensK, kRowOutputs };
constexpr uint32_t kWarpRows = kWarpThreads * kRowsPerThread;

// Block-uniform: whether the block's warps split the outputs (header comment).
__device__ __forceinline__ bool split_row_outputs(const KernelParams& p) { return p.capacity <= kWarpRows; }

// This thread's first row: its own in the tile, or its lane's when the
// outputs are split (the capacity then fits warp 0's rows, and one tile).
__device__ __forceinline__ uint32_t first_row_of_thread(bool split) {
  const uint32_t thread = split ? threadIdx.x % kWarpThreads : threadIdx.x;
  return blockIdx.x * kRowsPerBlock + thread * kRowsPerThread;
}

// Sum over the block of per-thread values that saturate at UINT32_MAX.
__device__ __noinline__ uint32_t block_sum_saturated(uint64_t value, RowBlockStorage& smem) {
  const uint64_t sum = SumReduce(smem.reduce).Sum(value);
  if (threadIdx.x == 0) smem.reduce_result = static_cast<uint32_t>(min(sum, uint64_t{0xffffffffu}));
  __syncthreads();
  return smem.reduce_result;
}

// sparse_seqlens summed over the first n rows of a request, saturated: what
// the rows before a tile contribute to its sparse_cu_seqlens_k offset.
__device__ __forceinline__ uint64_t rows_before_tile(int32_t first_len, int64_t qo, int64_t request_row0,
                                                     uint32_t tile_begin, const KernelParams& p) {
  const int64_t n = min(qo, static_cast<int64_t>(tile_begin) - request_row0);
  return n > 0 ? sparse_rows_sum32(first_len, n, p) : 0;
}

// Uniform qo: the sparse sum of all rows before the tile, over the requests
// that own them. Out of line, with plain arguments (a reference to the kernel
// parameters would copy them to local memory): only later tiles need it.
template <class KvT>
__device__ __noinline__ uint32_t uniform_tile_offset(const KvT* kv_lens, uint32_t bs, uint32_t qo, uint32_t kv_offset,
                                                     uint32_t topk, uint32_t kpool, uint32_t tile_begin,
                                                     RowBlockStorage& smem) {
  const uint32_t requests = qo > 0 ? min(bs, (tile_begin + qo - 1) / qo) : 0;
  uint64_t sum = 0;
  for (uint32_t b = threadIdx.x; b < requests; b += kThreads) {
    const int64_t kv = detail::offset_kv(kv_lens[b], kv_offset);
    const int64_t n = min(static_cast<int64_t>(qo), static_cast<int64_t>(tile_begin) - static_cast<int64_t>(b) * qo);
    if (n > 0) sum += sparse_rows_sum_sat(detail::clipped_first_len(kv, qo), n, topk, kpool);
  }
  return block_sum_saturated(sum, smem);
}

// Writes the thread's rows to every per-row output, from their lengths and
// owners; tile_offset is the sparse_seqlens sum over the rows before the tile.
// With split outputs, only to output `warp` (warps 0 .. kRowOutputs - 1 get here).
__device__ __forceinline__ void store_row_outputs(const KernelParams& p, uint32_t row0,
                                                  const int32_t (&len)[kRowsPerThread],
                                                  const int32_t (&owner)[kRowsPerThread], uint32_t tile_offset,
                                                  RowBlockStorage& smem) {
  const bool split = split_row_outputs(p);
  const uint32_t warp = threadIdx.x / kWarpThreads;
  if (!split || warp == kSeqlensExpanded) store_rows_all(p, &DestSet::seqlens_expanded, row0, len, p.capacity);
  if (!split || warp == kRowToReq) store_rows_all(p, &DestSet::row_to_req, row0, owner, p.capacity);
  const DestSet& d = p.sets[0];
  if (split && warp != kSparseSeqlens && warp != kSparseCuSeqlensK) return;
  if (!d.sparse_seqlens && !d.sparse_cu_seqlens_k) return;
  int32_t sparse[kRowsPerThread];
  sparse_lens32(p, len, sparse);
  if (!split || warp == kSparseSeqlens) store_rows_all(p, &DestSet::sparse_seqlens, row0, sparse, p.capacity);
  if (!d.sparse_cu_seqlens_k || (split && warp != kSparseCuSeqlensK)) return;
  uint32_t running = 0;
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) running = sat_add(running, static_cast<uint32_t>(sparse[k]));
  if (split) {
    // Every row is this warp's (and the tile is the first: no offset).
    RowWarpScan(smem.warp_scan).ExclusiveScan(running, running, 0u, SatAdd());
  } else {
    // smem.scan is free: a request scan before this ended at a block barrier.
    uint32_t aggregate;
    RowScan(smem.scan).ExclusiveScan(running, running, tile_offset, SatAdd(), aggregate);
  }
  // Element r is the sum over the rows before row r, so each thread stores
  // its rows' exclusive sums at its own rows: aligned as the other per-row
  // outputs are (one 16-byte store; the inclusive sums, one element on, took
  // the scalar path everywhere). Element capacity, the total, comes from the
  // owner of the last row (thread 0 of block 0 at capacity 0); rows past the
  // total have length 0, so the sums stay flat up to it.
  int32_t exclusive[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    exclusive[k] = to_int32(running);
    running = sat_add(running, static_cast<uint32_t>(sparse[k]));
  }
  store_rows_all(p, &DestSet::sparse_cu_seqlens_k, row0, exclusive, p.capacity);
  const uint32_t last_row = max(p.capacity, 1u) - 1;
  if (row0 <= last_row && last_row - row0 < kRowsPerThread) {
    store_all(p, &DestSet::sparse_cu_seqlens_k, p.capacity, to_int32(running));
  }
}

template <class KvT>
__device__ __forceinline__ void uniform_rows_block(const KernelParams& p, RowBlockStorage& smem) {
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const uint32_t qo = p.qo_uniform;
  const uint32_t total = p.bs * qo;  // validated <= capacity on the host
  const bool split = split_row_outputs(p);
  if (split && threadIdx.x >= kRowOutputs * kWarpThreads) return;
  const uint32_t row0 = first_row_of_thread(split);
  const UniformRowLoads u = load_uniform_rows(kv_lens, qo, total, row0);
  const uint32_t tile_begin = blockIdx.x * kRowsPerBlock;
  const uint32_t tile_offset =
      p.sets[0].sparse_cu_seqlens_k && blockIdx.x > 0
          ? uniform_tile_offset<KvT>(kv_lens, p.bs, qo, p.kv_offset, p.topk, p.kpool, tile_begin, smem)
          : 0;
  int32_t len[kRowsPerThread];
  int32_t owner[kRowsPerThread];
  uniform_row_values(u, qo, total, p.kv_offset, row0, len, owner);
  store_row_outputs(p, row0, len, owner, tile_offset, smem);
}

// Loads one chunk of requests into the blocked arrangement the scan takes:
// thread t holds requests kItems * t ... of the chunk, as checked qo and the
// length of each one's first row, clipped to int32 (row_math.h). Faults are
// the request block's business.
template <int kItems, class KvT, class QoT>
__device__ __forceinline__ void load_chunk(const KernelParams& p, uint32_t chunk_begin, uint32_t chunk_size,
                                           uint32_t (&qo)[kItems], int32_t (&first_len)[kItems],
                                           RowBlockStorage& smem) {
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  int32_t ignored = 0;
  if constexpr (kItems == 1) {
    // One request per thread: striped and blocked coincide, straight from memory.
    const bool valid = threadIdx.x < chunk_size;
    const int64_t raw_qo = valid ? load_qo<QoT>(p, chunk_begin + threadIdx.x) : 0;
    const int64_t kv = valid ? static_cast<int64_t>(kv_lens[chunk_begin + threadIdx.x]) : 0;
    qo[0] = static_cast<uint32_t>(detail::checked_qo(raw_qo, p.max_qo, ignored));
    first_len[0] = detail::clipped_first_len(detail::offset_kv(kv, p.kv_offset), qo[0]);
  } else {
    // Coalesced (striped) loads, all in flight together, then a transpose
    // through shared memory, read back with one 16-byte access per array.
    static_assert(kItems == kWideItems && kItems == 4, "the transpose reads one int4 per thread");
    uint32_t* staged_qo = smem.staged_qo;
    int32_t* staged_first_len = smem.staged_first_len;
    int64_t raw_qo[kItems];
    KvT raw_kv[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t local = threadIdx.x + i * kThreads;
      raw_qo[i] = local < chunk_size ? load_qo<QoT>(p, chunk_begin + local) : 0;
      raw_kv[i] = local < chunk_size ? kv_lens[chunk_begin + local] : KvT{0};
    }
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t local = threadIdx.x + i * kThreads;
      const uint32_t checked = static_cast<uint32_t>(detail::checked_qo(raw_qo[i], p.max_qo, ignored));
      staged_qo[local] = checked;
      staged_first_len[local] = detail::clipped_first_len(detail::offset_kv(raw_kv[i], p.kv_offset), checked);
    }
    __syncthreads();
    const uint4 q4 = reinterpret_cast<const uint4*>(staged_qo)[threadIdx.x];
    const int4 f4 = reinterpret_cast<const int4*>(staged_first_len)[threadIdx.x];
    qo[0] = q4.x;
    qo[1] = q4.y;
    qo[2] = q4.z;
    qo[3] = q4.w;
    first_len[0] = f4.x;
    first_len[1] = f4.y;
    first_len[2] = f4.z;
    first_len[3] = f4.w;
  }
}

// Reads one thread's kRowsPerThread rows of a tile array in shared memory:
// rows below `live_end` come from the array, the rest are `tail`.
__device__ __forceinline__ void read_tile_rows(const int32_t* tile, uint32_t local0, uint32_t row0,
                                               uint32_t live_end, int32_t tail, int32_t (&v)[kRowsPerThread]) {
  if (row0 + kRowsPerThread <= live_end) {
    const int4 q = *reinterpret_cast<const int4*>(tile + local0);
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
    return;
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) v[k] = row0 + k < live_end ? tile[local0 + k] : tail;
}

template <class KvT, class QoT, int kItems>
__device__ __forceinline__ void scan_rows_block(const KernelParams& p, RowBlockStorage& smem) {
  constexpr uint32_t kChunk = kThreads * kItems;
  int32_t* tile_len = smem.tile_len;
  int32_t* tile_req = smem.tile_req;
  const SatAdd add;
  const uint32_t tile_begin = blockIdx.x * kRowsPerBlock;
  const uint32_t tile_end = min(tile_begin + kRowsPerBlock, p.capacity);
  // The sparse sum of the rows before the tile, needed past the first tile.
  const bool sparse_offset = p.sets[0].sparse_cu_seqlens_k && blockIdx.x > 0;
  uint64_t rows_before_sum = 0;

  uint32_t carry = 0;  // rows of the chunks before this one, saturated
  const bool one_warp = p.bs <= kWarpThreads;  // then one chunk, and threads past warp 0 hold no request
  for (uint32_t chunk_begin = 0; chunk_begin < p.bs; chunk_begin += kChunk) {
    uint32_t qo[kItems];
    int32_t first_len[kItems];
    load_chunk<kItems, KvT, QoT>(p, chunk_begin, min(p.bs - chunk_begin, kChunk), qo, first_len, smem);
    uint32_t start;
    uint32_t chunk_rows;
    uint32_t thread_rows = 0;
#pragma unroll
    for (int i = 0; i < kItems; ++i) thread_rows = add(thread_rows, qo[i]);
    if (one_warp) {
      // Only warp 0 holds requests; the total reaches the block below.
      if (threadIdx.x < kWarpThreads) RowWarpScan(smem.warp_scan).ExclusiveScan(thread_rows, start, 0u, add, chunk_rows);
    } else {
      RowScan(smem.scan).ExclusiveScan(thread_rows, start, carry, add, chunk_rows);
    }
    const uint32_t first = chunk_begin + threadIdx.x * kItems;
    uint32_t item_start[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      item_start[i] = start;
      if (sparse_offset) rows_before_sum += rows_before_tile(first_len[i], qo[i], start, tile_begin, p);
      start = add(start, qo[i]);
    }
    // The thread's requests own one contiguous run of rows: one loop over the
    // part of it in this tile, the request of each row picked by comparisons
    // (the last request starting at or before it; empty ones are skipped so).
    for (uint32_t row = max(item_start[0], tile_begin); row < min(start, tile_end); ++row) {
      int32_t row_first_len = first_len[0];
      uint32_t row_start = item_start[0];
      uint32_t request = first;
#pragma unroll
      for (int i = 1; i < kItems; ++i) {
        if (row >= item_start[i]) {
          row_first_len = first_len[i];
          row_start = item_start[i];
          request = first + i;
        }
      }
      tile_len[row - tile_begin] = detail::row_len(row_first_len, row - row_start);
      tile_req[row - tile_begin] = static_cast<int32_t>(request);
    }
    carry = add(carry, chunk_rows);
    if (p.bs - chunk_begin <= kChunk) break;  // last chunk
    if (carry >= tile_end) break;             // block-uniform: every row up to the tile's end is placed
    __syncthreads();                          // the next chunk reuses the shared arrays
  }
  const uint32_t tile_offset = sparse_offset ? block_sum_saturated(rows_before_sum, smem) : 0;
  if (one_warp && threadIdx.x == 0) smem.one_warp_rows = carry;
  __syncthreads();  // tile rows complete
  if (one_warp) carry = smem.one_warp_rows;

  const bool split = split_row_outputs(p);
  if (split && threadIdx.x >= kRowOutputs * kWarpThreads) return;
  const uint32_t row0 = first_row_of_thread(split);
  const uint32_t local0 = row0 - tile_begin;
  const uint32_t live_end = min(carry, tile_end);
  int32_t len[kRowsPerThread];
  int32_t owner[kRowsPerThread];
  read_tile_rows(tile_len, local0, row0, live_end, 0, len);
  read_tile_rows(tile_req, local0, row0, live_end, -1, owner);
  store_row_outputs(p, row0, len, owner, tile_offset, smem);
}

}  // namespace cuda_detail
}  // namespace specmeta
