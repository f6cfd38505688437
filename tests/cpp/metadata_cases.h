// Random test cases for the metadata builder (build_metadata_* and expand_*
// with the builder's ExpandArgs fields). A MetaCase holds every input value,
// every output's layout (guards, oversized buffers, padded page-table rows,
// destination sets) and the previous contents of the page tables; its
// ref_input() is what metadata_reference.h needs. MetaGen draws cases from a
// CaseGen, so every random test is seeded from main.cpp (--seed=N replays).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cases.h"
#include "metadata_reference.h"
#include "specmeta/metadata.h"

namespace specmeta_test {

constexpr int kMaxSets = specmeta::kMaxDestinationSets;
constexpr int64_t kMetaBackGuard = 4;

// Batch sizes the brief names: around the CUDA block sizes of 256 and 1024
// requests; and either side of the page-table blocks' switches: the prefetch
// before the wait up to 16 requests (kPrefetchMaxBatch), the rows before a
// request summed per warp up to request 32 (rows_before).
inline const std::vector<int64_t>& meta_batch_sizes() {
  static const std::vector<int64_t> sizes = {0, 1, 16, 17, 32, 33, 34, 255, 256, 257, 1023, 1024, 1025, 4096};
  return sizes;
}

// Previous contents of a page-table element: a hash of where it is, so that
// every set, slot and element starts from its own value.
inline int32_t prior_value(uint64_t salt, int set, int slot, int64_t index) {
  uint64_t z = salt + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(index) + 1) +
               0xbf58476d1ce4e5b9ULL * static_cast<uint64_t>(set * 16 + slot + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<int32_t>(static_cast<uint32_t>(z));
}

inline int64_t fit_type(int64_t v, specmeta::IntType t) {
  return t == specmeta::IntType::kInt64 ? v : std::clamp<int64_t>(v, kI32Min, kI32Max);
}

struct MetaCase {
  // build_metadata_* with `mode`, or expand_* directly (`direct`) with the
  // expansion fields (kv_offset, uniform / qo_uniform, max_qo).
  bool direct = false;
  MetaMode mode = MetaMode::kDecode;
  int64_t num_draft_tokens = 0;

  specmeta::IntType seq_type = specmeta::IntType::kInt32;  // seq_lens / kv_lens
  specmeta::IntType qo_type = specmeta::IntType::kInt32;   // accept_lens / extend_lens / qo_lens
  specmeta::IntType rpi_type = specmeta::IntType::kInt32;  // req_pool_indices
  std::vector<int64_t> seq;  // bs values
  std::vector<int64_t> qo;   // bs values when the mode (or the direct expansion) has a qo array
  std::vector<int64_t> seq_tail, qo_tail, rpi_tail;  // elements past bs, never read

  // direct only
  int64_t kv_offset = 0;
  bool uniform = false;
  int64_t qo_uniform = 0;
  int64_t max_qo = kI32Max;

  int64_t capacity = 0;
  int64_t topk = 2048;
  int64_t kpool = 1;

  bool page_inputs = false;  // req_pool_indices, req_to_token, width and page_size are passed
  std::vector<int64_t> rpi;  // bs values
  RefTable req_to_token;     // the whole buffer, padding included
  int64_t width = 0;
  int64_t page_size = 1;
  bool full_width = false;

  unsigned wanted = kAllMetaOutputs;
  int sets = 1;
  int64_t front_guard = 4;
  int64_t oversize[kMetaSlots] = {};  // extra elements past what a 1-D output needs, extra rows of a table
  int64_t table_pad[2] = {0, 0};      // row_stride - cols of page_table_1 and real_page_table
  uint64_t prior_salt = 1;

  int64_t bs() const { return static_cast<int64_t>(seq.size()); }
  bool wants(int slot) const { return (wanted >> slot) & 1u; }
  bool wants_page_table() const { return (wanted & kPageTableOutputs) != 0; }
  bool has_qo_array() const {
    if (direct) return !uniform;
    return mode == MetaMode::kDraftExtend || mode == MetaMode::kExtend;
  }

  int64_t real_cols() const { return (width + page_size - 1) / page_size; }
  int64_t table_cols(int slot) const { return slot == kMPageTable1 ? width : real_cols(); }
  int64_t table_rows(int slot) const { return capacity + oversize[slot]; }
  int64_t table_stride(int slot) const { return table_cols(slot) + table_pad[slot == kMPageTable1 ? 0 : 1]; }

  // Elements a 1-D output needs.
  int64_t needed(int slot) const {
    switch (slot) {
      case kMSeqlensExpanded:
      case kMRowToReq:
      case kMSparseSeqlens: return capacity;
      case kMSparseCuSeqlensK: return capacity + 1;
      case kMCuSeqlensQ:
      case kMCuSeqlensK: return bs() + 1;
      case kMCacheSeqlens: return bs();
      default: return 1;
    }
  }
  // Elements of the payload handed to the library: the size of a 1-D output,
  // rows * row_stride of a table.
  int64_t payload_elems(int slot) const {
    if (is_table_slot(slot)) return table_rows(slot) * table_stride(slot);
    return needed(slot) + oversize[slot];
  }
  int64_t alloc_elems(int slot) const { return front_guard + payload_elems(slot) + kMetaBackGuard; }

  MetaExpansion expansion() const {
    if (!direct) {
      const std::vector<int64_t> none;
      return mode_expansion(mode, seq, mode == MetaMode::kDraftExtend ? qo : none,
                            mode == MetaMode::kExtend ? qo : none, num_draft_tokens);
    }
    MetaExpansion e;
    e.kv_lens = seq;
    e.kv_offset = kv_offset;
    e.uniform = uniform;
    e.qo_uniform = qo_uniform;
    if (!uniform) e.qo = qo;
    e.max_qo = max_qo;
    return e;
  }

  RefTable prior_table(int set, int slot) const {
    RefTable t;
    t.rows = table_rows(slot);
    t.cols = table_cols(slot);
    t.stride = table_stride(slot);
    t.values.resize(static_cast<size_t>(t.rows * t.stride));
    for (int64_t i = 0; i < static_cast<int64_t>(t.values.size()); ++i) t.values[i] = prior_value(prior_salt, set, slot, i);
    return t;
  }

  // The reference's view of destination set `set` (sets differ only in the
  // previous contents of their page tables).
  MetaRefInput ref_input(int set = 0) const {
    MetaRefInput in;
    in.expansion = expansion();
    in.capacity = capacity;
    in.topk = topk;
    in.kpool = kpool;
    in.wanted = wanted;
    if (page_inputs) {
      in.req_pool_indices = rpi;
      in.req_to_token = req_to_token;
      in.width = width;
      in.page_size = page_size;
      in.full_width = full_width;
    }
    if (wants(kMPageTable1)) in.page_table_1_before = prior_table(set, kMPageTable1);
    if (wants(kMRealPageTable)) in.real_page_table_before = prior_table(set, kMRealPageTable);
    return in;
  }

  std::string describe() const {
    std::ostringstream s;
    s << "case " << (direct ? "expand(direct)" : meta_mode_name(mode)) << " bs=" << bs();
    if (!direct) s << " N=" << num_draft_tokens;
    s << " seq=" << type_name(seq_type);
    if (has_qo_array()) s << " qo=" << type_name(qo_type);
    if (direct) {
      s << " kv_offset=" << kv_offset << " max_qo=" << max_qo;
      if (uniform) s << " qo_uniform=" << qo_uniform;
    }
    s << " capacity=" << capacity << " topk=" << topk << " kpool=" << kpool << " wanted=0x" << std::hex << wanted
      << std::dec << " sets=" << sets << " front_guard=" << front_guard;
    if (page_inputs) {
      s << " width=" << width << " page_size=" << page_size << " full_width=" << full_width
        << " rpi=" << type_name(rpi_type) << " req_to_token=[" << req_to_token.rows << " x " << req_to_token.cols
        << ", stride " << req_to_token.stride << "] page_table_1 stride=" << table_stride(kMPageTable1)
        << " real stride=" << table_stride(kMRealPageTable);
    }
    s << " oversize={";
    for (int64_t v : oversize) s << v << ",";
    s << "}";
    if (bs() <= 12) {
      auto list = [&](const char* name, const std::vector<int64_t>& v) {
        s << " " << name << "={";
        for (int64_t x : v) s << x << ",";
        s << "}";
      };
      list("seq", seq);
      if (has_qo_array()) list("qo", qo);
      if (page_inputs) list("rpi", rpi);
    }
    return s.str();
  }
};

struct MetaOptions {
  std::optional<MetaMode> mode;
  bool direct = false;
  std::optional<bool> uniform;  // direct only: qo_uniform instead of a qo array
  std::optional<int64_t> bs;
  std::optional<int64_t> num_draft_tokens;
  std::optional<int64_t> page_size;
  std::optional<int64_t> kpool;
  std::optional<int64_t> topk;
  std::optional<int64_t> width;  // clipped to the table budget unless the budget is raised
  std::optional<specmeta::IntType> seq_type;
  std::optional<specmeta::IntType> qo_type;
  std::optional<specmeta::IntType> rpi_type;
  std::optional<bool> full_width;
  std::optional<int> sets;
  std::optional<unsigned> wanted;
  std::optional<double> fault_rate;   // chance that a request gets a data fault
  std::optional<int64_t> capacity;    // exact capacity (must be valid for uniform modes)
  std::optional<int64_t> front_guard;
  std::optional<int64_t> table_pad;   // both tables' row_stride - cols
  std::optional<int64_t> r2t_pad;     // req_to_token's row_stride - cols
  std::optional<bool> page_inputs;
  std::optional<int64_t> oversize;    // extra elements / rows of every output
  std::optional<int64_t> pool_extra;  // req_to_token rows beyond bs
  // Page-table and req_to_token elements a case may allocate (all sets together).
  int64_t table_budget = int64_t{1} << 21;
};

class MetaGen {
 public:
  explicit MetaGen(CaseGen& gen) : g_(gen) {}

  MetaCase make(const MetaOptions& o = {}) {
    MetaCase c;
    c.direct = o.direct;
    c.mode = o.mode ? *o.mode : g_.pick(all_meta_modes());
    const int64_t bs = o.bs ? *o.bs : (g_.chance(0.4) ? g_.pick(meta_batch_sizes()) : g_.range(1, 64));
    c.num_draft_tokens = o.num_draft_tokens ? *o.num_draft_tokens : g_.range(1, 16);
    if (!o.num_draft_tokens && c.mode != MetaMode::kDraftExtend && g_.chance(0.03)) c.num_draft_tokens = 0;
    c.seq_type = o.seq_type ? *o.seq_type : g_.any_type();
    c.qo_type = o.qo_type ? *o.qo_type : g_.any_type();
    c.rpi_type = o.rpi_type ? *o.rpi_type : g_.any_type();
    const double fault = o.fault_rate ? *o.fault_rate : (g_.chance(0.5) ? 0.0 : g_.pick({0.02, 0.1, 0.5}));

    // Rows per request.
    if (c.direct) {
      c.uniform = o.uniform ? *o.uniform : g_.chance(0.4);
      c.max_qo = g_.chance(0.5) ? kI32Max : g_.range(0, 64);
      c.kv_offset = g_.chance(0.7) ? g_.range(0, 16) : g_.pick<int64_t>({0, 1000, 1 << 20, kI32Max - 5, kI32Max});
      if (c.uniform) c.qo_uniform = std::min<int64_t>(g_.range(0, 16), c.max_qo);
    }
    std::vector<int64_t> rows(bs);  // rows the request owns (0 for an out-of-range qo)
    if (c.has_qo_array()) {
      c.qo.resize(bs);
      const int64_t max_qo = c.direct ? c.max_qo : c.mode == MetaMode::kDraftExtend ? c.num_draft_tokens : kI32Max;
      const bool long_prefill = c.mode == MetaMode::kExtend && !c.direct && bs <= 64 && g_.chance(0.3);
      for (int64_t b = 0; b < bs; ++b) {
        int64_t q = long_prefill ? g_.range(0, 2000) : g_.range(0, std::min<int64_t>(max_qo, 16));
        if (g_.chance(fault)) q = bad_qo(max_qo, c.qo_type);
        c.qo[b] = fit_type(q, c.qo_type);
        rows[b] = (c.qo[b] < 0 || c.qo[b] > max_qo) ? 0 : c.qo[b];
      }
    } else {
      const int64_t q = c.direct ? c.qo_uniform : c.mode == MetaMode::kDecode ? 1 : c.num_draft_tokens;
      std::fill(rows.begin(), rows.end(), q);
    }
    int64_t total = 0;
    for (int64_t r : rows) total += r;

    // Capacity: at least the total for uniform rows (else a host error),
    // around it otherwise.
    if (o.capacity) {
      c.capacity = *o.capacity;
    } else if (total > kMaxTestCapacity) {  // a near-INT32_MAX qo: keep the buffers small (bit 1)
      c.capacity = g_.range(0, 5000);
    } else if (!c.has_qo_array() || g_.chance(0.7)) {
      c.capacity = total + g_.pick<int64_t>({0, 0, 1, 3, 1023, 1024, g_.range(0, 3000)});
    } else {
      c.capacity = std::max<int64_t>(0, g_.pick<int64_t>({total - 1, total / 2, 0, g_.range(0, total)}));
    }

    c.topk = o.topk ? *o.topk : g_.chance(0.85) ? g_.pick<int64_t>({1, 7, 2048}) : g_.pick<int64_t>({g_.range(1, 100), kI32Max});
    c.kpool = o.kpool ? *o.kpool : g_.pick<int64_t>({1, 4});
    c.page_size = o.page_size ? *o.page_size : g_.pick<int64_t>({1, 2, 3, 16, 48, 64});
    c.full_width = o.full_width ? *o.full_width : g_.chance(0.3);

    // Outputs, sets and layouts.
    if (o.wanted) {
      c.wanted = *o.wanted;
    } else {
      c.wanted = g_.chance(0.65) ? kAllMetaOutputs : static_cast<unsigned>(g_.range(0, kAllMetaOutputs));
    }
    c.sets = o.sets ? *o.sets : g_.chance(0.6) ? 1 : g_.chance(0.6) ? 2 : kMaxSets;
    c.front_guard = o.front_guard ? *o.front_guard : g_.chance(0.7) ? 4 : g_.range(1, 3);
    for (int s = 0; s < kMetaSlots; ++s) c.oversize[s] = o.oversize ? *o.oversize : g_.chance(0.8) ? 0 : g_.range(1, 3);
    for (int64_t& pad : c.table_pad) pad = o.table_pad ? *o.table_pad : g_.pick<int64_t>({0, 0, 1, 3, 5});
    c.page_inputs = o.page_inputs ? *o.page_inputs : (c.wants_page_table() || g_.chance(0.5));
    c.prior_salt = static_cast<uint64_t>(g_.range(0, kI64Max));

    // Width within the budget of table elements (halved until it fits).
    const int64_t pool = bs + (o.pool_extra ? *o.pool_extra : g_.pick<int64_t>({0, 1, 5}));
    const int64_t rows1 = c.wants(kMPageTable1) ? c.sets * (c.capacity + c.oversize[kMPageTable1]) : 0;
    const int64_t rows2 = c.wants(kMRealPageTable) ? c.sets * (c.capacity + c.oversize[kMRealPageTable]) : 0;
    auto cost = [&](int64_t w) {
      return rows1 * (w + 5) + rows2 * ((w + c.page_size - 1) / c.page_size + 5) + pool * (w + 12);
    };
    int64_t width = o.width ? *o.width : pick_width(bs);
    while (width > 1 && cost(width) > o.table_budget) width = std::max<int64_t>(1, width / 2);
    c.width = c.page_inputs ? width : 0;
    if (!c.page_inputs) c.page_size = 1;

    // Lengths: valid ones relative to the width (shorter, equal, longer), plus faults.
    c.seq.resize(bs);
    for (int64_t b = 0; b < bs; ++b) {
      const int64_t qo_b = c.has_qo_array() ? std::max<int64_t>(rows[b], 0) : rows[b];
      const int64_t offset = c.direct ? c.kv_offset : c.mode == MetaMode::kTargetVerify ? c.num_draft_tokens : 0;
      const int64_t least = std::max<int64_t>(qo_b - offset, 0);  // the smallest seq with qo_b <= kv_b
      int64_t s;
      switch (g_.range(0, 5)) {
        case 0: s = least + g_.range(0, 8); break;
        case 1: s = std::max(least, c.width - offset + g_.range(-2, 2)); break;
        case 2: s = least + g_.range(0, 2 * c.width + 2); break;
        case 3: s = least + g_.range(0, 100000); break;
        default: s = least + g_.range(0, c.width + 64); break;
      }
      if (g_.chance(fault)) s = bad_seq(least, offset, c.seq_type);
      c.seq[b] = fit_type(s, c.seq_type);
    }

    // Page-table inputs.
    if (c.page_inputs) {
      const int64_t W = c.width + g_.pick<int64_t>({0, 0, 1, 3, 7});
      RefTable& t = c.req_to_token;
      t.rows = pool;
      t.cols = W;
      t.stride = W + (o.r2t_pad ? *o.r2t_pad : g_.pick<int64_t>({0, 0, 1, 3, 5}));
      t.values.resize(static_cast<size_t>(t.rows * t.stride));
      const bool negatives = g_.chance(0.2);
      for (int32_t& v : t.values) {
        v = static_cast<int32_t>(negatives && g_.chance(0.3) ? g_.range(kI32Min, -1) : g_.range(0, kI32Max));
      }
      c.rpi.resize(bs);
      for (int64_t b = 0; b < bs; ++b) {
        int64_t r = pool > 0 ? g_.range(0, pool - 1) : 0;
        if (pool == 0 || g_.chance(fault / 2)) r = bad_pool_index(pool, c.rpi_type);
        c.rpi[b] = fit_type(r, c.rpi_type);
      }
    }

    // Garbage past bs, never to be read. A mode's arrays get at least one
    // element, so that even bs = 0 passes a non-null array.
    for (int64_t n = g_.range(0, 2); n > 0; --n) c.seq_tail.push_back(fit_type(g_.pick<int64_t>({-7, kI32Max, 999}), c.seq_type));
    for (int64_t n = g_.range(1, 2); n > 0; --n) c.qo_tail.push_back(fit_type(g_.pick<int64_t>({-7, kI32Max, 3}), c.qo_type));
    for (int64_t n = g_.range(1, 2); n > 0; --n) c.rpi_tail.push_back(fit_type(g_.pick<int64_t>({-7, 1 << 30}), c.rpi_type));
    if (bs == 0 && c.seq_tail.empty()) c.seq_tail.push_back(5);
    return c;
  }

  CaseGen& gen() { return g_; }

 private:
  int64_t pick_width(int64_t bs) {
    if (bs > 64) return g_.pick<int64_t>({1, 5, 16, 17, 33, 64});
    return g_.pick<int64_t>({1, 2, 5, 15, 16, 17, 63, 64, 65, 129, 1000, 4096, g_.range(1, 300)});
  }

  int64_t bad_qo(int64_t max_qo, specmeta::IntType t) {
    switch (g_.range(0, 4)) {
      case 0: return max_qo + g_.range(1, 3);
      case 1: return g_.range(-3, -1);
      case 2: return kI32Min;
      case 3: return t == specmeta::IntType::kInt64 ? g_.pick<int64_t>({kI64Min, kI64Max, kI32Max + int64_t{1}}) : -1;
      default: return max_qo == kI32Max ? kI32Max : max_qo + 1;
    }
  }

  // seq_b for a request whose smallest valid value is `least`.
  int64_t bad_seq(int64_t least, int64_t offset, specmeta::IntType t) {
    switch (g_.range(0, 6)) {
      case 0: return least > 0 ? g_.range(0, least - 1) : -1;  // qo > kv
      case 1: return g_.range(-1000, -1);
      case 2: return kI32Max - offset + g_.range(-2, 0);         // kv near INT32_MAX
      case 3: return kI32Max;
      case 4: return t == specmeta::IntType::kInt64 ? g_.pick<int64_t>({kI32Max + int64_t{1}, 3000000000LL, 1000000000000LL, kI64Max}) : kI32Max - 1;
      case 5: return t == specmeta::IntType::kInt64 ? g_.pick<int64_t>({kI64Min, -3000000000LL}) : kI32Min;
      default: return kI32Max - g_.range(0, 16);
    }
  }

  int64_t bad_pool_index(int64_t pool, specmeta::IntType t) {
    switch (g_.range(0, 3)) {
      case 0: return -1;
      case 1: return pool;
      case 2: return pool + g_.range(1, 100);
      default: return t == specmeta::IntType::kInt64 ? g_.pick<int64_t>({kI64Min, kI64Max, int64_t{1} << 32}) : kI32Min;
    }
  }

  CaseGen& g_;
};

}  // namespace specmeta_test
