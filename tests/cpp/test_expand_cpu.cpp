// CPU backend against the reference, and the host-side validation rules
// (which expand_cuda applies too, before touching any memory, so they are
// checked here for both backends and need no GPU).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cases.h"
#include "examples.h"
#include "harness.h"
#include "reference.h"
#include "specmeta/specmeta.h"

namespace specmeta_test {
namespace {

using specmeta::IntType;

constexpr int kCasesPerKind = 1000;

std::string kind_param_name(const ::testing::TestParamInfo<Kind>& info) { return kind_name(info.param); }

// ---------------------------------------------------------------- random cases

class CpuRandom : public ::testing::TestWithParam<Kind> {};

TEST_P(CpuRandom, MatchesReference) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  run_random_cases(run_cpu, gen, GetParam(), kCasesPerKind);
}

// Random subsets of the five outputs; the others are null.
TEST_P(CpuRandom, OutputSubsets) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  CaseOptions opt;
  opt.random_out_mask = true;
  run_random_cases(run_cpu, gen, GetParam(), 200, opt);
}

INSTANTIATE_TEST_SUITE_P(Kinds, CpuRandom, ::testing::ValuesIn(all_kinds()), kind_param_name);

TEST(Cpu, HandWorkedExamples) {
  for (const Example& e : hand_examples()) {
    SCOPED_TRACE(e.name);
    run_and_compare(run_cpu, e.c);
  }
}

TEST(Cpu, AllTypeCombinations) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for_each_type_combination([&](const CaseOptions& opt) {
    for (Kind k : all_kinds()) run_random_cases(run_cpu, gen, k, 40, opt);
  });
}

// Every algorithm-switch batch size, with capacities around the total and
// around multiples of 1024 rows, per-request and uniform qo.
TEST(Cpu, BoundaryBatchSizesAndCapacities) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : boundary_batch_sizes()) {
    for (bool uniform : {false, true}) {
      CaseOptions opt;
      opt.bs = bs;
      opt.uniform = uniform;
      const Case base = gen.make(uniform ? Kind::kUniform : Kind::kRandomQo, opt);
      const int64_t total = CaseGen::effective_total(base.in);
      std::vector<int64_t> caps = {total, total + 1, total + 1023, total + 1024, (total + 1023) / 1024 * 1024};
      if (!uniform) caps.insert(caps.end(), {total - 1, total - 1024, total / 1024 * 1024, 0});
      for (int64_t cap : caps) {
        if (cap < 0) continue;
        Case c = base;
        c.in.capacity = cap;
        run_and_compare(run_cpu, c);
      }
    }
  }
}

// Outputs that start one element past a 16-byte boundary.
TEST(Cpu, MisalignedOutputs) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t front : {1, 2, 3, 5}) {
    CaseOptions opt;
    opt.front_guard = front;
    for (Kind k : all_kinds()) run_random_cases(run_cpu, gen, k, 20, opt);
  }
}

// A second call into the same buffers rewrites every element it owns.
TEST(Cpu, SecondCallRewritesEveryElement) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int i = 0; i < 20; ++i) {
    CaseOptions opt;
    opt.bs = gen.range(1, 300);
    opt.capacity = gen.range(0, 3000);
    opt.kv_type = gen.any_type();
    opt.qo_type = gen.any_type();
    opt.uniform = false;
    const Case first = gen.make(Kind::kSkewed, opt);
    const Case second = gen.make(Kind::kMixed, opt);
    SCOPED_TRACE(first.describe() + " then " + second.describe());
    Observed obs;
    run_cpu(first, &obs);
    ASSERT_TRUE(obs.status.ok());
    // Call again on the same allocations, now holding the first call's values.
    const HostInput kv(second.in.kv, second.kv_tail, second.kv_type);
    const HostInput qo(second.in.qo, second.qo_tail, second.qo_type);
    int32_t* outs[kNumSlots];
    for (int s = 0; s < kNumSlots; ++s) outs[s] = obs.out[s].payload();
    obs.status = specmeta::expand_cpu(make_args(second, kv.data(), qo.data(), outs));
    ASSERT_TRUE(obs.status.ok()) << obs.status.message();
    EXPECT_TRUE(matches_reference(second, obs));
  }
}

// int64 kv within qo - 1 of INT64_MIN: SPEC 3 gives max(kv - qo + 1 + j, 0) = 0
// for every row; kv - qo + 1 must not wrap in int64 on the way.
TEST(Cpu, Int64KvNearInt64MinDoesNotWrap) {
  for (Case& c : extreme_int64_kv_cases()) run_and_compare(run_cpu, c);
}

TEST(Cpu, NoOutputsIsValid) {
  const Case c = example_case({5, 3}, {2, 3}, 8);
  const HostInput kv(c.in.kv, {}, c.kv_type);
  const HostInput qo(c.in.qo, {}, c.qo_type);
  int32_t* outs[kNumSlots] = {};
  Case none = c;
  none.out_mask = 0;
  EXPECT_TRUE(specmeta::expand_cpu(make_args(none, kv.data(), qo.data(), outs)).ok());
}

TEST(Cpu, ValidateAcceptsRandomCases) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (Kind k : all_kinds()) {
    for (int i = 0; i < 20; ++i) {
      const Case c = gen.make(k);
      SCOPED_TRACE(c.describe());
      Observed obs;
      const specmeta::Status s =
          with_host_args(c, &obs, static_cast<specmeta::Status (*)(const specmeta::ExpandArgs&)>(specmeta::validate));
      EXPECT_TRUE(s.ok()) << s.message();
    }
  }
}

// count_rows_host: the rows the batch needs, out-of-range qo counting 0.
TEST(Cpu, CountRowsHost) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (Kind k : all_kinds()) {
    for (int i = 0; i < 20; ++i) {
      const Case c = gen.make(k);
      SCOPED_TRACE(c.describe());
      Observed obs;
      EXPECT_EQ(with_host_args(c, &obs, specmeta::count_rows_host), CaseGen::effective_total(c.in));
    }
  }
}

// ---------------------------------------------------------------- validation

// A valid call (bs 4, capacity 16, every output) whose arrays all live in two
// arenas, so that a rule can point an output into an input or another output.
struct ValidCall {
  static constexpr int64_t kBs = 4;
  static constexpr int64_t kCapacity = 16;
  std::vector<int32_t> inputs;  // kv at [0, 5), qo at [64, 69)
  std::vector<int32_t> arena;   // poisoned outputs
  specmeta::ExpandArgs args;

  ValidCall() : inputs(128, 0), arena(256, kPoison) {
    for (int i = 0; i < 5; ++i) {
      inputs[i] = 10;            // kv
      inputs[64 + i] = 1 + i;    // qo
    }
    args.bs = kBs;
    args.kv_lens = {kv(), IntType::kInt32, kBs};
    args.qo_lens = {qo(), IntType::kInt32, kBs};
    args.capacity = kCapacity;
    args.max_qo = 8;
    args.out.seqlens_expanded = {arena.data() + 4, kCapacity};
    args.out.cu_seqlens_q = {arena.data() + 32, kBs + 1};
    args.out.row_to_req = {arena.data() + 64, kCapacity};
    args.out.num_rows = {arena.data() + 96, 1};
    args.out.status = {arena.data() + 100, 1};
  }
  int32_t* kv() { return inputs.data(); }
  int32_t* qo() { return inputs.data() + 64; }
  specmeta::OutSpan& slot(int s) {
    specmeta::OutSpan* spans[kNumSlots] = {&args.out.seqlens_expanded, &args.out.cu_seqlens_q, &args.out.row_to_req,
                                           &args.out.num_rows, &args.out.status};
    return *spans[s];
  }
};

struct Rule {
  std::string name;
  std::vector<std::string> names_in_message;
  std::function<void(ValidCall&)> mutate;
};

std::vector<Rule> validation_rules() {
  const int64_t big = int64_t{2147483647} + 1;
  std::vector<Rule> r = {
      {"BsNegative", {"bs"}, [](ValidCall& v) { v.args.bs = -1; }},
      {"BsAboveInt32", {"bs"}, [big](ValidCall& v) { v.args.bs = big; }},
      {"CapacityNegative", {"capacity"}, [](ValidCall& v) { v.args.capacity = -1; }},
      {"CapacityAboveInt32", {"capacity"}, [big](ValidCall& v) { v.args.capacity = big; }},
      {"MaxQoNegative", {"max_qo"}, [](ValidCall& v) { v.args.max_qo = -1; }},
      {"MaxQoAboveInt32", {"max_qo"}, [big](ValidCall& v) { v.args.max_qo = big; }},
      {"KvShorterThanBs", {"kv_lens"}, [](ValidCall& v) { v.args.kv_lens.size = ValidCall::kBs - 1; }},
      {"KvNull", {"kv_lens"}, [](ValidCall& v) { v.args.kv_lens.data = nullptr; }},
      {"KvBadType", {"kv_lens"}, [](ValidCall& v) { v.args.kv_lens.type = static_cast<IntType>(7); }},
      {"QoShorterThanBs", {"qo_lens"}, [](ValidCall& v) { v.args.qo_lens.size = ValidCall::kBs - 1; }},
      {"QoBadType", {"qo_lens"}, [](ValidCall& v) { v.args.qo_lens.type = static_cast<IntType>(-1); }},
      {"UniformQoNegative", {"qo_lens"},
       [](ValidCall& v) {
         v.args.qo_lens = {};
         v.args.qo_uniform = -1;
       }},
      {"UniformQoAboveMaxQo", {"qo_lens"},
       [](ValidCall& v) {
         v.args.qo_lens = {};
         v.args.qo_uniform = 3;
         v.args.max_qo = 2;
       }},
      {"UniformTotalAboveCapacity", {"capacity"},
       [](ValidCall& v) {
         v.args.qo_lens = {};
         v.args.qo_uniform = 5;  // 4 * 5 = 20 > 16
       }},
      {"KvOffsetNegative", {"kv_offset"}, [](ValidCall& v) { v.args.kv_offset = -1; }},
      {"KvOffsetAboveInt32", {"kv_offset"}, [big](ValidCall& v) { v.args.kv_offset = big; }},
      // No page table is wanted here, so only the range rule itself can catch these.
      {"WidthNegative", {"width"}, [](ValidCall& v) { v.args.width = -1; }},
      {"WidthAboveInt32", {"width"}, [big](ValidCall& v) { v.args.width = big; }},
  };
  for (int s = 0; s < kNumSlots; ++s) {
    const std::string name = slot_name(s);
    r.push_back({"TooShort_" + name, {name}, [s](ValidCall& v) { v.slot(s).size -= 1; }});
    r.push_back({"NullData_" + name, {name, "null"}, [s](ValidCall& v) { v.slot(s).data = nullptr; }});
    r.push_back({"OverlapsKv_" + name, {name, "kv_lens"}, [s](ValidCall& v) { v.slot(s).data = v.kv() + 3; }});
    r.push_back({"OverlapsQo_" + name, {name, "qo_lens"}, [s](ValidCall& v) { v.slot(s).data = v.qo(); }});
  }
  // int64 inputs span 8 bytes per request: an output in the upper half of them overlaps too.
  r.push_back({"OverlapsInt64KvUpperHalf", {"seqlens_expanded", "kv_lens"}, [](ValidCall& v) {
                 v.args.kv_lens.type = IntType::kInt64;  // bytes [0, 32) of inputs
                 v.args.out.seqlens_expanded.data = v.kv() + 6;
               }});
  r.push_back({"OverlapsInt64QoUpperHalf", {"status", "qo_lens"}, [](ValidCall& v) {
                 v.args.qo_lens.type = IntType::kInt64;
                 v.args.out.status.data = v.qo() + 7;
               }});
  // Outputs overlapping each other (the later one's start inside the earlier one).
  const std::pair<int, int> pairs[] = {{kSeqlens, kRowToReq}, {kSeqlens, kCuSeqlensQ}, {kCuSeqlensQ, kRowToReq},
                                       {kRowToReq, kNumRows},  {kNumRows, kStatus},     {kSeqlens, kStatus}};
  for (auto [a, b] : pairs) {
    const std::string na = slot_name(a), nb = slot_name(b);
    r.push_back({"Overlap_" + na + "_" + nb, {na, nb}, [a = a, b = b](ValidCall& v) {
                   v.slot(b).data = v.slot(a).data + v.slot(a).size - 1;  // share one element
                 }});
  }
  r.push_back({"Overlap_same_pointer", {"num_rows", "status"},
               [](ValidCall& v) { v.args.out.status.data = v.args.out.num_rows.data; }});
  return r;
}

enum class Backend { kCpu, kCuda };

class Validation : public ::testing::TestWithParam<std::tuple<Backend, int>> {};

TEST_P(Validation, RejectsAndWritesNothing) {
  const auto [backend, index] = GetParam();
  const Rule rule = validation_rules()[index];
  ValidCall v;
  ASSERT_TRUE(specmeta::validate(v.args).ok()) << "the baseline call must be valid: " << specmeta::validate(v.args).message();
  rule.mutate(v);
  const std::vector<int32_t> inputs_before = v.inputs;
  // The entry points are called only once validate() rejects the call: a rule
  // the library misses must fail this test, not run a backend on a null
  // pointer (CPU) or launch a kernel on host memory (CUDA).
  ASSERT_EQ(specmeta::validate(v.args).code(), specmeta::Status::Code::kInvalidArgument)
      << "validate accepts the call; the entry point was not called";
  const specmeta::Status s =
      backend == Backend::kCpu ? specmeta::expand_cpu(v.args) : specmeta::expand_cuda(v.args, nullptr);
  EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument) << s.message();
  for (const std::string& name : rule.names_in_message) {
    EXPECT_NE(s.message().find(name), std::string::npos) << "message does not name " << name << ": " << s.message();
  }
  EXPECT_TRUE(same_elements("output arena", std::vector<int32_t>(v.arena.size(), kPoison).data(), v.arena.data(),
                            static_cast<int64_t>(v.arena.size())));
  EXPECT_EQ(v.inputs, inputs_before);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, Validation,
    ::testing::Combine(::testing::Values(Backend::kCpu, Backend::kCuda),
                       ::testing::Range(0, static_cast<int>(validation_rules().size()))),
    [](const ::testing::TestParamInfo<std::tuple<Backend, int>>& info) {
      return std::string(std::get<0>(info.param) == Backend::kCpu ? "Cpu_" : "Cuda_") +
             validation_rules()[std::get<1>(info.param)].name;
    });

// Valid corner cases the rules must not reject.
TEST(Validation, AcceptsCornerCases) {
  {
    ValidCall v;  // outputs larger than needed
    v.args.out.seqlens_expanded.size += 3;
    v.args.out.cu_seqlens_q.size += 1;
    EXPECT_TRUE(specmeta::validate(v.args).ok());
  }
  {
    ValidCall v;  // bs 0 with null inputs
    v.args.bs = 0;
    v.args.kv_lens = {nullptr, IntType::kInt32, 0};
    v.args.qo_lens = {nullptr, IntType::kInt64, 0};
    v.args.qo_uniform = 0;
    EXPECT_TRUE(specmeta::validate(v.args).ok()) << specmeta::validate(v.args).message();
  }
  {
    ValidCall v;  // outputs left at their default are not wanted
    v.args.out.row_to_req = {};
    v.args.out.num_rows = {};
    EXPECT_TRUE(specmeta::validate(v.args).ok());
  }
  {
    ValidCall v;  // a wanted empty buffer (a zero-element array's null data) fits capacity 0 ...
    v.args.qo_lens = {};
    v.args.qo_uniform = 0;
    v.args.capacity = 0;
    v.args.out.seqlens_expanded = {nullptr, 0};
    v.args.out.row_to_req = {nullptr, 0};
    EXPECT_TRUE(specmeta::validate(v.args).ok()) << specmeta::validate(v.args).message();
  }
  {
    ValidCall v;  // ... but is still checked against the size it needs
    v.args.out.cu_seqlens_q = {nullptr, 0};
    const specmeta::Status s = specmeta::validate(v.args);
    EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find("cu_seqlens_q"), std::string::npos) << s.message();
  }
  {
    ValidCall v;  // a buffer without a size is a mistake, not "not wanted"
    v.args.out.status.size = -1;
    const specmeta::Status s = specmeta::validate(v.args);
    EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find("status"), std::string::npos) << s.message();
  }
  {
    ValidCall v;  // uniform total exactly at capacity
    v.args.qo_lens = {};
    v.args.qo_uniform = 4;
    EXPECT_TRUE(specmeta::validate(v.args).ok());
  }
}

}  // namespace
}  // namespace specmeta_test
