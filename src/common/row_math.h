// Per-request and per-row arithmetic shared by the CPU and CUDA backends, so
// both apply the same clamping and saturation rules (SPEC sections 3 and 6).
#pragma once

#include <cstdint>

#include "specmeta/types.h"

#if defined(__CUDACC__)
#define SPECMETA_HD __host__ __device__ __forceinline__
#else
#define SPECMETA_HD inline
#endif

namespace specmeta {
namespace detail {

constexpr int64_t kInt32Max = 2147483647;

SPECMETA_HD int32_t saturate_int32(int64_t value, int32_t& fault_bits) {
  if (value > kInt32Max) {
    fault_bits |= kInt32Overflow;
    return static_cast<int32_t>(kInt32Max);
  }
  return static_cast<int32_t>(value);
}

// qo_b outside [0, max_qo] is a data fault: the request contributes no rows.
SPECMETA_HD int64_t checked_qo(int64_t raw_qo, int64_t max_qo, int32_t& fault_bits) {
  if (raw_qo < 0 || raw_qo > max_qo) {
    fault_bits |= kQoOutOfRange;
    return 0;
  }
  return raw_qo;
}

// Faults a request raises whatever rows are written: qo > kv clamps lengths
// at 0; a last row longer than int32 saturates.
SPECMETA_HD int32_t request_faults(int64_t kv, int64_t qo) {
  int32_t bits = 0;
  if (qo > kv) bits |= kQoExceedsKv;
  if (qo > 0 && kv > kInt32Max) bits |= kInt32Overflow;
  return bits;
}

// seqlens_expanded of row j of a request whose first row has length
// first_len = kv - qo + 1: the causal KV length of that query token,
// max(first_len + j, 0), saturated to int32.
SPECMETA_HD int32_t row_len(int64_t first_len, int64_t j) {
  const int64_t len = first_len + j;
  if (len <= 0) return 0;
  return len > kInt32Max ? static_cast<int32_t>(kInt32Max) : static_cast<int32_t>(len);
}

// kv - qo + 1 without int64 overflow: kv is clamped to +-2^62 first, which
// changes no result (0 <= qo, j < 2^31, so such a row is 0 or saturates).
SPECMETA_HD int64_t first_row_len(int64_t kv, int64_t qo) {
  constexpr int64_t kBound = int64_t{1} << 62;
  const int64_t safe_kv = kv < -kBound ? -kBound : kv > kBound ? kBound : kv;
  return safe_kv - qo + 1;
}

SPECMETA_HD int32_t expanded_len(int64_t kv, int64_t qo, int64_t j) { return row_len(first_row_len(kv, qo), j); }

// first_len clipped to int32. row_len gives the same result from the clipped
// value whenever 0 <= j < 2^31, so the CUDA backend can keep it in 4 bytes.
SPECMETA_HD int32_t clipped_first_len(int64_t kv, int64_t qo) {
  const int64_t first_len = first_row_len(kv, qo);
  if (first_len > kInt32Max) return static_cast<int32_t>(kInt32Max);
  if (first_len < -kInt32Max - 1) return static_cast<int32_t>(-kInt32Max - 1);
  return static_cast<int32_t>(first_len);
}

}  // namespace detail
}  // namespace specmeta
