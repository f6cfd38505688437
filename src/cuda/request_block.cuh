// The request block: the one writer of the per-request outputs
// (cache_seqlens, cu_seqlens_k, cu_seqlens_q) and of the scalars (num_rows,
// status), so no output needs global atomics or a reset pass. It sees every
// request, so it also raises every fault bit; row and page-table blocks only
// apply the safe behaviour.
//
// It scans only what the call needs: the rows for per-request qo (uniform qo
// gives cu_seqlens_q = b * qo) and the kv lengths for cu_seqlens_k; with
// neither, no scan at all. Whether sparse_cu_seqlens_k overflows is a sum
// over the requests of their written rows' sparse lengths, reduced, not
// scanned, and only when the host cannot rule it out (check_sparse_overflow).
#pragma once

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/warp/warp_scan.cuh>

#include "device_util.cuh"

namespace specmeta {
namespace cuda_detail {

// What the request block needs to know of one request, and the faults it raises.
struct RequestFacts {
  int64_t kv;
  int64_t qo;
  int32_t first_len;
};

__device__ __forceinline__ RequestFacts request_facts(const KernelParams& p, bool page_tables, bool kv_outputs,
                                                      int64_t raw_kv, int64_t raw_qo, int64_t pool_index,
                                                      int32_t& faults) {
  RequestFacts f;
  f.kv = detail::offset_kv(raw_kv, p.kv_offset);
  f.qo = detail::checked_qo(raw_qo, p.max_qo, faults);
  faults |= detail::request_faults(f.kv, f.qo);
  if (kv_outputs && f.kv > detail::kInt32Max) faults |= kInt32Overflow;
  if (page_tables && (pool_index < 0 || pool_index >= p.pool_rows)) faults |= kBadPoolIndex;
  f.first_len = detail::clipped_first_len(f.kv, f.qo);
  return f;
}

// sparse_seqlens summed over the rows of a request that fit the capacity,
// capped at 2^32 (anything above INT32_MAX is an overflow already).
__device__ __forceinline__ uint64_t written_sparse(const KernelParams& p, const RequestFacts& f, uint64_t first_row) {
  if (first_row >= p.capacity) return 0;
  const int64_t rows = min(static_cast<uint64_t>(f.qo), p.capacity - first_row);
  return sparse_rows_sum32(f.first_len, rows, p);
}

// Thread 0's last step: the scalars and the batch-wide bits, from the sums
// over every request.
__device__ __forceinline__ void write_scalars(const KernelParams& p, uint32_t total, uint32_t kv_total,
                                              uint64_t sparse_total, int32_t faults) {
  const DestSet& d = p.sets[0];
  if (total > detail::kInt32Max) faults |= kInt32Overflow;
  if (total > p.capacity) faults |= kCapacityExceeded;
  if (d.cu_seqlens_k && kv_total > detail::kInt32Max) faults |= kInt32Overflow;
  if (p.check_sparse_overflow && sparse_total > detail::kInt32Max) faults |= kInt32Overflow;
  store_all(p, &DestSet::cu_seqlens_q, p.bs, to_int32(total));
  store_all(p, &DestSet::cu_seqlens_k, 0, 0);
  store_all(p, &DestSet::num_rows, 0, static_cast<int32_t>(min(total, p.capacity)));
  store_all(p, &DestSet::status, 0, faults);
}

using FaultReduce = cub::BlockReduce<uint64_t, kThreads>;

template <int kFields>
using RequestScan = cub::BlockScan<SatSums<kFields>, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
template <int kFields>
using RequestWarpScan = cub::WarpScan<SatSums<kFields>>;

// A request block's shared memory; one member of the kernel's shared union.
// Sized for the widest scan (two fields) and the wide arrangement.
struct RequestBlockStorage {
  union {
    typename RequestScan<1>::TempStorage one;
    typename RequestScan<2>::TempStorage two;
    typename RequestWarpScan<1>::TempStorage warp_one;
    typename RequestWarpScan<2>::TempStorage warp_two;
  } scan;
  typename FaultReduce::TempStorage reduce;
  int32_t warp_faults[kThreads / 32];
  // A chunk on its way from the striped to the blocked arrangement.
  SatSums<2> staged_sums[kThreads * kWideItems];
  uint32_t staged_qo[kThreads * kWideItems];
  int32_t staged_first_len[kThreads * kWideItems];
};

template <int kFields>
__device__ __forceinline__ typename RequestScan<kFields>::TempStorage& scan_storage(RequestBlockStorage& smem) {
  if constexpr (kFields == 1) {
    return smem.scan.one;
  } else {
    return smem.scan.two;
  }
}

template <int kFields>
__device__ __forceinline__ typename RequestWarpScan<kFields>::TempStorage& warp_scan_storage(
    RequestBlockStorage& smem) {
  if constexpr (kFields == 1) {
    return smem.scan.warp_one;
  } else {
    return smem.scan.warp_two;
  }
}

// The end of the block: every thread's faults and sparse sum gathered, then
// thread 0 writes the scalars.
__device__ __forceinline__ void finish_requests(const KernelParams& p, uint32_t total, uint32_t kv_total,
                                                uint64_t sparse_sum, int32_t faults, RequestBlockStorage& smem) {
  if (p.check_sparse_overflow) sparse_sum = FaultReduce(smem.reduce).Sum(sparse_sum);
  publish_warp_or(faults, smem.warp_faults);
  __syncthreads();
  if (threadIdx.x == 0) write_scalars(p, total, kv_total, sparse_sum, gather_warp_or(smem.warp_faults));
}

// Uniform qo and no cu_seqlens_k: the requests are only checked and
// cu_seqlens_q is b * qo; kRequestLoads loads per thread in flight at once.
template <class KvT>
__device__ __forceinline__ void request_block_direct(const KernelParams& p, RequestBlockStorage& smem) {
  constexpr int kRequestLoads = 4;
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const DestSet& d = p.sets[0];
  const bool kv_outputs = d.cache_seqlens != nullptr;
  const bool page_tables = p.check_pool_indices;
  const bool check_sparse = p.check_sparse_overflow;
  int32_t faults = 0;
  uint64_t sparse_sum = 0;
  for (uint32_t base = threadIdx.x; base < p.bs; base += kRequestLoads * kThreads) {
    int64_t raw_kv[kRequestLoads];
    int64_t pool_index[kRequestLoads];
    load_requests(base, p.bs, raw_kv, [&](uint32_t r) { return static_cast<int64_t>(kv_lens[r]); });
    load_requests(base, p.bs, pool_index, [&](uint32_t r) { return page_tables ? load_pool_index(p, r) : 0; });
#pragma unroll
    for (int i = 0; i < kRequestLoads; ++i) {
      const uint32_t r = base + i * kThreads;
      if (r >= p.bs) break;
      const RequestFacts f = request_facts(p, page_tables, kv_outputs, raw_kv[i], p.qo_uniform, pool_index[i], faults);
      const uint32_t first_row = r * p.qo_uniform;  // at most bs * qo <= capacity
      store_all(p, &DestSet::cache_seqlens, r, static_cast<int32_t>(detail::clamped_kv(f.kv)));
      store_all(p, &DestSet::cu_seqlens_q, r, static_cast<int32_t>(first_row));
      if (check_sparse) sparse_sum += written_sparse(p, f, first_row);
    }
  }
  finish_requests(p, p.bs * p.qo_uniform, 0, sparse_sum, faults, smem);
}

// The scan form: chunks of kThreads * kItems requests, loaded striped (one
// coalesced load per array and item, all in flight together), checked and
// written there (faults, cache_seqlens), then transposed through shared memory
// into the blocked arrangement of the scan, which writes the prefix sums.
// Scanned fields: the rows when qo is per request, kv when kKvScan.
template <class KvT, class QoT, int kItems, bool kKvScan>
__device__ __forceinline__ void request_block_scan(const KernelParams& p, RequestBlockStorage& smem) {
  constexpr bool kRowsScan = !std::is_same_v<QoT, UniformQo>;
  constexpr int kFields = int{kRowsScan} + int{kKvScan};
  constexpr int kRows = 0;                   // field of the rows, when scanned
  constexpr int kKv = kRowsScan ? 1 : 0;     // field of kv, when scanned
  using Sums = SatSums<kFields>;
  constexpr uint32_t kChunk = kThreads * kItems;
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const DestSet& d = p.sets[0];
  const bool kv_outputs = d.cache_seqlens || d.cu_seqlens_k;
  const bool page_tables = p.check_pool_indices;
  const SatSumsAdd add;

  int32_t faults = 0;
  uint64_t sparse_sum = 0;
  Sums carry = zero_sums<kFields>();
  for (uint32_t chunk_begin = 0; chunk_begin < p.bs; chunk_begin += kChunk) {
    int64_t raw_kv[kItems];
    int64_t raw_qo[kItems];
    int64_t pool_index[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t r = chunk_begin + threadIdx.x + i * kThreads;
      const bool valid = r < p.bs;
      raw_kv[i] = valid ? static_cast<int64_t>(kv_lens[r]) : 0;
      raw_qo[i] = valid ? load_qo<QoT>(p, r) : 0;
      pool_index[i] = valid && page_tables ? load_pool_index(p, r) : 0;
    }
    Sums item[kItems];
    RequestFacts facts[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t r = chunk_begin + threadIdx.x + i * kThreads;
      facts[i] = RequestFacts{0, 0, 0};
      if (r < p.bs) {
        facts[i] = request_facts(p, page_tables, kv_outputs, raw_kv[i], raw_qo[i], pool_index[i], faults);
        store_all(p, &DestSet::cache_seqlens, r, static_cast<int32_t>(detail::clamped_kv(facts[i].kv)));
      }
      if constexpr (kRowsScan) item[i].v[kRows] = static_cast<uint32_t>(facts[i].qo);
      if constexpr (kKvScan) item[i].v[kKv] = static_cast<uint32_t>(detail::clamped_kv(facts[i].kv));
    }
    if constexpr (kItems > 1) {
      // Only what the blocked side reads: the scanned fields, and qo and the
      // first row's length for the sparse sum.
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        const uint32_t local = threadIdx.x + i * kThreads;
#pragma unroll
        for (int k = 0; k < kFields; ++k) smem.staged_sums[local].v[k] = item[i].v[k];
        smem.staged_qo[local] = static_cast<uint32_t>(facts[i].qo);
        smem.staged_first_len[local] = facts[i].first_len;
      }
      __syncthreads();
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        const uint32_t local = threadIdx.x * kItems + i;
#pragma unroll
        for (int k = 0; k < kFields; ++k) item[i].v[k] = smem.staged_sums[local].v[k];
        facts[i].qo = smem.staged_qo[local];
        facts[i].first_len = smem.staged_first_len[local];
      }
    }
    Sums start = zero_sums<kFields>();
#pragma unroll
    for (int i = 0; i < kItems; ++i) start = add(start, item[i]);
    Sums chunk_sum;
    uint64_t item_first_row[kItems];
    if (p.bs <= kWarpThreads) {
      // One chunk whose requests are all warp 0's: thread 0's carry is all
      // finish_requests reads, the other warps hold nothing.
      if (threadIdx.x < kWarpThreads) {
        RequestWarpScan<kFields>(warp_scan_storage<kFields>(smem)).ExclusiveScan(start, start, carry, add, chunk_sum);
      }
    } else {
      RequestScan<kFields>(scan_storage<kFields>(smem)).ExclusiveScan(start, start, carry, add, chunk_sum);
    }
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t r = chunk_begin + threadIdx.x * kItems + i;
      uint64_t first_row = static_cast<uint64_t>(r) * p.qo_uniform;
      if constexpr (kRowsScan) first_row = start.v[kRows];
      if (r < p.bs) {
        store_all(p, &DestSet::cu_seqlens_q, r, to_int32(static_cast<uint32_t>(min(first_row, uint64_t{0xffffffffu}))));
        if constexpr (kKvScan) {
          store_all(p, &DestSet::cu_seqlens_k, r + 1, to_int32(sat_add(start.v[kKv], item[i].v[kKv])));
        }
      }
      item_first_row[i] = first_row;
      start = add(start, item[i]);
    }
    if (p.check_sparse_overflow) {
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        if (chunk_begin + threadIdx.x * kItems + i < p.bs) sparse_sum += written_sparse(p, facts[i], item_first_row[i]);
      }
    }
    carry = add(carry, chunk_sum);
    __syncthreads();  // the next chunk reuses the shared arrays
  }
  uint32_t total = p.bs * p.qo_uniform;  // uniform qo: validated <= capacity
  if constexpr (kRowsScan) total = carry.v[kRows];
  uint32_t kv_total = 0;
  if constexpr (kKvScan) kv_total = carry.v[kKv];
  finish_requests(p, total, kv_total, sparse_sum, faults, smem);
}

template <class KvT, class QoT, int kItems>
__device__ __forceinline__ void request_block(const KernelParams& p, RequestBlockStorage& smem) {
  if (p.sets[0].cu_seqlens_k) {
    request_block_scan<KvT, QoT, kItems, true>(p, smem);
  } else if constexpr (std::is_same_v<QoT, UniformQo>) {
    request_block_direct<KvT>(p, smem);
  } else {
    request_block_scan<KvT, QoT, kItems, false>(p, smem);
  }
}

}  // namespace cuda_detail
}  // namespace specmeta
