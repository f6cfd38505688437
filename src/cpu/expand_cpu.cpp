// CPU backend of the ragged expansion: plain loops, no allocation. It is the
// semantic twin of src/cuda/expand_cuda.cu, bit for bit.
#include <algorithm>
#include <cstdint>

#include "../common/load.h"
#include "../common/row_math.h"
#include "specmeta/expand.h"

namespace specmeta {
namespace {

using detail::load_len;

int64_t request_qo(const ExpandArgs& a, int64_t b, int32_t& fault_bits) {
  if (a.uniform_qo()) return a.qo_uniform;
  return detail::checked_qo(load_len(a.qo_lens.data, a.qo_lens.type, b), a.max_qo, fault_bits);
}

}  // namespace

int64_t count_rows_host(const ExpandArgs& a) {
  if (a.uniform_qo()) return a.bs * a.qo_uniform;
  int32_t ignored = 0;
  int64_t total = 0;
  for (int64_t b = 0; b < a.bs; ++b) total += request_qo(a, b, ignored);
  return total;
}

Status expand_cpu(const ExpandArgs& a) {
  if (Status s = validate(a); !s.ok()) return s;
  const ExpandOutputs& o = a.out;
  int32_t faults = 0;
  int64_t total = 0;  // rows needed so far; int64 so that no sum wraps
  for (int64_t b = 0; b < a.bs; ++b) {
    const int64_t kv = load_len(a.kv_lens.data, a.kv_lens.type, b);
    const int64_t qo = request_qo(a, b, faults);
    faults |= detail::request_faults(kv, qo);
    if (o.cu_seqlens_q.data) o.cu_seqlens_q.data[b] = detail::saturate_int32(total, faults);
    const int64_t live = std::max<int64_t>(0, std::min(qo, a.capacity - total));
    for (int64_t j = 0; j < live; ++j) {
      const int64_t row = total + j;
      if (o.seqlens_expanded.data) o.seqlens_expanded.data[row] = detail::expanded_len(kv, qo, j);
      if (o.row_to_req.data) o.row_to_req.data[row] = static_cast<int32_t>(b);
    }
    total += qo;
  }
  // Prefix sums only grow, so the last one is the only one that can overflow.
  const int32_t total32 = detail::saturate_int32(total, faults);
  if (o.cu_seqlens_q.data) o.cu_seqlens_q.data[a.bs] = total32;
  if (total > a.capacity) faults |= kCapacityExceeded;
  const int64_t num_rows = std::min(total, a.capacity);
  for (int64_t row = num_rows; row < a.capacity; ++row) {
    if (o.seqlens_expanded.data) o.seqlens_expanded.data[row] = 0;
    if (o.row_to_req.data) o.row_to_req.data[row] = -1;
  }
  if (o.num_rows.data) o.num_rows.data[0] = static_cast<int32_t>(num_rows);
  if (o.status.data) o.status.data[0] = faults;
  return {};
}

}  // namespace specmeta
