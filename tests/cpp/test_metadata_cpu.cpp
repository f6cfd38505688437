// The metadata builder's CPU backend (build_metadata_cpu, and expand_cpu with
// the builder's ExpandArgs fields) against metadata_reference.h, exactly,
// guards included; and the host-side validation rules of
// docs/builder-contract.md "Host errors", for both backends (they run before
// anything touches memory, so the CUDA variants need no GPU).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "metadata_cases.h"
#include "metadata_examples.h"
#include "metadata_harness.h"
#include "metadata_reference.h"
#include "metadata_suites.h"
#include "specmeta/metadata.h"

namespace specmeta_test {
namespace {

using specmeta::IntType;

// ---------------------------------------------------------------- random cases

class MetadataCpu : public ::testing::TestWithParam<int> {};

TEST_P(MetadataCpu, RandomCasesMatchReference) { sweep_random(run_meta_cpu, GetParam(), 1000); }
TEST_P(MetadataCpu, BatchSizes) { sweep_batch_sizes(run_meta_cpu, GetParam(), 6); }
TEST_P(MetadataCpu, RowCapacities) { sweep_row_capacities(run_meta_cpu, GetParam(), 6); }
TEST_P(MetadataCpu, PageSizeKpoolTopk) { sweep_page_size_kpool_topk(run_meta_cpu, GetParam(), 8); }
TEST_P(MetadataCpu, DraftTokens) { sweep_draft_tokens(run_meta_cpu, GetParam(), 8); }
TEST_P(MetadataCpu, InputTypes) { sweep_input_types(run_meta_cpu, GetParam(), 12); }
TEST_P(MetadataCpu, FullWidthOnAndOff) { sweep_full_width(run_meta_cpu, GetParam(), 50); }
TEST_P(MetadataCpu, StridedAndMisalignedViews) { sweep_strided(run_meta_cpu, GetParam(), 4); }
TEST_P(MetadataCpu, Widths) { sweep_widths(run_meta_cpu, GetParam(), 2); }
TEST_P(MetadataCpu, OutputSubsets) { sweep_output_subsets(run_meta_cpu, GetParam(), 8, 100); }
TEST_P(MetadataCpu, DestinationSets) { sweep_sets(run_meta_cpu, GetParam(), 30); }
TEST_P(MetadataCpu, CapacityAboveTotal) { sweep_capacity_above_total(run_meta_cpu, GetParam(), 60); }
TEST_P(MetadataCpu, DataFaults) { sweep_data_faults(run_meta_cpu, GetParam(), 100); }

INSTANTIATE_TEST_SUITE_P(Modes, MetadataCpu, ::testing::Range(0, kApiParams), api_param_name);

TEST(MetadataCpuCases, HandWorkedExamples) { check_hand_examples(run_meta_cpu); }
TEST(MetadataCpuCases, EachStatusBitOnItsOwn) { check_single_bits(run_meta_cpu); }
TEST(MetadataCpuCases, LengthsNearInt32Max) { check_near_int32_max(run_meta_cpu); }
TEST(MetadataCpuCases, RowSumsPast16Bits) { check_row_sums_past_16_bits(run_meta_cpu); }

// A second call into the same buffers: every element it owns is rewritten,
// page-table elements it does not own keep the first call's values.
TEST(MetadataCpuCases, SecondCallKeepsUnwrittenPageTableElements) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 40; ++i) {
    MetaOptions o;
    o.mode = base.pick(all_meta_modes());
    o.bs = base.range(1, 40);
    o.num_draft_tokens = base.range(1, 8);
    o.capacity = *o.bs * 8 + base.range(0, 20);
    o.width = base.range(1, 80);
    o.page_size = base.pick<int64_t>({1, 16, 64});
    o.wanted = kAllMetaOutputs;
    o.sets = base.pick({1, 2});
    o.table_pad = base.range(0, 3);
    o.r2t_pad = 0;
    o.front_guard = 4;
    o.page_inputs = true;
    MetaCase first = gen.make(o);
    MetaCase second = gen.make(o);
    // Same layout for both calls.
    second.full_width = base.chance(0.5);
    std::copy(std::begin(first.oversize), std::end(first.oversize), std::begin(second.oversize));
    second.table_pad[0] = first.table_pad[0];
    second.table_pad[1] = first.table_pad[1];
    second.width = first.width;
    second.page_size = first.page_size;
    second.sets = first.sets;
    second.req_to_token = first.req_to_token;
    for (int64_t& r : second.rpi) r = first.req_to_token.rows > 0 ? base.range(0, first.req_to_token.rows - 1) : 0;
    SCOPED_TRACE("first: " + first.describe() + "\nsecond: " + second.describe());
    MetaObserved obs;
    run_meta_cpu(first, &obs);
    ASSERT_TRUE(obs.status.ok()) << obs.status.message();
    // Rerun into the same allocations.
    MetaBuffers& b = obs.buffers;
    const MetaBuffers fresh = make_host_buffers(second);
    b.seq = fresh.seq;
    b.qo = fresh.qo;
    b.has_qo = fresh.has_qo;
    b.rpi = fresh.rpi;
    for (int set = 0; set < second.sets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) {
        if (!is_table_slot(s)) b.out[set][s] = fresh.out[set][s];  // poison again
      }
    }
    std::vector<MetaRefInput> refs;
    for (int set = 0; set < second.sets; ++set) {
      MetaRefInput in = second.ref_input(set);
      for (int s : {kMPageTable1, kMRealPageTable}) {
        RefTable& t = s == kMPageTable1 ? in.page_table_1_before : in.real_page_table_before;
        const std::vector<int32_t>& a = b.out[set][s];
        std::copy(a.begin() + second.front_guard, a.begin() + second.front_guard + second.payload_elems(s),
                  t.values.begin());
      }
      refs.push_back(in);
    }
    MetaCallArgs args;
    make_call_args(second, host_pointers(b), &args);
    const specmeta::Status st = specmeta::build_metadata_cpu(args.meta);
    ASSERT_TRUE(st.ok()) << st.message();
    for (int set = 0; set < second.sets; ++set) {
      const MetaRefOutput ref = reference_metadata(refs[set]);
      for (int s = 0; s < kMetaSlots; ++s) {
        const std::vector<int32_t> expected = expected_alloc(second, ref, s);
        EXPECT_TRUE(same_elements(std::string("set ") + std::to_string(set) + " " + meta_slot_name(s), expected.data(),
                                  b.out[set][s].data(), static_cast<int64_t>(expected.size())));
      }
    }
    if (HasFailure()) return;
  }
}

// BoundExpansion: bound once for a batch, run for its first bs requests, it
// writes what a call for those requests writes (over the same buffers).
TEST(MetadataCpuCases, BoundExpansionRunsFirstRequests) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 60; ++i) {
    const MetaCase c = gen.make(options_for(static_cast<int>(base.range(0, kApiParams - 1))));
    for (int64_t bs : {int64_t{0}, int64_t{1}, c.bs() / 2, c.bs() - 1, c.bs()}) {
      if (bs < 0 || bs > c.bs()) continue;
      const MetaCase t = first_requests(c, bs);
      SCOPED_TRACE("bound for " + std::to_string(c.bs()) + ", run for " + std::to_string(bs) + ": " + t.describe());
      MetaObserved obs;
      obs.buffers = make_host_buffers(t);
      MetaCallArgs a;
      make_call_args(t, host_pointers(obs.buffers), &a);
      specmeta::ExpandArgs e = a.expand;
      if (!t.direct) {
        ASSERT_TRUE(specmeta::validate(a.meta, &e).ok());
      }
      e.bs = c.bs();
      specmeta::BoundExpansion bound;
      const specmeta::Status sb = bound.bind(e);
      ASSERT_TRUE(sb.ok()) << sb.message();
      EXPECT_EQ(bound.max_bs(), c.bs());
      obs.status = bound.run_cpu(bs);
      ASSERT_TRUE(obs.status.ok()) << obs.status.message();
      EXPECT_TRUE(matches_meta_reference(t, obs.buffers));
    }
    if (HasFailure()) return;
  }
}

TEST(MetadataCpuCases, BoundExpansionRejectsBadBatchSizes) {
  const MetaCase c = meta_hand_examples()[0].c;  // target_verify, bs 2, page tables
  MetaBuffers b = make_host_buffers(c);
  const MetaBuffers before = b;
  MetaCallArgs a;
  make_call_args(c, host_pointers(b), &a);
  specmeta::ExpandArgs e;
  ASSERT_TRUE(specmeta::validate(a.meta, &e).ok());
  specmeta::BoundExpansion bound;
  EXPECT_EQ(bound.run_cpu(1).code(), specmeta::Status::Code::kInvalidArgument) << "run before bind";
  ASSERT_TRUE(bound.bind(e).ok());
  for (int64_t bs : {int64_t{-1}, c.bs() + 1}) {
    const specmeta::Status s = bound.run_cpu(bs);
    EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument) << "bs " << bs;
    EXPECT_NE(s.message().find("bs"), std::string::npos) << s.message();
  }
  for (int set = 0; set < kMaxSets; ++set) {
    for (int s = 0; s < kMetaSlots; ++s) EXPECT_EQ(b.out[set][s], before.out[set][s]) << meta_slot_name(s);
  }
  // A failed bind leaves nothing bound.
  e.topk = 0;
  EXPECT_EQ(bound.bind(e).code(), specmeta::Status::Code::kInvalidArgument);
  EXPECT_FALSE(bound.bound());
  EXPECT_EQ(bound.run_cpu(1).code(), specmeta::Status::Code::kInvalidArgument);
}

// build_metadata_cpu of a mode and expand_cpu of the same expansion write the same bytes.
TEST(MetadataCpuCases, ModeEqualsItsExpansion) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 60; ++i) {
    MetaCase c = gen.make();
    MetaCase d = c;
    d.direct = true;
    const MetaExpansion e = c.expansion();
    d.kv_offset = e.kv_offset;
    d.uniform = e.uniform;
    d.qo_uniform = e.qo_uniform;
    d.max_qo = e.max_qo;
    SCOPED_TRACE(c.describe());
    MetaObserved a, b;
    run_meta_cpu(c, &a);
    run_meta_cpu(d, &b);
    ASSERT_TRUE(a.status.ok()) << a.status.message();
    ASSERT_TRUE(b.status.ok()) << b.status.message();
    for (int set = 0; set < c.sets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) EXPECT_EQ(a.buffers.out[set][s], b.buffers.out[set][s]) << meta_slot_name(s);
    }
    if (HasFailure()) return;
  }
}

// ---------------------------------------------------------------- host errors

// A valid call of every output (bs 4, capacity 16, N 4, width 10 of 12
// req_to_token columns, page size 4) whose arrays live in arenas, so that a
// rule can point an output into an input or into another output. It builds
// either MetadataArgs (its mode) or the ExpandArgs of the same expansion.
struct MetaValidCall {
  static constexpr int64_t kBs = 4;
  static constexpr int64_t kCapacity = 16;
  static constexpr int64_t kPool = 6;
  static constexpr int64_t kCols = 12;
  static constexpr int64_t kStride = 13;
  static constexpr int64_t kWidth = 10;
  static constexpr int64_t kPageSize = 4;
  static constexpr int64_t kSetStride = 1024;  // elements between destination sets in `sets`

  // seq at 0, accept_lens at 256, extend_lens at 512, req_pool_indices at 768,
  // req_to_token at 1024 (77 elements): far apart, so that even a page table
  // pointed into one of them overlaps that one only.
  std::vector<int32_t> inputs;
  std::vector<int32_t> sets;    // destination set k at k * kSetStride, poisoned
  std::vector<specmeta::ExpandOutputs> extra;

  MetaMode mode = MetaMode::kDraftExtend;
  int64_t bs = kBs;
  specmeta::IntSpan seq, accept, extend, rpi;
  specmeta::TableSpan r2t;
  int64_t num_draft_tokens = 4;
  int64_t capacity = kCapacity;
  int64_t topk = 2048;
  int64_t kpool = 1;
  int64_t width = kWidth;
  int64_t page_size = kPageSize;
  int extra_count = 1;
  bool extra_null = false;
  // When set, meta() passes this raw Mode code instead of `mode`'s.
  bool raw_mode = false;
  int32_t mode_code = 0;

  explicit MetaValidCall(MetaMode m) : inputs(1536, 0), sets(static_cast<size_t>(9 * kSetStride), kPoison), mode(m) {
    for (int i = 0; i < kBs; ++i) {
      seq_data()[i] = 10 + i;
      accept_data()[i] = 1 + i;  // <= N
      extend_data()[i] = 2;
      rpi_data()[i] = i + 1;     // < pool
    }
    for (int i = 0; i < kPool * kStride; ++i) r2t_data()[i] = 1000 + i;
    seq = {seq_data(), IntType::kInt32, kBs};
    if (mode == MetaMode::kDraftExtend) accept = {accept_data(), IntType::kInt32, kBs};
    if (mode == MetaMode::kExtend) extend = {extend_data(), IntType::kInt32, kBs};
    rpi = {rpi_data(), IntType::kInt32, kBs};
    r2t = {r2t_data(), kPool, kCols, kStride};
    for (int k = 1; k < kMaxSets; ++k) extra.push_back(set(k));
  }

  int32_t* seq_data() { return inputs.data(); }
  int32_t* accept_data() { return inputs.data() + 256; }
  int32_t* extend_data() { return inputs.data() + 512; }
  int32_t* rpi_data() { return inputs.data() + 768; }
  int32_t* r2t_data() { return inputs.data() + 1024; }

  // Destination set k: every output at a fixed offset of its block.
  specmeta::ExpandOutputs set(int k) {
    int32_t* base = sets.data() + k * kSetStride;
    specmeta::ExpandOutputs o;
    o.seqlens_expanded = {base + 0, kCapacity};
    o.cu_seqlens_q = {base + 32, kBs + 1};
    o.row_to_req = {base + 64, kCapacity};
    o.num_rows = {base + 96, 1};
    o.status = {base + 100, 1};
    o.cache_seqlens = {base + 128, kBs};
    o.cu_seqlens_k = {base + 160, kBs + 1};
    o.sparse_seqlens = {base + 192, kCapacity};
    o.sparse_cu_seqlens_k = {base + 224, kCapacity + 1};
    o.page_table_1 = {base + 256, kCapacity, kWidth, kWidth + 1};                   // [256, 431)
    o.real_page_table = {base + 512, kCapacity, (kWidth + kPageSize - 1) / kPageSize, 3};  // [512, 560)
    return o;
  }
  specmeta::ExpandOutputs main_out = set(0);

  specmeta::MetadataArgs meta() const {
    specmeta::MetadataArgs m;
    m.mode = raw_mode ? static_cast<specmeta::Mode>(mode_code) : api_mode(mode);
    m.bs = bs;
    m.seq_lens = seq;
    m.accept_lens = accept;
    m.extend_lens = extend;
    m.num_draft_tokens = num_draft_tokens;
    m.capacity = capacity;
    m.topk = topk;
    m.kpool = kpool;
    m.req_pool_indices = rpi;
    m.req_to_token = r2t;
    m.width = width;
    m.page_size = page_size;
    m.out = main_out;
    m.extra_out = extra_null ? nullptr : extra.data();
    m.extra_out_count = extra_count;
    return m;
  }

  // The test's own preset (the same table as metadata_reference.h's mode_expansion).
  specmeta::ExpandArgs expand() const {
    specmeta::ExpandArgs e;
    e.bs = bs;
    e.kv_lens = seq;
    switch (mode) {
      case MetaMode::kDecode: e.qo_uniform = 1; break;
      case MetaMode::kTargetVerify:
        e.qo_uniform = num_draft_tokens;
        e.kv_offset = num_draft_tokens;
        break;
      case MetaMode::kDraftExtend:
        e.qo_lens = accept;
        e.max_qo = num_draft_tokens;
        break;
      case MetaMode::kDraftExtendStatic: e.qo_uniform = num_draft_tokens; break;
      case MetaMode::kExtend: e.qo_lens = extend; break;
    }
    e.capacity = capacity;
    e.topk = topk;
    e.kpool = kpool;
    e.req_pool_indices = rpi;
    e.req_to_token = r2t;
    e.width = width;
    e.page_size = page_size;
    e.out = main_out;
    e.extra_out = extra_null ? nullptr : extra.data();
    e.extra_out_count = extra_count;
    return e;
  }
};

enum class Api { kMeta, kExpand };

struct MetaRule {
  std::string name;
  MetaMode mode;
  std::vector<std::string> meta_names;    // the message must name each of these (build_metadata_*)
  std::vector<std::string> expand_names;  // same for expand_*; empty: the rule has no ExpandArgs form
  std::function<void(MetaValidCall&)> mutate;
};

specmeta::OutSpan* out_span(specmeta::ExpandOutputs& o, int slot) {
  specmeta::OutSpan* spans[] = {&o.seqlens_expanded, &o.cu_seqlens_q,  &o.row_to_req,
                                &o.num_rows,         &o.status,        &o.cache_seqlens,
                                &o.cu_seqlens_k,     &o.sparse_seqlens, &o.sparse_cu_seqlens_k};
  return spans[slot];
}
specmeta::OutTable* out_table(specmeta::ExpandOutputs& o, int slot) {
  return slot == kMPageTable1 ? &o.page_table_1 : &o.real_page_table;
}
int32_t* out_data(specmeta::ExpandOutputs& o, int slot) {
  return is_table_slot(slot) ? out_table(o, slot)->data : out_span(o, slot)->data;
}
void set_out_data(specmeta::ExpandOutputs& o, int slot, int32_t* p) {
  if (is_table_slot(slot)) {
    out_table(o, slot)->data = p;
  } else {
    out_span(o, slot)->data = p;
  }
}

std::vector<MetaRule> meta_rules() {
  using MM = MetaMode;
  const MM DE = MM::kDraftExtend;
  std::vector<MetaRule> r;
  // Scalars.
  r.push_back({"BsNegative", DE, {"bs"}, {"bs"}, [](MetaValidCall& v) { v.bs = -1; }});
  r.push_back({"CapacityNegative", DE, {"capacity"}, {"capacity"}, [](MetaValidCall& v) { v.capacity = -1; }});
  r.push_back({"TopkZero", DE, {"topk"}, {"topk"}, [](MetaValidCall& v) { v.topk = 0; }});
  r.push_back({"TopkNegative", DE, {"topk"}, {"topk"}, [](MetaValidCall& v) { v.topk = -5; }});
  r.push_back({"KpoolZero", DE, {"kpool"}, {"kpool"}, [](MetaValidCall& v) { v.kpool = 0; }});
  r.push_back({"KpoolNegative", DE, {"kpool"}, {"kpool"}, [](MetaValidCall& v) { v.kpool = -1; }});
  r.push_back({"PageSizeZero", DE, {"page_size"}, {"page_size"}, [](MetaValidCall& v) { v.page_size = 0; }});
  r.push_back({"PageSizeNegative", DE, {"page_size"}, {"page_size"}, [](MetaValidCall& v) { v.page_size = -16; }});
  for (MM m : {MM::kTargetVerify, MM::kDraftExtend, MM::kDraftExtendStatic}) {
    r.push_back({std::string("NumDraftTokensNegative_") + meta_mode_name(m), m, {"num_draft_tokens"}, {},
                 [](MetaValidCall& v) { v.num_draft_tokens = -1; }});
  }
  // Uniform total bs * qo above capacity.
  r.push_back({"UniformTotalAboveCapacity_decode", MM::kDecode, {"capacity"}, {"capacity"},
               [](MetaValidCall& v) { v.capacity = MetaValidCall::kBs - 1; }});
  for (MM m : {MM::kTargetVerify, MM::kDraftExtendStatic}) {
    r.push_back({std::string("UniformTotalAboveCapacity_") + meta_mode_name(m), m, {"capacity"}, {"capacity"},
                 [](MetaValidCall& v) { v.num_draft_tokens = 5; }});  // 4 * 5 = 20 > 16
  }
  // Input dtypes.
  r.push_back({"SeqLensBadType", DE, {"seq_lens"}, {"kv_lens"}, [](MetaValidCall& v) { v.seq.type = static_cast<IntType>(7); }});
  r.push_back({"AcceptLensBadType", DE, {"accept_lens"}, {"qo_lens"},
               [](MetaValidCall& v) { v.accept.type = static_cast<IntType>(2); }});
  r.push_back({"ExtendLensBadType", MM::kExtend, {"extend_lens"}, {"qo_lens"},
               [](MetaValidCall& v) { v.extend.type = static_cast<IntType>(-1); }});
  r.push_back({"ReqPoolIndicesBadType", DE, {"req_pool_indices"}, {"req_pool_indices"},
               [](MetaValidCall& v) { v.rpi.type = static_cast<IntType>(3); }});
  // Input sizes.
  r.push_back({"SeqLensShorterThanBs", DE, {"seq_lens"}, {"kv_lens"}, [](MetaValidCall& v) { v.seq.size -= 1; }});
  r.push_back({"SeqLensNull", DE, {"seq_lens"}, {"kv_lens"}, [](MetaValidCall& v) { v.seq.data = nullptr; }});
  r.push_back({"AcceptLensShorterThanBs", DE, {"accept_lens"}, {"qo_lens"}, [](MetaValidCall& v) { v.accept.size -= 1; }});
  r.push_back({"ExtendLensShorterThanBs", MM::kExtend, {"extend_lens"}, {"qo_lens"},
               [](MetaValidCall& v) { v.extend.size -= 1; }});
  r.push_back({"ReqPoolIndicesShorterThanBs", DE, {"req_pool_indices"}, {"req_pool_indices"},
               [](MetaValidCall& v) { v.rpi.size -= 1; }});
  // Mode inputs missing, or given where the mode does not use them.
  r.push_back({"AcceptLensMissing", DE, {"accept_lens"}, {}, [](MetaValidCall& v) { v.accept = {}; }});
  r.push_back({"AcceptLensNullData", DE, {"accept_lens"}, {}, [](MetaValidCall& v) { v.accept.data = nullptr; }});
  r.push_back({"ExtendLensMissing", MM::kExtend, {"extend_lens"}, {}, [](MetaValidCall& v) { v.extend = {}; }});
  r.push_back({"ExtendLensNullData", MM::kExtend, {"extend_lens"}, {}, [](MetaValidCall& v) { v.extend.data = nullptr; }});
  for (MM m : all_meta_modes()) {
    if (m != MM::kDraftExtend) {
      r.push_back({std::string("AcceptLensGivenIn_") + meta_mode_name(m), m, {"accept_lens"}, {}, [](MetaValidCall& v) {
                     v.accept = {v.accept_data(), IntType::kInt32, MetaValidCall::kBs};
                   }});
    }
    if (m != MM::kExtend) {
      r.push_back({std::string("ExtendLensGivenIn_") + meta_mode_name(m), m, {"extend_lens"}, {}, [](MetaValidCall& v) {
                     v.extend = {v.extend_data(), IntType::kInt32, MetaValidCall::kBs};
                   }});
    }
  }
  // Page-table inputs.
  r.push_back({"PageTableWithoutReqPoolIndices", DE, {"req_pool_indices"}, {"req_pool_indices"},
               [](MetaValidCall& v) { v.rpi = {}; }});
  r.push_back({"PageTableWithoutReqToToken", DE, {"req_to_token"}, {"req_to_token"}, [](MetaValidCall& v) { v.r2t = {}; }});
  r.push_back({"RealPageTableOnlyWithoutReqToToken", DE, {"req_to_token"}, {"req_to_token"}, [](MetaValidCall& v) {
                 v.r2t = {};
                 v.main_out.page_table_1 = {};
                 for (auto& o : v.extra) o.page_table_1 = {};
               }});
  r.push_back({"ReqToTokenStrideBelowCols", DE, {"req_to_token"}, {"req_to_token"},
               [](MetaValidCall& v) { v.r2t.row_stride = MetaValidCall::kCols - 1; }});
  r.push_back({"WidthAboveReqToTokenCols", DE, {"width"}, {"width"}, [](MetaValidCall& v) {
                 v.width = MetaValidCall::kCols + 1;  // both tables sized for it: 13 and ceil(13/4) = 4 columns
                 v.main_out.page_table_1.cols = v.width;
                 v.main_out.page_table_1.row_stride = v.width;
                 v.main_out.real_page_table.cols = 4;
                 v.main_out.real_page_table.row_stride = 4;
                 v.extra_count = 0;
               }});
  // Output sizes, per output.
  struct SizeRule {
    int slot;
    int64_t size;
  };
  for (SizeRule s : {SizeRule{kMSeqlensExpanded, MetaValidCall::kCapacity - 1}, SizeRule{kMCuSeqlensQ, MetaValidCall::kBs},
                     SizeRule{kMRowToReq, MetaValidCall::kCapacity - 1}, SizeRule{kMNumRows, 0}, SizeRule{kMStatus, 0},
                     SizeRule{kMCacheSeqlens, MetaValidCall::kBs - 1}, SizeRule{kMCuSeqlensK, MetaValidCall::kBs},
                     SizeRule{kMSparseSeqlens, MetaValidCall::kCapacity - 1},
                     SizeRule{kMSparseCuSeqlensK, MetaValidCall::kCapacity}}) {
    const std::string name = meta_slot_name(s.slot);
    r.push_back({"TooShort_" + name, DE, {name}, {name}, [s](MetaValidCall& v) {
                   out_span(v.main_out, s.slot)->size = s.size;
                   for (auto& o : v.extra) out_span(o, s.slot)->size = s.size;
                 }});
  }
  for (int slot : {kMPageTable1, kMRealPageTable}) {
    const std::string name = meta_slot_name(slot);
    auto all_sets = [slot](MetaValidCall& v, const std::function<void(specmeta::OutTable&)>& f) {
      f(*out_table(v.main_out, slot));
      for (auto& o : v.extra) f(*out_table(o, slot));
    };
    r.push_back({"TooFewRows_" + name, DE, {name}, {name}, [all_sets](MetaValidCall& v) {
                   all_sets(v, [](specmeta::OutTable& t) { t.rows = MetaValidCall::kCapacity - 1; });
                 }});
    r.push_back({"TooFewCols_" + name, DE, {name}, {name}, [all_sets](MetaValidCall& v) {
                   all_sets(v, [](specmeta::OutTable& t) { t.cols -= 1; });
                 }});
    r.push_back({"TooManyCols_" + name, DE, {name}, {name}, [all_sets](MetaValidCall& v) {
                   all_sets(v, [](specmeta::OutTable& t) {
                     t.cols += 1;
                     t.row_stride = std::max(t.row_stride, t.cols);
                   });
                 }});
    r.push_back({"StrideBelowCols_" + name, DE, {name}, {name}, [all_sets](MetaValidCall& v) {
                   all_sets(v, [](specmeta::OutTable& t) { t.row_stride = t.cols - 1; });
                 }});
  }
  // Outputs overlapping inputs.
  struct InputRef {
    const char* meta_name;
    const char* expand_name;
    MetaMode mode;
    int offset;  // in `inputs`
  };
  for (InputRef in : {InputRef{"seq_lens", "kv_lens", DE, 3}, InputRef{"accept_lens", "qo_lens", DE, 256},
                      InputRef{"extend_lens", "qo_lens", MM::kExtend, 513},
                      InputRef{"req_pool_indices", "req_pool_indices", DE, 770},
                      InputRef{"req_to_token", "req_to_token", DE, 1024 + 5 * MetaValidCall::kStride + 11}}) {
    for (int slot = 0; slot < kMetaSlots; ++slot) {
      const std::string out = meta_slot_name(slot);
      r.push_back({"Overlap_" + out + "_" + in.meta_name, in.mode, {out, in.meta_name}, {out, in.expand_name},
                   [slot, in](MetaValidCall& v) { set_out_data(v.main_out, slot, v.inputs.data() + in.offset); }});
    }
  }
  // int64 inputs span 8 bytes per request.
  r.push_back({"Overlap_int64_seq_lens_upper_half", DE, {"status", "seq_lens"}, {"status", "kv_lens"}, [](MetaValidCall& v) {
                 v.seq.type = IntType::kInt64;  // bytes [0, 32)
                 v.main_out.status.data = v.seq_data() + 7;
               }});
  // Outputs overlapping each other (the second starts on the first's last element).
  const std::pair<int, int> pairs[] = {{kMSeqlensExpanded, kMRowToReq},   {kMCuSeqlensQ, kMCuSeqlensK},
                                       {kMCacheSeqlens, kMStatus},        {kMSparseSeqlens, kMSparseCuSeqlensK},
                                       {kMSparseCuSeqlensK, kMNumRows},   {kMPageTable1, kMRealPageTable},
                                       {kMRealPageTable, kMSeqlensExpanded}, {kMPageTable1, kMCuSeqlensK}};
  for (auto [a, b] : pairs) {
    const std::string na = meta_slot_name(a), nb = meta_slot_name(b);
    r.push_back({"Overlap_" + na + "_" + nb, DE, {na, nb}, {na, nb}, [a = a, b = b](MetaValidCall& v) {
                   int64_t last;  // offset of a's last element
                   if (is_table_slot(a)) {
                     const specmeta::OutTable& t = *out_table(v.main_out, a);
                     last = (MetaValidCall::kCapacity - 1) * t.row_stride + t.cols - 1;
                   } else {
                     last = v.meta().capacity;  // inside every 1-D output but the size-1 scalars
                     last = std::min<int64_t>(last, out_span(v.main_out, a)->size - 1);
                   }
                   set_out_data(v.main_out, b, out_data(v.main_out, a) + last);
                 }});
  }
  r.push_back({"Overlap_num_rows_status_same_pointer", DE, {"num_rows", "status"}, {"num_rows", "status"},
               [](MetaValidCall& v) { v.main_out.status.data = v.main_out.num_rows.data; }});
  // Destination sets.
  r.push_back({"Overlap_across_sets", DE, {"seqlens_expanded"}, {"seqlens_expanded"},
               [](MetaValidCall& v) { v.extra[0].seqlens_expanded.data = v.main_out.seqlens_expanded.data + 5; }});
  r.push_back({"Overlap_page_table_across_sets", DE, {"page_table_1"}, {"page_table_1"},
               [](MetaValidCall& v) { v.extra[0].page_table_1.data = v.main_out.page_table_1.data + 100; }});
  r.push_back({"SetsDifferInWantedOutputs", DE, {"sparse_seqlens"}, {"sparse_seqlens"},
               [](MetaValidCall& v) { v.extra[0].sparse_seqlens = {}; }});
  r.push_back({"SetsDifferInWantedPageTable", DE, {"real_page_table"}, {"real_page_table"}, [](MetaValidCall& v) {
                 v.extra_count = 3;
                 v.extra[2].real_page_table = {};
               }});
  r.push_back({"SetsDifferInShape_seqlens_expanded", DE, {"seqlens_expanded"}, {"seqlens_expanded"},
               [](MetaValidCall& v) { v.extra[0].seqlens_expanded.size += 1; }});
  r.push_back({"SetsDifferInShape_page_table_1_rows", DE, {"page_table_1"}, {"page_table_1"},
               [](MetaValidCall& v) { v.extra[0].page_table_1.rows += 1; }});
  r.push_back({"MoreThanEightSets", DE, {"extra_out"}, {"extra_out"}, [](MetaValidCall& v) {
                 v.extra.push_back(v.set(8));
                 v.extra_count = 8;
               }});
  r.push_back({"ExtraSetsNull", DE, {"extra_out"}, {"extra_out"}, [](MetaValidCall& v) { v.extra_null = true; }});
  // Each destination set past the first is checked on its own: check_same_outputs
  // compares shapes only, not row strides or pointers.
  r.push_back({"Set1StrideBelowCols_page_table_1", DE, {"out[1].page_table_1"}, {"out[1].page_table_1"},
               [](MetaValidCall& v) { v.extra[0].page_table_1.row_stride = MetaValidCall::kWidth - 1; }});
  r.push_back({"Set1NullData_row_to_req", DE, {"out[1].row_to_req", "null"}, {"out[1].row_to_req", "null"},
               [](MetaValidCall& v) { v.extra[0].row_to_req.data = nullptr; }});
  // A wanted output with a size but no buffer.
  for (int slot = 0; slot < kMetaSlots; ++slot) {
    const std::string name = meta_slot_name(slot);
    r.push_back({"NullData_" + name, DE, {name, "null"}, {name, "null"},
                 [slot](MetaValidCall& v) { set_out_data(v.main_out, slot, nullptr); }});
  }
  // A table marked "not wanted" (rows < 0) that still carries a buffer.
  for (int slot : {kMPageTable1, kMRealPageTable}) {
    const std::string name = meta_slot_name(slot);
    r.push_back({"UnwantedWithBuffer_" + name, DE, {name, "rows >= 0"}, {name, "rows >= 0"}, [slot](MetaValidCall& v) {
                   out_table(v.main_out, slot)->rows = -1;
                   v.extra_count = 0;  // the other sets would differ in shape
                 }});
  }
  // req_to_token's own layout. Requests' pool indices are made invalid where a
  // missed rule would otherwise make the backend read through the bad layout.
  auto no_valid_pool_index = [](MetaValidCall& v) {
    for (int i = 0; i < MetaValidCall::kBs; ++i) v.rpi_data()[i] = static_cast<int32_t>(MetaValidCall::kPool);
  };
  r.push_back({"ReqToTokenRowsNegative", DE, {"req_to_token rows"}, {"req_to_token rows"},
               [](MetaValidCall& v) { v.r2t.rows = -1; }});
  r.push_back({"ReqToTokenColsNegative", DE, {"req_to_token columns"}, {"req_to_token columns"},
               [](MetaValidCall& v) { v.r2t.cols = -1; }});
  r.push_back({"ReqToTokenColsAboveInt32", DE, {"req_to_token columns"}, {"req_to_token columns"},
               [no_valid_pool_index](MetaValidCall& v) {
                 v.r2t.cols = int64_t{1} << 31;
                 v.r2t.row_stride = v.r2t.cols;
                 no_valid_pool_index(v);
               }});
  // The byte extent (rows - 1) * row stride + columns must fit int64 (the
  // overlap checks compute it), with a row stride that passes its own range rule.
  const int64_t max_elements = INT64_MAX / 4;
  r.push_back({"ReqToTokenExtentAboveInt64", DE, {"req_to_token", "(rows - 1) * row stride"},
               {"req_to_token", "(rows - 1) * row stride"}, [no_valid_pool_index, max_elements](MetaValidCall& v) {
                 v.r2t.row_stride = max_elements / 2;  // 5 full rows exceed the limit
                 no_valid_pool_index(v);
               }});
  r.push_back({"ExtentAboveInt64_page_table_1", DE, {"page_table_1", "(rows - 1) * row stride"},
               {"page_table_1", "(rows - 1) * row stride"},
               [max_elements](MetaValidCall& v) { v.main_out.page_table_1.row_stride = max_elements / 2; }});
  // A null req_to_token claiming elements is rejected also when no request reads it.
  r.push_back({"ReqToTokenNullDataEmptyBatch", DE, {"req_to_token", "null"}, {"req_to_token", "null"},
               [](MetaValidCall& v) {
                 v.bs = 0;
                 v.r2t.data = nullptr;
               }});
  // No page table is wanted: only the range rule on width itself applies.
  for (int64_t width : {int64_t{-1}, int64_t{1} << 31}) {
    r.push_back({std::string("Width") + (width < 0 ? "Negative" : "AboveInt32") + "_without_page_tables", DE,
                 {"width"}, {"width"}, [width](MetaValidCall& v) {
                   v.main_out.page_table_1 = {};
                   v.main_out.real_page_table = {};
                   v.extra_count = 0;
                   v.rpi = {};
                   v.r2t = {};
                   v.width = width;
                 }});
  }
  // A Mode code outside the enum (a C++ caller's cast); decode's inputs otherwise.
  for (int32_t code : {-1, static_cast<int32_t>(specmeta::Mode::kExtend) + 1}) {
    r.push_back({"ModeCode_" + std::string(code < 0 ? "Negative" : "PastExtend"), MM::kDecode,
                 {"mode", "code " + std::to_string(code)}, {}, [code](MetaValidCall& v) {
                   v.raw_mode = true;
                   v.mode_code = code;
                 }});
  }
  return r;
}

enum class Backend { kCpu, kCuda };

struct RuleParam {
  Backend backend;
  Api api;
  int rule;
};

std::vector<RuleParam> rule_params() {
  std::vector<RuleParam> p;
  const std::vector<MetaRule> rules = meta_rules();
  for (Backend b : {Backend::kCpu, Backend::kCuda}) {
    for (Api api : {Api::kMeta, Api::kExpand}) {
      for (int i = 0; i < static_cast<int>(rules.size()); ++i) {
        if (api == Api::kExpand && rules[i].expand_names.empty()) continue;
        p.push_back({b, api, i});
      }
    }
  }
  return p;
}

class MetadataValidation : public ::testing::TestWithParam<RuleParam> {};

TEST_P(MetadataValidation, RejectsNamingTheArgumentAndWritesNothing) {
  const RuleParam param = GetParam();
  const MetaRule rule = meta_rules()[param.rule];
  MetaValidCall v(rule.mode);
  {
    specmeta::ExpandArgs e;
    specmeta::Status s = specmeta::validate(v.meta(), &e);
    ASSERT_TRUE(s.ok()) << "the baseline call must be valid: " << s.message();
    s = specmeta::validate(v.expand());
    ASSERT_TRUE(s.ok()) << "the baseline expansion must be valid: " << s.message();
  }
  rule.mutate(v);
  const std::vector<int32_t> inputs_before = v.inputs;
  const std::vector<int32_t> sets_before = v.sets;
  specmeta::Status s;
  {
    // Call an entry point only once the host-side checks reject the call, so
    // that a rule the library misses fails this test instead of running the
    // CPU backend through a null pointer or a kernel on host pointers (which
    // would poison the CUDA context).
    specmeta::Status pre;
    if (param.api == Api::kMeta) {
      specmeta::ExpandArgs e;
      pre = specmeta::validate(v.meta(), &e);
    } else {
      pre = specmeta::validate(v.expand());
    }
    ASSERT_FALSE(pre.ok()) << "validate accepts the call; the entry point was not called";
  }
  if (param.api == Api::kMeta) {
    s = param.backend == Backend::kCpu ? specmeta::build_metadata_cpu(v.meta()) : specmeta::build_metadata_cuda(v.meta(), nullptr);
  } else {
    s = param.backend == Backend::kCpu ? specmeta::expand_cpu(v.expand()) : specmeta::expand_cuda(v.expand(), nullptr);
  }
  EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument) << s.message();
  if (param.api == Api::kMeta) {
    specmeta::ExpandArgs e;
    EXPECT_EQ(specmeta::validate(v.meta(), &e).code(), specmeta::Status::Code::kInvalidArgument);
  } else {
    EXPECT_EQ(specmeta::validate(v.expand()).code(), specmeta::Status::Code::kInvalidArgument);
  }
  for (const std::string& name : param.api == Api::kMeta ? rule.meta_names : rule.expand_names) {
    EXPECT_NE(s.message().find(name), std::string::npos) << "the message does not name " << name << ": " << s.message();
  }
  EXPECT_TRUE(same_elements("destination sets", sets_before.data(), v.sets.data(), static_cast<int64_t>(v.sets.size())));
  EXPECT_TRUE(same_elements("inputs", inputs_before.data(), v.inputs.data(), static_cast<int64_t>(v.inputs.size())));
}

INSTANTIATE_TEST_SUITE_P(Rules, MetadataValidation, ::testing::ValuesIn(rule_params()),
                         [](const ::testing::TestParamInfo<RuleParam>& info) {
                           const RuleParam& p = info.param;
                           return std::string(p.backend == Backend::kCpu ? "Cpu_" : "Cuda_") +
                                  (p.api == Api::kMeta ? "Meta_" : "Expand_") + meta_rules()[p.rule].name;
                         });

// Valid corners the rules must not reject.
TEST(MetadataValidationCorners, AcceptsValidCorners) {
  for (MetaMode m : all_meta_modes()) {
    SCOPED_TRACE(meta_mode_name(m));
    {
      MetaValidCall v(m);  // eight destination sets
      v.extra_count = kMaxSets - 1;
      specmeta::ExpandArgs e;
      const specmeta::Status s = specmeta::validate(v.meta(), &e);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    {
      MetaValidCall v(m);  // no page tables, no page-table inputs
      v.main_out.page_table_1 = {};
      v.main_out.real_page_table = {};
      v.extra_count = 0;
      v.rpi = {};
      v.r2t = {};
      v.width = 0;
      specmeta::ExpandArgs e;
      const specmeta::Status s = specmeta::validate(v.meta(), &e);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{3, 0}, std::pair<int64_t, int64_t>{0, 5}}) {
      MetaValidCall v(m);  // a req_to_token with a shape but no elements may be null (torch's empty tensors)
      v.r2t.data = nullptr;
      v.r2t.rows = rows;
      v.r2t.cols = cols;
      v.r2t.row_stride = cols;
      v.width = 0;
      v.main_out.page_table_1.cols = 0;
      v.main_out.page_table_1.row_stride = 0;
      v.main_out.real_page_table.cols = 0;
      v.main_out.real_page_table.row_stride = 0;
      v.extra_count = 0;
      specmeta::ExpandArgs e;
      const specmeta::Status s = specmeta::validate(v.meta(), &e);
      EXPECT_TRUE(s.ok()) << rows << " x " << cols << ": " << s.message();
    }
    {
      MetaValidCall v(m);  // width == W, page tables sized for it
      v.width = MetaValidCall::kCols;
      v.main_out.page_table_1.cols = v.width;
      v.main_out.page_table_1.row_stride = v.width;
      v.main_out.real_page_table.cols = 3;
      v.extra_count = 0;
      specmeta::ExpandArgs e;
      const specmeta::Status s = specmeta::validate(v.meta(), &e);
      EXPECT_TRUE(s.ok()) << s.message();
    }
  }
}

}  // namespace
}  // namespace specmeta_test
