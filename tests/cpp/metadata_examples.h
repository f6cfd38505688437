// Small metadata-builder cases worked out by hand from SPEC.md and
// docs/builder-contract.md, with every expected output.
// test_metadata_reference.cpp checks the reference against them; the CPU and
// CUDA tests run them through the library like any random case.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "metadata_cases.h"
#include "metadata_reference.h"

namespace specmeta_test {

// In an expected page table: "this element keeps its previous value".
constexpr int64_t kKeep = std::numeric_limits<int64_t>::min();

struct MetaExample {
  std::string name;
  MetaCase c;
  std::vector<int32_t> seqlens_expanded, cu_seqlens_q, row_to_req;
  int32_t num_rows = 0;
  int32_t status = 0;
  std::vector<int32_t> cache_seqlens, cu_seqlens_k, sparse_seqlens, sparse_cu_seqlens_k;
  // Row-major with the table's row stride (padding included); kKeep marks
  // elements that must keep their previous value.
  std::vector<int64_t> page_table_1, real_page_table;
};

// A case with every 1-D output wanted, one destination set, no page tables.
inline MetaCase meta_example(MetaMode mode, int64_t num_draft_tokens, std::vector<int64_t> seq,
                             std::vector<int64_t> qo, int64_t capacity, int64_t topk, int64_t kpool,
                             specmeta::IntType seq_type = specmeta::IntType::kInt32) {
  MetaCase c;
  c.mode = mode;
  c.num_draft_tokens = num_draft_tokens;
  c.seq = std::move(seq);
  c.qo = std::move(qo);
  c.seq_type = seq_type;
  c.qo_tail = {-7};  // a non-null array even for bs = 0
  c.capacity = capacity;
  c.topk = topk;
  c.kpool = kpool;
  c.wanted = kAllMetaOutputs & ~kPageTableOutputs;
  c.prior_salt = 12345;
  return c;
}

// Adds both page tables: req_to_token rows (each padded to `stride` with -1).
inline void with_page_tables(MetaCase& c, const std::vector<std::vector<int32_t>>& rows, int64_t stride,
                             std::vector<int64_t> rpi, int64_t width, int64_t page_size, bool full_width,
                             int64_t pt1_pad = 0, int64_t real_pad = 0) {
  c.page_inputs = true;
  c.wanted |= kPageTableOutputs;
  c.req_to_token.rows = static_cast<int64_t>(rows.size());
  c.req_to_token.cols = rows.empty() ? 0 : static_cast<int64_t>(rows[0].size());
  c.req_to_token.stride = stride;
  for (const auto& r : rows) {
    for (int64_t i = 0; i < stride; ++i) c.req_to_token.values.push_back(i < static_cast<int64_t>(r.size()) ? r[i] : -1);
  }
  c.rpi = std::move(rpi);
  c.rpi_tail = {-7};
  c.width = width;
  c.page_size = page_size;
  c.full_width = full_width;
  c.table_pad[0] = pt1_pad;
  c.table_pad[1] = real_pad;
}

inline std::vector<MetaExample> meta_hand_examples() {
  using specmeta::IntType;
  const int32_t M = 2147483647;
  const int64_t K = kKeep;
  std::vector<MetaExample> e;
  {
    // target_verify, N = 2: kv = seq + 2 = {5, 7}; rows 5-2+1 = 4, 5 and 6, 7.
    // topk 5 clips 6 and 7. Page tables: width 6 cuts request 1's kv 7;
    // request 0 (kv 5) leaves column 5 alone. ps 4: pages ceil(5/4) = ceil(6/4) = 2.
    MetaExample x;
    x.name = "target_verify_page_tables";
    x.c = meta_example(MetaMode::kTargetVerify, 2, {3, 5}, {}, 5, 5, 1);
    with_page_tables(x.c, {{10, 11, 12, 13, 14, 15, 16, 17}, {20, 21, 22, 23, 24, 25, 26, 27}, {-3, -2, -1, 0, 1, 2, 3, 4}},
                     9, {2, 0}, 6, 4, false, 0, 1);
    x.seqlens_expanded = {4, 5, 6, 7, 0};
    x.cu_seqlens_q = {0, 2, 4};
    x.row_to_req = {0, 0, 1, 1, -1};
    x.num_rows = 4;
    x.status = 0;
    x.cache_seqlens = {5, 7};
    x.cu_seqlens_k = {0, 5, 12};
    x.sparse_seqlens = {4, 5, 5, 5, 0};
    x.sparse_cu_seqlens_k = {0, 4, 9, 14, 19, 19};
    x.page_table_1 = {-3, -2, -1, 0,  1,  K,   //
                      -3, -2, -1, 0,  1,  K,   //
                      10, 11, 12, 13, 14, 15,  //
                      10, 11, 12, 13, 14, 15,  //
                      K,  K,  K,  K,  K,  K};
    // floor(-3/4) = -1, floor(1/4) = 0, 10/4 = 2, 14/4 = 3; stride 3 (one padding element).
    x.real_page_table = {-1, 0, K, -1, 0, K, 2, 3, K, 2, 3, K, K, K, K};
    e.push_back(x);
  }
  {
    // draft_extend, N = 3: accept 4 > N counts as 0 rows (bit 16). kpool 4:
    // x = 3 -> f = 0 -> 3; x = 4 -> f = 4 -> 4.
    MetaExample x;
    x.name = "draft_extend_accept_out_of_range";
    x.c = meta_example(MetaMode::kDraftExtend, 3, {4, 2, 6}, {2, 4, 0}, 3, 2048, 4);
    x.seqlens_expanded = {3, 4, 0};
    x.cu_seqlens_q = {0, 2, 2, 2};
    x.row_to_req = {0, 0, -1};
    x.num_rows = 2;
    x.status = 16;
    x.cache_seqlens = {4, 2, 6};
    x.cu_seqlens_k = {0, 4, 6, 12};
    x.sparse_seqlens = {3, 4, 0};
    x.sparse_cu_seqlens_k = {0, 3, 7, 7};
    e.push_back(x);
  }
  {
    // decode, topk 7, kpool 4: g(9) = min(8, 7) + 1 = 8, g(13) = min(12, 7) + 1 = 8, g(2) = 2.
    // Request 1's pool index 5 is outside [0, 2): bit 4, its row keeps its values.
    // full_width: all 3 columns even for kv 2. ps 2: floor(-5/2) = -3, 9/2 = 4, 5/2 = 2, 7/2 = 3.
    MetaExample x;
    x.name = "decode_bad_pool_index_full_width_kpool";
    x.c = meta_example(MetaMode::kDecode, 0, {9, 13, 2}, {}, 4, 7, 4);
    with_page_tables(x.c, {{5, 6, 7}, {-5, 8, 9}}, 3, {1, 5, 0}, 3, 2, true);
    x.seqlens_expanded = {9, 13, 2, 0};
    x.cu_seqlens_q = {0, 1, 2, 3};
    x.row_to_req = {0, 1, 2, -1};
    x.num_rows = 3;
    x.status = 4;
    x.cache_seqlens = {9, 13, 2};
    x.cu_seqlens_k = {0, 9, 22, 24};
    x.sparse_seqlens = {8, 8, 2, 0};
    x.sparse_cu_seqlens_k = {0, 8, 16, 18, 18};
    x.page_table_1 = {-5, 8, 9, K, K, K, 5, 6, 7, K, K, K};
    x.real_page_table = {-3, 4, K, K, 2, 3, K, K};
    e.push_back(x);
  }
  {
    // extend: request 1 has 2 rows but kv 1 (bit 2: rows 0 and 1); 5 rows
    // into capacity 4 (bit 1), so only its first row is written. topk 2.
    // width 2: request 0 writes both columns, request 1 (kv 1) only column 0.
    MetaExample x;
    x.name = "extend_capacity_and_qo_exceeds_kv";
    x.c = meta_example(MetaMode::kExtend, 0, {3, 1}, {3, 2}, 4, 2, 1);
    with_page_tables(x.c, {{7, 8}}, 4, {0, 0}, 2, 1, false, 0, 1);
    x.seqlens_expanded = {1, 2, 3, 0};
    x.cu_seqlens_q = {0, 3, 5};
    x.row_to_req = {0, 0, 0, 1};
    x.num_rows = 4;
    x.status = 1 | 2;
    x.cache_seqlens = {3, 1};
    x.cu_seqlens_k = {0, 3, 4};
    x.sparse_seqlens = {1, 2, 2, 0};
    x.sparse_cu_seqlens_k = {0, 1, 3, 5, 5};
    x.page_table_1 = {7, 8, 7, 8, 7, 8, 7, K};
    x.real_page_table = {7, 8, K, 7, 8, K, 7, 8, K, 7, K, K};
    e.push_back(x);
  }
  {
    // draft_extend_static, N = 3, seq 1: rows -1 -> 0, 0, 1 (bit 2). ps 16
    // with width 4: one page, floor(33/16) = 2, written for L = 1.
    MetaExample x;
    x.name = "draft_extend_static_short_seq";
    x.c = meta_example(MetaMode::kDraftExtendStatic, 3, {1}, {}, 3, 2048, 1);
    with_page_tables(x.c, {{33, 34, 35, 36}}, 4, {0}, 4, 16, false);
    x.seqlens_expanded = {0, 0, 1};
    x.cu_seqlens_q = {0, 3};
    x.row_to_req = {0, 0, 0};
    x.num_rows = 3;
    x.status = 2;
    x.cache_seqlens = {1};
    x.cu_seqlens_k = {0, 1};
    x.sparse_seqlens = {0, 0, 1};
    x.sparse_cu_seqlens_k = {0, 0, 0, 1};
    x.page_table_1 = {33, K, K, K, 33, K, K, K, 33, K, K, K};
    x.real_page_table = {2, 2, 2};
    e.push_back(x);
  }
  {
    // decode, int64 seq 3e9 > INT32_MAX with one row: it saturates (bit 8).
    MetaExample x;
    x.name = "decode_seq_above_int32";
    x.c = meta_example(MetaMode::kDecode, 0, {3000000000LL, M}, {}, 2, 2048, 1, IntType::kInt64);
    x.seqlens_expanded = {M, M};
    x.cu_seqlens_q = {0, 1, 2};
    x.row_to_req = {0, 1};
    x.num_rows = 2;
    x.status = 8;
    x.cache_seqlens = {M, M};
    x.cu_seqlens_k = {0, M, M};
    x.sparse_seqlens = {2048, 2048};
    x.sparse_cu_seqlens_k = {0, 2048, 4096};
    e.push_back(x);
  }
  {
    // draft_extend with no rows: kv M and 1 sum past INT32_MAX: only
    // cu_seqlens_k overflows (bit 8, rule d).
    MetaExample x;
    x.name = "cu_seqlens_k_saturates";
    x.c = meta_example(MetaMode::kDraftExtend, 1, {M, 1}, {0, 0}, 0, 2048, 1);
    x.cu_seqlens_q = {0, 0, 0};
    x.num_rows = 0;
    x.status = 8;
    x.cache_seqlens = {M, 1};
    x.cu_seqlens_k = {0, M, M};
    x.sparse_cu_seqlens_k = {0};
    e.push_back(x);
    // ... and without cu_seqlens_k nothing overflows.
    x.name = "cu_seqlens_k_not_wanted";
    x.c.wanted &= ~(1u << kMCuSeqlensK);
    x.status = 0;
    e.push_back(x);
  }
  {
    // decode, two rows of INT32_MAX with topk INT32_MAX: the sparse prefix
    // sum saturates (rule e); cu_seqlens_k left out so rule d stays quiet.
    MetaExample x;
    x.name = "sparse_cu_seqlens_k_saturates";
    x.c = meta_example(MetaMode::kDecode, 0, {M, M}, {}, 2, M, 1);
    x.c.wanted = (1u << kMSeqlensExpanded) | (1u << kMSparseSeqlens) | (1u << kMSparseCuSeqlensK) | (1u << kMStatus);
    x.seqlens_expanded = {M, M};
    x.status = 8;
    x.sparse_seqlens = {M, M};
    x.sparse_cu_seqlens_k = {0, M, M};
    x.cu_seqlens_q = {0, 1, 2};
    x.row_to_req = {0, 1};
    x.num_rows = 2;
    x.cache_seqlens = {M, M};
    x.cu_seqlens_k = {0, M, M};
    e.push_back(x);
    x.name = "sparse_cu_seqlens_k_not_wanted";
    x.c.wanted &= ~(1u << kMSparseCuSeqlensK);
    x.status = 0;
    e.push_back(x);
  }
  {
    // draft_extend, int64 seq 3e9 with no rows: only cache_seqlens saturates (rule c).
    MetaExample x;
    x.name = "cache_seqlens_saturates";
    x.c = meta_example(MetaMode::kDraftExtend, 1, {3000000000LL}, {0}, 1, 2048, 1, IntType::kInt64);
    x.c.wanted = (1u << kMCacheSeqlens) | (1u << kMStatus) | (1u << kMSeqlensExpanded);
    x.seqlens_expanded = {0};
    x.status = 8;
    x.cache_seqlens = {M};
    x.cu_seqlens_q = {0, 0};
    x.row_to_req = {-1};
    x.cu_seqlens_k = {0, M};
    x.sparse_seqlens = {0};
    x.sparse_cu_seqlens_k = {0, 0};
    e.push_back(x);
    x.name = "cache_seqlens_not_wanted";
    x.c.wanted = (1u << kMStatus) | (1u << kMSeqlensExpanded);
    x.status = 0;
    e.push_back(x);
  }
  {
    // extend with INT32_MAX + 2 rows in all: cu_seqlens_q saturates (rule b)
    // and only 3 rows fit (bit 1). Rows of request 0: M - M + 1 + j.
    MetaExample x;
    x.name = "extend_total_above_int32";
    x.c = meta_example(MetaMode::kExtend, 0, {M, M}, {M, 2}, 3, 2048, 1);
    x.seqlens_expanded = {1, 2, 3};
    x.cu_seqlens_q = {0, M, M};
    x.row_to_req = {0, 0, 0};
    x.num_rows = 3;
    x.status = 8 | 1;
    x.cache_seqlens = {M, M};
    x.cu_seqlens_k = {0, M, M};
    x.sparse_seqlens = {1, 2, 3};
    x.sparse_cu_seqlens_k = {0, 1, 3, 6};
    e.push_back(x);
  }
  {
    // target_verify with N = 0: no rows, kv = seq.
    MetaExample x;
    x.name = "target_verify_zero_draft_tokens";
    x.c = meta_example(MetaMode::kTargetVerify, 0, {5, 6}, {}, 1, 2048, 1);
    x.seqlens_expanded = {0};
    x.cu_seqlens_q = {0, 0, 0};
    x.row_to_req = {-1};
    x.num_rows = 0;
    x.status = 0;
    x.cache_seqlens = {5, 6};
    x.cu_seqlens_k = {0, 5, 11};
    x.sparse_seqlens = {0};
    x.sparse_cu_seqlens_k = {0, 0};
    e.push_back(x);
  }
  {
    // The expansion itself: kv = kv_lens + 3 = {5, 13}; qo 6 > max_qo 5 (bit 16).
    MetaExample x;
    x.name = "direct_kv_offset_max_qo";
    x.c = meta_example(MetaMode::kDecode, 0, {2, 10}, {1, 6}, 2, 7, 1);
    x.c.direct = true;
    x.c.kv_offset = 3;
    x.c.max_qo = 5;
    x.seqlens_expanded = {5, 0};
    x.cu_seqlens_q = {0, 1, 1};
    x.row_to_req = {0, -1};
    x.num_rows = 1;
    x.status = 16;
    x.cache_seqlens = {5, 13};
    x.cu_seqlens_k = {0, 5, 18};
    x.sparse_seqlens = {5, 0};
    x.sparse_cu_seqlens_k = {0, 5, 5};
    e.push_back(x);
  }
  {
    // An empty batch in draft_extend: every per-row output is empty, status 0.
    MetaExample x;
    x.name = "draft_extend_empty_batch";
    x.c = meta_example(MetaMode::kDraftExtend, 4, {}, {}, 2, 2048, 1);
    x.c.seq_tail = {9};
    with_page_tables(x.c, {{1, 2}}, 2, {}, 2, 1, true);
    x.seqlens_expanded = {0, 0};
    x.cu_seqlens_q = {0};
    x.row_to_req = {-1, -1};
    x.num_rows = 0;
    x.status = 0;
    x.cache_seqlens = {};
    x.cu_seqlens_k = {0};
    x.sparse_seqlens = {0, 0};
    x.sparse_cu_seqlens_k = {0, 0, 0};
    x.page_table_1 = {K, K, K, K};
    x.real_page_table = {K, K, K, K};
    e.push_back(x);
  }
  return e;
}

// Cases that each raise exactly one status bit (the reference test checks
// that they do), in every mode where the bit can arise alone; all outputs
// wanted, page tables included.
struct BitCase {
  std::string name;
  MetaCase c;
  int32_t bit = 0;
};

inline std::vector<BitCase> single_bit_cases() {
  using specmeta::IntType;
  const int64_t M = kI32Max;
  std::vector<BitCase> v;
  auto add = [&](const std::string& name, int32_t bit, MetaMode mode, int64_t n, std::vector<int64_t> seq,
                 std::vector<int64_t> qo, int64_t capacity, IntType seq_type = IntType::kInt32,
                 IntType qo_type = IntType::kInt32, std::vector<int64_t> rpi = {}) {
    MetaCase c = meta_example(mode, n, std::move(seq), std::move(qo), capacity, 2048, 1, seq_type);
    c.qo_type = qo_type;
    if (rpi.empty()) {
      for (int64_t b = 0; b < c.bs(); ++b) rpi.push_back(b % 3);
    }
    with_page_tables(c, {{100, 101, 102, 103, 104, 105}, {200, 201, 202, 203, 204, 205}, {-300, 301, 302, 303, 304, 305}},
                     7, std::move(rpi), 5, 2, false, 1, 0);
    c.rpi_type = IntType::kInt64;
    v.push_back({name, c, bit});
  };
  // 1: rows needed exceed capacity (only ragged modes; a uniform total above capacity is a host error).
  add("capacity_draft_extend", 1, MetaMode::kDraftExtend, 4, {10, 10}, {3, 4}, 5);
  add("capacity_extend", 1, MetaMode::kExtend, 0, {5, 5, 5}, {3, 3, 0}, 4);
  // 2: some qo_b > kv_b.
  add("qo_exceeds_kv_decode", 2, MetaMode::kDecode, 0, {0, 5}, {}, 2);
  add("qo_exceeds_kv_target_verify", 2, MetaMode::kTargetVerify, 2, {-1, 4}, {}, 4);
  add("qo_exceeds_kv_draft_extend", 2, MetaMode::kDraftExtend, 2, {1, 3}, {2, 0}, 4);
  add("qo_exceeds_kv_draft_extend_static", 2, MetaMode::kDraftExtendStatic, 3, {2}, {}, 3);
  add("qo_exceeds_kv_extend", 2, MetaMode::kExtend, 0, {1, 9}, {3, 1}, 4);
  add("negative_kv_no_rows", 2, MetaMode::kDraftExtend, 2, {-4, 3}, {0, 1}, 4);
  // 4: a pool index outside [0, pool) (pool 3), also for a request without rows.
  add("bad_pool_index_decode", 4, MetaMode::kDecode, 0, {3, 4}, {}, 2, IntType::kInt32, IntType::kInt32, {1, 3});
  add("bad_pool_index_target_verify", 4, MetaMode::kTargetVerify, 2, {3, 4}, {}, 4, IntType::kInt32, IntType::kInt32, {-1, 0});
  add("bad_pool_index_no_rows", 4, MetaMode::kDraftExtend, 2, {3, 4}, {2, 0}, 4, IntType::kInt32, IntType::kInt32, {1, 7});
  add("bad_pool_index_static", 4, MetaMode::kDraftExtendStatic, 1, {3}, {}, 1, IntType::kInt32, IntType::kInt32,
      {int64_t{1} << 32});
  add("bad_pool_index_extend", 4, MetaMode::kExtend, 0, {3, 4}, {1, 1}, 2, IntType::kInt32, IntType::kInt32,
      {0, std::numeric_limits<int64_t>::min()});
  // 8: a length saturates.
  add("overflow_decode_int64", 8, MetaMode::kDecode, 0, {3000000000LL}, {}, 1, IntType::kInt64);
  add("overflow_target_verify_int32_plus_n", 8, MetaMode::kTargetVerify, 2, {M - 1, 7}, {}, 4);
  add("overflow_draft_extend", 8, MetaMode::kDraftExtend, 2, {1000000000000LL}, {1}, 1, IntType::kInt64);
  add("overflow_draft_extend_static", 8, MetaMode::kDraftExtendStatic, 2, {M + 1, 2}, {}, 4, IntType::kInt64);
  add("overflow_extend", 8, MetaMode::kExtend, 0, {std::numeric_limits<int64_t>::max()}, {2}, 2, IntType::kInt64,
      IntType::kInt64);
  add("overflow_cu_seqlens_k_only", 8, MetaMode::kDraftExtend, 1, {M, M}, {0, 0}, 1);
  // 16: a per-request qo outside [0, max_qo].
  add("qo_range_accept_above_n", 16, MetaMode::kDraftExtend, 4, {9, 9}, {5, 1}, 2);
  add("qo_range_accept_negative", 16, MetaMode::kDraftExtend, 4, {9, 9}, {-1, 4}, 8);
  add("qo_range_accept_int64_min", 16, MetaMode::kDraftExtend, 4, {9}, {std::numeric_limits<int64_t>::min()}, 2,
      IntType::kInt32, IntType::kInt64);
  add("qo_range_accept_above_int32", 16, MetaMode::kDraftExtend, 4, {9}, {M + 1}, 2, IntType::kInt32, IntType::kInt64);
  add("qo_range_extend_negative", 16, MetaMode::kExtend, 0, {9, 9}, {-2, 2}, 2);
  add("qo_range_extend_int32_min", 16, MetaMode::kExtend, 0, {9}, {kI32Min}, 2);
  return v;
}

}  // namespace specmeta_test
