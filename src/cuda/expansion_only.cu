// Expansion-only kernels: calls that want no more than seqlens_expanded,
// row_to_req, cu_seqlens_q, num_rows and status, into one destination set
// (expand_seqlens, and the foundation's five outputs). The builder's kernel
// (expand_cuda.cu) serves them too, but its blocks carry every role and
// every optional output; these calls are latency-bound (a few KB moved), so
// a short instruction path is what counts: a kernel of a CUDA graph often
// starts on a multiprocessor whose instruction cache is cold.
//
// Uniform qo: blocks of kRowsPerBlock rows (row r is request r / qo's), plus
// one request block when cu_seqlens_q, num_rows or status is wanted: it
// checks every request and is the one writer of the scalars.
//
// Per-request qo: row blocks of up to kThreads requests (one per thread;
// more blocks, fewer requests each, when the capacity is large), and one
// status block, the writer of status, that checks every request. No
// workspace: every row block sums the qo of the whole batch itself
// (kLoadsInFlight loads per thread per memory round trip), which gives it
// the rows before its own requests and the total (one block needs neither);
// a warp scan (one ballot per bit of qo) and one exchange of warp sums
// through shared memory give each request its first row. Owners of narrow
// requests (kDirectMaxQo) store their rows themselves; wider ones are
// placed in shared memory, from where consecutive threads store
// consecutive rows (stores by the owners would hit a 32-byte sector per
// element). The rows past the total are dealt to the row blocks in runs of
// kThreads. Sums are plain 32-bit arithmetic when no sum can pass INT32_MAX
// (bs * max_qo), else saturating (add_rows). Limits: kRaggedMaxBs (every
// block reads the whole batch: beyond it the builder's kernel, whose blocks
// stream the batch in chunks, is the better choice) and kRaggedMaxCapacity
// (a block stages its rows kRowWindow at a time, so the capacity bounds its
// windows).
#include "expansion_only.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "device_util.cuh"
#include "programmatic_launch.h"
#include "uniform_rows.cuh"

namespace specmeta {
namespace cuda_detail {
namespace {

constexpr int64_t kRaggedMaxBs = 4096;
constexpr int64_t kRaggedMaxCapacity = 65536;
// Capacity rows per per-request row block: with more, the requests are
// spread over more blocks, fewer each, so that many rows are stored by
// several multiprocessors (measured: bs = 256, qo up to 16, 4096 rows, took
// 2.4 us in one block, 1.9 us in the builder's four; N = 4, bs = 1024 1.8 us
// with 1024 rows per block, 1.65 us with 512).
constexpr int64_t kRowsPerRaggedBlock = 512;
// A row block whose requests have at most this many rows each lets their
// owners store them; wider ones go through shared memory (measured, qo drawn
// from 1..N: N = 4, bs <= 1024, 0.1-0.2 us faster stored by the owners;
// N = 16 0.2-0.3 us slower, as each row then costs a 32-byte sector).
constexpr uint32_t kDirectMaxQo = 8;
constexpr int kLoadsInFlight = 4;
// Rows a per-request row block stages in shared memory at a time (32 KB):
// all of its requests' rows whenever qo <= 16.
constexpr int kRowWindow = kThreads * 16;
constexpr int kWarps = kThreads / kWarpThreads;
constexpr unsigned kFullWarp = 0xffffffffu;

// Row sums of the per-request kernel: plain when the host rules out any sum
// past INT32_MAX (bs * max_qo), else sticking at UINT32_MAX (device_util.cuh's
// sat_add), which keeps every sum exact up to INT32_MAX and every larger one
// above both INT32_MAX and the capacity.
template <bool kSaturate>
__device__ __forceinline__ uint32_t add_rows(uint32_t a, uint32_t b) {
  if constexpr (kSaturate) {
    return sat_add(a, b);
  } else {
    return a + b;
  }
}

template <bool kSaturate>
__device__ __forceinline__ uint32_t warp_rows_sum(uint32_t value) {
  if constexpr (kSaturate) {
#pragma unroll
    for (int lane_mask = kWarpThreads / 2; lane_mask > 0; lane_mask >>= 1) {
      value = sat_add(value, __shfl_xor_sync(kFullWarp, value, lane_mask));
    }
    return value;
  } else {
    return __reduce_add_sync(kFullWarp, value);
  }
}

struct ExpansionParams {
  const void* kv_lens;
  const void* qo_lens;
  int32_t* seqlens_expanded;
  int32_t* row_to_req;
  int32_t* cu_seqlens_q;
  int32_t* num_rows;
  int32_t* status;
  uint32_t bs;
  uint32_t qo_uniform;
  uint32_t max_qo;
  uint32_t capacity;
  uint32_t kv_offset;
  uint32_t row_blocks;  // blocks [0, row_blocks) write rows; the next one, if any, the requests (status)
  uint32_t block_requests;  // per-request qo: requests of each row block, at most kThreads
  uint32_t qo_bits;         // per-request qo: bits of max_qo (every checked qo fits them)
};

// ---------------------------------------------------------------- uniform qo

template <class KvT>
__device__ __forceinline__ void uniform_row_block(const ExpansionParams& p) {
  const uint32_t qo = p.qo_uniform;
  const uint32_t total = p.bs * qo;  // validated <= capacity on the host
  const uint32_t row0 = blockIdx.x * kRowsPerBlock + threadIdx.x * kRowsPerThread;
  const UniformRowLoads loads = load_uniform_rows(static_cast<const KvT*>(p.kv_lens), qo, total, row0);
  int32_t len[kRowsPerThread];
  int32_t owner[kRowsPerThread];
  uniform_row_values(loads, qo, total, p.kv_offset, row0, len, owner);
  if (p.seqlens_expanded) store_rows(p.seqlens_expanded, row0, len, p.capacity);
  if (p.row_to_req) store_rows(p.row_to_req, row0, owner, p.capacity);
}

template <class KvT>
__device__ __forceinline__ void uniform_request_block(const ExpansionParams& p, int32_t* warp_faults) {
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const uint32_t qo = p.qo_uniform;
  int32_t faults = 0;
  if (p.status) {
    for (uint32_t base = threadIdx.x; base < p.bs; base += kLoadsInFlight * kThreads) {
      int64_t kv[kLoadsInFlight];
#pragma unroll
      for (int i = 0; i < kLoadsInFlight; ++i) {
        const uint32_t b = base + i * kThreads;
        kv[i] = b < p.bs ? static_cast<int64_t>(kv_lens[b]) : 0;
      }
#pragma unroll
      for (int i = 0; i < kLoadsInFlight; ++i) {
        if (base + i * kThreads < p.bs) faults |= detail::request_faults(detail::offset_kv(kv[i], p.kv_offset), qo);
      }
    }
  }
  if (p.cu_seqlens_q) {
    for (uint32_t b = threadIdx.x; b <= p.bs; b += kThreads) p.cu_seqlens_q[b] = static_cast<int32_t>(b * qo);
  }
  if (p.num_rows && threadIdx.x == 0) *p.num_rows = static_cast<int32_t>(p.bs * qo);
  if (!p.status) return;
  publish_warp_or(faults, warp_faults);
  __syncthreads();
  if (threadIdx.x == 0) *p.status = gather_warp_or(warp_faults);
}

template <class KvT>
__global__ void __launch_bounds__(kThreads) uniform_expansion_kernel(ExpansionParams p) {
  __shared__ int32_t warp_faults[kWarps];
  enter_after_prior_grid();
  if (blockIdx.x < p.row_blocks) {
    uniform_row_block<KvT>(p);
  } else {
    uniform_request_block<KvT>(p, warp_faults);
  }
}

// ---------------------------------------------------------- per-request qo

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

template <class QoT>
__device__ __forceinline__ uint32_t checked_qo(QoT raw, uint32_t max_qo) {
  return raw >= 0 && static_cast<uint64_t>(raw) <= max_qo ? static_cast<uint32_t>(raw) : 0;
}

// The status block (the last one): every request's faults and the total.
template <class KvT, class QoT, bool kSaturate>
__device__ __forceinline__ void ragged_status_block(const ExpansionParams& p, int32_t* warp_faults,
                                                    uint32_t* warp_rows) {
  // Every fault bit; a sum past INT32_MAX only where the host could not rule it out.
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  uint32_t rows = 0;
  int32_t faults = 0;
  for (uint32_t base = threadIdx.x; base < p.bs; base += kLoadsInFlight * kThreads) {
    int64_t raw_qo[kLoadsInFlight];
    int64_t raw_kv[kLoadsInFlight];
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      const uint32_t b = base + i * kThreads;
      raw_qo[i] = b < p.bs ? static_cast<int64_t>(qo_lens[b]) : 0;
      raw_kv[i] = b < p.bs ? static_cast<int64_t>(kv_lens[b]) : 0;
    }
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      if (base + i * kThreads >= p.bs) continue;
      const int64_t qo = detail::checked_qo(raw_qo[i], p.max_qo, faults);
      faults |= detail::request_faults(detail::offset_kv(raw_kv[i], p.kv_offset), qo);
      rows = add_rows<kSaturate>(rows, static_cast<uint32_t>(qo));
    }
  }
  rows = warp_rows_sum<kSaturate>(rows);
  publish_warp_or(faults, warp_faults);
  if (threadIdx.x % kWarpThreads == 0) warp_rows[threadIdx.x / kWarpThreads] = rows;
  __syncthreads();
  if (threadIdx.x != 0) return;
  uint32_t total = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total = add_rows<kSaturate>(total, warp_rows[w]);
  faults = gather_warp_or(warp_faults);
  if (total > static_cast<uint32_t>(detail::kInt32Max)) faults |= kInt32Overflow;
  if (total > p.capacity) faults |= kCapacityExceeded;
  *p.status = faults;
}

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
__global__ void __launch_bounds__(kThreads) ragged_expansion_kernel(ExpansionParams p) {
  __shared__ RaggedShared shared;
  enter_after_prior_grid();
  if (blockIdx.x == p.row_blocks) {
    ragged_status_block<KvT, QoT, kSaturate>(p, shared.status_block.warp_faults, shared.status_block.warp_rows);
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
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      raw[i] = base + i * kThreads < p.bs ? qo_lens[base + i * kThreads] : QoT{0};
    }
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      const uint32_t qo = checked_qo(raw[i], p.max_qo);
      all = add_rows<kSaturate>(all, qo);
      before = add_rows<kSaturate>(before, base + i * kThreads < block_first ? qo : 0);
    }
  }
  const uint32_t qo = checked_qo(own_raw_qo, p.max_qo);
  const int32_t first_len = detail::clipped_first_len(detail::offset_kv(own_raw_kv, p.kv_offset), qo);

  // The warp's exclusive scan of qo from one ballot per bit of qo: the
  // ballots do not wait for each other, unlike the steps of a shuffle scan.
  const uint32_t lane = threadIdx.x % kWarpThreads;
  const uint32_t warp = threadIdx.x / kWarpThreads;
  const uint32_t lanes_below = (1u << lane) - 1;
  // A warp's rows reach 32 * INT32_MAX: 64-bit where they may pass INT32_MAX.
  using WarpRows = std::conditional_t<kSaturate, uint64_t, uint32_t>;
  WarpRows below = 0;
  WarpRows in_warp = 0;
  for (uint32_t bit = 0; bit < p.qo_bits; ++bit) {
    const uint32_t set = __ballot_sync(kFullWarp, (qo >> bit) & 1u);
    below += static_cast<WarpRows>(__popc(set & lanes_below)) << bit;
    in_warp += static_cast<WarpRows>(__popc(set)) << bit;
  }
  uint32_t offset = sat_u32(below);  // within the block's run of rows, for now within the warp's
  const uint32_t warp_rows = sat_u32(in_warp);
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

unsigned blocks(int64_t n, int64_t per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

template <class KvT, bool kSaturate>
void launch_ragged(const ExpandArgs& a, unsigned grid, cudaStream_t stream, const ExpansionParams& p) {
  if (a.qo_lens.type == IntType::kInt64) {
    launch_programmatic(ragged_expansion_kernel<KvT, int64_t, kSaturate>, grid, kThreads, stream, p);
  } else {
    launch_programmatic(ragged_expansion_kernel<KvT, int32_t, kSaturate>, grid, kThreads, stream, p);
  }
}

template <class KvT>
void launch_ragged(const ExpandArgs& a, unsigned grid, cudaStream_t stream, const ExpansionParams& p) {
  if (a.bs * a.max_qo <= detail::kInt32Max) {
    launch_ragged<KvT, false>(a, grid, stream, p);
  } else {
    launch_ragged<KvT, true>(a, grid, stream, p);
  }
}

}  // namespace

bool fits_expansion_only(const ExpandArgs& a) {
  const ExpandOutputs& o = a.out;
  if (a.extra_out_count != 0 || a.wants_page_table()) return false;
  if (o.cache_seqlens.wanted() || o.cu_seqlens_k.wanted() || o.sparse_seqlens.wanted() ||
      o.sparse_cu_seqlens_k.wanted()) {
    return false;
  }
  return a.uniform_qo() || (a.bs <= kRaggedMaxBs && a.capacity <= kRaggedMaxCapacity);
}

Status launch_expansion_only(const ExpandArgs& a, cudaStream_t stream) {
  const ExpandOutputs& o = a.out;
  ExpansionParams p{};
  p.kv_lens = a.kv_lens.data;
  p.qo_lens = a.qo_lens.data;
  p.seqlens_expanded = o.seqlens_expanded.data;
  p.row_to_req = o.row_to_req.data;
  p.cu_seqlens_q = o.cu_seqlens_q.data;
  p.num_rows = o.num_rows.data;
  p.status = o.status.data;
  p.bs = static_cast<uint32_t>(a.bs);
  p.qo_uniform = static_cast<uint32_t>(a.qo_uniform);
  p.max_qo = static_cast<uint32_t>(a.max_qo);
  p.capacity = static_cast<uint32_t>(a.capacity);
  p.kv_offset = static_cast<uint32_t>(a.kv_offset);
  const bool rows = p.seqlens_expanded || p.row_to_req;
  const bool requests = p.cu_seqlens_q || p.num_rows || p.status;
  if (!rows && !requests) return {};
  if (a.uniform_qo()) {
    p.row_blocks = rows ? blocks(a.capacity, kRowsPerBlock) : 0;
    const unsigned grid = p.row_blocks + (requests ? 1 : 0);
    if (grid == 0) return {};  // per-row outputs of capacity 0 only
    if (a.kv_lens.type == IntType::kInt64) {
      launch_programmatic(uniform_expansion_kernel<int64_t>, grid, kThreads, stream, p);
    } else {
      launch_programmatic(uniform_expansion_kernel<int32_t>, grid, kThreads, stream, p);
    }
  } else {
    // Row blocks enough for kThreads requests or kRowsPerRaggedBlock rows of
    // capacity each, whichever needs more; the requests spread evenly.
    p.row_blocks = std::max(1u, blocks(a.bs, kThreads));
    if (rows) p.row_blocks = std::max(p.row_blocks, blocks(a.capacity, kRowsPerRaggedBlock));
    p.block_requests = std::max(1u, blocks(a.bs, p.row_blocks));
    p.qo_bits = a.max_qo > 0 ? 64 - static_cast<uint32_t>(__builtin_clzll(static_cast<uint64_t>(a.max_qo))) : 0;
    const unsigned grid = p.row_blocks + (p.status ? 1 : 0);
    if (a.kv_lens.type == IntType::kInt64) {
      launch_ragged<int64_t>(a, grid, stream, p);
    } else {
      launch_ragged<int32_t>(a, grid, stream, p);
    }
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status::cuda_error(std::string("expand_cuda: kernel launch failed: ") + cudaGetErrorString(err));
  }
  return {};
}

}  // namespace cuda_detail
}  // namespace specmeta
