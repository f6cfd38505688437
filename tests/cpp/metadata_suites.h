// The metadata builder's test sweeps, shared by the CPU and CUDA tests: each
// takes a backend (a callable void(const MetaCase&, MetaObserved*)), an API
// parameter (0..4: a mode through build_metadata_*, 5: expand_* directly)
// and how many random cases to run per point, draws fresh random inputs from
// a CaseGen seeded as main.cpp says, and compares every output exactly with
// metadata_reference.h.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cases.h"
#include "metadata_cases.h"
#include "metadata_examples.h"
#include "metadata_harness.h"
#include "metadata_reference.h"

namespace specmeta_test {

constexpr int kDirectParam = 5;
constexpr int kApiParams = 6;

inline MetaOptions options_for(int param) {
  MetaOptions o;
  if (param == kDirectParam) {
    o.direct = true;
  } else {
    o.mode = all_meta_modes()[param];
  }
  return o;
}

inline std::string api_param_name(const ::testing::TestParamInfo<int>& info) {
  return info.param == kDirectParam ? std::string("expand_direct")
                                    : std::string(meta_mode_name(all_meta_modes()[info.param]));
}

inline bool meta_failed() { return ::testing::Test::HasFailure(); }

// Random cases of every kind the generator makes.
template <class Backend>
void sweep_random(Backend&& backend, int param, int n) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  run_random_meta_cases(backend, gen, n, options_for(param));
}

// bs 0, 1, 255, 256, 257, 1023, 1024, 1025, 4096.
template <class Backend>
void sweep_batch_sizes(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t bs : meta_batch_sizes()) {
    SCOPED_TRACE("bs=" + std::to_string(bs));
    MetaOptions o = options_for(param);
    o.bs = bs;
    run_random_meta_cases(backend, gen, per, o);
    if (meta_failed()) return;
  }
}

// Capacities at the row blocks' switches and one either side (row_blocks.cuh):
// 128 rows (one warp's; at or under it the block's warps split the per-row
// outputs) and 1024 (one tile), and 0. bs = capacity / N, so the rows of the
// uniform modes fit; expand_direct takes per-request qo (a uniform qo could
// exceed the capacity, a host error).
template <class Backend>
void sweep_row_capacities(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t capacity : {0, 1, 127, 128, 129, 1023, 1024, 1025}) {
    for (int64_t n : {1, 4}) {
      SCOPED_TRACE("capacity=" + std::to_string(capacity) + " N=" + std::to_string(n));
      MetaOptions o = options_for(param);
      o.capacity = capacity;
      o.bs = capacity / n;
      o.num_draft_tokens = n;
      if (param == kDirectParam) o.uniform = false;
      run_random_meta_cases(backend, gen, per, o);
      if (meta_failed()) return;
    }
  }
}

// page_size 1 / 2 / 3 / 16 / 48 / 64 x kpool 1 / 4 x topk 1 / 7 / 2048, every
// output wanted: powers of two and not, under and over a thread's four
// columns. (The high-occupancy copy's own pages, taken at powers of two from
// 4 on large tables only, have their own test: HighOccupancyPageSizes.)
template <class Backend>
void sweep_page_size_kpool_topk(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t ps : {1, 2, 3, 16, 48, 64}) {
    for (int64_t kpool : {1, 4}) {
      for (int64_t topk : {1, 7, 2048}) {
        MetaOptions o = options_for(param);
        o.page_size = ps;
        o.kpool = kpool;
        o.topk = topk;
        o.wanted = kAllMetaOutputs;
        run_random_meta_cases(backend, gen, per, o);
        if (meta_failed()) return;
      }
    }
  }
}

// N = 1 .. 16.
template <class Backend>
void sweep_draft_tokens(Backend&& backend, int param, int per) {
  if (param == kDirectParam) GTEST_SKIP() << "N is a mode parameter";
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t n = 1; n <= 16; ++n) {
    MetaOptions o = options_for(param);
    o.num_draft_tokens = n;
    run_random_meta_cases(backend, gen, per, o);
    if (meta_failed()) return;
  }
}

// int32 / int64 for seq_lens, the mode's length array and req_pool_indices.
template <class Backend>
void sweep_input_types(Backend&& backend, int param, int per) {
  using specmeta::IntType;
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (IntType seq : {IntType::kInt32, IntType::kInt64}) {
    for (IntType qo : {IntType::kInt32, IntType::kInt64}) {
      for (IntType rpi : {IntType::kInt32, IntType::kInt64}) {
        MetaOptions o = options_for(param);
        o.seq_type = seq;
        o.qo_type = qo;
        o.rpi_type = rpi;
        o.wanted = kAllMetaOutputs;
        run_random_meta_cases(backend, gen, per, o);
        if (meta_failed()) return;
      }
    }
  }
}

template <class Backend>
void sweep_full_width(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (bool full : {false, true}) {
    MetaOptions o = options_for(param);
    o.full_width = full;
    o.wanted = kAllMetaOutputs;
    run_random_meta_cases(backend, gen, per, o);
  }
}

// Padded rows of req_to_token and of both page tables, misaligned strides and
// widths (cols = 5: no 16-byte path applies), outputs off 16-byte alignment.
template <class Backend>
void sweep_strided(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t r2t_pad : {0, 1, 3}) {
    for (int64_t table_pad : {0, 1, 3}) {
      for (int64_t width : {5, 4, 16, 37}) {
        MetaOptions o = options_for(param);
        o.r2t_pad = r2t_pad;
        o.table_pad = table_pad;
        o.width = width;
        o.wanted = kAllMetaOutputs;
        o.front_guard = base.range(1, 4);
        run_random_meta_cases(backend, gen, per, o);
        if (meta_failed()) return;
      }
    }
  }
}

inline std::vector<int64_t> large_and_small_widths() {
  return {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 2048, 4096, 65536, 262144, 1048576};
}

// Options for a case of `width` columns: past 4096, one request of one row
// (capacity 1), else up to 8 requests and a capacity of at most 144 rows
// (expand_direct's capacity stays random, so there the width may be halved
// to the budget instead).
inline MetaOptions width_options(int param, int64_t width, CaseGen& base) {
  MetaOptions o = options_for(param);
  o.width = width;
  o.sets = 1;
  o.wanted = kAllMetaOutputs;
  o.table_budget = int64_t{16} << 20;
  if (width > 4096) {
    o.bs = 1;
    o.num_draft_tokens = 1;
    o.oversize = 0;
    o.pool_extra = base.range(0, 1);
    if (param != kDirectParam) o.capacity = 1;
  } else {
    o.bs = base.range(1, 8);
    // >= bs * N for the uniform modes; extend's long prefills may exceed it (bit 1).
    if (param != kDirectParam) o.capacity = 8 * 16 + base.range(0, 16);
  }
  return o;
}

// Widths 1 .. 1,048,576.
template <class Backend>
void sweep_widths(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int64_t width : large_and_small_widths()) {
    SCOPED_TRACE("width=" + std::to_string(width));
    for (int i = 0; i < per; ++i) {
      const MetaCase c = gen.make(width_options(param, width, base));
      // The budget must not have cut the width (expand_direct's may be halved).
      if (param != kDirectParam) {
        ASSERT_EQ(c.width, width) << c.describe();
      }
      run_meta_and_compare(backend, c);
    }
    if (meta_failed()) return;
  }
}

// A shape of the page-table rules' sweeps: bs requests of `passes` 1024-
// column passes (the last one partly filled, by a random amount), N draft tokens.
struct TableShape {
  int64_t bs, passes, draft_tokens;
};

// A case of `shape` for API `param`: every output, one set, the page-table
// inputs, a table budget large enough for the shape.
// The options of table_shape_case, for tests that set more of them.
inline MetaOptions table_shape_options(CaseGen& base, int param, const TableShape& shape) {
  constexpr int64_t kColsPerPass = 1024;
  MetaOptions o = options_for(param);
  o.bs = shape.bs;
  o.width = shape.passes * kColsPerPass - base.range(0, kColsPerPass - 1);
  o.num_draft_tokens = shape.draft_tokens;
  o.sets = 1;
  o.wanted = kAllMetaOutputs;
  o.page_inputs = true;
  o.table_budget = int64_t{1} << 26;
  return o;
}

inline MetaCase table_shape_case(MetaGen& gen, CaseGen& base, int param, const TableShape& shape) {
  return gen.make(table_shape_options(base, param, shape));
}

// `per` cases of each of `shapes` for API `param`, each compared with the
// reference. `side(c)` says which of kSides a case is on (which copy, which
// layout); returns how many cases were on each.
template <size_t kSides, class Backend, class Side, size_t kShapes>
std::array<int, kSides> sweep_table_shapes(Backend&& backend, const TableShape (&shapes)[kShapes], Side&& side,
                                           int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  std::array<int, kSides> seen{};
  for (const TableShape& shape : shapes) {
    for (int i = 0; i < per; ++i) {
      const MetaCase c = table_shape_case(gen, base, param, shape);
      SCOPED_TRACE(c.describe());
      ++seen[side(c)];
      run_meta_and_compare(backend, c);
      if (meta_failed()) return seen;
    }
  }
  return seen;
}

// Batches around the page-table copy switches of kernel_params.cuh, every
// output wanted. Streaming stores (at least 3 (set, row) pairs per request
// and 2048 (row, set, pass) units, twice that where rows vary per request):
// 16 rows x 4 passes x bs 31 / 32 (the row-group layout; the uniform modes'
// switch) and bs 63 / 64 (draft_extend's), 4 rows x 4 passes x bs 127 / 128,
// and 4 rows x 255 / 256 passes x bs 2 (the bandwidth layout). The
// high-occupancy kernel (at most 2 pairs on average, rows that vary at half
// their bound; 2048 units, twice that where rows vary, 8192 where only the
// average is within 2 pairs): 1 row x 8 passes x bs 255 / 256, and 4 rows x
// 8 passes x bs 511 / 512 (draft_extend's switch; the uniform modes stream
// there). For sweep_table_shapes.
inline constexpr TableShape kTableCopyThresholdShapes[] = {
    {31, 4, 16}, {32, 4, 16}, {63, 4, 16}, {64, 4, 16}, {127, 4, 4}, {128, 4, 4},
    {2, 255, 4}, {2, 256, 4}, {255, 8, 1}, {256, 8, 1}, {511, 8, 4}, {512, 8, 4}};

// Each output alone, then random subsets of the eleven.
template <class Backend>
void sweep_output_subsets(Backend&& backend, int param, int per_single, int subsets) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int s = 0; s < kMetaSlots; ++s) {
    SCOPED_TRACE(std::string("only ") + meta_slot_name(s));
    MetaOptions o = options_for(param);
    o.wanted = 1u << s;
    run_random_meta_cases(backend, gen, per_single, o);
  }
  for (int i = 0; i < subsets && !meta_failed(); ++i) {
    MetaOptions o = options_for(param);
    o.wanted = static_cast<unsigned>(base.range(0, kAllMetaOutputs));
    run_random_meta_cases(backend, gen, 1, o);
  }
}

// 1, 2 and 8 destination sets.
template <class Backend>
void sweep_sets(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int sets : {1, 2, 8}) {
    SCOPED_TRACE("sets=" + std::to_string(sets));
    MetaOptions o = options_for(param);
    o.sets = sets;
    run_random_meta_cases(backend, gen, per, o);
    if (meta_failed()) return;
  }
}

// Capacity well above the total: the tail of every per-row output is empty.
template <class Backend>
void sweep_capacity_above_total(Backend&& backend, int param, int n) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (int i = 0; i < n && !meta_failed(); ++i) {
    MetaOptions o = options_for(param);
    o.fault_rate = 0.0;
    o.bs = base.range(0, 40);
    o.num_draft_tokens = base.range(1, 16);
    // Above any total of these options (qo <= 16 per request) but extend's long prefills.
    o.capacity = *o.bs * 16 + base.range(1, 5000);
    if (param == static_cast<int>(MetaMode::kExtend)) o.capacity = *o.capacity + *o.bs * 2000;
    run_random_meta_cases(backend, gen, 1, o);
  }
}

// Faults in many requests: every status bit, lengths near and past INT32_MAX.
template <class Backend>
void sweep_data_faults(Backend&& backend, int param, int per) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  MetaGen gen(base);
  for (double rate : {0.1, 0.5, 1.0}) {
    MetaOptions o = options_for(param);
    o.fault_rate = rate;
    run_random_meta_cases(backend, gen, per, o);
    if (meta_failed()) return;
  }
}

template <class Backend>
void check_hand_examples(Backend&& backend) {
  for (const MetaExample& x : meta_hand_examples()) {
    SCOPED_TRACE(x.name);
    run_meta_and_compare(backend, x.c);
  }
}

template <class Backend>
void check_single_bits(Backend&& backend) {
  for (const BitCase& x : single_bit_cases()) {
    SCOPED_TRACE(x.name);
    MetaObserved obs;
    if (!run_meta_and_compare(backend, x.c, &obs)) continue;
    EXPECT_EQ(obs.buffers.out[0][kMStatus][x.c.front_guard], x.bit);
  }
}

// Lengths at INT32_MAX - 2N .. INT32_MAX (kv up to INT32_MAX + N in
// target_verify) and int64 lengths past it, in every mode.
template <class Backend>
void check_near_int32_max(Backend&& backend) {
  using specmeta::IntType;
  const int64_t M = kI32Max;
  for (MetaMode mode : all_meta_modes()) {
    for (IntType t : {IntType::kInt32, IntType::kInt64}) {
      for (int64_t n : {1, 4, 16}) {
        std::vector<int64_t> seq = {M, M - 1, M - n, M - n + 1, M - n - 1, M - 2 * n, 5};
        if (t == IntType::kInt64) seq.insert(seq.end(), {M + 1, M + n, 4 * M});
        const int64_t bs = static_cast<int64_t>(seq.size());
        std::vector<int64_t> qo;
        for (int64_t b = 0; b < bs; ++b) qo.push_back(mode == MetaMode::kExtend ? (b * 7) % 20 : b % (n + 1));
        MetaCase c = meta_example(mode, n, seq, qo, bs * n + 3, mode == MetaMode::kDecode ? M : 2048, n == 4 ? 4 : 1, t);
        c.qo_type = t;
        const std::vector<std::vector<int32_t>> rows = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {-9, -8, -7, -6, -5, -4, -3, -2, -1}};
        std::vector<int64_t> rpi;
        for (int64_t b = 0; b < bs; ++b) rpi.push_back(b % 2);
        with_page_tables(c, rows, 9, rpi, 9, 4, false);
        SCOPED_TRACE(std::string(meta_mode_name(mode)) + " " + type_name(t) + " N=" + std::to_string(n));
        run_meta_and_compare(backend, c);
        // The saturating sums alone: sparse_cu_seqlens_k with topk INT32_MAX.
        c.wanted = (1u << kMSparseCuSeqlensK) | (1u << kMStatus);
        c.topk = M;
        run_meta_and_compare(backend, c);
        if (meta_failed()) return;
      }
    }
  }
}

// The page-table blocks' sum of the rows before a request
// (page_table_block.cuh): each thread's share kept below the capacity, each
// warp adding its shares' 16-bit halves. extend, with requests that make a
// share pass 2^16 (or 2^32, three requests of about 2^31 rows summed by one
// thread). Some requests have seq_len 1 (qo > kv: a fault, and a one-column
// live prefix), the others a live prefix of two columns or more, so rows
// written at a wrong place show as columns the reference leaves alone,
// whichever block writes last.
template <class Backend>
void check_row_sums_past_16_bits(Backend&& backend) {
  CaseGen base;
  SCOPED_TRACE(base.seed_text());
  struct Shape {
    const char* name;
    int64_t min_bs, max_bs;
    bool every_request_long;  // else only request 0 (and 256, 512 for the 2^31 shape)
    bool past_32_bits;
  };
  // The first shape's grid stays within 384 blocks (at most 3 x 98304 rows:
  // 288 row blocks), whose blocks sum before their copy; the second's grid is
  // larger (the sum after the first loads). The third, run at a few columns
  // (the plain copy, summing after its first loads) and at 4096 (the
  // high-occupancy copy, which sums before), cuts the capacity anyway.
  const Shape shapes[] = {
      {"a few requests of 2^16-1.5 x 2^16 rows", 2, 3, true, false},
      {"request 0 of 2^16-1.5 x 2^16 rows, hundreds more", 385, 450, false, false},
      {"requests 0, 256 and 512 of 2^31 - 1, 2^31 - 1 and a few rows", 513, 700, false, true},
  };
  constexpr int64_t kLong = int64_t{1} << 16;
  for (const Shape& shape : shapes) {
    for (bool second : {false, true}) {
      const bool cut = !shape.past_32_bits && second;
      const int64_t width = shape.past_32_bits && second ? 4096 : base.range(2, 6);
      const int64_t bs = base.range(shape.min_bs, shape.max_bs);
      std::vector<int64_t> seq, qo, rpi;
      int64_t total = 0;
      for (int64_t b = 0; b < bs; ++b) {
        const bool long_request = shape.every_request_long || b == 0;
        qo.push_back(long_request ? base.range(kLong, kLong + kLong / 2) : base.range(0, 3));
        rpi.push_back(b % 2);
      }
      if (shape.past_32_bits) {
        qo[0] = qo[256] = kI32Max;
        qo[512] = 2 + base.range(0, 5);
      }
      for (int64_t b = 0; b < bs; ++b) {
        const bool narrow = shape.every_request_long ? b % 2 == 0 : (b == 0 || b == 256 || b == 512);
        seq.push_back(narrow ? 1 : qo[b] + base.range(2, 30));
        total += qo[b];
      }
      const int64_t capacity = shape.past_32_bits ? 2 * bs : cut ? base.range(kLong, total - 1) : total;
      MetaCase c = meta_example(MetaMode::kExtend, 0, seq, qo, capacity, 2048, 1, specmeta::IntType::kInt64);
      std::vector<std::vector<int32_t>> rows(2);
      for (auto& row : rows) {
        for (int64_t i = 0; i < width; ++i) row.push_back(static_cast<int32_t>(base.range(-1000, 1000000)));
      }
      with_page_tables(c, rows, width + base.range(0, 3), rpi, width, base.pick<int64_t>({1, 2, 3}), false);
      SCOPED_TRACE(std::string(shape.name) + ": bs=" + std::to_string(bs) + " capacity=" + std::to_string(capacity) +
                   " width=" + std::to_string(width));
      run_meta_and_compare(backend, c);
      if (meta_failed()) return;
    }
  }
}

}  // namespace specmeta_test
