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

// kv_lens[b] + kv_offset (0 <= kv_offset <= INT32_MAX) without int64
// overflow: kv is clamped to +-2^62 first, which changes no output.
SPECMETA_HD int64_t offset_kv(int64_t raw_kv, int64_t kv_offset) {
  constexpr int64_t kBound = int64_t{1} << 62;
  return (raw_kv < -kBound ? -kBound : raw_kv > kBound ? kBound : raw_kv) + kv_offset;
}

// cache_seqlens, and each term of cu_seqlens_k: kv clamped to [0, INT32_MAX].
SPECMETA_HD int64_t clamped_kv(int64_t kv) { return kv < 0 ? 0 : kv > kInt32Max ? kInt32Max : kv; }

SPECMETA_HD int32_t expanded_len(int64_t kv, int64_t qo, int64_t j) { return row_len(first_row_len(kv, qo), j); }

// first_len clipped to int32. row_len gives the same result from the clipped
// value whenever 0 <= j < 2^31, so the CUDA backend can keep it in 4 bytes.
SPECMETA_HD int32_t clipped_first_len(int64_t kv, int64_t qo) {
  const int64_t first_len = first_row_len(kv, qo);
  if (first_len > kInt32Max) return static_cast<int32_t>(kInt32Max);
  if (first_len < -kInt32Max - 1) return static_cast<int32_t>(-kInt32Max - 1);
  return static_cast<int32_t>(first_len);
}

// sparse_seqlens of a row of length x >= 0 (SPEC section 3): with
// f = (x / kpool) * kpool, min(f, topk) + (x - f). Equals x while f <= topk
// and topk + x % kpool beyond.
SPECMETA_HD int64_t sparse_len(int64_t x, int64_t topk, int64_t kpool) {
  const int64_t f = kpool == 1 ? x : (x / kpool) * kpool;
  return (f < topk ? f : topk) + (x - f);
}

// Sum of sparse_len(x) for x in [0, m), 0 <= m <= 2^31, in closed form:
// x itself below x0 = kpool * (topk / kpool + 1), the first x whose f exceeds
// topk, then topk + x % kpool (x0 is a multiple of kpool). At most 2^62.
SPECMETA_HD int64_t sparse_len_prefix(int64_t m, int64_t topk, int64_t kpool) {
  if (kpool == 1) {  // min(x, topk): no division (a 64-bit one is slow on a GPU)
    if (m <= topk + 1) return m * (m - 1) / 2;
    return topk * (topk + 1) / 2 + (m - topk - 1) * topk;
  }
  const int64_t x0 = kpool * (topk / kpool + 1);
  const int64_t linear = m < x0 ? m : x0;
  int64_t sum = linear * (linear - 1) / 2;
  if (m > x0) {
    const int64_t n = m - x0;
    const int64_t r = n % kpool;
    sum += n * topk + (n / kpool) * (kpool * (kpool - 1) / 2) + r * (r - 1) / 2;
  }
  return sum;
}

// Sum of sparse_seqlens over rows j in [0, n) of a request whose first row
// has length first_len (clipped_first_len): rows are clamp(first_len + j, 0,
// INT32_MAX); those at 0 add nothing, the ones in range are a run of
// consecutive x, the saturated ones add sparse_len(INT32_MAX) each.
SPECMETA_HD int64_t sparse_rows_sum(int32_t first_len, int64_t n, int64_t topk, int64_t kpool) {
  if (n <= 0) return 0;
  const int64_t lo = first_len > 0 ? first_len : 0;
  const int64_t end = first_len + n;  // one past the last row's unclamped length
  const int64_t hi = end < kInt32Max + 1 ? end : kInt32Max + 1;
  int64_t sum = hi > lo ? sparse_len_prefix(hi, topk, kpool) - sparse_len_prefix(lo, topk, kpool) : 0;
  if (end > kInt32Max + 1) sum += (end - (kInt32Max + 1)) * sparse_len(kInt32Max, topk, kpool);
  return sum;
}

// torch's `//` on int32 slot ids: rounds toward negative infinity.
SPECMETA_HD int32_t floor_div(int32_t value, int32_t divisor) {
  const int32_t q = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? q - 1 : q;
}

}  // namespace detail
}  // namespace specmeta
