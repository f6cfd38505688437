// Lean page-table copies of the builder's bytes, to bound what its copy could
// take (bench_metadata --bound); not a way to build metadata.
//
// The builder learns each row's place on the device (a scan of the accept or
// extend lengths) and gives each (request, part) a block of its own, which
// copies passes part, part + parts, ... of the request's live prefix. These
// kernels copy the same bytes (req_to_token's live prefixes, read once, to
// every row of page_table_1 and to real_page_table's entries) and write
// nothing else:
//   host-planned: a list of units made on the host, one per (request,
//     1024-column pass of its live prefix), in request order; a fixed grid
//     of a few blocks per multiprocessor strides over it, so the resident
//     blocks copy a window of a few rows at a time, as a contiguous copy
//     does. The layout costs nothing on the device.
//   per block: the builder's own layout, a block per (request, part), each
//     request read from seq_lens and req_pool_indices on the device, but
//     with all of a block's passes (1, 2 or 4: parts = passes / that) loaded
//     before any is stored (as the builder's high-occupancy copy now does
//     where kernel_params.cuh's passes_in_flight holds; it loaded and stored
//     one pass at a time before). Rows per request (accept or extend lengths)
//     are summed by each block after its loads, as the builder's larger grids
//     do.
// Every kernel launches as a programmatic dependent, as the builder does. A
// real builder must wait for the grid before it before reading anything it
// could have written (req_to_token included); the load-first form of the
// host-planned copy issues its first units' loads before that wait, which
// only shows what the wait costs.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bench_cuda.cuh"

namespace bench {

constexpr int kPlannedThreads = 256;
constexpr int kPlannedColsPerThread = 4;  // one 16-byte access
constexpr int64_t kPlannedUnitCols = kPlannedThreads * kPlannedColsPerThread;

// One request's pass: `cols` live columns (1..kPlannedUnitCols) from
// req_to_token element `src` to `rows` rows starting at element `pt1` of
// page_table_1 and `rpt` of real_page_table.
struct PlannedUnit {
  int64_t src;
  int64_t pt1;
  int64_t rpt;
  int32_t cols;
  int32_t rows;
};

struct PlannedTables {
  const int32_t* req_to_token;
  int32_t* pt1;
  int32_t* rpt;
  int64_t pt1_stride;
  int64_t rpt_stride;
  int32_t page_shift;  // log2(page size), the page size at least kPlannedColsPerThread
};

// What the per-block copies read.
struct LaidRequests {
  const int64_t* seq_lens;
  const int64_t* req_pool_indices;
  const int32_t* qo_lens;  // accept or extend lengths; null: `rows` rows each
  int64_t kv_offset;       // kv_b = seq_b + kv_offset (target_verify: N)
  int64_t bs;
  int64_t width;           // req_to_token's row length, and the live prefix's bound
  int32_t rows;
  int32_t passes;          // kPlannedUnitCols-column passes of a full row
};

// Units in request order: request b's live prefix min(kv_b, width), split in
// passes, to its qo_b rows from row_start on (requests without rows skipped).
inline std::vector<PlannedUnit> plan_units(const std::vector<int64_t>& qo, const std::vector<int64_t>& kv,
                                           const std::vector<int64_t>& pool_row, int64_t width, int64_t pt1_stride,
                                           int64_t rpt_stride, int64_t page_size) {
  std::vector<PlannedUnit> units;
  int64_t row = 0;
  for (size_t b = 0; b < qo.size(); ++b) {
    const int64_t live = std::min(std::max<int64_t>(kv[b], 0), width);
    if (qo[b] > 0) {
      for (int64_t col = 0; col < live; col += kPlannedUnitCols) {
        units.push_back({pool_row[b] * width + col, row * pt1_stride + col, row * rpt_stride + col / page_size,
                         static_cast<int32_t>(std::min(kPlannedUnitCols, live - col)), static_cast<int32_t>(qo[b])});
      }
    }
    row += std::max<int64_t>(qo[b], 0);
  }
  return units;
}

__device__ __forceinline__ void wait_for_prior_grid() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// This thread's columns col..col + 3 of a unit of `cols` live columns.
__device__ __forceinline__ int4 load_unit_cols(const int32_t* src, int32_t col, int32_t cols) {
  int4 v = make_int4(0, 0, 0, 0);
  if (col + kPlannedColsPerThread <= cols) {
    v = *reinterpret_cast<const int4*>(src + col);
  } else if (col < cols) {
    v.x = src[col];
    if (col + 1 < cols) v.y = src[col + 1];
    if (col + 2 < cols) v.z = src[col + 2];
  }
  return v;
}

template <bool kStreaming>
__device__ __forceinline__ void store_unit_cols(const PlannedTables& t, const PlannedUnit& u, int32_t col, int4 v) {
  if (col >= u.cols) return;
  const bool whole = col + kPlannedColsPerThread <= u.cols;
  const bool page_start = (col & ((1 << t.page_shift) - 1)) == 0;
  for (int32_t r = 0; r < u.rows; ++r) {
    int32_t* dst = t.pt1 + u.pt1 + r * t.pt1_stride + col;
    if (whole && kStreaming) {
      __stcs(reinterpret_cast<int4*>(dst), v);
    } else if (whole) {
      *reinterpret_cast<int4*>(dst) = v;
    } else {
      dst[0] = v.x;
      if (col + 1 < u.cols) dst[1] = v.y;
      if (col + 2 < u.cols) dst[2] = v.z;
    }
    if (page_start) t.rpt[u.rpt + r * t.rpt_stride + (col >> t.page_shift)] = v.x >> t.page_shift;
  }
}

// The units of one step of a block: kUnroll of them, all loaded, then all
// stored. kLoadFirst: the first step's loads before the wait.
template <int kUnroll, bool kStreaming, bool kLoadFirst, class UnitAt>
__device__ __forceinline__ void copy_units(const PlannedTables& t, bool* waited, UnitAt unit_at) {
  const int32_t col = static_cast<int32_t>(threadIdx.x) * kPlannedColsPerThread;
  if (!kLoadFirst && !*waited) {
    wait_for_prior_grid();
    *waited = true;
  }
  PlannedUnit u[kUnroll];
  int4 v[kUnroll];
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) {
    u[k] = unit_at(k);
    v[k] = load_unit_cols(t.req_to_token + u[k].src, col, u[k].cols);
  }
  if (!*waited) {
    wait_for_prior_grid();
    *waited = true;
  }
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) store_unit_cols<kStreaming>(t, u[k], col, v[k]);
}

template <int kUnroll, bool kStreaming, bool kLoadFirst>
__global__ void __launch_bounds__(kPlannedThreads) host_planned_kernel(const PlannedUnit* units, int64_t count,
                                                                       PlannedTables t) {
  asm volatile("griddepcontrol.launch_dependents;");
  bool waited = false;
  const int64_t stride = gridDim.x;
  for (int64_t first = blockIdx.x; first < count; first += stride * kUnroll) {
    copy_units<kUnroll, kStreaming, kLoadFirst>(t, &waited, [&](int k) {
      const int64_t i = first + k * stride;
      return i < count ? units[i] : PlannedUnit{0, 0, 0, 0, 0};
    });
  }
}

// The qo of requests [0, b), summed by the whole block (every thread calls it).
__device__ __forceinline__ int64_t block_rows_before(const int32_t* qo_lens, int64_t b) {
  __shared__ int64_t warp_sums[kPlannedThreads / 32];
  int64_t sum = 0;
  for (int64_t i = threadIdx.x; i < b; i += kPlannedThreads) sum += qo_lens[i];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  int64_t total = 0;
#pragma unroll
  for (int w = 0; w < kPlannedThreads / 32; ++w) total += warp_sums[w];
  return total;
}

// Block b * parts + part: passes part, part + parts, ... of request b,
// kInFlight of them loaded before any is stored; parts = passes / kInFlight
// rounded up, so one round for a full row.
template <int kInFlight, bool kStreaming>
__global__ void __launch_bounds__(kPlannedThreads) per_block_kernel(LaidRequests q, PlannedTables t) {
  asm volatile("griddepcontrol.launch_dependents;");
  const int64_t parts = (q.passes + kInFlight - 1) / kInFlight;
  const int64_t b = blockIdx.x / parts;
  const int64_t part = blockIdx.x % parts;
  wait_for_prior_grid();
  const int64_t live = min(max(q.seq_lens[b] + q.kv_offset, int64_t{0}), q.width);
  const int32_t rows = q.qo_lens ? q.qo_lens[b] : q.rows;
  if (rows <= 0) return;  // block-uniform
  const int64_t src = q.req_pool_indices[b] * q.width;
  const int32_t col = static_cast<int32_t>(threadIdx.x) * kPlannedColsPerThread;
  int64_t row = -1;
  for (int64_t first = part; first * kPlannedUnitCols < live; first += parts * kInFlight) {
    int4 v[kInFlight];
    int32_t cols[kInFlight];
#pragma unroll
    for (int k = 0; k < kInFlight; ++k) {
      const int64_t c0 = (first + k * parts) * kPlannedUnitCols;
      cols[k] = static_cast<int32_t>(min(max(live - c0, int64_t{0}), kPlannedUnitCols));
      v[k] = load_unit_cols(t.req_to_token + src + c0, col, cols[k]);
    }
    if (row < 0) row = q.qo_lens ? block_rows_before(q.qo_lens, b) : b * q.rows;
#pragma unroll
    for (int k = 0; k < kInFlight; ++k) {
      const int64_t c0 = (first + k * parts) * kPlannedUnitCols;
      const PlannedUnit u{0, row * t.pt1_stride + c0, row * t.rpt_stride + (c0 >> t.page_shift), cols[k], rows};
      store_unit_cols<kStreaming>(t, u, col, v[k]);
    }
  }
}

enum class PlannedKind { kHostPlanned, kPerBlock };

// One shape of a lean copy: its kind; for the host-planned kind its blocks
// per multiprocessor, units in flight per thread (1 or 2) and whether its
// first loads go before the wait; for the per-block kind its passes in
// flight (1, 2 or 4); evict-first stores.
struct PlannedConfig {
  const char* name;
  PlannedKind kind;
  int blocks_per_sm;
  int in_flight;
  bool streaming;
  bool load_first;
};

// What bench_metadata --bound times. The bound is the fastest host-planned
// shape that waits first; the others say what the wait and the layout cost.
constexpr PlannedConfig kPlannedConfigs[] = {
    {"host-planned, loads before the wait", PlannedKind::kHostPlanned, 8, 2, true, true},
    {"host-planned, 2 units evict-first", PlannedKind::kHostPlanned, 8, 2, true, false},
    {"host-planned, 2 units", PlannedKind::kHostPlanned, 8, 2, false, false},
    {"host-planned, 1 unit", PlannedKind::kHostPlanned, 8, 1, false, false},
    {"per block, 1 pass", PlannedKind::kPerBlock, 0, 1, true, false},
    {"per block, 2 passes in flight", PlannedKind::kPerBlock, 0, 2, true, false},
    {"per block, 4 passes in flight", PlannedKind::kPerBlock, 0, 4, true, false},
};

constexpr bool is_bound_shape(const PlannedConfig& c) { return c.kind == PlannedKind::kHostPlanned && !c.load_first; }

template <int kUnroll, bool kStreaming>
void launch_host_planned(bool load_first, dim3 grid, const PlannedUnit* units, int64_t count, const PlannedTables& t,
                         cudaStream_t stream) {
  if (load_first) {
    launch_programmatic(host_planned_kernel<kUnroll, kStreaming, true>, grid, kPlannedThreads, 0, stream, units,
                        count, t);
  } else {
    launch_programmatic(host_planned_kernel<kUnroll, kStreaming, false>, grid, kPlannedThreads, 0, stream, units,
                        count, t);
  }
}

template <bool kStreaming>
void launch_planned_streaming(const PlannedConfig& c, int sms, const PlannedUnit* units, int64_t count,
                              const LaidRequests& q, const PlannedTables& t, cudaStream_t stream) {
  if (c.kind == PlannedKind::kHostPlanned) {
    const dim3 grid(static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(int64_t{sms} * c.blocks_per_sm, count))));
    if (c.in_flight == 1) {
      launch_host_planned<1, kStreaming>(c.load_first, grid, units, count, t, stream);
    } else {
      launch_host_planned<2, kStreaming>(c.load_first, grid, units, count, t, stream);
    }
    return;
  }
  const int64_t parts = (q.passes + c.in_flight - 1) / c.in_flight;
  const dim3 grid(static_cast<unsigned>(std::max<int64_t>(1, q.bs * parts)));
  if (q.bs == 0) return;
  if (c.in_flight == 1) {
    launch_programmatic(per_block_kernel<1, kStreaming>, grid, kPlannedThreads, 0, stream, q, t);
  } else if (c.in_flight == 2) {
    launch_programmatic(per_block_kernel<2, kStreaming>, grid, kPlannedThreads, 0, stream, q, t);
  } else {
    launch_programmatic(per_block_kernel<4, kStreaming>, grid, kPlannedThreads, 0, stream, q, t);
  }
}

// Launches shape c: host-planned over `count` units, per block over q.
inline void launch_planned_copy(const PlannedConfig& c, int sms, const PlannedUnit* units, int64_t count,
                                const LaidRequests& q, const PlannedTables& t, cudaStream_t stream) {
  if (c.streaming) {
    launch_planned_streaming<true>(c, sms, units, count, q, t, stream);
  } else {
    launch_planned_streaming<false>(c, sms, units, count, q, t, stream);
  }
}

}  // namespace bench
