// Small cases worked out by hand from the SPEC, with their expected outputs.
// test_reference.cpp checks the reference against them; the backend tests run
// them through run_and_compare like any random case.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cases.h"
#include "reference.h"

namespace specmeta_test {

struct Example {
  std::string name;
  Case c;
  RefOutput expected;  // total unused
};

inline Case example_case(std::vector<int64_t> kv, std::vector<int64_t> qo, int64_t capacity,
                         int64_t max_qo = kI32Max, specmeta::IntType kv_type = specmeta::IntType::kInt32,
                         specmeta::IntType qo_type = specmeta::IntType::kInt32) {
  Case c;
  c.kind = Kind::kRandomQo;
  c.kv_type = kv_type;
  c.qo_type = qo_type;
  c.in.kv = std::move(kv);
  c.in.qo = std::move(qo);
  c.in.max_qo = max_qo;
  c.in.capacity = capacity;
  return c;
}

inline Case example_uniform(std::vector<int64_t> kv, int64_t qo, int64_t capacity) {
  Case c = example_case(std::move(kv), {}, capacity);
  c.kind = Kind::kUniform;
  c.in.uniform = true;
  c.in.qo_uniform = qo;
  return c;
}

inline RefOutput expect(std::vector<int32_t> seqlens, std::vector<int32_t> cu, std::vector<int32_t> rows,
                        int32_t num_rows, int32_t status) {
  RefOutput r;
  r.seqlens_expanded = std::move(seqlens);
  r.cu_seqlens_q = std::move(cu);
  r.row_to_req = std::move(rows);
  r.num_rows = num_rows;
  r.status = status;
  return r;
}

inline std::vector<Example> hand_examples() {
  using specmeta::IntType;
  const int32_t M = 2147483647;
  std::vector<Example> e;
  // Request 0: first row 5-2+1 = 4; request 1: 3-3+1 = 1.
  e.push_back({"two_requests", example_case({5, 3}, {2, 3}, 8),
               expect({4, 5, 1, 2, 3, 0, 0, 0}, {0, 2, 5}, {0, 0, 1, 1, 1, -1, -1, -1}, 5, 0)});
  // qo > kv: lengths -1, 0, 1 clamp at 0.
  e.push_back({"qo_exceeds_kv", example_case({1}, {3}, 4), expect({0, 0, 1, 0}, {0, 3}, {0, 0, 0, -1}, 3, 2)});
  // 6 rows into 4: the first 4 are written, num_rows = capacity.
  e.push_back({"capacity_exceeded", example_case({10, 10}, {3, 3}, 4),
               expect({8, 9, 10, 8}, {0, 3, 6}, {0, 0, 0, 1}, 4, 1)});
  // max_qo 2: qo 3 and -1 count as 0 rows.
  e.push_back({"qo_out_of_range", example_case({5, 5, 5}, {3, -1, 2}, 3, 2),
               expect({4, 5, 0}, {0, 0, 0, 2}, {2, 2, -1}, 2, 16)});
  // kv = 3e9 (int64): both rows exceed int32 and saturate.
  e.push_back({"kv_above_int32", example_case({3000000000LL}, {2}, 2, kI32Max, IntType::kInt64),
               expect({M, M}, {0, 2}, {0, 0}, 2, 8)});
  // kv = 3e9 with no rows: nothing overflows.
  e.push_back({"kv_above_int32_no_rows", example_case({3000000000LL, 4}, {0, 1}, 2, kI32Max, IntType::kInt64),
               expect({4, 0}, {0, 0, 1}, {1, -1}, 1, 0)});
  // kv = INT32_MAX exactly fits.
  e.push_back({"kv_int32_max", example_case({M}, {3}, 3), expect({M - 2, M - 1, M}, {0, 3}, {0, 0, 0}, 3, 0)});
  // total = INT32_MAX + 2: the last prefix sum saturates; only 3 rows fit.
  e.push_back({"total_above_int32", example_case({M, 5}, {M, 2}, 3),
               expect({1, 2, 3}, {0, M, M}, {0, 0, 0}, 3, 8 | 1)});
  e.push_back({"uniform", example_uniform({4, 6}, 2, 5), expect({3, 4, 5, 6, 0}, {0, 2, 4}, {0, 0, 1, 1, -1}, 4, 0)});
  e.push_back({"uniform_qo_exceeds_kv", example_uniform({1, 7}, 3, 6),
               expect({0, 0, 1, 5, 6, 7}, {0, 3, 6}, {0, 0, 0, 1, 1, 1}, 6, 2)});
  e.push_back({"empty_batch", example_case({}, {}, 2), expect({0, 0}, {0}, {-1, -1}, 0, 0)});
  e.push_back({"zero_capacity", example_case({3, 3}, {1, 0}, 0), expect({}, {0, 1, 1}, {}, 0, 1)});
  // Negative kv, int64 qo.
  e.push_back({"negative_kv", example_case({-5, 2}, {2, 2}, 4, kI32Max, IntType::kInt32, IntType::kInt64),
               expect({0, 0, 1, 2}, {0, 2, 4}, {0, 0, 1, 1}, 4, 2)});
  return e;
}

// int64 kv at or just above INT64_MIN, qo 1..16: every row's length is 0.
inline std::vector<Case> extreme_int64_kv_cases() {
  std::vector<Case> cases;
  for (int64_t kv : {kI64Min, kI64Min + 1, kI64Min + 5, kI64Min + 15}) {
    for (int64_t qo : {1, 2, 3, 16}) {
      for (specmeta::IntType qo_type : {specmeta::IntType::kInt32, specmeta::IntType::kInt64}) {
        cases.push_back(example_case({kv, 7}, {qo, 2}, 20, kI32Max, specmeta::IntType::kInt64, qo_type));
      }
    }
  }
  return cases;
}

}  // namespace specmeta_test
