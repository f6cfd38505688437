// CPU backend of the ragged expansion: plain loops, no allocation. It is the
// semantic twin of src/cuda/, bit for bit; each destination set is computed
// in full by the same loop.
#include <algorithm>
#include <cstdint>

#include "../common/backends.h"
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

// Request b's row of req_to_token, or nullptr: when its pool index is out of
// range (with the fault bit), or when the table is null, which validation
// allows only for a table without elements: no column to copy, and no
// pointer arithmetic on null.
const int32_t* token_row(const ExpandArgs& a, int64_t b, int32_t& fault_bits) {
  const int64_t index = load_len(a.req_pool_indices.data, a.req_pool_indices.type, b);
  if (index < 0 || index >= a.req_to_token.rows) {
    fault_bits |= kBadPoolIndex;
    return nullptr;
  }
  if (a.req_to_token.data == nullptr) return nullptr;
  return a.req_to_token.data + index * a.req_to_token.row_stride;
}

// The live prefix of one page-table row: `live` token columns.
void write_page_rows(const ExpandArgs& a, const ExpandOutputs& o, const int32_t* tokens, int64_t row,
                     int64_t live) {
  if (o.page_table_1.data) {
    std::copy(tokens, tokens + live, o.page_table_1.data + row * o.page_table_1.row_stride);
  }
  if (o.real_page_table.data) {
    int32_t* dst = o.real_page_table.data + row * o.real_page_table.row_stride;
    const int32_t ps = static_cast<int32_t>(a.page_size);
    for (int64_t p = 0; p * ps < live; ++p) dst[p] = detail::floor_div(tokens[p * ps], ps);
  }
}

void expand_set(const ExpandArgs& a, const ExpandOutputs& o) {
  int32_t faults = 0;
  int64_t total = 0;       // rows needed so far; int64 so that no sum wraps
  int64_t kv_sum = 0;      // of kv clamped to [0, INT32_MAX]
  int64_t sparse_sum = 0;  // of sparse_seqlens over the rows written
  const bool kv_outputs = o.cache_seqlens.wanted() || o.cu_seqlens_k.wanted();
  if (o.cu_seqlens_k.data) o.cu_seqlens_k.data[0] = 0;
  if (o.sparse_cu_seqlens_k.data) o.sparse_cu_seqlens_k.data[0] = 0;
  for (int64_t b = 0; b < a.bs; ++b) {
    const int64_t kv = detail::offset_kv(load_len(a.kv_lens.data, a.kv_lens.type, b), a.kv_offset);
    const int64_t qo = request_qo(a, b, faults);
    faults |= detail::request_faults(kv, qo);
    if (kv_outputs && kv > detail::kInt32Max) faults |= kInt32Overflow;
    kv_sum += detail::clamped_kv(kv);
    if (o.cache_seqlens.data) o.cache_seqlens.data[b] = static_cast<int32_t>(detail::clamped_kv(kv));
    if (o.cu_seqlens_k.data) o.cu_seqlens_k.data[b + 1] = detail::saturate_int32(kv_sum, faults);
    if (o.cu_seqlens_q.data) o.cu_seqlens_q.data[b] = detail::saturate_int32(total, faults);
    const int32_t* tokens = a.wants_page_table() ? token_row(a, b, faults) : nullptr;
    const int64_t page_cols = a.full_width ? a.width : std::min(detail::clamped_kv(kv), a.width);
    const int64_t live = std::max<int64_t>(0, std::min(qo, a.capacity - total));
    for (int64_t j = 0; j < live; ++j) {
      const int64_t row = total + j;
      const int32_t len = detail::expanded_len(kv, qo, j);
      const int64_t sparse = detail::sparse_len(len, a.topk, a.kpool);
      sparse_sum += sparse;
      if (o.seqlens_expanded.data) o.seqlens_expanded.data[row] = len;
      if (o.sparse_seqlens.data) o.sparse_seqlens.data[row] = static_cast<int32_t>(sparse);
      if (o.sparse_cu_seqlens_k.data) {
        o.sparse_cu_seqlens_k.data[row + 1] = detail::saturate_int32(sparse_sum, faults);
      }
      if (o.row_to_req.data) o.row_to_req.data[row] = static_cast<int32_t>(b);
      if (tokens) write_page_rows(a, o, tokens, row, page_cols);
    }
    total += qo;
  }
  // Prefix sums only grow, so the last one is the only one that can overflow.
  const int32_t total32 = detail::saturate_int32(total, faults);
  if (o.cu_seqlens_q.data) o.cu_seqlens_q.data[a.bs] = total32;
  if (total > a.capacity) faults |= kCapacityExceeded;
  const int64_t num_rows = std::min(total, a.capacity);
  const int32_t sparse_end = o.sparse_cu_seqlens_k.data ? detail::saturate_int32(sparse_sum, faults) : 0;
  const bool per_row = o.seqlens_expanded.data || o.sparse_seqlens.data || o.sparse_cu_seqlens_k.data || o.row_to_req.data;
  for (int64_t row = num_rows; per_row && row < a.capacity; ++row) {
    if (o.seqlens_expanded.data) o.seqlens_expanded.data[row] = 0;
    if (o.sparse_seqlens.data) o.sparse_seqlens.data[row] = 0;
    if (o.sparse_cu_seqlens_k.data) o.sparse_cu_seqlens_k.data[row + 1] = sparse_end;
    if (o.row_to_req.data) o.row_to_req.data[row] = -1;
  }
  if (o.num_rows.data) o.num_rows.data[0] = static_cast<int32_t>(num_rows);
  if (o.status.data) o.status.data[0] = faults;
}

}  // namespace

int64_t count_rows_host(const ExpandArgs& a) {
  if (a.uniform_qo()) return a.bs * a.qo_uniform;
  int32_t ignored = 0;
  int64_t total = 0;
  for (int64_t b = 0; b < a.bs; ++b) total += request_qo(a, b, ignored);
  return total;
}

namespace detail {

void expand_cpu_validated(const ExpandArgs& a) {
  expand_set(a, a.out);
  for (int i = 0; i < a.extra_out_count; ++i) expand_set(a, a.extra_out[i]);
}

}  // namespace detail

Status expand_cpu(const ExpandArgs& a) {
  if (Status s = validate(a); !s.ok()) return s;
  detail::expand_cpu_validated(a);
  return {};
}

}  // namespace specmeta
