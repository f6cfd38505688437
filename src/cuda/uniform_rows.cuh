// The rows of uniform qo (decode, target_verify, draft_extend_static): row r
// belongs to request r / qo, so a thread finds its rows' requests without a
// scan. Shared by the builder's row blocks and the expansion-only kernel.
#pragma once

#include "device_util.cuh"

namespace specmeta {
namespace cuda_detail {

// The loads of a thread's kRowsPerThread rows, issued together;
// uniform_row_values turns them into lengths and owners. Split in two so a
// caller can issue other loads in between: every global load goes before the
// first store (the compiler may not move a load past a store to an output
// that could alias the input, and each load waited for costs a full memory
// round trip).
struct UniformRowLoads {
  int64_t kv[kRowsPerThread];
  uint32_t req[kRowsPerThread];
  uint32_t col[kRowsPerThread];
};

template <class KvT>
__device__ __forceinline__ UniformRowLoads load_uniform_rows(const KvT* kv_lens, uint32_t qo, uint32_t total,
                                                             uint32_t row0) {
  UniformRowLoads u;
  uint32_t b = qo > 0 ? row0 / qo : 0;
  uint32_t j = row0 - b * qo;
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    u.req[k] = b;
    u.col[k] = j;
    u.kv[k] = row0 + k < total ? static_cast<int64_t>(kv_lens[b]) : 0;
    if (++j == qo) {
      j = 0;
      ++b;
    }
  }
  return u;
}

__device__ __forceinline__ void uniform_row_values(const UniformRowLoads& u, uint32_t qo, uint32_t total,
                                                   uint32_t kv_offset, uint32_t row0, int32_t (&len)[kRowsPerThread],
                                                   int32_t (&owner)[kRowsPerThread]) {
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const bool live = row0 + k < total;
    // Computed for every row, then selected: behind a branch per row, the
    // four 64-bit clamp chains ran one after another instead of interleaved.
    const int32_t value = detail::expanded_len(detail::offset_kv(u.kv[k], kv_offset), qo, u.col[k]);
    len[k] = live ? value : 0;
    owner[k] = live ? static_cast<int32_t>(u.req[k]) : -1;
  }
}

}  // namespace cuda_detail
}  // namespace specmeta
