// The metadata reference itself, on cases worked out by hand from SPEC.md and
// docs/builder-contract.md, and on properties that follow from them directly.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "metadata_cases.h"
#include "metadata_examples.h"
#include "metadata_reference.h"
#include "reference.h"

namespace specmeta_test {
namespace {

// The expected table with kKeep resolved to the previous contents.
std::vector<int32_t> resolve(const std::vector<int64_t>& expected, const RefTable& before) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < expected.size(); ++i) {
    out.push_back(expected[i] == kKeep ? before.values[i] : static_cast<int32_t>(expected[i]));
  }
  return out;
}

TEST(MetadataReference, HandWorkedExamples) {
  for (const MetaExample& x : meta_hand_examples()) {
    SCOPED_TRACE(x.name);
    const MetaRefInput in = x.c.ref_input();
    const MetaRefOutput got = reference_metadata(in);
    EXPECT_EQ(got.seqlens_expanded, x.seqlens_expanded);
    EXPECT_EQ(got.cu_seqlens_q, x.cu_seqlens_q);
    EXPECT_EQ(got.row_to_req, x.row_to_req);
    EXPECT_EQ(got.num_rows, x.num_rows);
    EXPECT_EQ(got.status, x.status);
    EXPECT_EQ(got.cache_seqlens, x.cache_seqlens);
    EXPECT_EQ(got.cu_seqlens_k, x.cu_seqlens_k);
    EXPECT_EQ(got.sparse_seqlens, x.sparse_seqlens);
    EXPECT_EQ(got.sparse_cu_seqlens_k, x.sparse_cu_seqlens_k);
    if (x.c.wants(kMPageTable1)) {
      ASSERT_EQ(in.page_table_1_before.values.size(), x.page_table_1.size());
      EXPECT_EQ(got.page_table_1.values, resolve(x.page_table_1, in.page_table_1_before));
    }
    if (x.c.wants(kMRealPageTable)) {
      ASSERT_EQ(in.real_page_table_before.values.size(), x.real_page_table.size());
      EXPECT_EQ(got.real_page_table.values, resolve(x.real_page_table, in.real_page_table_before));
    }
  }
}

// Each single-bit case raises its bit and no other.
TEST(MetadataReference, SingleBitCases) {
  for (const BitCase& x : single_bit_cases()) {
    SCOPED_TRACE(x.name + ": " + x.c.describe());
    EXPECT_EQ(reference_metadata(x.c.ref_input()).status, x.bit);
  }
}

TEST(MetadataReference, SparseLength) {
  // kpool 4, topk 7: f = 0,0,0,0,4,4,4,4,8,8,8,8,12; g = min(f, 7) + (x - f).
  const std::vector<int> expected = {0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 7};
  for (int x = 0; x < static_cast<int>(expected.size()); ++x) {
    EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(x, 7, 4)), expected[x]) << "x=" << x;
  }
  // kpool 1: min(x, topk).
  EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(5, 7, 1)), 5);
  EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(2048, 2048, 1)), 2048);
  EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(kI32Max, 2048, 1)), 2048);
  // INT32_MAX = 4 * 536870911 + 3, topk 2048: 2048 + 3.
  EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(kI32Max, 2048, 4)), 2051);
  EXPECT_EQ(static_cast<int64_t>(ref_sparse_len(kI32Max, kI32Max, 4)), kI32Max);
}

TEST(MetadataReference, FloorDivision) {
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(15, 16)), 0);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(16, 16)), 1);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(-1, 16)), -1);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(-16, 16)), -1);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(-17, 16)), -2);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(kI32Min, 64)), -33554432);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(kI32Max, 64)), 33554431);
  EXPECT_EQ(static_cast<int64_t>(ref_floor_div(-7, 1)), -7);
}

TEST(MetadataReference, ModePresets) {
  const std::vector<int64_t> seq = {10, 20}, acc = {1, 2}, ext = {3, 4};
  {
    const MetaExpansion e = mode_expansion(MetaMode::kDecode, seq, {}, {}, 5);
    EXPECT_TRUE(e.uniform);
    EXPECT_EQ(e.qo_uniform, 1);
    EXPECT_EQ(e.kv_offset, 0);
  }
  {
    const MetaExpansion e = mode_expansion(MetaMode::kTargetVerify, seq, {}, {}, 5);
    EXPECT_TRUE(e.uniform);
    EXPECT_EQ(e.qo_uniform, 5);
    EXPECT_EQ(e.kv_offset, 5);
  }
  {
    const MetaExpansion e = mode_expansion(MetaMode::kDraftExtend, seq, acc, {}, 5);
    EXPECT_FALSE(e.uniform);
    EXPECT_EQ(e.qo, acc);
    EXPECT_EQ(e.max_qo, 5);
    EXPECT_EQ(e.kv_offset, 0);
  }
  {
    const MetaExpansion e = mode_expansion(MetaMode::kDraftExtendStatic, seq, {}, {}, 5);
    EXPECT_TRUE(e.uniform);
    EXPECT_EQ(e.qo_uniform, 5);
    EXPECT_EQ(e.kv_offset, 0);
  }
  {
    const MetaExpansion e = mode_expansion(MetaMode::kExtend, seq, {}, ext, 5);
    EXPECT_FALSE(e.uniform);
    EXPECT_EQ(e.qo, ext);
    EXPECT_EQ(e.max_qo, kI32Max);
  }
}

// Far outside int32 and int64 sums: nothing wraps.
TEST(MetadataReference, ExtremeValuesDoNotWrap) {
  MetaRefInput in;
  in.expansion.kv_lens = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max()};
  in.expansion.kv_offset = kI32Max;
  in.expansion.qo = {2, 2, kI32Max};
  in.capacity = 5;
  in.topk = kI32Max;
  in.wanted = kAllMetaOutputs & ~kPageTableOutputs;
  const MetaRefOutput got = reference_metadata(in);
  const int32_t M = kI32Max;
  EXPECT_EQ(got.seqlens_expanded, (std::vector<int32_t>{M, M, 0, 0, M}));
  EXPECT_EQ(got.cache_seqlens, (std::vector<int32_t>{M, 0, M}));
  EXPECT_EQ(got.cu_seqlens_k, (std::vector<int32_t>{0, M, M, M}));
  EXPECT_EQ(got.cu_seqlens_q, (std::vector<int32_t>{0, 2, 4, M}));
  EXPECT_EQ(got.sparse_cu_seqlens_k, (std::vector<int32_t>{0, M, M, M, M, M}));
  EXPECT_EQ(got.status, kBitOverflow | kBitQoExceedsKv | kBitCapacity);
  EXPECT_EQ(got.num_rows, 5);
}

// Agrees with the expansion reference of reference.h on the outputs both have.
TEST(MetadataReference, AgreesWithExpansionReference) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (Kind k : all_kinds()) {
    for (int i = 0; i < 50; ++i) {
      const Case c = gen.make(k);
      SCOPED_TRACE(c.describe());
      MetaRefInput in;
      in.expansion.kv_lens = c.in.kv;
      in.expansion.uniform = c.in.uniform;
      in.expansion.qo_uniform = c.in.qo_uniform;
      in.expansion.qo = c.in.qo;
      in.expansion.max_qo = c.in.max_qo;
      in.capacity = c.in.capacity;
      in.wanted = (1u << kMSeqlensExpanded) | (1u << kMCuSeqlensQ) | (1u << kMRowToReq) | (1u << kMNumRows) |
                  (1u << kMStatus);
      const MetaRefOutput got = reference_metadata(in);
      const RefOutput old = reference_expand(c.in);
      EXPECT_EQ(got.seqlens_expanded, old.seqlens_expanded);
      EXPECT_EQ(got.cu_seqlens_q, old.cu_seqlens_q);
      EXPECT_EQ(got.row_to_req, old.row_to_req);
      EXPECT_EQ(got.num_rows, old.num_rows);
      EXPECT_EQ(got.status, old.status);
      if (HasFailure()) return;
    }
  }
}

// Properties of random cases that follow from SPEC section 3 directly.
TEST(MetadataReference, RandomCaseProperties) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 300; ++i) {
    MetaOptions opt;
    opt.bs = base.range(0, 40);
    opt.sets = 1;
    const MetaCase c = gen.make(opt);
    SCOPED_TRACE(c.describe());
    const MetaRefInput in = c.ref_input();
    const MetaRefOutput r = reference_metadata(in);
    const bool overflow = (r.status & kBitOverflow) != 0;
    for (int64_t row = 0; row < c.capacity; ++row) {
      // sparse_seqlens <= seqlens_expanded, both 0 past num_rows.
      EXPECT_LE(r.sparse_seqlens[row], r.seqlens_expanded[row]);
      EXPECT_GE(r.sparse_seqlens[row], 0);
      if (row >= r.num_rows) {
        EXPECT_EQ(r.seqlens_expanded[row], 0);
        EXPECT_EQ(r.row_to_req[row], -1);
        EXPECT_EQ(r.sparse_cu_seqlens_k[row + 1], r.sparse_cu_seqlens_k[r.num_rows]);
      } else {
        // The saturated prefix sum: min(S_r + s_r, INT32_MAX) from the saturated S_r.
        const int64_t next = int64_t{r.sparse_cu_seqlens_k[row]} + r.sparse_seqlens[row];
        EXPECT_EQ(r.sparse_cu_seqlens_k[row + 1], std::min<int64_t>(next, kI32Max));
        if (next > kI32Max && c.wants(kMSparseCuSeqlensK)) {
          EXPECT_TRUE(overflow);
        }
      }
    }
    // Decode: seqlens_expanded equals cache_seqlens (SPEC section 3).
    if (!c.direct && c.mode == MetaMode::kDecode && c.capacity >= c.bs()) {
      for (int64_t b = 0; b < c.bs(); ++b) EXPECT_EQ(r.seqlens_expanded[b], r.cache_seqlens[b]);
    }
    // Page-table elements a valid live row must hold.
    if (c.wants(kMPageTable1)) {
      for (int64_t row = 0; row < r.num_rows; ++row) {
        const int64_t b = r.row_to_req[row];
        const int64_t src = c.rpi[b];
        if (src < 0 || src >= c.req_to_token.rows) continue;
        const int64_t live = c.full_width ? c.width : std::clamp<int64_t>(r.cache_seqlens[b], 0, c.width);
        for (int64_t col = 0; col < live; ++col) {
          ASSERT_EQ(r.page_table_1.at(row, col), c.req_to_token.at(src, col)) << "row " << row << " col " << col;
        }
      }
    }
  }
}

// The generator reaches what the sweeps rely on: every status bit in every
// mode, page tables with bad pool indices, rows cut by capacity, and widths
// both below and above the requests' kv lengths.
TEST(MetadataReference, GeneratorCoverage) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int param = 0; param < 6; ++param) {
    MetaOptions o;
    if (param == 5) {
      o.direct = true;
    } else {
      o.mode = all_meta_modes()[param];
    }
    o.sets = 1;
    o.wanted = kAllMetaOutputs;
    SCOPED_TRACE(param == 5 ? "expand_direct" : meta_mode_name(all_meta_modes()[param]));
    int32_t bits = 0;
    bool short_row = false, long_row = false;
    for (int i = 0; i < 400; ++i) {
      const MetaCase c = gen.make(o);
      const MetaRefOutput r = reference_metadata(c.ref_input());
      bits |= r.status;
      for (int64_t b = 0; b < c.bs(); ++b) {
        short_row |= r.cache_seqlens[b] > 0 && r.cache_seqlens[b] < c.width;
        long_row |= r.cache_seqlens[b] > c.width;
      }
    }
    const bool uniform_mode = param == 0 || param == 1 || param == 3;
    // Uniform rows cannot exceed capacity (a host error) nor be out of range.
    const int32_t want = uniform_mode ? (2 | 4 | 8) : (1 | 2 | 4 | 8 | 16);
    EXPECT_EQ(bits & want, want) << "bits seen: " << bits;
    EXPECT_TRUE(short_row);
    EXPECT_TRUE(long_row);
  }
}

}  // namespace
}  // namespace specmeta_test
