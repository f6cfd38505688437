// What the per-request expansion-only kernels share (expansion_groups.cuh,
// expansion_blocks.cuh): their parameters, the qo check, row sums that may
// saturate, and the status block, the one writer of status when a batch
// spans several blocks.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "device_util.cuh"

namespace specmeta {
namespace cuda_detail {

// Loads per thread per memory round trip where a block reads the whole batch.
constexpr int kLoadsInFlight = 4;

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
  uint32_t row_blocks;      // blocks [0, row_blocks) write rows; the next one, if any, status
  uint32_t block_requests;  // request blocks: requests of each row block, at most kThreads
  uint32_t qo_bits;         // per-request qo: bits of max_qo (every checked qo fits them)
  uint32_t group_block_shift;  // group kernel: log2 of the blocks that share a group's rows
};

// qo as the kernels use it: out of [0, max_qo] counts as 0 rows (the status
// block reports it).
template <class QoT>
__device__ __forceinline__ uint32_t checked_qo(QoT raw, uint32_t max_qo) {
  return raw >= 0 && static_cast<uint64_t>(raw) <= max_qo ? static_cast<uint32_t>(raw) : 0;
}

// Row sums: plain when the host rules out any sum past INT32_MAX (bs *
// max_qo), else sticking at UINT32_MAX (device_util.cuh's sat_add), which
// keeps every sum exact up to INT32_MAX and every larger one above both
// INT32_MAX and the capacity.
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

// Bits of max_qo up to which a warp scans qo by ballots, one per bit: the
// ballots do not wait for each other, unlike the five steps of a shuffle
// scan, but their count grows with max_qo (measured, H100: 31 ballots, as
// for expand_seqlens with a device qo_lens and no max_qo, cost about 0.6 us
// per call more than the five of N = 16).
constexpr uint32_t kBallotScanMaxBits = 5;

// A warp's exclusive sum of qo (x) and its total (y), one qo per lane, every
// qo below 2^qo_bits.
template <bool kSaturate>
__device__ __forceinline__ uint2 warp_rows_scan(uint32_t qo, uint32_t qo_bits) {
  const uint32_t lane = threadIdx.x % kWarpThreads;
  if (qo_bits <= kBallotScanMaxBits) {  // at most 32 * 31 rows: no sum can overflow
    const uint32_t lanes_below = (1u << lane) - 1;
    uint32_t below = 0;
    uint32_t in_warp = 0;
    for (uint32_t bit = 0; bit < qo_bits; ++bit) {
      const uint32_t set = __ballot_sync(kFullWarp, (qo >> bit) & 1u);
      below += static_cast<uint32_t>(__popc(set & lanes_below)) << bit;
      in_warp += static_cast<uint32_t>(__popc(set)) << bit;
    }
    return make_uint2(below, in_warp);
  }
  uint32_t inclusive = qo;
#pragma unroll
  for (uint32_t distance = 1; distance < kWarpThreads; distance <<= 1) {
    const uint32_t up = __shfl_up_sync(kFullWarp, inclusive, distance);
    if (lane >= distance) inclusive = add_rows<kSaturate>(inclusive, up);
  }
  const uint32_t below = __shfl_up_sync(kFullWarp, inclusive, 1);
  return make_uint2(lane == 0 ? 0 : below, __shfl_sync(kFullWarp, inclusive, kWarpThreads - 1));
}

// The status block of a batch spread over several blocks: every request's
// faults and the total, kLoadsInFlight requests per thread per round trip.
template <class KvT, class QoT, bool kSaturate>
__device__ __forceinline__ void request_status_block(const ExpansionParams& p, int32_t* warp_faults,
                                                     uint32_t* warp_rows) {
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  uint32_t rows = 0;
  int32_t faults = 0;
  for (uint32_t base = threadIdx.x; base < p.bs; base += kLoadsInFlight * kThreads) {
    int64_t raw_qo[kLoadsInFlight];
    int64_t raw_kv[kLoadsInFlight];
    load_requests(base, p.bs, raw_qo, [&](uint32_t b) { return static_cast<int64_t>(qo_lens[b]); });
    load_requests(base, p.bs, raw_kv, [&](uint32_t b) { return static_cast<int64_t>(kv_lens[b]); });
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

}  // namespace cuda_detail
}  // namespace specmeta
