// Small device helpers shared by the CUDA kernels (static where out of line: two translation units include them).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../common/load.h"
#include "../common/row_math.h"
#include "kernel_params.cuh"

namespace specmeta {
namespace cuda_detail {

// Programmatic dependent launch (sm_90). Kernels are launched with the
// programmatic-stream-serialization attribute, so a kernel's launch and
// block scheduling overlap the end of the kernel before it in the stream.
// Each kernel first lets the next one launch early, then waits until the
// previous grid has completed and its memory is visible, before it reads
// any input: stream order is kept, only the launch latency is hidden. On a
// launch without the attribute both instructions do nothing.
__device__ __forceinline__ void enter_after_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// The same wait with the next grid's launch after it instead of before: then
// at most two grids of the stream sit on the GPU at once (kernel_params.cuh,
// kLaunchAfterWaitMaxBlocks, says when the builder does this).
__device__ __forceinline__ void enter_after_prior_grid_then_launch_next() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

// Fetches the line of `address` into L2, a hint with no result: the builder
// issues it before the wait for lines it will read after it.
__device__ __forceinline__ void prefetch_l2(const void* address) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(address));
}

// Kernel parameters sit in a constant bank that every launch fills anew (a
// CUDA-graph node's too), so a multiprocessor's first read of each line of
// them misses the constant cache and waits on L2, one miss after another as
// the code reaches them. Reading one word of each line of the first kBytes
// before waiting for the prior grid takes those misses off the critical
// path: they overlap the prior grid's end. The words go to a shared sink of
// this function's own (outside every kernel's shared union, so no other
// access races with it) so the loads are kept.
constexpr int kParameterLineBytes = 32;

template <size_t kBytes, class Params>
__device__ __forceinline__ void warm_parameter_cache(const Params& p) {
  __shared__ uint32_t sink;
  static_assert(kBytes <= sizeof(Params) && kBytes % sizeof(uint32_t) == 0, "read as 32-bit words");
  const uint32_t* word = reinterpret_cast<const uint32_t*>(&p);
  uint32_t folded = 0;
#pragma unroll
  for (int i = 0; i < static_cast<int>(kBytes / sizeof(uint32_t)); i += kParameterLineBytes / 4) folded ^= word[i];
  if (threadIdx.x == 0) *static_cast<volatile uint32_t*>(&sink) = folded;  // volatile: never read, still kept
}

template <class Params>
__device__ __forceinline__ void warm_parameter_cache(const Params& p) {
  warm_parameter_cache<sizeof(Params)>(p);
}

// N running sums in uint32 that stick at UINT32_MAX. For non-negative
// operands the addition is associative (it equals min(a + b + ..., UINT32_MAX)),
// so a scan with it gives every prefix sum exactly up to INT32_MAX and a value
// above INT32_MAX for any larger one: all that the saturated int32 outputs,
// the row lookup (rows are below capacity <= INT32_MAX) and the overflow bit
// need, at half the shuffle traffic of int64 sums.
template <int N>
struct SatSums {
  uint32_t v[N];
};

__device__ __forceinline__ uint32_t sat_add(uint32_t a, uint32_t b) { return a + min(b, ~a); }

__device__ __forceinline__ uint32_t sat_u32(int64_t value) {
  return value > 0xffffffffll ? 0xffffffffu : static_cast<uint32_t>(value);
}

struct SatAdd {
  __device__ __forceinline__ uint32_t operator()(uint32_t a, uint32_t b) const { return sat_add(a, b); }
};

struct SatSumsAdd {
  template <int N>
  __device__ __forceinline__ SatSums<N> operator()(const SatSums<N>& a, const SatSums<N>& b) const {
    SatSums<N> sum;
#pragma unroll
    for (int k = 0; k < N; ++k) sum.v[k] = sat_add(a.v[k], b.v[k]);
    return sum;
  }
};

template <int N>
__device__ __forceinline__ SatSums<N> zero_sums() {
  SatSums<N> zero;
#pragma unroll
  for (int k = 0; k < N; ++k) zero.v[k] = 0;
  return zero;
}

// A saturated uint32 sum as an int32 output.
__device__ __forceinline__ int32_t to_int32(uint32_t sum) {
  return sum > static_cast<uint32_t>(detail::kInt32Max) ? static_cast<int32_t>(detail::kInt32Max)
                                                        : static_cast<int32_t>(sum);
}

// qo of request i: the host int, or the array element (unchecked).
template <class QoT>
__device__ __forceinline__ int64_t load_qo(const KernelParams& p, uint32_t i) {
  if constexpr (std::is_same_v<QoT, UniformQo>) {
    return p.qo_uniform;
  } else {
    return static_cast<const QoT*>(p.qo_lens)[i];
  }
}

// out[i] = load(base + i * kThreads) for each of kN requests, zero past bs.
// Every load is issued before any value is used, so a thread has kN memory
// round trips in flight at once instead of kN in a row.
template <int kN, class T, class Load>
__device__ __forceinline__ void load_requests(uint32_t base, uint32_t bs, T (&out)[kN], Load load) {
#pragma unroll
  for (int i = 0; i < kN; ++i) {
    const uint32_t r = base + i * kThreads;
    out[i] = r < bs ? load(r) : T{0};
  }
}

__device__ __forceinline__ int64_t load_pool_index(const KernelParams& p, uint32_t i) {
  return p.rpi_int64 ? static_cast<const int64_t*>(p.req_pool_indices)[i]
                     : static_cast<int64_t>(static_cast<const int32_t*>(p.req_pool_indices)[i]);
}

// sparse_seqlens of a thread's rows of lengths x (row_math.h's sparse_len, in
// 32 bits), with one branch on kpool for all of them instead of one per row:
// the row block's time is one warp's dependent chain, branches included.
__device__ __forceinline__ void sparse_lens32(const KernelParams& p, const int32_t (&x)[kRowsPerThread],
                                              int32_t (&sparse)[kRowsPerThread]) {
  const int32_t topk = static_cast<int32_t>(p.topk);
  if (p.kpool == 1) {
#pragma unroll
    for (int k = 0; k < kRowsPerThread; ++k) sparse[k] = min(x[k], topk);
    return;
  }
  const int32_t kpool = static_cast<int32_t>(p.kpool);
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const int32_t f = (x[k] / kpool) * kpool;
    sparse[k] = min(f, topk) + (x[k] - f);
  }
}

// Sum of sparse_seqlens over a request's first n rows, saturated. Out of line:
// only the rarer paths (tiles past the first, the overflow check) need its
// 64-bit closed form, which inlined would lengthen the hot path's code.
static __device__ __noinline__ uint32_t sparse_rows_sum_sat(int32_t first_len, int64_t n, uint32_t topk, uint32_t kpool) {
  return sat_u32(detail::sparse_rows_sum(first_len, n, topk, kpool));
}

__device__ __forceinline__ uint32_t sparse_rows_sum32(int32_t first_len, int64_t n, const KernelParams& p) {
  return sparse_rows_sum_sat(first_len, n, p.topk, p.kpool);
}

// Each warp's OR of `value`, into warp_or[warp]: one writer per slot, so the
// slots need no initialisation; a later barrier makes them visible.
__device__ __forceinline__ void publish_warp_or(int32_t value, int32_t* warp_or) {
  value = static_cast<int32_t>(__reduce_or_sync(0xffffffffu, static_cast<unsigned>(value)));
  if (threadIdx.x % 32 == 0) warp_or[threadIdx.x / 32] = value;
}

__device__ __forceinline__ int32_t gather_warp_or(const int32_t* warp_or) {
  int32_t result = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) result |= warp_or[w];
  return result;
}

// The slow form of store_rows, out of line (see sparse_rows_sum_sat).
static __device__ __noinline__ void store_rows_scalar(int32_t* dst, uint32_t row0, int32_t v0, int32_t v1, int32_t v2,
                                               int32_t v3, uint32_t end) {
  if (row0 < end) dst[row0] = v0;
  if (row0 + 1 < end) dst[row0 + 1] = v1;
  if (row0 + 2 < end) dst[row0 + 2] = v2;
  if (row0 + 3 < end) dst[row0 + 3] = v3;
}

// Writes one thread's kRowsPerThread rows; 16-byte store when the buffer is
// aligned for it (a sliced output may not be) and the rows are all in range.
__device__ __forceinline__ void store_rows(int32_t* dst, uint32_t row0, const int32_t (&v)[kRowsPerThread],
                                           uint32_t end) {
  static_assert(kRowsPerThread == 4, "one int4 per thread");
  if (row0 + kRowsPerThread <= end && (reinterpret_cast<uintptr_t>(dst + row0) & 15) == 0) {
    *reinterpret_cast<int4*>(dst + row0) = make_int4(v[0], v[1], v[2], v[3]);
    return;
  }
  if (row0 < end) store_rows_scalar(dst, row0, v[0], v[1], v[2], v[3], end);
}

// The same rows into one output of every destination set. `field` picks the
// output: a pointer-to-member, so one loop serves all outputs. Set 0, which
// every call has, is stored through fixed parameter offsets, the other sets
// in a loop that one-set calls skip: one loop over all sets compiled to four
// unrolled copies around indexed parameter loads, and small calls took
// 0.13-0.25 us longer with it (H100, bench_metadata; docs/perf-notes.md).
// store_all likewise.
__device__ __forceinline__ void store_rows_all(const KernelParams& p, int32_t* DestSet::*field, uint32_t row0,
                                               const int32_t (&v)[kRowsPerThread], uint32_t end) {
  int32_t* const first = p.sets[0].*field;
  if (first == nullptr) return;
  store_rows(first, row0, v, end);
#pragma unroll 1
  for (int s = 1; s < p.num_sets; ++s) store_rows(p.sets[s].*field, row0, v, end);
}

__device__ __forceinline__ void store_all(const KernelParams& p, int32_t* DestSet::*field, uint32_t index,
                                          int32_t value) {
  int32_t* const first = p.sets[0].*field;
  if (first == nullptr) return;
  first[index] = value;
#pragma unroll 1
  for (int s = 1; s < p.num_sets; ++s) (p.sets[s].*field)[index] = value;
}

}  // namespace cuda_detail
}  // namespace specmeta
