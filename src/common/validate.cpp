// Host-visible argument checks shared by both backends (SPEC section 6).
#include <cstdint>
#include <string>
#include <vector>

#include "row_math.h"
#include "specmeta/expand.h"

namespace specmeta {
namespace {

using std::to_string;

Status expect_size(const std::string& name, int64_t given, int64_t needed, const char* what) {
  if (given >= needed) return {};
  return Status::invalid_argument(name + ": expected at least " + to_string(needed) + " elements (" + what +
                                  "), got " + to_string(given));
}

Status check_output(const std::string& name, const OutSpan& span, int64_t needed, const char* what) {
  if (!span.wanted()) {
    if (span.data == nullptr) return {};
    return Status::invalid_argument(name + ": expected a size >= 0 with a buffer, got size " + to_string(span.size));
  }
  if (Status s = expect_size(name, span.size, needed, what); !s.ok()) return s;
  if (needed > 0 && span.data == nullptr) {
    return Status::invalid_argument(name + ": expected a buffer of " + to_string(needed) +
                                    " elements, got a null pointer");
  }
  return {};
}

Status expect_range(const std::string& name, int64_t given, int64_t lo, int64_t hi) {
  if (given >= lo && given <= hi) return {};
  return Status::invalid_argument(name + ": expected a value in [" + to_string(lo) + ", " + to_string(hi) +
                                  "], got " + to_string(given));
}

Status check_input(const char* name, const IntSpan& span, int64_t bs) {
  if (span.type != IntType::kInt32 && span.type != IntType::kInt64) {
    return Status::invalid_argument(std::string(name) + ": expected int32 or int64 elements, got type code " +
                                    to_string(static_cast<int>(span.type)));
  }
  if (bs > 0 && span.data == nullptr) {
    return Status::invalid_argument(std::string(name) + ": expected an array of " + to_string(bs) +
                                    " elements, got a null pointer");
  }
  return expect_size(name, span.size, bs, "bs");
}

// Row layout of a table: row_stride >= cols, and a buffer when it has elements.
Status check_layout(const std::string& name, const void* data, int64_t rows, int64_t cols, int64_t row_stride) {
  if (Status s = expect_range(name + " columns", cols, 0, detail::kInt32Max); !s.ok()) return s;
  if (Status s = expect_range(name + " row stride", row_stride, cols, INT64_MAX / 4); !s.ok()) return s;
  // The table's byte extent, computed for the overlap checks, must fit int64.
  constexpr int64_t kMaxElements = INT64_MAX / 4;
  if (rows > 1 && row_stride > (kMaxElements - cols) / (rows - 1)) {
    return Status::invalid_argument(name + ": expected (rows - 1) * row stride + columns <= " +
                                    to_string(kMaxElements) + " elements, got " + to_string(rows) + " rows of stride " +
                                    to_string(row_stride));
  }
  if (rows > 0 && cols > 0 && data == nullptr) {
    return Status::invalid_argument(name + ": expected a buffer of " + to_string(rows) + " x " + to_string(cols) +
                                    " elements, got a null pointer");
  }
  return {};
}

Status check_table(const std::string& name, const OutTable& t, int64_t rows, int64_t cols, const char* what) {
  if (!t.wanted()) {
    if (t.data == nullptr) return {};
    return Status::invalid_argument(name + ": expected rows >= 0 with a buffer, got rows " + to_string(t.rows));
  }
  if (t.rows < rows) {
    return Status::invalid_argument(name + ": expected at least " + to_string(rows) + " rows (capacity), got " +
                                    to_string(t.rows));
  }
  if (t.cols != cols) {
    return Status::invalid_argument(name + ": expected " + to_string(cols) + " columns (" + what + "), got " +
                                    to_string(t.cols));
  }
  return check_layout(name, t.data, t.rows, t.cols, t.row_stride);
}

// Bytes a table spans in memory: full rows but the last.
int64_t table_bytes(int64_t rows, int64_t cols, int64_t row_stride) {
  if (rows <= 0 || cols <= 0) return 0;
  return ((rows - 1) * row_stride + cols) * static_cast<int64_t>(sizeof(int32_t));
}

struct NamedRange {
  std::string name;
  const void* begin;
  int64_t bytes;
};

bool overlaps(const NamedRange& a, const NamedRange& b) {
  if (a.begin == nullptr || b.begin == nullptr || a.bytes <= 0 || b.bytes <= 0) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.begin);
  const auto b0 = reinterpret_cast<uintptr_t>(b.begin);
  return a0 < b0 + static_cast<uintptr_t>(b.bytes) && b0 < a0 + static_cast<uintptr_t>(a.bytes);
}

// Each output's name and shape as text ("none" when not wanted), in a fixed order.
std::vector<std::pair<const char*, std::string>> output_shapes(const ExpandOutputs& o) {
  auto span = [](const OutSpan& x) { return x.wanted() ? "[" + to_string(x.size) + "]" : std::string("none"); };
  auto table = [](const OutTable& t) {
    return t.wanted() ? "[" + to_string(t.rows) + ", " + to_string(t.cols) + "]" : std::string("none");
  };
  return {{"seqlens_expanded", span(o.seqlens_expanded)},
          {"cu_seqlens_q", span(o.cu_seqlens_q)},
          {"row_to_req", span(o.row_to_req)},
          {"num_rows", span(o.num_rows)},
          {"status", span(o.status)},
          {"cache_seqlens", span(o.cache_seqlens)},
          {"cu_seqlens_k", span(o.cu_seqlens_k)},
          {"sparse_seqlens", span(o.sparse_seqlens)},
          {"sparse_cu_seqlens_k", span(o.sparse_cu_seqlens_k)},
          {"page_table_1", table(o.page_table_1)},
          {"real_page_table", table(o.real_page_table)}};
}

std::string set_name(int set, const char* output) {
  return set == 0 ? std::string(output) : "out[" + to_string(set) + "]." + output;
}

Status check_set(const ExpandArgs& a, const ExpandOutputs& o, int set) {
  const int64_t cap = a.capacity;
  const int64_t pages = (a.width + a.page_size - 1) / a.page_size;
  const std::pair<const OutSpan*, std::pair<const char*, std::pair<int64_t, const char*>>> spans[] = {
      {&o.seqlens_expanded, {"seqlens_expanded", {cap, "capacity"}}},
      {&o.row_to_req, {"row_to_req", {cap, "capacity"}}},
      {&o.sparse_seqlens, {"sparse_seqlens", {cap, "capacity"}}},
      {&o.sparse_cu_seqlens_k, {"sparse_cu_seqlens_k", {cap + 1, "capacity + 1"}}},
      {&o.cu_seqlens_q, {"cu_seqlens_q", {a.bs + 1, "bs + 1"}}},
      {&o.cu_seqlens_k, {"cu_seqlens_k", {a.bs + 1, "bs + 1"}}},
      {&o.cache_seqlens, {"cache_seqlens", {a.bs, "bs"}}},
      {&o.num_rows, {"num_rows", {1, "one scalar"}}},
      {&o.status, {"status", {1, "one scalar"}}},
  };
  for (const auto& [span, rule] : spans) {
    const auto& [name, need] = rule;
    if (Status s = check_output(set_name(set, name), *span, need.first, need.second); !s.ok()) return s;
  }
  if (Status s = check_table(set_name(set, "page_table_1"), o.page_table_1, cap, a.width, "width"); !s.ok()) {
    return s;
  }
  return check_table(set_name(set, "real_page_table"), o.real_page_table, cap, pages, "ceil(width / page_size)");
}

// Every set must want what `out` wants, in the same shapes: the sets are
// copies of one result (row strides may differ).
Status check_same_outputs(const ExpandOutputs& first, const ExpandOutputs& other, int set) {
  const auto expected = output_shapes(first);
  const auto given = output_shapes(other);
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].second != given[i].second) {
      return Status::invalid_argument(set_name(set, given[i].first) + ": expected the shape of out[0]." +
                                      expected[i].first + " (" + expected[i].second + "), got " + given[i].second);
    }
  }
  return {};
}

void add_set_ranges(const ExpandArgs& a, const ExpandOutputs& o, int set, std::vector<NamedRange>& ranges) {
  const int64_t int_bytes = sizeof(int32_t);
  auto span = [&](const char* name, const OutSpan& s, int64_t used) {
    if (s.data) ranges.push_back({set_name(set, name), s.data, used * int_bytes});
  };
  span("seqlens_expanded", o.seqlens_expanded, a.capacity);
  span("row_to_req", o.row_to_req, a.capacity);
  span("sparse_seqlens", o.sparse_seqlens, a.capacity);
  span("sparse_cu_seqlens_k", o.sparse_cu_seqlens_k, a.capacity + 1);
  span("cu_seqlens_q", o.cu_seqlens_q, a.bs + 1);
  span("cu_seqlens_k", o.cu_seqlens_k, a.bs + 1);
  span("cache_seqlens", o.cache_seqlens, a.bs);
  span("num_rows", o.num_rows, 1);
  span("status", o.status, 1);
  auto table = [&](const char* name, const OutTable& t) {
    if (t.data) ranges.push_back({set_name(set, name), t.data, table_bytes(a.capacity, t.cols, t.row_stride)});
  };
  table("page_table_1", o.page_table_1);
  table("real_page_table", o.real_page_table);
}

Status check_aliasing(const ExpandArgs& a) {
  std::vector<NamedRange> outputs;
  add_set_ranges(a, a.out, 0, outputs);
  for (int i = 0; i < a.extra_out_count; ++i) add_set_ranges(a, a.extra_out[i], i + 1, outputs);
  std::vector<NamedRange> inputs = {
      {"kv_lens", a.kv_lens.data, a.bs * element_size(a.kv_lens.type)},
      {"qo_lens", a.qo_lens.data, a.uniform_qo() ? 0 : a.bs * element_size(a.qo_lens.type)},
  };
  if (a.wants_page_table()) {
    inputs.push_back({"req_pool_indices", a.req_pool_indices.data, a.bs * element_size(a.req_pool_indices.type)});
    const TableSpan& t = a.req_to_token;
    inputs.push_back({"req_to_token", t.data, table_bytes(t.rows, t.cols, t.row_stride)});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (const NamedRange& input : inputs) {
      if (overlaps(outputs[i], input)) {
        return Status::invalid_argument(outputs[i].name + ": expected memory disjoint from input " + input.name +
                                        ", got an overlapping buffer");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlaps(outputs[i], outputs[j])) {
        return Status::invalid_argument(outputs[i].name + ": expected memory disjoint from output " +
                                        outputs[j].name + ", got an overlapping buffer");
      }
    }
  }
  return {};
}

Status check_page_table_inputs(const ExpandArgs& a) {
  if (Status s = check_input("req_pool_indices", a.req_pool_indices, a.bs); !s.ok()) return s;
  const TableSpan& t = a.req_to_token;
  // The zero TableSpan is "not given". A table with a shape but no elements
  // may have null data (torch gives empty tensors none): an empty pool, whose
  // every pool index is out of range (status bit 4), or rows of no columns.
  if (t.data == nullptr && t.rows == 0 && t.cols == 0 && a.bs > 0) {
    return Status::invalid_argument("req_to_token: expected a table (a page table is wanted), got a null pointer");
  }
  if (Status s = expect_range("req_to_token rows", t.rows, 0, INT64_MAX / 4); !s.ok()) return s;
  if (Status s = check_layout("req_to_token", t.data, t.rows, t.cols, t.row_stride); !s.ok()) return s;
  return expect_range("width", a.width, 0, t.cols);
}

}  // namespace

Status validate(const ExpandArgs& a) {
  const int64_t int32_max = detail::kInt32Max;
  if (Status s = expect_range("bs", a.bs, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("capacity", a.capacity, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("max_qo", a.max_qo, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("kv_offset", a.kv_offset, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("topk", a.topk, 1, int32_max); !s.ok()) return s;
  if (Status s = expect_range("kpool", a.kpool, 1, int32_max); !s.ok()) return s;
  if (Status s = expect_range("page_size", a.page_size, 1, int32_max); !s.ok()) return s;
  if (Status s = expect_range("width", a.width, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("extra_out_count", a.extra_out_count, 0, kMaxDestinationSets - 1); !s.ok()) return s;
  if (a.extra_out_count > 0 && a.extra_out == nullptr) {
    return Status::invalid_argument("extra_out: expected " + to_string(a.extra_out_count) +
                                    " destination sets, got a null pointer");
  }
  if (Status s = check_input("kv_lens", a.kv_lens, a.bs); !s.ok()) return s;
  if (a.uniform_qo()) {
    if (Status s = expect_range("qo_lens", a.qo_uniform, 0, a.max_qo); !s.ok()) return s;
    if (a.bs * a.qo_uniform > a.capacity) {
      return Status::invalid_argument("capacity: expected at least bs * qo_lens = " + to_string(a.bs * a.qo_uniform) +
                                      " rows, got " + to_string(a.capacity));
    }
  } else if (Status s = check_input("qo_lens", a.qo_lens, a.bs); !s.ok()) {
    return s;
  }
  if (a.wants_page_table()) {
    if (Status s = check_page_table_inputs(a); !s.ok()) return s;
  }
  if (Status s = check_set(a, a.out, 0); !s.ok()) return s;
  for (int i = 0; i < a.extra_out_count; ++i) {
    if (Status s = check_same_outputs(a.out, a.extra_out[i], i + 1); !s.ok()) return s;
    if (Status s = check_set(a, a.extra_out[i], i + 1); !s.ok()) return s;
  }
  return check_aliasing(a);
}

}  // namespace specmeta
