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
// Per-request qo: one request per thread, a block per kThreads requests, no
// workspace and one block barrier. Every block sums the rows of the whole
// batch itself (kLoadsInFlight requests per thread per memory round trip),
// which gives it the rows before its own requests and the total; a warp
// scan and one exchange of warp sums through shared memory give each
// request its first row. Each warp then writes its requests' rows with
// 2^k lanes per request (2^k >= the warp's largest qo, at most 32), so a
// store instruction covers about 32 consecutive rows instead of 32 rows far
// apart; the rows past the total are split evenly over the blocks. Limits:
// kRaggedMaxBs (every block reads the whole batch: beyond it the builder's
// kernel, whose blocks stream the batch in chunks, is the better choice) and
// kRaggedMaxCapacity (a warp writes a huge request's rows alone; a capacity
// bound keeps that loop short).
#include "expansion_only.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "device_util.cuh"
#include "programmatic_launch.h"
#include "uniform_rows.cuh"

namespace specmeta {
namespace cuda_detail {
namespace {

constexpr int64_t kRaggedMaxBs = 4096;
constexpr int64_t kRaggedMaxCapacity = 65536;
// Rows past the total each block zeroes at most, when the capacity asks for
// more blocks than the batch does.
constexpr int64_t kTailRowsPerBlock = 4096;
constexpr int kLoadsInFlight = 4;
constexpr int kWarpBits = 5;
constexpr int kWarps = kThreads / kWarpThreads;
constexpr unsigned kFullWarp = 0xffffffffu;
static_assert(kWarpThreads == 1 << kWarpBits, "warp lanes are split by shifts");

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
  uint32_t row_blocks;  // uniform qo: blocks [0, row_blocks) write rows, the next one the requests
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

// Per-warp partial results, exchanged once through shared memory.
struct RaggedExchange {
  uint32_t own_rows[kWarps];  // rows of the warp's own requests
  uint32_t before[kWarps];    // the warp's share of the rows before the block's requests
  uint32_t all[kWarps];       // the warp's share of every request's rows
  int32_t faults[kWarps];
};

__device__ __forceinline__ uint32_t warp_sum_saturated(uint32_t value) {
#pragma unroll
  for (int lane_mask = kWarpThreads / 2; lane_mask > 0; lane_mask >>= 1) {
    value = sat_add(value, __shfl_xor_sync(kFullWarp, value, lane_mask));
  }
  return value;
}

// The warp's requests' rows: 2^shift lanes per request, 32 >> shift requests
// per pass, so consecutive lanes write consecutive rows.
__device__ __forceinline__ void write_warp_rows(const ExpansionParams& p, uint32_t qo, uint32_t first_row,
                                                int32_t first_len, uint32_t warp_first_request) {
  const uint32_t widest = __reduce_max_sync(kFullWarp, qo);
  if (widest == 0) return;
  const int shift = widest >= kWarpThreads ? kWarpBits : 32 - __clz(widest - 1);  // ceil(log2(widest))
  const uint32_t lanes = 1u << shift;
  const uint32_t lane = threadIdx.x % kWarpThreads;
  const uint32_t j0 = lane & (lanes - 1);
  for (uint32_t pass = 0; pass < lanes; ++pass) {
    const uint32_t src = (pass << (kWarpBits - shift)) + (lane >> shift);
    const uint32_t src_qo = __shfl_sync(kFullWarp, qo, src);
    const uint32_t src_first_row = __shfl_sync(kFullWarp, first_row, src);
    const int32_t src_first_len = __shfl_sync(kFullWarp, first_len, src);
    if (src_first_row >= p.capacity) continue;
    const uint32_t live = min(src_qo, p.capacity - src_first_row);
    for (uint32_t j = j0; j < live; j += lanes) {
      const uint32_t row = src_first_row + j;
      if (p.seqlens_expanded) p.seqlens_expanded[row] = detail::row_len(src_first_len, j);
      if (p.row_to_req) p.row_to_req[row] = static_cast<int32_t>(warp_first_request + src);
    }
  }
}

// Rows [min(total, capacity), capacity), split evenly over the blocks.
__device__ __forceinline__ void write_tail_rows(const ExpansionParams& p, uint32_t total) {
  const uint32_t begin = min(total, p.capacity);
  const uint32_t share = (p.capacity - begin + gridDim.x - 1) / gridDim.x;
  const uint32_t first = begin + blockIdx.x * share;
  const uint32_t end = min(first + share, p.capacity);
  for (uint32_t row = first + threadIdx.x; row < end; row += kThreads) {
    if (p.seqlens_expanded) p.seqlens_expanded[row] = 0;
    if (p.row_to_req) p.row_to_req[row] = -1;
  }
}

template <class KvT, class QoT>
__global__ void __launch_bounds__(kThreads) ragged_expansion_kernel(ExpansionParams p) {
  __shared__ RaggedExchange exchange;
  enter_after_prior_grid();
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  const uint32_t block_first = blockIdx.x * kThreads;
  const uint32_t own = block_first + threadIdx.x;
  // Block 0 writes status, so it checks every request's kv as well.
  const bool checks_all = blockIdx.x == 0 && p.status != nullptr;
  uint32_t before = 0;  // rows of this thread's requests before the block's, saturated
  uint32_t all = 0;     // rows of all this thread's requests, saturated
  uint32_t qo = 0;      // the block's request of this thread
  int32_t first_len = 0;
  int32_t faults = 0;
  for (uint32_t base = threadIdx.x; base < p.bs; base += kLoadsInFlight * kThreads) {
    int64_t raw_qo[kLoadsInFlight];
    int64_t raw_kv[kLoadsInFlight];
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      const uint32_t b = base + i * kThreads;
      raw_qo[i] = b < p.bs ? static_cast<int64_t>(qo_lens[b]) : 0;
      raw_kv[i] = b < p.bs && (checks_all || b == own) ? static_cast<int64_t>(kv_lens[b]) : 0;
    }
#pragma unroll
    for (int i = 0; i < kLoadsInFlight; ++i) {
      const uint32_t b = base + i * kThreads;
      if (b >= p.bs) continue;
      int32_t bits = 0;
      const uint32_t checked = static_cast<uint32_t>(detail::checked_qo(raw_qo[i], p.max_qo, bits));
      const int64_t kv = detail::offset_kv(raw_kv[i], p.kv_offset);
      all = sat_add(all, checked);
      if (b < block_first) before = sat_add(before, checked);
      if (b == own) {
        qo = checked;
        first_len = detail::clipped_first_len(kv, checked);
      }
      if (checks_all) faults |= bits | detail::request_faults(kv, checked);
    }
  }

  const uint32_t lane = threadIdx.x % kWarpThreads;
  const uint32_t warp = threadIdx.x / kWarpThreads;
  uint32_t inclusive = qo;
#pragma unroll
  for (int d = 1; d < kWarpThreads; d <<= 1) {
    const uint32_t up = __shfl_up_sync(kFullWarp, inclusive, d);
    if (lane >= static_cast<uint32_t>(d)) inclusive = sat_add(inclusive, up);
  }
  uint32_t first_row = __shfl_up_sync(kFullWarp, inclusive, 1);
  if (lane == 0) first_row = 0;
  before = warp_sum_saturated(before);
  all = warp_sum_saturated(all);
  faults = static_cast<int32_t>(__reduce_or_sync(kFullWarp, static_cast<unsigned>(faults)));
  if (lane == kWarpThreads - 1) {
    exchange.own_rows[warp] = inclusive;
    exchange.before[warp] = before;
    exchange.all[warp] = all;
    exchange.faults[warp] = faults;
  }
  __syncthreads();
  uint32_t total = 0;
  before = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    before = sat_add(before, exchange.before[w]);
    total = sat_add(total, exchange.all[w]);
    faults |= exchange.faults[w];
    if (static_cast<uint32_t>(w) < warp) before = sat_add(before, exchange.own_rows[w]);
  }
  first_row = sat_add(first_row, before);

  if (blockIdx.x == 0 && threadIdx.x == 0) {
    if (p.cu_seqlens_q) p.cu_seqlens_q[p.bs] = to_int32(total);
    if (p.num_rows) *p.num_rows = static_cast<int32_t>(min(total, p.capacity));
    if (total > static_cast<uint32_t>(detail::kInt32Max)) faults |= kInt32Overflow;
    if (total > p.capacity) faults |= kCapacityExceeded;
    if (p.status) *p.status = faults;
  }
  if (p.cu_seqlens_q && own < p.bs) p.cu_seqlens_q[own] = to_int32(first_row);
  if (p.seqlens_expanded || p.row_to_req) {
    write_warp_rows(p, qo, first_row, first_len, own - lane);
    write_tail_rows(p, total);
  }
}

unsigned blocks(int64_t n, int64_t per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

template <class KvT>
void launch_ragged(const ExpandArgs& a, unsigned grid, cudaStream_t stream, const ExpansionParams& p) {
  if (a.qo_lens.type == IntType::kInt64) {
    launch_programmatic(ragged_expansion_kernel<KvT, int64_t>, grid, kThreads, stream, p);
  } else {
    launch_programmatic(ragged_expansion_kernel<KvT, int32_t>, grid, kThreads, stream, p);
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
    unsigned grid = std::max(1u, blocks(a.bs, kThreads));
    if (rows) grid = std::max(grid, blocks(a.capacity, kTailRowsPerBlock));
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
