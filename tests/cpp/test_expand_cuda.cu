// CUDA backend against the reference and the CPU backend, bit for bit.
// Every test skips itself when no CUDA device is visible.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cases.h"
#include "cuda_test_util.h"
#include "examples.h"
#include "harness.h"
#include "reference.h"
#include "specmeta/specmeta.h"
#include "../../src/common/backends.h"
#include "../../src/cuda/expansion_only.h"


namespace specmeta_test {
namespace {

using specmeta::IntType;

constexpr int kCasesPerKind = 200;


// Device buffers for one case shape: inputs (bs plus tail elements) and the
// wanted outputs, each [front guard | payload | back guard].
struct DeviceCase {
  DeviceMem kv, qo;
  DeviceMem out[kNumSlots];
  int32_t* payload[kNumSlots] = {};

  // Allocates everything for `c` (values are uploaded separately).
  void allocate(const Case& c) {
    const int64_t kv_bytes = (c.bs() + static_cast<int64_t>(c.kv_tail.size())) * specmeta::element_size(c.kv_type);
    const int64_t qo_bytes = (c.bs() + static_cast<int64_t>(c.qo_tail.size())) * specmeta::element_size(c.qo_type);
    if (kv_bytes > 0) CHECK_CUDA(cudaMalloc(&kv.p, kv_bytes));
    if (!c.in.uniform && qo_bytes > 0) CHECK_CUDA(cudaMalloc(&qo.p, qo_bytes));
    for (int s = 0; s < kNumSlots; ++s) {
      if (!c.wants(s)) continue;
      CHECK_CUDA(cudaMalloc(&out[s].p, alloc_elems(c, s) * sizeof(int32_t)));
      payload[s] = static_cast<int32_t*>(out[s].p) + c.front_guard;
    }
  }

  // Input values of `c` (same shape as allocated), stream-ordered.
  void upload(const Case& c, cudaStream_t stream, HostInput* kv_host, HostInput* qo_host) {
    *kv_host = HostInput(c.in.kv, c.kv_tail, c.kv_type);
    *qo_host = HostInput(c.in.qo, c.qo_tail, c.qo_type);
    if (kv.p) CHECK_CUDA(cudaMemcpyAsync(kv.p, kv_host->data(), kv_host->bytes(), cudaMemcpyHostToDevice, stream));
    if (qo.p) CHECK_CUDA(cudaMemcpyAsync(qo.p, qo_host->data(), qo_host->bytes(), cudaMemcpyHostToDevice, stream));
  }

  void poison(const Case& c, cudaStream_t stream) {
    for (int s = 0; s < kNumSlots; ++s) {
      if (out[s].p) CHECK_CUDA(cudaMemsetAsync(out[s].p, 0x7f, alloc_elems(c, s) * sizeof(int32_t), stream));
    }
  }

  specmeta::ExpandArgs args(const Case& c) const { return make_args(c, kv.p, c.in.uniform ? nullptr : qo.p, payload); }

  // Copies every output allocation back after the stream's work is done.
  void download(const Case& c, cudaStream_t stream, Observed* obs) {
    CHECK_CUDA(cudaStreamSynchronize(stream));
    prepare_host_outputs(c, obs);
    for (int s = 0; s < kNumSlots; ++s) {
      if (!out[s].p) continue;
      std::vector<int32_t>& host = obs->out[s].all;
      std::fill(host.begin(), host.end(), 0x11111111);  // so that a missing copy cannot pass as poison
      CHECK_CUDA(cudaMemcpyAsync(host.data(), out[s].p, host.size() * sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
    }
    CHECK_CUDA(cudaStreamSynchronize(stream));
  }
};

// Which CUDA kernel a call gets: the one expand_cuda chooses (the
// expansion-only kernels for every call they fit), or the builder's kernel,
// which serves every call and is compared here on the same cases.
enum class Kernel { kChosen, kBuilder };

specmeta::Status expand_with(Kernel kernel, const specmeta::ExpandArgs& args, cudaStream_t stream) {
  if (kernel == Kernel::kChosen) return specmeta::expand_cuda(args, stream);
  if (specmeta::Status s = specmeta::validate(args); !s.ok()) return s;
  return specmeta::detail::expand_cuda_general(args, stream);
}

// One expand_cuda call on fresh device buffers.
void run_cuda(const Case& c, Observed* obs, cudaStream_t stream, Kernel kernel) {
  DeviceCase d;
  HostInput kv({}, {}, c.kv_type), qo({}, {}, c.qo_type);
  d.allocate(c);
  if (::testing::Test::HasFatalFailure()) return;
  d.upload(c, stream, &kv, &qo);
  if (::testing::Test::HasFatalFailure()) return;
  d.poison(c, stream);
  if (::testing::Test::HasFatalFailure()) return;
  obs->status = expand_with(kernel, d.args(c), stream);
  CHECK_CUDA(cudaGetLastError());
  specmeta::Status status = obs->status;
  d.download(c, stream, obs);  // resets obs
  obs->status = status;
}

class CudaTest : public CudaStreamTest {
 protected:
  auto backend(Kernel kernel = Kernel::kChosen) {
    return [this, kernel](const Case& c, Observed* obs) { run_cuda(c, obs, stream_, kernel); };
  }
};

// ---------------------------------------------------------------- random cases

class CudaRandom : public CudaTest, public ::testing::WithParamInterface<Kind> {};

TEST_P(CudaRandom, MatchesReferenceAndCpu) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  run_random_cases(backend(), gen, GetParam(), kCasesPerKind, {}, /*compare_with_cpu=*/true);
}

TEST_P(CudaRandom, OutputSubsets) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  CaseOptions opt;
  opt.random_out_mask = true;
  run_random_cases(backend(), gen, GetParam(), 20, opt, true);
}

// The builder's kernel on the expansion's own outputs, which expand_cuda now
// gives to the expansion-only kernels (the builder's calls still use it).
TEST_P(CudaRandom, BuilderKernelMatchesReferenceAndCpu) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  CaseOptions opt;
  opt.random_out_mask = true;
  run_random_cases(backend(Kernel::kBuilder), gen, GetParam(), 40, opt, true);
}

// Outputs one to three elements past a 16-byte boundary: no vector stores allowed.
TEST_P(CudaRandom, MisalignedOutputs) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t front : {1, 2, 3, 5}) {
    CaseOptions opt;
    opt.front_guard = front;
    run_random_cases(backend(), gen, GetParam(), 5, opt, true);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, CudaRandom, ::testing::ValuesIn(all_kinds()),
                         [](const ::testing::TestParamInfo<Kind>& info) { return std::string(kind_name(info.param)); });

TEST_F(CudaTest, HandWorkedExamples) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  for (const Example& e : hand_examples()) {
    SCOPED_TRACE(e.name);
    run_and_compare_with_cpu(backend(), e.c);
  }
}

TEST_F(CudaTest, AllTypeCombinations) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for_each_type_combination([&](const CaseOptions& opt) {
    for (Kind k : all_kinds()) run_random_cases(backend(), gen, k, 6, opt, true);
  });
}

// Every scan-size switch (256 / 1024 requests, streaming beyond) with
// capacities around the total and around multiples of 1024 rows per block.
TEST_F(CudaTest, BoundaryBatchSizesAndCapacities) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : boundary_batch_sizes()) {
    for (bool uniform : {false, true}) {
      for (Kind kind : {Kind::kRandomQo, Kind::kSkewed, Kind::kAllZero}) {
        if (uniform && kind == Kind::kSkewed) continue;
        CaseOptions opt;
        opt.bs = bs;
        opt.uniform = uniform;
        const Case base = gen.make(uniform && kind == Kind::kRandomQo ? Kind::kUniform : kind, opt);
        const int64_t total = CaseGen::effective_total(base.in);
        std::vector<int64_t> caps = {total, total + 1, total + 1023, total + 1024, (total + 1023) / 1024 * 1024,
                                     total + 5000};
        if (!uniform) caps.insert(caps.end(), {total - 1, total - 1024, total / 1024 * 1024, 0, 1});
        for (int64_t cap : caps) {
          if (cap < 0) continue;
          Case c = base;
          c.in.capacity = cap;
          run_and_compare_with_cpu(backend(), c);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// The limits of the per-request expansion-only kernel (expansion_only.cu):
// batches of up to 4096 requests and capacities of up to 65536 rows (a block
// per 512 of them, so these spread few requests over many blocks), one
// either side, past which the builder's kernel runs; and bs * max_qo up to
// INT32_MAX (plain sums) and one past it (saturating sums).
TEST_F(CudaTest, ExpansionOnlyLimits) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {1, 255, 256, 257, 4095, 4096, 4097}) {
    for (int64_t capacity : {1023, 1024, 1025, 65535, 65536, 65537}) {
      // max_qo itself is at most INT32_MAX (validated).
      for (int64_t max_qo : {int64_t{16}, kI32Max / bs, std::min(kI32Max, kI32Max / bs + 1)}) {
        CaseOptions opt;
        opt.bs = bs;
        opt.uniform = false;
        opt.capacity = capacity;
        opt.max_qo = max_qo;
        const Case c = gen.make(gen.pick({Kind::kRandomQo, Kind::kSkewed, Kind::kQoOutOfRange}), opt);
        run_and_compare_with_cpu(backend(), c);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// The per-request kernel expand_cuda picks for `c` (one that fits the expansion-only kernels).
specmeta::cuda_detail::ExpansionKernel picked_kernel(const Case& c) {
  int32_t* no_outputs[kNumSlots] = {};
  const int64_t never_read = 0;  // a per-request qo_lens is any non-null pointer here, even for bs = 0
  return specmeta::cuda_detail::pick_expansion_kernel(make_args(c, nullptr, &never_read, no_outputs));
}

// The group kernel's limits (expansion_groups.cuh): one group of 32
// requests or several; one chunk of 32 requests per warp or four (256
// requests); 1024 requests, one either side, past which the request-block
// kernel runs; and bs * max_qo at INT32_MAX (plain sums) and one past it
// (saturating sums). Capacities cut the rows, end at or past the total,
// and reach past a block per 256 rows (one group) or per 1024 rows beyond
// the groups (several), where extra blocks write the tail.
TEST_F(CudaTest, GroupKernelLimits) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  using specmeta::cuda_detail::ExpansionKernel;
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {0, 1, 31, 32, 33, 64, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025}) {
    for (int64_t max_qo : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{4}, int64_t{16},
                           bs > 0 ? kI32Max / bs : kI32Max, bs > 0 ? kI32Max / bs + 1 : kI32Max}) {
      CaseOptions opt;
      opt.bs = bs;
      opt.uniform = false;
      opt.max_qo = std::min(max_qo, kI32Max);
      const Case base = gen.make(gen.pick({Kind::kRandomQo, Kind::kSkewed, Kind::kQoOutOfRange, Kind::kQoExceedsKv}), opt);
      const int64_t total = CaseGen::effective_total(base.in);
      for (int64_t cap : {int64_t{0}, int64_t{1}, total - 1, total, total + 1, total + 255, total + 257,
                          (bs + 31) / 32 * 1024 + 1, int64_t{20000}}) {
        if (cap < 0 || cap > 65536) continue;
        Case c = base;
        c.in.capacity = cap;
        ASSERT_EQ(picked_kernel(c), bs > 1024 ? ExpansionKernel::kRequestBlocks
                                    : bs <= 32 ? ExpansionKernel::kOneGroup
                                               : ExpansionKernel::kGroups);
        run_and_compare_with_cpu(backend(), c);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Sums past 2^32 (saturating) in a batch of several groups with blocks past
// the last group, which only write the tail: their rows before the group
// are the saturated total (a first chunk computed from it once wrapped
// around to row 31).
TEST_F(CudaTest, GroupKernelSaturatedTotalWithTailBlocks) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {33, 51, 300, 1024}) {
    for (int64_t cap : {(bs + 31) / 32 * 1024 + 1, int64_t{20000}, int64_t{65536}}) {
      CaseOptions opt;
      opt.bs = bs;
      opt.uniform = false;
      opt.capacity = cap;
      opt.max_qo = kI32Max;
      for (Kind kind : {Kind::kRandomQo, Kind::kMixed}) {
        Case c = gen.make(kind, opt);
        // Three requests of INT32_MAX rows, one of them in the first group:
        // every sum from there on passes 2^32 and saturates.
        for (int64_t b : {int64_t{0}, gen.range(1, bs - 1), gen.range(1, bs - 1)}) c.in.qo[b] = kI32Max;
        ASSERT_EQ(picked_kernel(c), specmeta::cuda_detail::ExpansionKernel::kGroups);
        run_and_compare_with_cpu(backend(), c);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Requests of every width and capacities that cut a request's rows, in
// both per-request kernels with plain and saturating sums: the group kernel
// (100 requests) searches past a 32-row chunk per request; the
// request-block kernel (1100) lets owners store up to 8 rows and stages
// wider ones in shared memory, 4096 rows at a time.
TEST_F(CudaTest, ExpansionOnlyWideRequests) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  using specmeta::cuda_detail::ExpansionKernel;
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {100, 1100}) {
    const ExpansionKernel expected = bs > 1024 ? ExpansionKernel::kRequestBlocks : ExpansionKernel::kGroups;
    for (int64_t max_qo : {int64_t{10000}, kI32Max}) {
      for (int64_t widest : {0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 31, 32, 33, 100, 3000, 4095, 4096, 4097, 9000}) {
        CaseOptions opt;
        opt.bs = bs;
        opt.uniform = false;
        opt.max_qo = max_qo;
        Case base = gen.make(Kind::kRandomQo, opt);
        int64_t total = 0;
        for (int64_t b = 0; b < base.bs(); ++b) {
          // One request in every 32 (every 512 of the larger batch) at the
          // widest, the others narrower: the total stays within the
          // kernels' capacity limit.
          base.in.qo[b] = b % (bs > 1024 ? 512 : 32) == 5 ? widest : gen.range(0, std::min<int64_t>(widest, 40));
          base.in.kv[b] = base.in.qo[b] + gen.range(-2, 5000);
          total += base.in.qo[b];
        }
        for (int64_t capacity : {total, total + 37, total / 2 + 1, int64_t{0}}) {
          Case c = base;
          c.in.capacity = capacity;
          ASSERT_EQ(picked_kernel(c), expected);
          run_and_compare_with_cpu(backend(), c);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Which calls the expansion-only kernels take (a host rule, so it runs
// without a GPU too): both kernels give the same results, so the
// correctness tests alone would not notice a limit moved by one.
TEST(ExpansionOnlyRule, PicksTheCallsItCovers) {
  int32_t out[1] = {};
  const specmeta::OutSpan span{out, 1};
  auto ragged = [&](int64_t bs, int64_t capacity, int64_t max_qo) {
    specmeta::ExpandArgs a;
    a.bs = bs;
    a.qo_lens = {out, IntType::kInt32, bs};
    a.max_qo = max_qo;
    a.capacity = capacity;
    a.out.seqlens_expanded = span;
    return a;
  };
  using specmeta::cuda_detail::fits_expansion_only;
  EXPECT_TRUE(fits_expansion_only(ragged(4096, 65536, 16)));
  EXPECT_FALSE(fits_expansion_only(ragged(4097, 65536, 16)));
  EXPECT_FALSE(fits_expansion_only(ragged(4096, 65537, 16)));
  // Sums that may pass INT32_MAX take the saturating instantiation, not another kernel.
  EXPECT_TRUE(fits_expansion_only(ragged(2, 8, kI32Max / 2 + 1)));
  EXPECT_TRUE(fits_expansion_only(ragged(4096, 65536, specmeta::kNoMaxQo)));  // expand_seqlens, device qo_lens

  // Per-request qo: one group up to 32 requests, groups up to 1024, request blocks beyond,
  // whatever the sums (each kernel has a saturating instantiation).
  using specmeta::cuda_detail::ExpansionKernel;
  using specmeta::cuda_detail::pick_expansion_kernel;
  EXPECT_EQ(pick_expansion_kernel(ragged(0, 0, 16)), ExpansionKernel::kOneGroup);
  EXPECT_EQ(pick_expansion_kernel(ragged(32, 512, 16)), ExpansionKernel::kOneGroup);
  EXPECT_EQ(pick_expansion_kernel(ragged(33, 512, 16)), ExpansionKernel::kGroups);
  EXPECT_EQ(pick_expansion_kernel(ragged(1024, 65536, 16)), ExpansionKernel::kGroups);
  EXPECT_EQ(pick_expansion_kernel(ragged(1025, 65536, 16)), ExpansionKernel::kRequestBlocks);
  EXPECT_EQ(pick_expansion_kernel(ragged(32, 8, specmeta::kNoMaxQo)), ExpansionKernel::kOneGroup);
  EXPECT_EQ(pick_expansion_kernel(ragged(1024, 8, specmeta::kNoMaxQo)), ExpansionKernel::kGroups);
  EXPECT_EQ(pick_expansion_kernel(ragged(1025, 8, specmeta::kNoMaxQo)), ExpansionKernel::kRequestBlocks);

  specmeta::ExpandArgs uniform = ragged(1 << 20, kI32Max, 0);  // uniform qo: no limit
  uniform.qo_lens = {};
  uniform.qo_uniform = 0;
  EXPECT_TRUE(fits_expansion_only(uniform));
  EXPECT_EQ(pick_expansion_kernel(uniform), ExpansionKernel::kUniform);

  // Any output, table or destination set beyond the expansion's own: the builder's kernel.
  const specmeta::ExpandArgs base = ragged(64, 256, 4);
  ASSERT_TRUE(fits_expansion_only(base));
  using OutputField = specmeta::OutSpan specmeta::ExpandOutputs::*;
  for (OutputField other : {&specmeta::ExpandOutputs::cache_seqlens, &specmeta::ExpandOutputs::cu_seqlens_k,
                            &specmeta::ExpandOutputs::sparse_seqlens, &specmeta::ExpandOutputs::sparse_cu_seqlens_k}) {
    specmeta::ExpandArgs a = base;
    a.out.*other = {nullptr, 0};  // wanted, even empty
    EXPECT_FALSE(fits_expansion_only(a));
  }
  specmeta::ExpandArgs table = base;
  table.out.page_table_1 = {nullptr, 0, 0, 0};
  EXPECT_FALSE(fits_expansion_only(table));
  const specmeta::ExpandOutputs extra = base.out;
  specmeta::ExpandArgs sets = base;
  sets.extra_out = &extra;
  sets.extra_out_count = 1;
  EXPECT_FALSE(fits_expansion_only(sets));
}

// See Cpu.Int64KvNearInt64MinDoesNotWrap.
TEST_F(CudaTest, Int64KvNearInt64MinDoesNotWrap) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  for (const Case& c : extreme_int64_kv_cases()) run_and_compare_with_cpu(backend(), c);
}

TEST_F(CudaTest, NoOutputsIsValid) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  Case c = example_case({5, 3}, {2, 3}, 8);
  c.out_mask = 0;
  DeviceCase d;
  HostInput kv({}, {}, c.kv_type), qo({}, {}, c.qo_type);
  d.allocate(c);
  d.upload(c, stream_, &kv, &qo);
  ASSERT_FALSE(HasFatalFailure());
  const specmeta::Status s = specmeta::expand_cuda(d.args(c), stream_);
  EXPECT_TRUE(s.ok()) << s.message();
  CHECK_CUDA(cudaStreamSynchronize(stream_));
}

TEST_F(CudaTest, UseCudaDevice) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  int device = -1;
  CHECK_CUDA(cudaGetDevice(&device));
  EXPECT_TRUE(specmeta::use_cuda_device(device).ok());
  const specmeta::Status bad = specmeta::use_cuda_device(1 << 20);
  EXPECT_EQ(bad.code(), specmeta::Status::Code::kCudaError);
  EXPECT_NE(bad.message().find(std::to_string(1 << 20)), std::string::npos) << bad.message();
  int after = -1;
  CHECK_CUDA(cudaGetDevice(&after));
  EXPECT_EQ(after, device) << "a failed use_cuda_device must keep the current device";
  (void)cudaGetLastError();  // consume the error the failed cudaSetDevice recorded
}

// A failed use_cuda_device must not make the next, successful expand_cuda
// call report an error (expand_cuda checks the runtime's last-error slot
// after its launch, so use_cuda_device must not leave its failure there).
TEST_F(CudaTest, FailedUseCudaDeviceDoesNotFailNextExpand) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  EXPECT_FALSE(specmeta::use_cuda_device(1 << 20).ok());
  const Case c = example_case({5, 3}, {2, 3}, 8);
  Observed obs;
  run_cuda(c, &obs, stream_, Kernel::kChosen);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(obs.status.ok()) << obs.status.message();
  EXPECT_TRUE(matches_reference(c, obs));
  (void)cudaGetLastError();
}

// ---------------------------------------------------------------- CUDA graphs

// Captures one expand_cuda call for the shape of `shape`, then replays it
// with the values of `replays` cases of the same shape written into the same
// input buffers, comparing each replay with the reference and the CPU.
void graph_replays(cudaStream_t stream, const Case& shape, const std::vector<Case>& replays) {
  DeviceCase d;
  d.allocate(shape);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  OwnedGraph owned;
  cudaGraph_t& graph = owned.graph;
  cudaGraphExec_t& exec = owned.exec;
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const specmeta::Status s = specmeta::expand_cuda(d.args(shape), stream);
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  ASSERT_TRUE(s.ok()) << s.message();
  CHECK_CUDA(end);
  size_t nodes = 0;
  CHECK_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_EQ(nodes, 1u) << "one call must be one kernel launch";
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));

  int failures = 0;
  for (size_t i = 0; i < replays.size() && failures < 3; ++i) {
    const Case& c = replays[i];
    SCOPED_TRACE("replay #" + std::to_string(i) + ": " + c.describe());
    HostInput kv({}, {}, c.kv_type), qo({}, {}, c.qo_type);
    d.upload(c, stream, &kv, &qo);  // new values, same buffers
    d.poison(c, stream);
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
    Observed obs;
    d.download(c, stream, &obs);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    const auto ref = matches_reference(c, obs);
    EXPECT_TRUE(ref);
    Observed cpu;
    run_cpu(c, &cpu);
    ASSERT_TRUE(cpu.status.ok()) << cpu.status.message();
    const auto same = same_observed(c, cpu, obs);
    EXPECT_TRUE(same);
    if (!ref || !same) ++failures;
  }
}

Case without_tails(Case c) {
  c.kv_tail.clear();
  c.qo_tail.clear();
  return c;
}

TEST_F(CudaTest, GraphReplayPerRequestQoInt64Kv) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {int64_t{1}, int64_t{7}, int64_t{300}, int64_t{1025}, int64_t{5000}, int64_t{9000}}) {
    CaseOptions opt;
    opt.bs = bs;
    opt.kv_type = IntType::kInt64;
    opt.qo_type = gen.any_type();
    opt.uniform = false;
    opt.max_qo = 16;
    opt.capacity = 8 * bs + 64;  // about the mean total: some replays overflow (bit 1)
    SCOPED_TRACE("bs=" + std::to_string(bs) + " qo=" + type_name(*opt.qo_type));
    const Case shape = without_tails(gen.make(Kind::kRandomQo, opt));
    std::vector<Case> replays;
    for (int i = 0; i < 8; ++i) {
      const Kind kind = gen.pick({Kind::kRandomQo, Kind::kSkewed, Kind::kAllZero, Kind::kNearInt32Max,
                                  Kind::kQoExceedsKv, Kind::kQoOutOfRange, Kind::kMixed});
      replays.push_back(without_tails(gen.make(kind, opt)));
    }
    graph_replays(stream_, shape, replays);
    if (HasFatalFailure()) return;
  }
}

TEST_F(CudaTest, GraphReplayUniformQo) {
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  for (int64_t bs : {int64_t{1}, int64_t{64}, int64_t{257}, int64_t{4097}}) {
    CaseOptions opt;
    opt.bs = bs;
    opt.kv_type = gen.any_type();
    opt.uniform = true;
    opt.qo_uniform = gen.range(1, 8);
    opt.max_qo = 16;
    opt.capacity = bs * *opt.qo_uniform + gen.pick<int64_t>({0, 1, 1023, 1024});
    SCOPED_TRACE("bs=" + std::to_string(bs) + " qo_uniform=" + std::to_string(*opt.qo_uniform));
    const Case shape = without_tails(gen.make(Kind::kUniform, opt));
    std::vector<Case> replays;
    for (int i = 0; i < 8; ++i) {
      const Kind kind = gen.pick({Kind::kUniform, Kind::kNearInt32Max, Kind::kQoExceedsKv});
      replays.push_back(without_tails(gen.make(kind, opt)));
    }
    graph_replays(stream_, shape, replays);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace specmeta_test
