// Host-visible argument checks shared by both backends (SPEC section 6).
#include <cstdint>
#include <string>

#include "row_math.h"
#include "specmeta/expand.h"

namespace specmeta {
namespace {

Status expect_size(const char* name, int64_t given, int64_t needed, const char* what) {
  if (given >= needed) return {};
  return Status::invalid_argument(std::string(name) + ": expected at least " + std::to_string(needed) +
                                  " elements (" + what + "), got " + std::to_string(given));
}

Status check_output(const char* name, const OutSpan& span, int64_t needed, const char* what) {
  if (!span.wanted()) {
    if (span.data == nullptr) return {};
    return Status::invalid_argument(std::string(name) + ": expected a size >= 0 with a buffer, got size " +
                                    std::to_string(span.size));
  }
  if (Status s = expect_size(name, span.size, needed, what); !s.ok()) return s;
  if (needed > 0 && span.data == nullptr) {
    return Status::invalid_argument(std::string(name) + ": expected a buffer of " + std::to_string(needed) +
                                    " elements, got a null pointer");
  }
  return {};
}

Status expect_range(const char* name, int64_t given, int64_t lo, int64_t hi) {
  if (given >= lo && given <= hi) return {};
  return Status::invalid_argument(std::string(name) + ": expected a value in [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "], got " + std::to_string(given));
}

Status check_input(const char* name, const IntSpan& span, int64_t bs) {
  if (span.type != IntType::kInt32 && span.type != IntType::kInt64) {
    return Status::invalid_argument(std::string(name) + ": expected int32 or int64 elements, got type code " +
                                    std::to_string(static_cast<int>(span.type)));
  }
  if (bs > 0 && span.data == nullptr) {
    return Status::invalid_argument(std::string(name) + ": expected an array of " + std::to_string(bs) +
                                    " elements, got a null pointer");
  }
  return expect_size(name, span.size, bs, "bs");
}

struct NamedRange {
  const char* name;
  const void* begin;
  int64_t bytes;
};

bool overlaps(const NamedRange& a, const NamedRange& b) {
  if (a.begin == nullptr || b.begin == nullptr || a.bytes <= 0 || b.bytes <= 0) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.begin);
  const auto b0 = reinterpret_cast<uintptr_t>(b.begin);
  return a0 < b0 + static_cast<uintptr_t>(b.bytes) && b0 < a0 + static_cast<uintptr_t>(a.bytes);
}

NamedRange output_range(const char* name, const OutSpan& span, int64_t used) {
  return {name, span.data, span.data ? used * static_cast<int64_t>(sizeof(int32_t)) : 0};
}

}  // namespace

Status validate(const ExpandArgs& a) {
  const int64_t int32_max = detail::kInt32Max;
  if (Status s = expect_range("bs", a.bs, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("capacity", a.capacity, 0, int32_max); !s.ok()) return s;
  if (Status s = expect_range("max_qo", a.max_qo, 0, int32_max); !s.ok()) return s;
  if (Status s = check_input("kv_lens", a.kv_lens, a.bs); !s.ok()) return s;
  if (a.uniform_qo()) {
    if (Status s = expect_range("qo_lens", a.qo_uniform, 0, a.max_qo); !s.ok()) return s;
    if (a.bs * a.qo_uniform > a.capacity) {
      return Status::invalid_argument("capacity: expected at least bs * qo_lens = " +
                                      std::to_string(a.bs * a.qo_uniform) + " rows, got " +
                                      std::to_string(a.capacity));
    }
  } else if (Status s = check_input("qo_lens", a.qo_lens, a.bs); !s.ok()) {
    return s;
  }

  const ExpandOutputs& o = a.out;
  if (Status s = check_output("seqlens_expanded", o.seqlens_expanded, a.capacity, "capacity"); !s.ok()) return s;
  if (Status s = check_output("row_to_req", o.row_to_req, a.capacity, "capacity"); !s.ok()) return s;
  if (Status s = check_output("cu_seqlens_q", o.cu_seqlens_q, a.bs + 1, "bs + 1"); !s.ok()) return s;
  if (Status s = check_output("num_rows", o.num_rows, 1, "one scalar"); !s.ok()) return s;
  if (Status s = check_output("status", o.status, 1, "one scalar"); !s.ok()) return s;

  const NamedRange outputs[] = {
      output_range("seqlens_expanded", o.seqlens_expanded, a.capacity),
      output_range("cu_seqlens_q", o.cu_seqlens_q, a.bs + 1),
      output_range("row_to_req", o.row_to_req, a.capacity),
      output_range("num_rows", o.num_rows, 1),
      output_range("status", o.status, 1),
  };
  const NamedRange inputs[] = {
      {"kv_lens", a.kv_lens.data, a.bs * element_size(a.kv_lens.type)},
      {"qo_lens", a.qo_lens.data, a.uniform_qo() ? 0 : a.bs * element_size(a.qo_lens.type)},
  };
  for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); ++i) {
    for (const NamedRange& input : inputs) {
      if (overlaps(outputs[i], input)) {
        return Status::invalid_argument(std::string(outputs[i].name) + ": expected memory disjoint from input " +
                                        input.name + ", got an overlapping buffer");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlaps(outputs[i], outputs[j])) {
        return Status::invalid_argument(std::string(outputs[i].name) + ": expected memory disjoint from output " +
                                        outputs[j].name + ", got an overlapping buffer");
      }
    }
  }
  return {};
}

}  // namespace specmeta
