// Expansion-only kernels: calls that want no more than seqlens_expanded,
// row_to_req, cu_seqlens_q, num_rows and status, into one destination set
// (expand_seqlens, and the foundation's five outputs). The builder's kernel
// (expand_cuda.cu) serves them too, but its blocks carry every role and
// every optional output; these calls are latency-bound (a few KB moved), so
// a short instruction path is what counts.
//
// Uniform qo: blocks of kRowsPerBlock rows (row r is request r / qo's), plus
// one request block when cu_seqlens_q, num_rows or status is wanted: it
// checks every request and is the one writer of the scalars.
//
// Per-request qo, up to kRaggedMaxCapacity rows: the group kernel
// (expansion_groups.cuh) for up to kGroupMaxBs requests, the request-block
// kernel (expansion_blocks.cuh) up to kRaggedMaxBs; beyond those, the
// builder's kernel. Both sum rows in plain 32-bit arithmetic where bs *
// max_qo rules out a sum past INT32_MAX, else saturating.
#include "expansion_only.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "device_util.cuh"
#include "expansion_blocks.cuh"
#include "expansion_common.cuh"
#include "expansion_groups.cuh"
#include "programmatic_launch.h"
#include "uniform_rows.cuh"

namespace specmeta {
namespace cuda_detail {
namespace {

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
      load_requests(base, p.bs, kv, [&](uint32_t b) { return static_cast<int64_t>(kv_lens[b]); });
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
__global__ void __launch_bounds__(kThreads) uniform_expansion_kernel(const __grid_constant__ ExpansionParams p) {
  __shared__ int32_t warp_faults[kWarps];
  warm_parameter_cache(p);
  enter_after_prior_grid();
  if (blockIdx.x < p.row_blocks) {
    uniform_row_block<KvT>(p);
  } else {
    uniform_request_block<KvT>(p, warp_faults);
  }
}

// Whether the call's row sums may pass INT32_MAX: only then do the kernels
// take saturating sums (kSaturate), which cost more instructions.
bool row_sums_may_overflow(const ExpandArgs& a) {
  return a.bs * a.max_qo > detail::kInt32Max;
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
  if (row_sums_may_overflow(a)) {
    launch_ragged<KvT, true>(a, grid, stream, p);
  } else {
    launch_ragged<KvT, false>(a, grid, stream, p);
  }
}

// Chunks of 32 requests each warp of a group block sums: one while the batch
// has at most one chunk per warp, else enough for kGroupMaxBs (measured:
// two and four per warp take the same time at 257-512 requests).
constexpr int kFewGroupChunks = 1;
constexpr int kManyGroupChunks = static_cast<int>(kGroupMaxBs / kGroupSize / kWarps);

// log2 of the blocks per group: enough for one 32-row chunk per warp of the
// group's share of the capacity, at most 2^kMaxGroupBlockShift; only while
// a warp sums at most one chunk of the batch per block (at most 256 requests). Measured on
// an H100 (N = 16): bs 33-256 1.47-1.53 -> 1.39-1.41 us; at bs 1024, where
// each extra block repeats four chunks of loads, 1.61 -> 1.83.
uint32_t group_block_shift(int64_t capacity, unsigned groups, bool few_chunks) {
  if (!few_chunks) return 0;
  const unsigned chunks = blocks(blocks(capacity, groups), kRowsPerGroupBlock);
  uint32_t shift = 0;
  while (shift < kMaxGroupBlockShift && (1u << shift) < chunks) ++shift;
  return shift;
}

template <class KvT, class QoT, bool kSaturate, bool kOneRow = false>
void launch_groups(int chunks_per_warp, unsigned grid, cudaStream_t stream, const ExpansionParams& p) {
  if (chunks_per_warp == 0) {
    launch_programmatic(group_expansion_kernel<KvT, QoT, 0, kSaturate, kOneRow>, grid, kThreads, stream, p);
  } else if (chunks_per_warp == kEveryWarpSums) {
    launch_programmatic(group_expansion_kernel<KvT, QoT, kEveryWarpSums, kSaturate, kOneRow>, grid, kThreads, stream,
                        p);
  } else if (chunks_per_warp == kFewGroupChunks) {
    launch_programmatic(group_expansion_kernel<KvT, QoT, kFewGroupChunks, kSaturate, kOneRow>, grid, kThreads, stream,
                        p);
  } else {
    launch_programmatic(group_expansion_kernel<KvT, QoT, kManyGroupChunks, kSaturate, kOneRow>, grid, kThreads, stream,
                        p);
  }
}

template <class KvT>
void launch_groups(const ExpandArgs& a, int chunks_per_warp, unsigned grid, cudaStream_t stream,
                   const ExpansionParams& p) {
  const bool saturate = row_sums_may_overflow(a);
  if (a.max_qo <= 1) {  // at most one row per request (group_expansion_kernel's kOneRow); never saturating
    if (a.qo_lens.type == IntType::kInt64) {
      launch_groups<KvT, int64_t, false, true>(chunks_per_warp, grid, stream, p);
    } else {
      launch_groups<KvT, int32_t, false, true>(chunks_per_warp, grid, stream, p);
    }
  } else if (a.qo_lens.type == IntType::kInt64) {
    if (saturate) {
      launch_groups<KvT, int64_t, true>(chunks_per_warp, grid, stream, p);
    } else {
      launch_groups<KvT, int64_t, false>(chunks_per_warp, grid, stream, p);
    }
  } else if (saturate) {
    launch_groups<KvT, int32_t, true>(chunks_per_warp, grid, stream, p);
  } else {
    launch_groups<KvT, int32_t, false>(chunks_per_warp, grid, stream, p);
  }
}

uint32_t bits_of(int64_t value) {
  return value > 0 ? 64 - static_cast<uint32_t>(__builtin_clzll(static_cast<uint64_t>(value))) : 0;
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

ExpansionKernel pick_expansion_kernel(const ExpandArgs& a) {
  if (a.uniform_qo()) return ExpansionKernel::kUniform;
  if (a.bs <= kGroupMaxBs) return a.bs <= kGroupSize ? ExpansionKernel::kOneGroup : ExpansionKernel::kGroups;
  return ExpansionKernel::kRequestBlocks;
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
  const ExpansionKernel kernel = pick_expansion_kernel(a);
  if (kernel == ExpansionKernel::kUniform) {
    p.row_blocks = rows ? blocks(a.capacity, kRowsPerBlock) : 0;
    const unsigned grid = p.row_blocks + (requests ? 1 : 0);
    if (grid == 0) return {};  // per-row outputs of capacity 0 only
    if (a.kv_lens.type == IntType::kInt64) {
      launch_programmatic(uniform_expansion_kernel<int64_t>, grid, kThreads, stream, p);
    } else {
      launch_programmatic(uniform_expansion_kernel<int32_t>, grid, kThreads, stream, p);
    }
  } else if (kernel == ExpansionKernel::kRequestBlocks) {
    // Row blocks enough for kThreads requests or kRowsPerRaggedBlock rows of
    // capacity each, whichever needs more; the requests spread evenly.
    p.row_blocks = std::max(1u, blocks(a.bs, kThreads));
    if (rows) p.row_blocks = std::max(p.row_blocks, blocks(a.capacity, kRowsPerRaggedBlock));
    p.block_requests = std::max(1u, blocks(a.bs, p.row_blocks));
    p.qo_bits = bits_of(a.max_qo);
    const unsigned grid = p.row_blocks + (p.status ? 1 : 0);
    if (a.kv_lens.type == IntType::kInt64) {
      launch_ragged<int64_t>(a, grid, stream, p);
    } else {
      launch_ragged<int32_t>(a, grid, stream, p);
    }
  } else {
    p.qo_bits = bits_of(a.max_qo);
    int chunks_per_warp = 0;
    unsigned grid = 0;
    if (kernel == ExpansionKernel::kOneGroup) {
      // Every block holds the batch; status comes from block 0.
      p.row_blocks = rows ? std::max(1u, blocks(a.capacity, kOneGroupRowsPerBlock)) : 1;
      grid = p.row_blocks;
    } else {
      const unsigned groups = blocks(a.bs, kGroupSize);
      if (groups <= kWarpSumMaxGroups) {
        chunks_per_warp = kEveryWarpSums;
      } else {
        chunks_per_warp = blocks(groups, kWarps) <= kFewGroupChunks ? kFewGroupChunks : kManyGroupChunks;
      }
      p.group_block_shift = rows ? group_block_shift(a.capacity, groups, chunks_per_warp != kManyGroupChunks) : 0;
      const unsigned group_blocks = groups << p.group_block_shift;
      p.row_blocks = rows ? std::max(group_blocks, blocks(a.capacity, kGroupTailRowsPerBlock)) : group_blocks;
      grid = p.row_blocks + (p.status ? 1 : 0);
    }
    if (a.kv_lens.type == IntType::kInt64) {
      launch_groups<int64_t>(a, chunks_per_warp, grid, stream, p);
    } else {
      launch_groups<int32_t>(a, chunks_per_warp, grid, stream, p);
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
