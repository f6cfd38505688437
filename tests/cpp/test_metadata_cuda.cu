// The metadata builder's CUDA backend (build_metadata_cuda, and expand_cuda
// with the builder's ExpandArgs fields) against metadata_reference.h, exactly,
// guards included, plus CUDA-graph capture and replay with new input values.
// Every test skips itself when no CUDA device is visible.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cases.h"
#include "cuda_test_util.h"
#include "harness.h"
#include "metadata_cases.h"
#include "metadata_examples.h"
#include "metadata_harness.h"
#include "metadata_reference.h"
#include "metadata_suites.h"
#include "specmeta/metadata.h"
#include "../../src/cuda/kernel_params.cuh"

namespace specmeta_test {
namespace {

size_t input_bytes(const HostInput& in) { return static_cast<size_t>(in.bytes()); }

// Device copies of every buffer of a case, laid out as its MetaBuffers.
struct DeviceMeta {
  DeviceMem seq, qo, rpi, req_to_token;
  DeviceMem out[kMaxSets][kMetaSlots];
  MetaPointers ptrs;

  void alloc(DeviceMem& m, size_t bytes) {
    m.bytes = bytes;
    if (bytes > 0) CHECK_CUDA(cudaMalloc(&m.p, bytes));
  }

  void allocate(const MetaBuffers& h) {
    alloc(seq, input_bytes(h.seq));
    if (h.has_qo) alloc(qo, input_bytes(h.qo));
    if (h.has_page_inputs) {
      alloc(rpi, input_bytes(h.rpi));
      alloc(req_to_token, h.req_to_token.size() * sizeof(int32_t));
    }
    for (int set = 0; set < kMaxSets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) alloc(out[set][s], h.out[set][s].size() * sizeof(int32_t));
    }
    if (::testing::Test::HasFatalFailure()) return;
    ptrs = MetaPointers{};
    ptrs.seq = seq.p;
    ptrs.qo = qo.p;
    ptrs.rpi = rpi.p;
    ptrs.req_to_token = static_cast<const int32_t*>(req_to_token.p);
    for (int set = 0; set < kMaxSets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) ptrs.out[set][s] = static_cast<int32_t*>(out[set][s].p);
    }
  }

  // Stream-ordered; the host buffers must live until the stream is synchronised.
  void upload_inputs(const MetaBuffers& h, cudaStream_t stream) {
    if (seq.p) CHECK_CUDA(cudaMemcpyAsync(seq.p, h.seq.data(), seq.bytes, cudaMemcpyHostToDevice, stream));
    if (qo.p) CHECK_CUDA(cudaMemcpyAsync(qo.p, h.qo.data(), qo.bytes, cudaMemcpyHostToDevice, stream));
    if (rpi.p) CHECK_CUDA(cudaMemcpyAsync(rpi.p, h.rpi.data(), rpi.bytes, cudaMemcpyHostToDevice, stream));
    if (req_to_token.p) {
      CHECK_CUDA(cudaMemcpyAsync(req_to_token.p, h.req_to_token.data(), req_to_token.bytes, cudaMemcpyHostToDevice,
                                 stream));
    }
  }

  // The allocations' contents before a call: poison and previous page tables.
  void upload_outputs(const MetaBuffers& h, cudaStream_t stream) {
    for (int set = 0; set < kMaxSets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) {
        DeviceMem& m = out[set][s];
        if (m.p) CHECK_CUDA(cudaMemcpyAsync(m.p, h.out[set][s].data(), m.bytes, cudaMemcpyHostToDevice, stream));
      }
    }
  }

  // Every output allocation back into `h`, after the stream's work is done.
  void download_outputs(MetaBuffers* h, cudaStream_t stream) {
    CHECK_CUDA(cudaStreamSynchronize(stream));
    for (int set = 0; set < kMaxSets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) {
        DeviceMem& m = out[set][s];
        if (!m.p) continue;
        std::vector<int32_t>& host = h->out[set][s];
        std::fill(host.begin(), host.end(), 0x11111111);  // so that a missing copy cannot pass as poison
        CHECK_CUDA(cudaMemcpyAsync(host.data(), m.p, m.bytes, cudaMemcpyDeviceToHost, stream));
      }
    }
    CHECK_CUDA(cudaStreamSynchronize(stream));
  }

  // Inputs are read-only: the device copies still equal the host ones.
  void expect_inputs_unchanged(const MetaBuffers& h, cudaStream_t stream) {
    auto same = [&](const DeviceMem& m, const void* host, const char* name) {
      if (!m.p) return;
      std::vector<char> back(m.bytes);
      CHECK_CUDA(cudaMemcpyAsync(back.data(), m.p, m.bytes, cudaMemcpyDeviceToHost, stream));
      CHECK_CUDA(cudaStreamSynchronize(stream));
      EXPECT_EQ(std::memcmp(back.data(), host, m.bytes), 0) << "input " << name << " was modified";
    };
    same(seq, h.seq.data(), "seq_lens");
    same(qo, h.qo.data(), "qo");
    same(rpi, h.rpi.data(), "req_pool_indices");
    same(req_to_token, h.req_to_token.data(), "req_to_token");
  }
};

// One build_metadata_cuda (or expand_cuda for a direct case) on fresh device buffers.
void run_meta_cuda(const MetaCase& c, MetaObserved* obs, cudaStream_t stream) {
  obs->buffers = make_host_buffers(c);
  DeviceMeta d;
  d.allocate(obs->buffers);
  if (::testing::Test::HasFatalFailure()) return;
  d.upload_inputs(obs->buffers, stream);
  d.upload_outputs(obs->buffers, stream);
  if (::testing::Test::HasFatalFailure()) return;
  MetaCallArgs a;
  make_call_args(c, d.ptrs, &a);
  obs->status = c.direct ? specmeta::expand_cuda(a.expand, stream) : specmeta::build_metadata_cuda(a.meta, stream);
  CHECK_CUDA(cudaGetLastError());
  d.download_outputs(&obs->buffers, stream);
  if (::testing::Test::HasFatalFailure()) return;
  d.expect_inputs_unchanged(obs->buffers, stream);
}

// The expansion a case's call makes, to ask the page-table rules about it.
specmeta::ExpandArgs expansion_of(const MetaCase& c) {
  MetaBuffers buffers = make_host_buffers(c);
  MetaCallArgs a;
  make_call_args(c, host_pointers(buffers), &a);
  if (c.direct) return a.expand;
  specmeta::ExpandArgs e;
  EXPECT_TRUE(specmeta::to_expand_args(a.meta, &e).ok());
  return e;
}

class MetadataCudaTest : public CudaStreamTest {
 protected:
  auto backend() {
    return [this](const MetaCase& c, MetaObserved* obs) { run_meta_cuda(c, obs, stream_); };
  }

  // One case of `shape` for API `param`, with a capacity of shape.draft_tokens
  // rows per request, page size `ps` and the outputs `wanted`: check(case)
  // asserts the path it must take, then it is compared with the reference.
  // False once a check has failed.
  template <class Check>
  bool table_case(MetaGen& gen, CaseGen& base, int param, const TableShape& shape, int64_t ps, unsigned wanted,
                  Check&& check) {
    MetaOptions o = table_shape_options(base, param, shape);
    o.capacity = shape.draft_tokens * shape.bs;
    o.page_size = ps;
    o.wanted = wanted;
    const MetaCase c = gen.make(o);
    SCOPED_TRACE(c.describe());
    check(c);
    if (HasFailure()) return false;
    run_meta_and_compare(backend(), c);
    return !meta_failed();
  }

  // A table_case that must take the high-occupancy copy.
  bool high_occupancy_case(MetaGen& gen, CaseGen& base, int param, const TableShape& shape, int64_t ps,
                           unsigned wanted) {
    return table_case(gen, base, param, shape, ps, wanted, [](const MetaCase& c) {
      EXPECT_EQ(specmeta::cuda_detail::table_copy(expansion_of(c)), specmeta::cuda_detail::TableCopy::kHighOccupancy);
    });
  }

  // sweep_table_shapes over every API, `per` cases of each shape: how many
  // cases were on each of kSides sides, summed; stops at the first failure.
  template <size_t kSides, class Side, size_t kShapes>
  std::array<int, kSides> sweep_shapes_every_api(const TableShape (&shapes)[kShapes], Side&& side, int per) {
    std::array<int, kSides> seen{};
    for (int param = 0; param < kApiParams; ++param) {
      SCOPED_TRACE(api_param_name(::testing::TestParamInfo<int>(param, 0)));
      const std::array<int, kSides> counts = sweep_table_shapes<kSides>(backend(), shapes, side, param, per);
      if (HasFailure()) break;
      for (size_t k = 0; k < kSides; ++k) seen[k] += counts[k];
    }
    return seen;
  }
};

// ---------------------------------------------------------------- random cases

class MetadataCuda : public MetadataCudaTest, public ::testing::WithParamInterface<int> {};

#define SKIP_WITHOUT_CUDA() \
  if (!specmeta::cuda_available()) GTEST_SKIP() << "no CUDA device visible"

TEST_P(MetadataCuda, RandomCasesMatchReference) {
  SKIP_WITHOUT_CUDA();
  sweep_random(backend(), GetParam(), 200);
}
TEST_P(MetadataCuda, BatchSizes) {
  SKIP_WITHOUT_CUDA();
  sweep_batch_sizes(backend(), GetParam(), 3);
}
TEST_P(MetadataCuda, RowCapacities) {
  SKIP_WITHOUT_CUDA();
  sweep_row_capacities(backend(), GetParam(), 3);
}
TEST_P(MetadataCuda, PageSizeKpoolTopk) {
  SKIP_WITHOUT_CUDA();
  sweep_page_size_kpool_topk(backend(), GetParam(), 2);
}
TEST_P(MetadataCuda, DraftTokens) {
  SKIP_WITHOUT_CUDA();
  sweep_draft_tokens(backend(), GetParam(), 2);
}
TEST_P(MetadataCuda, InputTypes) {
  SKIP_WITHOUT_CUDA();
  sweep_input_types(backend(), GetParam(), 3);
}
TEST_P(MetadataCuda, FullWidthOnAndOff) {
  SKIP_WITHOUT_CUDA();
  sweep_full_width(backend(), GetParam(), 10);
}
TEST_P(MetadataCuda, StridedAndMisalignedViews) {
  SKIP_WITHOUT_CUDA();
  sweep_strided(backend(), GetParam(), 1);
}
TEST_P(MetadataCuda, Widths) {
  SKIP_WITHOUT_CUDA();
  sweep_widths(backend(), GetParam(), 1);
}
TEST_P(MetadataCuda, OutputSubsets) {
  SKIP_WITHOUT_CUDA();
  sweep_output_subsets(backend(), GetParam(), 2, 20);
}
TEST_P(MetadataCuda, DestinationSets) {
  SKIP_WITHOUT_CUDA();
  sweep_sets(backend(), GetParam(), 8);
}
TEST_P(MetadataCuda, CapacityAboveTotal) {
  SKIP_WITHOUT_CUDA();
  sweep_capacity_above_total(backend(), GetParam(), 10);
}
TEST_P(MetadataCuda, DataFaults) {
  SKIP_WITHOUT_CUDA();
  sweep_data_faults(backend(), GetParam(), 20);
}

INSTANTIATE_TEST_SUITE_P(Modes, MetadataCuda, ::testing::Range(0, kApiParams), api_param_name);

// The sizes the page-table copy rules look at, for calls of a uniform qo of
// `rows` (capacity bs x rows) ...
specmeta::ExpandArgs uniform_table_call(int64_t bs, int64_t width, int64_t rows, int32_t extra_sets) {
  specmeta::ExpandArgs a;
  a.bs = bs;
  a.width = width;
  a.qo_uniform = rows;
  a.capacity = bs * rows;
  a.extra_out_count = extra_sets;
  return a;
}

// ... and of per-request qo at most max_qo. The rules read sizes only, never
// the lengths: qo_lens points at one element.
specmeta::ExpandArgs ragged_table_call(int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
  static int32_t qo_lens[1] = {};
  specmeta::ExpandArgs a;
  a.bs = bs;
  a.width = width;
  a.qo_lens = {qo_lens, specmeta::IntType::kInt32, bs};
  a.max_qo = max_qo;
  a.capacity = capacity;
  return a;
}

TEST(StreamingTableStoresRule, StartsAt2048UnitsOfThreeOrMorePairs) {
  // min(bs x rows per request, capacity) x sets x ceil(width / 1024) passes.
  auto uniform = [](int64_t bs, int64_t width, int64_t rows, int32_t extra_sets) {
    return specmeta::cuda_detail::streaming_table_stores(uniform_table_call(bs, width, rows, extra_sets));
  };
  EXPECT_TRUE(uniform(64, 8192, 4, 0));     // 256 rows x 8 passes
  EXPECT_FALSE(uniform(63, 8192, 4, 0));
  EXPECT_FALSE(uniform(64, 8192 - 1024, 4, 0));
  EXPECT_TRUE(uniform(16, 8192, 4, 3));     // four sets
  EXPECT_FALSE(uniform(16, 8192, 4, 2));
  EXPECT_FALSE(uniform(1, 8192, 4, 0));     // target_verify bs 1
  EXPECT_TRUE(uniform(1, 131072, 16, 0));   // 16 rows x 128 passes
  EXPECT_TRUE(uniform(86, 8192, 3, 0));     // three rows: 2064 units
  EXPECT_FALSE(uniform(85, 8192, 3, 0));
  EXPECT_FALSE(uniform(4096, 1048576, 2, 0));  // two pairs or fewer: never
  EXPECT_FALSE(uniform(4096, 1048576, 1, 1));
  EXPECT_TRUE(uniform(4096, 1048576, 1, 2));
  EXPECT_FALSE(uniform(0, 1048576, 4, 0));
  // Rows the host does not know count at their bound (max_qo, at most
  // ceil(capacity / bs); the batch's at most the capacity) and need twice the
  // units.
  auto ragged = [](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return specmeta::cuda_detail::streaming_table_stores(ragged_table_call(bs, width, max_qo, capacity));
  };
  EXPECT_TRUE(ragged(32, 8192, 64, 2048));
  EXPECT_FALSE(ragged(1, 131072, 16, 16));  // draft_extend bs 1, N 16: 2048 units
  EXPECT_TRUE(ragged(2, 131072, 16, 32));
  EXPECT_FALSE(ragged(64, 8192, 4, 256));   // the same call as uniform(64, 8192, 4, 0)
  EXPECT_TRUE(ragged(128, 8192, 4, 512));   // two pairs on average, too few units for the high-occupancy kernel
  EXPECT_FALSE(ragged(512, 8192, 4, 2048));  // 16384 units: the high-occupancy kernel's
  EXPECT_TRUE(ragged(128, 8192, 6, 768));   // three on average
  EXPECT_FALSE(ragged(85, 8192, 6, 510));   // 4080 units
  EXPECT_FALSE(ragged(4, 8192, specmeta::kNoMaxQo, 511));  // extend: 511 rows x 8 passes
  EXPECT_TRUE(ragged(4, 8192, specmeta::kNoMaxQo, 512));
  EXPECT_TRUE(ragged(1, 8192, specmeta::kNoMaxQo, 512));    // one request of up to 512 rows
  EXPECT_FALSE(ragged(4096, 8192, specmeta::kNoMaxQo, 2));  // one row per request, counted
  EXPECT_TRUE(ragged(1024, 8192, specmeta::kNoMaxQo, 6144));   // extend: 6 rows per request
  EXPECT_FALSE(ragged(1024, 8192, specmeta::kNoMaxQo, 5120));  // 5: the high-occupancy kernel's
  EXPECT_FALSE(ragged(1024, 8192, specmeta::kNoMaxQo, 2048));  // 2
  EXPECT_FALSE(ragged(4096, 1048576, 2, 1 << 20));            // two pairs per request
}

TEST(HighOccupancyCopyRule, StartsAt2048UnitsOfAtMostTwoPairsOnAverage) {
  auto uniform = [](int64_t bs, int64_t width, int64_t rows, int32_t extra_sets) {
    return specmeta::cuda_detail::high_occupancy_table_copy(uniform_table_call(bs, width, rows, extra_sets));
  };
  EXPECT_TRUE(uniform(256, 8192, 1, 0));    // decode bs 256: 256 rows x 8 passes
  EXPECT_FALSE(uniform(255, 8192, 1, 0));
  EXPECT_FALSE(uniform(256, 8192 - 1024, 1, 0));
  EXPECT_TRUE(uniform(64, 131072, 1, 0));   // decode bs 64, W 131072
  EXPECT_FALSE(uniform(16, 8192, 1, 0));    // decode bs 16: small
  EXPECT_TRUE(uniform(128, 8192, 2, 0));    // two rows
  EXPECT_TRUE(uniform(128, 8192, 1, 1));    // one row, two sets
  EXPECT_FALSE(uniform(1024, 8192, 3, 0));  // three pairs: the streaming rule's
  EXPECT_FALSE(uniform(1024, 8192, 4, 0));  // uniform rows count at their number, not half
  EXPECT_FALSE(uniform(512, 8192, 1, 2));
  EXPECT_FALSE(uniform(0, 1048576, 1, 0));
  auto ragged = [](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return specmeta::cuda_detail::high_occupancy_table_copy(ragged_table_call(bs, width, max_qo, capacity));
  };
  EXPECT_TRUE(ragged(256, 8192, 2, 512));   // rows that vary count twice: 512 x 8 = 2 x 2048
  EXPECT_FALSE(ragged(255, 8192, 2, 510));
  EXPECT_FALSE(ragged(256, 8192, 1, 256));  // draft_extend N 1: 256 x 8 = 2048, needs 4096
  EXPECT_TRUE(ragged(512, 8192, 1, 512));
  // Rows that vary count at half their bound, up to a bound of 5; beyond 2
  // they need 4 x 2048 units (counted twice: rows x passes of 16384).
  EXPECT_TRUE(ragged(1024, 4096, 4, 4096));  // draft_extend N 4 at bs 1024: 4096 x 4
  EXPECT_TRUE(ragged(512, 8192, 4, 2048));   // 2048 x 8
  EXPECT_FALSE(ragged(511, 8192, 4, 2044));
  EXPECT_FALSE(ragged(128, 8192, 4, 512));   // 4096 units: enough for bounds of 1-2 only
  EXPECT_TRUE(ragged(1024, 4096, 5, 5120));
  EXPECT_FALSE(ragged(1024, 4096, 6, 6144));  // three pairs on average
  // extend: its rows count at most ceil(capacity / bs) per request.
  EXPECT_TRUE(ragged(4096, 8192, specmeta::kNoMaxQo, 4096));   // one row per request
  EXPECT_TRUE(ragged(1024, 8192, specmeta::kNoMaxQo, 2048));   // two
  EXPECT_TRUE(ragged(1024, 8192, specmeta::kNoMaxQo, 5120));   // five
  EXPECT_FALSE(ragged(1024, 8192, specmeta::kNoMaxQo, 5121));  // six
  EXPECT_TRUE(ragged(256, 16384, specmeta::kNoMaxQo, 1024));   // four: 1024 x 16 = 16384
  EXPECT_FALSE(ragged(256, 8192, specmeta::kNoMaxQo, 1024));   // 8192
  EXPECT_FALSE(ragged(1, 8192, specmeta::kNoMaxQo, 4096));     // one request of up to 4096 rows
  EXPECT_FALSE(ragged(4096, 1048576, specmeta::kNoMaxQo, 2));  // too few units
}

TEST(PageTableLayoutRule, LargeTablesSpreadEachRowOverMoreBlocks) {
  // Blocks per request: max(ceil(2048 / bs), ceil(passes / (10 / (1 + pairs)))),
  // at most the passes; pairs on average (rows that vary: half their bound,
  // the bound at most capacity / bs).
  auto uniform = [](int64_t bs, int64_t width, int64_t rows, int32_t extra_sets) {
    return specmeta::cuda_detail::page_table_layout(uniform_table_call(bs, width, rows, extra_sets)).parts_per_request;
  };
  EXPECT_EQ(uniform(256, 8192, 1, 0), 8u);       // the block target
  EXPECT_EQ(uniform(256, 131072, 1, 0), 26u);    // decode: 5 passes a block
  EXPECT_EQ(uniform(64, 131072, 1, 0), 32u);     // the target gives more
  EXPECT_EQ(uniform(256, 131072, 2, 0), 43u);    // 3 passes a block
  EXPECT_EQ(uniform(256, 131072, 4, 0), 64u);    // 2
  EXPECT_EQ(uniform(256, 131072, 8, 0), 128u);   // 1
  EXPECT_EQ(uniform(256, 131072, 1, 3), 64u);    // four sets: 4 pairs
  EXPECT_EQ(uniform(4, 1048576, 4, 0), 512u);    // the target
  EXPECT_EQ(uniform(1, 1048576, 16, 0), 1024u);  // at most the passes
  EXPECT_EQ(uniform(1 << 20, 1048576, 1, 0), 1u);  // the spread stays within 2^20 table blocks
  EXPECT_EQ(uniform(1 << 14, 1048576, 1, 0), 64u);
  auto ragged = [](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return specmeta::cuda_detail::page_table_layout(ragged_table_call(bs, width, max_qo, capacity)).parts_per_request;
  };
  EXPECT_EQ(ragged(256, 131072, 2, 512), 26u);    // draft_extend N 2: 1 pair on average
  EXPECT_EQ(ragged(256, 131072, 4, 1024), 43u);   // N 4: 2
  EXPECT_EQ(ragged(256, 131072, 8, 2048), 64u);   // N 8: 4
  EXPECT_EQ(ragged(256, 32768, specmeta::kNoMaxQo, 1024), 11u);  // extend: capacity / bs = 4 rows, 2 pairs
  EXPECT_EQ(ragged(256, 32768, specmeta::kNoMaxQo, 4096), 32u);  // 16 rows, 8 pairs
  // Per-request qo: a block target of 1024.
  EXPECT_EQ(ragged(256, 8192, 4, 1024), 4u);     // draft_extend N 4: the target (the spread: 3)
  EXPECT_EQ(ragged(1024, 4096, 1, 1024), 1u);    // N 1 at bs 1024: one block per request
  EXPECT_EQ(ragged(1023, 4096, 1, 1023), 2u);    // one request fewer: two
}

TEST(PageTableLayoutRule, RowGroupsWithinOneGridLimitByPairs) {
  // Row groups need 4 pairs; the grid in that layout (bs x 256-column passes)
  // at most 384 blocks under 16 pairs, at most 1024 from 16.
  auto uniform = [](int64_t bs, int64_t width, int64_t rows, int32_t extra_sets) {
    return specmeta::cuda_detail::page_table_layout(uniform_table_call(bs, width, rows, extra_sets)).row_groups;
  };
  EXPECT_FALSE(uniform(1, 8192, 2, 0));      // two pairs: groups would idle
  EXPECT_TRUE(uniform(1, 8192, 2, 1));       // two rows in two sets: four pairs
  EXPECT_TRUE(uniform(3, 32768, 4, 0));      // 3 x 128 = 384 blocks
  EXPECT_FALSE(uniform(4, 32768, 4, 0));     // 512
  EXPECT_FALSE(uniform(1, 131072, 8, 0));    // 512, 8 pairs
  EXPECT_TRUE(uniform(1, 131072, 16, 0));    // 512, 16 pairs
  EXPECT_TRUE(uniform(1, 131072, 8, 1));     // 512, 8 rows in two sets
  EXPECT_TRUE(uniform(4, 65536, 16, 0));     // 1024
  EXPECT_FALSE(uniform(5, 65536, 16, 0));    // 1280
  EXPECT_FALSE(uniform(16, 8192, 4, 0));     // target_verify bs 16, W 8192: 512
  auto ragged = [](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return specmeta::cuda_detail::page_table_layout(ragged_table_call(bs, width, max_qo, capacity)).row_groups;
  };
  EXPECT_TRUE(ragged(32, 8192, specmeta::kNoMaxQo, 2048));   // extend E 64: 64 pairs, 1024 blocks
  EXPECT_FALSE(ragged(1, 131072, specmeta::kNoMaxQo, 4));    // extend E 4: 4 pairs, 512 blocks
  EXPECT_TRUE(ragged(1, 65536, specmeta::kNoMaxQo, 4));      // 256 blocks
}

TEST(BuilderGridRule, RowBlocksThenTheRequestBlockThenTablePartsPerRequest) {
  static int32_t element[1] = {};
  auto grid = [](int64_t bs, int64_t rows, int64_t capacity, bool per_row, bool table) {
    specmeta::ExpandArgs a = uniform_table_call(bs, 8192, rows, 0);
    a.capacity = capacity;
    if (per_row) a.out.row_to_req = {element, capacity};
    if (table) a.out.real_page_table = {element, capacity, 8192, 8192};
    return specmeta::cuda_detail::builder_grid(a);
  };
  EXPECT_EQ(grid(16, 1, 16, false, false).blocks, 1);  // the request block alone
  EXPECT_EQ(grid(16, 1, 0, true, false).row_blocks, 1u);  // capacity 0: row block 0 writes sparse_cu_seqlens_k[0]
  EXPECT_EQ(grid(16, 1, 1024, true, false).row_blocks, 1u);
  EXPECT_EQ(grid(16, 1, 1025, true, false).row_blocks, 2u);
  // decode bs 16, W 8192: 8 parts per request (the block target, at most the passes).
  const specmeta::cuda_detail::BuilderGrid decode = grid(16, 1, 16, true, true);
  EXPECT_EQ(decode.layout.parts_per_request, 8u);
  EXPECT_EQ(decode.blocks, 1 + 1 + 16 * 8);
  // target_verify bs 1, N 4: row groups of 256 columns, 32 parts.
  const specmeta::cuda_detail::BuilderGrid verify = grid(1, 4, 4, true, true);
  EXPECT_TRUE(verify.layout.row_groups);
  EXPECT_EQ(verify.blocks, 1 + 1 + 32);
  // A table wanted with no elements (capacity 0, null data) has no table blocks.
  specmeta::ExpandArgs empty = uniform_table_call(16, 8192, 1, 0);
  empty.capacity = 0;
  empty.out.page_table_1 = {nullptr, 0, 8192, 8192};
  EXPECT_EQ(specmeta::cuda_detail::builder_grid(empty).blocks, 1);
}

// The page-table blocks find their request as quotient(parts_divisor(parts), index); any grid index (< 2^31)
// and any divisor a layout can take must give index / parts exactly.
TEST(PartsDivisorRule, MultiplyHighQuotientIsExactBelowTwoToThe31) {
  CaseGen gen;
  SCOPED_TRACE(gen.seed_text());
  constexpr int64_t kMaxIndex = (int64_t{1} << 31) - 1;
  auto check = [&](uint32_t d) {
    const specmeta::cuda_detail::PartsDivisor divisor = specmeta::cuda_detail::parts_divisor(d);
    std::vector<int64_t> indices = {0, 1, d - 1, d, d + 1, kMaxIndex, kMaxIndex - 1, kMaxIndex - d};
    for (int64_t k : {kMaxIndex / d, kMaxIndex / d - 1, gen.range(1, std::max<int64_t>(1, kMaxIndex / d))}) {
      for (int64_t delta : {-1, 0, 1}) indices.push_back(k * d + delta);
    }
    for (int i = 0; i < 16; ++i) indices.push_back(gen.range(0, kMaxIndex));
    for (int64_t n : indices) {
      if (n < 0 || n > kMaxIndex) continue;
      const uint32_t index = static_cast<uint32_t>(n);
      ASSERT_EQ(specmeta::cuda_detail::quotient(divisor, index), index / d) << "index " << index << " / " << d;
    }
  };
  for (uint32_t d = 1; d <= 4096; ++d) check(d);
  for (uint32_t d : {65535u, 65536u, 65537u, 1u << 30, (1u << 31) - 1, 1u << 31}) check(d);
  for (int i = 0; i < 256; ++i) check(static_cast<uint32_t>(gen.range(4097, kMaxIndex)));
}

TEST(LaunchOrderRule, GridsOfAtMost384BlocksLaunchTheNextAfterTheirWait) {
  using specmeta::cuda_detail::launches_after_wait;
  EXPECT_TRUE(launches_after_wait(1, false, 1));
  EXPECT_TRUE(launches_after_wait(258, false, 16));  // draft_extend bs 16, W 4096
  EXPECT_TRUE(launches_after_wait(384, false, 1024));
  EXPECT_FALSE(launches_after_wait(385, false, 1));
  EXPECT_FALSE(launches_after_wait(514, false, 16));  // target_verify bs 16, W 8192
}

TEST(LaunchOrderRule, UniformBatchesOfEightOrMoreLetTheNextLaunchFirst) {
  using specmeta::cuda_detail::launches_after_wait;
  EXPECT_TRUE(launches_after_wait(130, true, 1));    // target_verify bs 1, W 131072, N 8
  EXPECT_TRUE(launches_after_wait(384, true, 7));
  EXPECT_TRUE(launches_after_wait(66, true, 4));
  EXPECT_FALSE(launches_after_wait(66, true, 8));
  EXPECT_FALSE(launches_after_wait(66, true, 16));   // target_verify bs 16, W 4096
  EXPECT_FALSE(launches_after_wait(258, true, 16));  // target_verify bs 16, W 4096, N 8 (row groups)
  EXPECT_FALSE(launches_after_wait(514, true, 1));
  EXPECT_TRUE(launches_after_wait(258, false, 16));  // per-request rows keep the wait-first order
}

TEST(PrefetchRule, SmallBatchesOfSmallTablesPrefetchTheirFirstPass) {
  using specmeta::cuda_detail::prefetches_first_pass;
  auto call = [](int64_t bs, int64_t capacity, int64_t width) {
    specmeta::ExpandArgs a = uniform_table_call(bs, width, 1, 0);
    a.capacity = capacity;
    return a;
  };
  EXPECT_TRUE(prefetches_first_pass(call(4, 64, 4096)));       // extend bs 4 E 16 W 4096
  EXPECT_TRUE(prefetches_first_pass(call(16, 128, 4096)));     // draft_extend bs 16 N 8 W 4096
  EXPECT_TRUE(prefetches_first_pass(call(1, 4, 131072)));      // 2^19 cells
  EXPECT_FALSE(prefetches_first_pass(call(1, 8, 131072)));     // draft_extend bs 1 N 8 W 131072
  EXPECT_FALSE(prefetches_first_pass(call(17, 17, 4096)));
  EXPECT_FALSE(prefetches_first_pass(call(64, 64, 4096)));     // bs 64 W 4096, one row each
}

TEST(PrefetchRule, LargeTablesOfFewPairsPrefetchTheirNextPass) {
  using specmeta::cuda_detail::page_table_layout;
  using specmeta::cuda_detail::prefetches_next_pass;
  using specmeta::cuda_detail::table_copy;
  // At most 4 pairs on average, the high-occupancy kernel or streaming
  // stores, 1536 page-table blocks or more (bs x parts_per_request), and at
  // least 2 passes a block where rows are per request:
  // ceil(ceil(width / 1024) / parts_per_request).
  auto next = [](const specmeta::ExpandArgs& a) { return prefetches_next_pass(a, table_copy(a), page_table_layout(a)); };
  auto ragged = [&](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return next(ragged_table_call(bs, width, max_qo, capacity));
  };
  EXPECT_TRUE(ragged(1024, 4096, 4, 4096));    // draft_extend N 4 bs 1024, high occupancy: 2048 blocks of 2 passes
  EXPECT_FALSE(ragged(1024, 4096, 1, 1024));   // N 1: 1024 blocks of 4
  EXPECT_TRUE(ragged(256, 30720, 1, 256));     // 1536 blocks of 5
  EXPECT_FALSE(ragged(255, 30720, 1, 255));    // 1530 blocks of 5
  EXPECT_TRUE(ragged(2048, 2048, 1, 2048));    // 2048 blocks of 2
  EXPECT_FALSE(ragged(8192, 1024, 1, 8192));   // one pass
  EXPECT_TRUE(ragged(256, 16384, 8, 2048));    // N 8, 4 pairs on average, streaming stores: 2048 blocks of 2
  EXPECT_TRUE(ragged(4, 1048576, 8, 32));      // streaming stores: 2048 blocks of 2
  EXPECT_FALSE(ragged(4, 1048576, 4, 16));     // 1368 blocks of 3
  EXPECT_FALSE(ragged(16, 131072, 4, 64));     // 1024 blocks of 2
  EXPECT_FALSE(ragged(256, 16384, 10, 2560));  // 5 pairs on average
  EXPECT_FALSE(ragged(1024, 2048, 1, 1024));   // 2048 units: the small calls' kernel
  // The small calls' kernel never prefetches, whatever its passes.
  const specmeta::ExpandArgs a = ragged_table_call(2048, 2048, 1, 2048);
  EXPECT_FALSE(prefetches_next_pass(a, specmeta::cuda_detail::TableCopy::kPlain, page_table_layout(a)));
  // Uniform rows: the high-occupancy kernel (at most 2 pairs) and 3 passes a block.
  auto uniform = [&](int64_t bs, int64_t width, int64_t rows) { return next(uniform_table_call(bs, width, rows, 0)); };
  EXPECT_TRUE(uniform(256, 32768, 1));    // decode bs 256: 2048 blocks of 4 passes
  EXPECT_TRUE(uniform(64, 131072, 2));    // target_verify N 2: 2048 blocks of 4
  EXPECT_TRUE(uniform(1024, 5120, 1));    // 2048 blocks of 3
  EXPECT_FALSE(uniform(1024, 4096, 1));   // 2048 blocks of 2
  EXPECT_TRUE(uniform(3072, 3072, 1));    // 3072 blocks of 3
  EXPECT_FALSE(uniform(2048, 2048, 1));   // 2048 blocks of 2
  EXPECT_FALSE(uniform(256, 65536, 4));   // streaming stores, spread to blocks of 2
  EXPECT_FALSE(uniform(4096, 1048576, 4));
}

TEST(PassOrderRule, HighOccupancyBlocksOfTwoPassesOrMoreLoadThemAllFirst) {
  using specmeta::cuda_detail::page_table_layout;
  using specmeta::cuda_detail::pass_order;
  using specmeta::cuda_detail::PassOrder;
  using specmeta::cuda_detail::table_copy;
  // The rule reads which tables are wanted and the page size; both tables
  // here, of page size 64, unless said otherwise.
  static int32_t cell[1] = {};
  auto with_tables = [](specmeta::ExpandArgs a) {
    a.out.page_table_1.data = cell;
    a.out.real_page_table.data = cell;
    a.page_size = 64;
    return a;
  };
  auto order = [](const specmeta::ExpandArgs& a) { return pass_order(a, table_copy(a), page_table_layout(a)); };
  auto ragged = [&](int64_t bs, int64_t width, int64_t max_qo, int64_t capacity) {
    return order(with_tables(ragged_table_call(bs, width, max_qo, capacity)));
  };
  auto uniform = [&](int64_t bs, int64_t width, int64_t rows) {
    return order(with_tables(uniform_table_call(bs, width, rows, 0)));
  };
  EXPECT_EQ(ragged(1024, 4096, 1, 1024), PassOrder::kInFlight);      // high occupancy, 1024 blocks of 4 passes
  EXPECT_EQ(ragged(1024, 2048, 2, 2048), PassOrder::kInFlight);      // 1024 blocks of 2
  EXPECT_EQ(ragged(4, 1048576, 2, 8), PassOrder::kInFlight);         // one pair on average: 1024 blocks of 4
  EXPECT_EQ(ragged(4, 1048576, 4, 16), PassOrder::kTwoInFlight);     // two: 1368 blocks of 3, two in flight
  EXPECT_EQ(ragged(2048, 1024, 1, 2048), PassOrder::kOneByOne);      // one pass
  EXPECT_EQ(ragged(2048, 3072, 2, 4096), PassOrder::kInFlight);      // 2048 blocks of 3, before the prefetch
  EXPECT_EQ(ragged(256, 32768, 1, 256), PassOrder::kInFlight);       // 1792 blocks of 5, before the prefetch
  EXPECT_EQ(ragged(16, 1048576, 1, 16), PassOrder::kInFlight);       // 3280 blocks of 5
  EXPECT_EQ(ragged(1024, 20480, 1, 1024), PassOrder::kInFlight);     // 4096 blocks of 5
  EXPECT_EQ(ragged(1024, 21504, 1, 1024), PassOrder::kPrefetchNext);  // 5120: over the per-request limit
  EXPECT_EQ(ragged(1024, 32768, 1, 1024), PassOrder::kPrefetchNext);  // 7168
  EXPECT_EQ(uniform(1024, 32768, 1), PassOrder::kInFlight);          // uniform rows: no limit
  EXPECT_EQ(ragged(1024, 4096, 4, 4096), PassOrder::kTwoInFlight);   // two pairs: 2048 blocks, before the prefetch
  EXPECT_EQ(ragged(256, 16384, 4, 1024), PassOrder::kTwoInFlight);   // 1536 blocks of 3
  EXPECT_EQ(ragged(1025, 4096, 4, 4100), PassOrder::kPrefetchNext);  // 2050: over the two-pair limit
  EXPECT_EQ(ragged(1024, 8192, 4, 4096), PassOrder::kPrefetchNext);  // 3072 blocks of 3
  EXPECT_EQ(ragged(1024, 1024, 4, 4096), PassOrder::kOneByOne);      // one pass
  EXPECT_EQ(ragged(256, 16384, 8, 2048), PassOrder::kPrefetchNext);  // streaming stores
  EXPECT_EQ(ragged(64, 16384, 8, 512), PassOrder::kOneByOne);        // streaming stores, too few blocks to prefetch
  // Uniform rows: laid out a block per four passes, and in flight before the prefetch.
  EXPECT_EQ(uniform(1024, 4096, 1), PassOrder::kInFlight);           // decode: 1024 blocks of 4
  EXPECT_EQ(uniform(1024, 5120, 1), PassOrder::kInFlight);           // 2048 blocks of 3 (the prefetch's too)
  EXPECT_EQ(uniform(4, 1048576, 1), PassOrder::kInFlight);           // 1024 blocks of 4
  EXPECT_EQ(uniform(1024, 2048, 2), PassOrder::kInFlight);           // target_verify N 2: 1024 blocks of 2
  EXPECT_EQ(uniform(256, 65536, 4), PassOrder::kOneByOne);           // streaming stores
  auto parts = [&](int64_t bs, int64_t width, int64_t rows) {
    return page_table_layout(with_tables(uniform_table_call(bs, width, rows, 0))).parts_per_request;
  };
  EXPECT_EQ(parts(1024, 4096, 1), 1u);
  EXPECT_EQ(parts(1024, 5120, 1), 2u);
  EXPECT_EQ(parts(4, 1048576, 1), 256u);
  EXPECT_EQ(parts(256, 32768, 2), 8u);
  EXPECT_EQ(parts(1024, 2048, 1), 1u);  // the block target's layout: 2 blocks of 1 pass
  // Without page_table_1 the target's layout, and the prefetch from 3 passes a block.
  specmeta::ExpandArgs pages_only = with_tables(uniform_table_call(1024, 5120, 1, 0));
  pages_only.out.page_table_1 = {};
  EXPECT_EQ(page_table_layout(pages_only).parts_per_request, 2u);
  EXPECT_EQ(order(pages_only), PassOrder::kPrefetchNext);
  // page_table_1 wanted, and real_page_table's pages from the copying threads' columns.
  specmeta::ExpandArgs a = with_tables(uniform_table_call(1024, 4096, 1, 0));
  for (int64_t ps : {1, 2, 3, 48}) {
    a.page_size = ps;
    EXPECT_EQ(order(a), PassOrder::kOneByOne) << "page size " << ps;
  }
  for (int64_t ps : {4, 16, 64}) {
    a.page_size = ps;
    EXPECT_EQ(order(a), PassOrder::kInFlight) << "page size " << ps;
  }
  a.page_size = 3;
  a.out.real_page_table = {};
  EXPECT_EQ(order(a), PassOrder::kInFlight);  // no pages to store
  a.page_size = 64;
  a.out.page_table_1 = {};
  EXPECT_EQ(order(a), PassOrder::kOneByOne);
}

// One draft_extend call on the stream, then a decode call whose seq_lens are
// the last of the first call's cache_seqlens, with no sync between: the
// second must compute from the values the first wrote (each waits for the
// grid before it; only when the next grid may launch depends on the size and
// the rows, kLaunchAfterWaitMaxBlocks and kLaunchFirstUniformMinBatch; the
// first call's per-request rows keep the wait-first order open to its large
// batch). The first call has 2^20 requests, whose
// cache_seqlens its one request block writes in order over about a
// millisecond, so a second call that read early would read the poison left
// in the last ones. Chains: each launch order of the first grid (a one-column
// page table gives it 2^20 more blocks), then each of the second.
TEST_F(MetadataCudaTest, ChainedCallsReadThePriorCallsOutputs) {
  SKIP_WITHOUT_CUDA();
  using specmeta::cuda_detail::launches_after_wait;
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  constexpr int64_t kFirstBs = int64_t{1} << 20;
  constexpr int64_t kMaxSeq = 8192;
  constexpr int64_t kSecondTableBs = 64;  // with an 8192-column table: 2050 blocks
  constexpr int kRepeats = 3;
  constexpr int32_t kPoison = -1;  // every byte 0xff; reads as a length of 0
  std::vector<int64_t> seq(static_cast<size_t>(kFirstBs));
  std::vector<int64_t> rpi(static_cast<size_t>(kFirstBs));
  for (int64_t b = 0; b < kFirstBs; ++b) {
    seq[static_cast<size_t>(b)] = base.range(1, kMaxSeq);
    rpi[static_cast<size_t>(b)] = b;
  }
  DeviceMem seq_d, accept_d, rpi_d, pool_d, cache_d, table_d, second_pool_d, second_table_d, expanded_d;
  auto alloc = [](DeviceMem& m, int64_t bytes) {
    m.bytes = static_cast<size_t>(bytes);
    CHECK_CUDA(cudaMalloc(&m.p, m.bytes));
  };
  alloc(seq_d, kFirstBs * 8);
  alloc(accept_d, kFirstBs * 4);
  alloc(rpi_d, kFirstBs * 8);
  alloc(pool_d, kFirstBs * 4);
  alloc(cache_d, kFirstBs * 4);
  alloc(table_d, kFirstBs * 4);
  alloc(second_pool_d, kSecondTableBs * kMaxSeq * 4);
  alloc(second_table_d, kSecondTableBs * kMaxSeq * 4);
  alloc(expanded_d, kSecondTableBs * 4);
  ASSERT_FALSE(HasFatalFailure());
  CHECK_CUDA(cudaMemcpy(seq_d.p, seq.data(), seq_d.bytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(rpi_d.p, rpi.data(), rpi_d.bytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(accept_d.p, 0, accept_d.bytes));  // no rows: only cache_seqlens is read
  CHECK_CUDA(cudaMemset(pool_d.p, 0, pool_d.bytes));
  CHECK_CUDA(cudaMemset(second_pool_d.p, 0, second_pool_d.bytes));

  // Its grid, as expand_cuda sizes it.
  auto grid = [](const specmeta::MetadataArgs& call) {
    specmeta::ExpandArgs e;
    EXPECT_TRUE(specmeta::validate(call, &e).ok());
    return specmeta::cuda_detail::builder_grid(e).blocks;
  };
  for (const bool first_table : {false, true}) {
    specmeta::MetadataArgs first;
    first.mode = specmeta::Mode::kDraftExtend;
    first.bs = kFirstBs;
    first.capacity = kFirstBs;
    first.num_draft_tokens = 1;
    first.seq_lens = {seq_d.p, specmeta::IntType::kInt64, kFirstBs};
    first.accept_lens = {accept_d.p, specmeta::IntType::kInt32, kFirstBs};
    first.out.cache_seqlens = {static_cast<int32_t*>(cache_d.p), kFirstBs};
    if (first_table) {
      first.req_pool_indices = {rpi_d.p, specmeta::IntType::kInt64, kFirstBs};
      first.req_to_token = {static_cast<const int32_t*>(pool_d.p), kFirstBs, 1, 1};
      first.width = 1;
      first.out.page_table_1 = {static_cast<int32_t*>(table_d.p), kFirstBs, 1, 1};
    }
    for (const bool second_table : {false, true}) {
      SCOPED_TRACE(std::string("first call ") + (first_table ? "with" : "without") + " a table, second " +
                   (second_table ? "with" : "without"));
      const int64_t bs = second_table ? kSecondTableBs : 1;
      const int64_t offset = kFirstBs - bs;  // the last requests: written last
      specmeta::MetadataArgs second;
      second.mode = specmeta::Mode::kDecode;
      second.bs = bs;
      second.capacity = bs;
      second.seq_lens = {static_cast<const int32_t*>(cache_d.p) + offset, specmeta::IntType::kInt32, bs};
      second.out.seqlens_expanded = {static_cast<int32_t*>(expanded_d.p), bs};
      if (second_table) {
        second.req_pool_indices = {rpi_d.p, specmeta::IntType::kInt64, bs};
        second.req_to_token = {static_cast<const int32_t*>(second_pool_d.p), bs, kMaxSeq, kMaxSeq};
        second.width = kMaxSeq;
        second.out.page_table_1 = {static_cast<int32_t*>(second_table_d.p), bs, kMaxSeq, kMaxSeq};
      }
      EXPECT_EQ(launches_after_wait(grid(first), false, kFirstBs), !first_table);
      EXPECT_EQ(launches_after_wait(grid(second), true, bs), !second_table);
      std::vector<int32_t> expanded(static_cast<size_t>(bs));
      for (int repeat = 0; repeat < kRepeats; ++repeat) {
        CHECK_CUDA(cudaMemsetAsync(cache_d.p, 0xff, cache_d.bytes, stream_));
        const specmeta::Status s1 = specmeta::build_metadata_cuda(first, stream_);
        const specmeta::Status s2 = specmeta::build_metadata_cuda(second, stream_);
        ASSERT_TRUE(s1.ok()) << s1.message();
        ASSERT_TRUE(s2.ok()) << s2.message();
        CHECK_CUDA(cudaMemcpyAsync(expanded.data(), expanded_d.p, static_cast<size_t>(bs) * 4,
                                   cudaMemcpyDeviceToHost, stream_));
        CHECK_CUDA(cudaStreamSynchronize(stream_));
        for (int64_t b = 0; b < bs; ++b) {
          ASSERT_EQ(expanded[static_cast<size_t>(b)], seq[static_cast<size_t>(offset + b)])
              << "repeat " << repeat << ", request " << b << " (the poison " << kPoison << " reads as 0)";
        }
      }
    }
  }
}

// Every API (the five modes and expand_* directly) around the page-table
// copy switches; which side a case is on depends on its mode's row bound, so
// every copy is required over all of them together.
TEST_F(MetadataCudaTest, TableCopyThresholds) {
  SKIP_WITHOUT_CUDA();
  auto copy_of = [](const MetaCase& c) {
    return static_cast<int>(specmeta::cuda_detail::table_copy(expansion_of(c)));
  };
  // Which copy a case gets: a TableCopy as an int (0 plain, 1 streaming, 2 high occupancy).
  const std::array<int, 3> seen = sweep_shapes_every_api<3>(kTableCopyThresholdShapes, copy_of, 2);
  if (HasFailure()) return;
  EXPECT_GT(seen[0], 0) << "no case took plain stores";
  EXPECT_GT(seen[1], 0) << "no case took streaming stores";
  EXPECT_GT(seen[2], 0) << "no case took the high-occupancy kernel";
}

// The high-occupancy kernel's real_page_table (page_table_block.cuh): page
// sizes that take its own pages (powers of two from 4, with page_table_1
// written) and those that gather, each with both tables, with
// real_page_table alone (it then gathers at every page size) and with every
// output; decode (one pair) and target_verify N = 2 (two).
TEST_F(MetadataCudaTest, HighOccupancyPageSizes) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  const unsigned tables = (1u << kMPageTable1) | (1u << kMRealPageTable);
  for (int param : {static_cast<int>(MetaMode::kDecode), static_cast<int>(MetaMode::kTargetVerify)}) {
    for (int64_t ps : {1, 2, 3, 4, 16, 48, 64}) {
      for (unsigned wanted : {kAllMetaOutputs, tables, 1u << kMRealPageTable}) {
        // 256 requests x 8 passes x 1-2 rows: 2048-4096 units, so the high-
        // occupancy copy. A fixed capacity (2 rows per request) keeps the
        // tables within the budget, so the width is never halved below 8
        // passes.
        if (!high_occupancy_case(gen, base, param, {256, 8, 2}, ps, wanted)) return;
      }
    }
  }
}

// The high-occupancy kernel on rows that vary per request up to a bound of
// 4 and 5, about two pairs on average (kernel_params.cuh, kCopyMaxPairs):
// draft_extend N 4 and 5, and extend with a capacity of 4 and 5 rows per
// request (its lengths run to 16, so most requests lie past the capacity);
// every output and the tables alone, page sizes that take own pages and
// those that gather.
TEST_F(MetadataCudaTest, HighOccupancyVariableRows) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  const unsigned tables = (1u << kMPageTable1) | (1u << kMRealPageTable);
  for (int param : {static_cast<int>(MetaMode::kDraftExtend), static_cast<int>(MetaMode::kExtend)}) {
    for (int64_t bound : {4, 5}) {
      for (int64_t ps : {1, 3, 16, 64}) {
        for (unsigned wanted : {kAllMetaOutputs, tables}) {
          // 1024 requests x 4 passes x up to 4-5 rows: 16384-20480 units,
          // the rule's 2 x 8192 for averaged rows.
          if (!high_occupancy_case(gen, base, param, {1024, 4, bound}, ps, wanted)) return;
        }
      }
    }
  }
}

// Every API on tables whose layout the spread of large tables decides
// (more blocks per request than the block target) and on tables just short
// of it.
TEST_F(MetadataCudaTest, LargeTableSpread) {
  SKIP_WITHOUT_CUDA();
  // One pair: 5 passes a block, so 1024 requests of 12 passes take 3 blocks
  // each against the target's 2 (1 where qo is per request); of 10 passes, 2.
  // Eight or more pairs: one pass a block, so 64 requests of 40 passes take
  // 40 against 32 (16).
  const TableShape shapes[] = {{1024, 12, 1}, {1024, 10, 1}, {64, 40, 8}, {64, 32, 8}};
  auto spreads = [](const MetaCase& c) {
    const specmeta::ExpandArgs a = expansion_of(c);
    const int64_t parts = specmeta::cuda_detail::page_table_layout(a).parts_per_request;
    const int64_t target = specmeta::cuda_detail::page_table_block_target(a);
    return parts > (target + c.bs() - 1) / c.bs() ? 1 : 0;
  };
  const std::array<int, 2> seen = sweep_shapes_every_api<2>(shapes, spreads, 1);
  if (HasFailure()) return;
  EXPECT_GT(seen[1], 0) << "no case took the spread of large tables";
  EXPECT_GT(seen[0], 0) << "no case took the block target";
}

// The next-pass prefetch (kernel_params.cuh, prefetches_next_pass) on both
// sides of the rule, every output compared with the reference: draft_extend
// and extend with a capacity of `rows` per request (the row bound), and
// target_verify (uniform rows). Each case asserts its side first: 0 no
// prefetch, 1 the high-occupancy kernel that prefetches, 2 the streaming one.
// Page size 3, whose pages the copying threads cannot store from their own
// columns: uniform tables of high occupancy, and per-request ones of two
// pairs on grids of up to 2048 blocks, would otherwise take their passes in
// flight instead (PassesInFlight).
TEST_F(MetadataCudaTest, NextPassPrefetch) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  struct Side {
    TableShape shape;
    int per_request;  // draft_extend's and extend's side
    int uniform;      // target_verify's
  };
  const Side sides[] = {
      {{1024, 1, 1}, 0, 0},   // one pass: nothing to prefetch
      {{1024, 4, 1}, 0, 0},   // 1024 blocks of 4 passes; uniform: 2048 blocks of 2
      {{1024, 5, 1}, 0, 1},   // 1024 blocks; uniform: 2048 blocks of 3
      {{2048, 3, 2}, 1, 1},   // high occupancy, 2048 blocks of 3
      {{1024, 4, 4}, 1, 0},   // high occupancy (2 pairs on average), 2048 blocks of 2; uniform: streaming stores
      {{512, 8, 6}, 2, 0},    // streaming stores (3 pairs on average), 2048 blocks of 2
      {{256, 16, 10}, 0, 0},  // 5 pairs on average
  };
  auto side_of = [](const MetaCase& c) {
    using specmeta::cuda_detail::TableCopy;
    const specmeta::ExpandArgs a = expansion_of(c);
    const TableCopy copy = specmeta::cuda_detail::table_copy(a);
    if (!specmeta::cuda_detail::prefetches_next_pass(a, copy, specmeta::cuda_detail::page_table_layout(a))) return 0;
    return copy == TableCopy::kHighOccupancy ? 1 : 2;
  };
  for (MetaMode mode : {MetaMode::kDraftExtend, MetaMode::kExtend, MetaMode::kTargetVerify}) {
    for (const Side& side : sides) {
      const int want = mode == MetaMode::kTargetVerify ? side.uniform : side.per_request;
      const bool ok = table_case(gen, base, static_cast<int>(mode), side.shape, 3, kAllMetaOutputs,
                                 [&](const MetaCase& c) { EXPECT_EQ(side_of(c), want); });
      if (!ok) return;
    }
  }
}

// Passes in flight (kernel_params.cuh, in_flight_pass_order) on both sides of the
// rule, every output compared with the reference: draft_extend, extend and
// target_verify as in NextPassPrefetch, each case asserting its pass order
// first (per-request blocks of batches over 256, with up to 32, 1024 or 2047
// requests before them, sum those requests' rows from their early loads or
// not: page_table_block.cuh, load_early_qo; kPassesInFlight or
// kPassesInFlightTwoPairs of them, by the pairs); then one shape at page sizes
// and output subsets on either side (and where the kernel finds its pages
// not its own, page sizes under 4 or not a power of two:
// copy_request_rows_in_flight hands those to copy_request_rows).
TEST_F(MetadataCudaTest, PassesInFlight) {
  SKIP_WITHOUT_CUDA();
  using specmeta::cuda_detail::PassOrder;
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  struct Side {
    TableShape shape;
    PassOrder per_request;  // draft_extend's and extend's order
    PassOrder uniform;      // target_verify's
  };
  const Side sides[] = {
      {{1024, 4, 1}, PassOrder::kInFlight, PassOrder::kInFlight},      // 1024 blocks of 4 (uniform: laid out so)
      {{1024, 5, 1}, PassOrder::kInFlight, PassOrder::kInFlight},      // 4 in flight, then 1; uniform 2048 of 3
      {{1024, 1, 1}, PassOrder::kOneByOne, PassOrder::kOneByOne},      // one pass
      {{1024, 2, 2}, PassOrder::kInFlight, PassOrder::kInFlight},      // 1024 blocks of 2
      {{2048, 3, 2}, PassOrder::kInFlight, PassOrder::kInFlight},      // 2048 blocks of 3: before the prefetch
      {{8, 256, 2}, PassOrder::kInFlight, PassOrder::kInFlight},       // 1024 blocks of 2, a small batch's kernel
      // Two pairs on average: two passes in flight on 2048 blocks of 2, and
      // 1536 of 3 (two, then one) in a small batch's kernel, the prefetch
      // past 2048 blocks; uniform: streaming stores.
      {{1024, 4, 4}, PassOrder::kTwoInFlight, PassOrder::kOneByOne},
      {{2048, 2, 4}, PassOrder::kTwoInFlight, PassOrder::kOneByOne},
      {{256, 16, 4}, PassOrder::kTwoInFlight, PassOrder::kOneByOne},
      {{1025, 4, 4}, PassOrder::kPrefetchNext, PassOrder::kOneByOne},
  };
  auto order_of = [](const MetaCase& c) {
    const specmeta::ExpandArgs a = expansion_of(c);
    const specmeta::cuda_detail::PageTableLayout layout = specmeta::cuda_detail::page_table_layout(a);
    return specmeta::cuda_detail::pass_order(a, specmeta::cuda_detail::table_copy(a, layout), layout);
  };
  auto run = [&](MetaMode mode, const TableShape& shape, int64_t ps, unsigned wanted, PassOrder want) {
    return table_case(gen, base, static_cast<int>(mode), shape, ps, wanted,
                      [&](const MetaCase& c) { EXPECT_EQ(order_of(c), want); });
  };
  for (MetaMode mode : {MetaMode::kDraftExtend, MetaMode::kExtend, MetaMode::kTargetVerify}) {
    for (const Side& side : sides) {
      const PassOrder want = mode == MetaMode::kTargetVerify ? side.uniform : side.per_request;
      if (!run(mode, side.shape, 64, kAllMetaOutputs, want)) return;
    }
  }
  const unsigned pt1 = 1u << kMPageTable1, rpt = 1u << kMRealPageTable;
  for (MetaMode mode : {MetaMode::kExtend, MetaMode::kDecode}) {
    for (int64_t ps : {1, 3, 4, 16, 48, 64}) {
      for (unsigned wanted : {kAllMetaOutputs, pt1 | rpt, pt1, rpt}) {
        const bool own_pages = ps >= 4 && (ps & (ps - 1)) == 0;
        const bool in_flight = (wanted & pt1) && (own_pages || !(wanted & rpt));
        if (!run(mode, {1024, 4, 1}, ps, wanted, in_flight ? PassOrder::kInFlight : PassOrder::kOneByOne)) return;
      }
    }
  }
}

// Every API on tables around the row-group switches (kernel_params.cuh): 16
// rows at bs 16 and 17 over 4 passes (row groups: 16 pairs, well within 1024
// blocks), 4 rows at bs 3 and 4 over 32 passes (at the 384-block limit under
// 16 pairs: 375-384 blocks, then 500-512), 2 rows (too few pairs). The
// 1024-block limit is pinned by PageTableLayoutRule.
TEST_F(MetadataCudaTest, RowGroupLayouts) {
  SKIP_WITHOUT_CUDA();
  const TableShape shapes[] = {{16, 4, 16}, {17, 4, 16}, {3, 32, 4}, {4, 32, 4}, {1, 4, 2}};
  auto row_groups = [](const MetaCase& c) {
    return specmeta::cuda_detail::page_table_layout(expansion_of(c)).row_groups ? 1 : 0;
  };
  const std::array<int, 2> seen = sweep_shapes_every_api<2>(shapes, row_groups, 1);
  if (HasFailure()) return;
  EXPECT_GT(seen[0], 0) << "no case took the bandwidth layout";
  EXPECT_GT(seen[1], 0) << "no case took the row-group layout";
}

// The row-group layout over several destination sets, with per-set row
// counts that are no multiple of the groups: a group's first row differs
// from set to set (page_table_block.cuh). A first row computed wrongly for
// the later sets (not reduced modulo the groups, say) leaves their rows
// poisoned, which tables of one set (the other row-group tests) never show.
TEST_F(MetadataCudaTest, RowGroupsAcrossSets) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (MetaMode mode : {MetaMode::kTargetVerify, MetaMode::kDraftExtend, MetaMode::kExtend}) {
    for (int sets : {2, 3, kMaxSets}) {
      for (int64_t rows : {3, 5, 7}) {
        // A capacity of bs x rows makes rows the row bound (pairs: rows x sets).
        MetaOptions o = table_shape_options(base, static_cast<int>(mode), {4, 4, rows});
        o.sets = sets;
        o.capacity = 4 * rows;
        const MetaCase c = gen.make(o);
        SCOPED_TRACE(c.describe());
        ASSERT_TRUE(specmeta::cuda_detail::page_table_layout(expansion_of(c)).row_groups);
        run_meta_and_compare(backend(), c);
        if (meta_failed()) return;
      }
    }
  }
}

TEST_F(MetadataCudaTest, HandWorkedExamples) {
  SKIP_WITHOUT_CUDA();
  check_hand_examples(backend());
}

TEST_F(MetadataCudaTest, EachStatusBitOnItsOwn) {
  SKIP_WITHOUT_CUDA();
  check_single_bits(backend());
}

TEST_F(MetadataCudaTest, LengthsNearInt32Max) {
  SKIP_WITHOUT_CUDA();
  check_near_int32_max(backend());
}

TEST_F(MetadataCudaTest, RowSumsPast16Bits) {
  SKIP_WITHOUT_CUDA();
  check_row_sums_past_16_bits(backend());
}

// The legacy default stream works too.
TEST_F(MetadataCudaTest, DefaultStream) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  auto on_default = [](const MetaCase& c, MetaObserved* obs) { run_meta_cuda(c, obs, nullptr); };
  for (int param = 0; param < kApiParams; ++param) run_random_meta_cases(on_default, gen, 5, options_for(param));
}

// Same bytes as the CPU backend, whole allocations compared.
TEST_F(MetadataCudaTest, SameAsCpuBackend) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 60; ++i) {
    const MetaCase c = gen.make(options_for(static_cast<int>(base.range(0, kApiParams - 1))));
    SCOPED_TRACE(c.describe());
    MetaObserved gpu, cpu;
    run_meta_cuda(c, &gpu, stream_);
    ASSERT_FALSE(HasFatalFailure());
    run_meta_cpu(c, &cpu);
    ASSERT_TRUE(gpu.status.ok()) << gpu.status.message();
    ASSERT_TRUE(cpu.status.ok()) << cpu.status.message();
    for (int set = 0; set < c.sets; ++set) {
      for (int s = 0; s < kMetaSlots; ++s) {
        const std::vector<int32_t>& a = cpu.buffers.out[set][s];
        const std::vector<int32_t>& b = gpu.buffers.out[set][s];
        ASSERT_EQ(a.size(), b.size());
        EXPECT_TRUE(same_elements(std::string("set ") + std::to_string(set) + " " + meta_slot_name(s), a.data(),
                                  b.data(), static_cast<int64_t>(a.size())));
      }
    }
    if (HasFailure()) return;
  }
}

// BoundExpansion::launch_cuda for the first bs requests of a bound batch
// writes what a call for those requests writes.
TEST_F(MetadataCudaTest, BoundExpansionLaunchesFirstRequests) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < 30; ++i) {
    const MetaCase c = gen.make(options_for(static_cast<int>(base.range(0, kApiParams - 1))));
    for (int64_t bs : {int64_t{0}, int64_t{1}, c.bs() / 2, c.bs()}) {
      if (bs > c.bs()) continue;
      const MetaCase t = first_requests(c, bs);
      SCOPED_TRACE("bound for " + std::to_string(c.bs()) + ", run for " + std::to_string(bs) + ": " + t.describe());
      MetaBuffers h = make_host_buffers(t);
      DeviceMeta d;
      d.allocate(h);
      ASSERT_FALSE(HasFatalFailure());
      d.upload_inputs(h, stream_);
      d.upload_outputs(h, stream_);
      MetaCallArgs a;
      make_call_args(t, d.ptrs, &a);
      specmeta::ExpandArgs e = a.expand;
      if (!t.direct) {
        ASSERT_TRUE(specmeta::validate(a.meta, &e).ok());
      }
      e.bs = c.bs();
      specmeta::BoundExpansion bound;
      const specmeta::Status sb = bound.bind(e);
      ASSERT_TRUE(sb.ok()) << sb.message();
      const specmeta::Status sl = bound.launch_cuda(bs, stream_);
      ASSERT_TRUE(sl.ok()) << sl.message();
      CHECK_CUDA(cudaGetLastError());
      d.download_outputs(&h, stream_);
      ASSERT_FALSE(HasFatalFailure());
      EXPECT_TRUE(matches_meta_reference(t, h));
    }
    if (HasFailure()) return;
  }
}

// Calls the host checks reject, on real device buffers (the Cuda_ rule tests
// use host arenas and so never reach device memory): nothing is launched and
// every device output keeps its contents. Also under compute-sanitizer.
TEST_F(MetadataCudaTest, RejectedCallsWriteNothingOnTheDevice) {
  SKIP_WITHOUT_CUDA();
  const MetaCase c = meta_hand_examples()[0].c;  // target_verify, bs 2, every output, page tables
  ASSERT_FALSE(c.direct);
  MetaBuffers h = make_host_buffers(c);
  const MetaBuffers before = h;
  DeviceMeta d;
  d.allocate(h);
  ASSERT_FALSE(HasFatalFailure());
  d.upload_inputs(h, stream_);
  d.upload_outputs(h, stream_);
  MetaCallArgs a;
  make_call_args(c, d.ptrs, &a);
  {
    specmeta::ExpandArgs e;
    ASSERT_TRUE(specmeta::validate(a.meta, &e).ok()) << "the baseline call must be valid";
  }
  const std::vector<std::pair<const char*, std::function<void(specmeta::MetadataArgs&)>>> mistakes = {
      {"topk", [](specmeta::MetadataArgs& m) { m.topk = 0; }},
      {"page_size", [](specmeta::MetadataArgs& m) { m.page_size = 0; }},
      {"capacity", [](specmeta::MetadataArgs& m) { m.capacity = -1; }},
      {"num_draft_tokens", [](specmeta::MetadataArgs& m) { m.num_draft_tokens = -1; }},
      {"mode", [](specmeta::MetadataArgs& m) { m.mode = static_cast<specmeta::Mode>(9); }},
      {"seqlens_expanded", [](specmeta::MetadataArgs& m) { m.out.seqlens_expanded.size = m.capacity - 1; }},
      {"req_to_token rows", [](specmeta::MetadataArgs& m) { m.req_to_token.rows = -1; }},
      {"width", [](specmeta::MetadataArgs& m) { m.width = m.req_to_token.cols + 1; }},
      {"status", [](specmeta::MetadataArgs& m) { m.out.status.data = m.out.num_rows.data; }},
  };
  for (const auto& [name, mutate] : mistakes) {
    specmeta::MetadataArgs m = a.meta;
    mutate(m);
    const specmeta::Status s = specmeta::build_metadata_cuda(m, stream_);
    EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument) << name << ": " << s.message();
    EXPECT_NE(s.message().find(name), std::string::npos) << "the message does not name " << name << ": " << s.message();
  }
  specmeta::ExpandArgs e;
  ASSERT_TRUE(specmeta::validate(a.meta, &e).ok());
  specmeta::BoundExpansion bound;
  ASSERT_TRUE(bound.bind(e).ok());
  for (int64_t bs : {int64_t{-1}, c.bs() + 1}) {
    const specmeta::Status s = bound.launch_cuda(bs, stream_);
    EXPECT_EQ(s.code(), specmeta::Status::Code::kInvalidArgument) << "bs " << bs << ": " << s.message();
  }
  CHECK_CUDA(cudaGetLastError());
  d.download_outputs(&h, stream_);
  ASSERT_FALSE(HasFatalFailure());
  for (int set = 0; set < kMaxSets; ++set) {
    for (int slot = 0; slot < kMetaSlots; ++slot) {
      EXPECT_EQ(h.out[set][slot], before.out[set][slot]) << "set " << set << " " << meta_slot_name(slot);
    }
  }
  d.expect_inputs_unchanged(h, stream_);
}

// ---------------------------------------------------------------- CUDA graphs

// `r`'s input values (seq_lens, the mode's lengths, req_pool_indices) and
// previous page-table contents in `shape`'s call: everything the captured
// launch fixed (scalars, layouts, req_to_token, tails) comes from `shape`.
MetaCase with_values_of(const MetaCase& shape, const MetaCase& r) {
  MetaCase c = shape;
  c.seq = r.seq;
  if (shape.has_qo_array()) c.qo = r.qo;
  if (shape.page_inputs) c.rpi = r.rpi;
  c.prior_salt = r.prior_salt;
  return c;
}

// Captures one call for `shape`, then replays it with the values of each of
// `replays` written into the same device buffers, comparing every replay
// with the reference.
void graph_replays(cudaStream_t stream, const MetaCase& shape, const std::vector<MetaCase>& replays) {
  MetaBuffers host = make_host_buffers(shape);
  DeviceMeta d;
  d.allocate(host);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  d.upload_inputs(host, stream);
  d.upload_outputs(host, stream);
  CHECK_CUDA(cudaStreamSynchronize(stream));

  OwnedGraph owned;
  cudaGraph_t& graph = owned.graph;
  cudaGraphExec_t& exec = owned.exec;
  MetaCallArgs a;
  make_call_args(shape, d.ptrs, &a);
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const specmeta::Status s =
      shape.direct ? specmeta::expand_cuda(a.expand, stream) : specmeta::build_metadata_cuda(a.meta, stream);
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  ASSERT_TRUE(s.ok()) << s.message();
  CHECK_CUDA(end);
  size_t nodes = 0;
  CHECK_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_GE(nodes, 1u);
  EXPECT_LE(nodes, 2u) << "SPEC 5: one launch, two at most";
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));

  int failures = 0;
  for (size_t i = 0; i < replays.size() && failures < 3; ++i) {
    const MetaCase c = with_values_of(shape, replays[i]);
    SCOPED_TRACE("replay #" + std::to_string(i) + ": " + c.describe());
    MetaBuffers h = make_host_buffers(c);
    d.upload_inputs(h, stream);  // new values, same buffers
    d.upload_outputs(h, stream);
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
    d.download_outputs(&h, stream);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    const auto r = matches_meta_reference(c, h);
    EXPECT_TRUE(r);
    if (!r) ++failures;
  }
}

// Capture one call per mode and batch size, replay with new seq_lens,
// accept / extend lengths and req_pool_indices.
TEST_F(MetadataCudaTest, GraphReplayNewInputValues) {
  SKIP_WITHOUT_CUDA();
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int param = 0; param < kApiParams; ++param) {
    for (int64_t bs : {1, 7, 256, 300, 1025, 4096}) {
      MetaOptions o = options_for(param);
      o.bs = bs;
      o.num_draft_tokens = base.range(1, 8);
      o.seq_type = base.any_type();
      o.qo_type = base.any_type();
      o.rpi_type = base.any_type();
      o.uniform = false;
      o.page_inputs = true;
      o.wanted = kAllMetaOutputs;
      o.pool_extra = 3;
      o.sets = base.pick({1, 2, 8});
      o.width = base.pick<int64_t>({5, 16, 64, 130});
      o.page_size = base.pick<int64_t>({1, 16, 64});
      o.oversize = 0;
      o.front_guard = 4;
      o.table_pad = base.range(0, 2);
      o.r2t_pad = base.range(0, 2);
      // Room for about the mean total of the ragged modes (some replays overflow: bit 1).
      o.capacity = param == kDirectParam || param == static_cast<int>(MetaMode::kDraftExtend) ||
                           param == static_cast<int>(MetaMode::kExtend)
                       ? bs * 8 + 64
                       : (param == static_cast<int>(MetaMode::kDecode) ? bs : bs * *o.num_draft_tokens) + 17;
      const MetaCase shape = gen.make(o);
      SCOPED_TRACE("shape: " + shape.describe());
      std::vector<MetaCase> replays;
      for (int i = 0; i < 6; ++i) {
        MetaOptions ro = o;
        ro.fault_rate = base.pick({0.0, 0.0, 0.1, 0.5});
        replays.push_back(gen.make(ro));
      }
      graph_replays(stream_, shape, replays);
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace specmeta_test
