// Independent reference of the metadata builder, written from SPEC.md
// sections 2-6 and docs/builder-contract.md only (it includes nothing from
// src/). Like reference.h it favours obviousness over speed: every length is
// widened to __int128 before any arithmetic, so nothing can wrap, and the
// clamps of the contract are applied once, where a value is stored.
//
// Two layers:
//   mode_expansion():      a mode's inputs -> the general expansion's (qo_b, kv_b source);
//   reference_metadata():  the general expansion -> every output, the status
//                          bits, and the page tables after the call (elements
//                          the call does not write keep their previous value).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "reference.h"

namespace specmeta_test {

constexpr int32_t kBitBadPoolIndex = 4;

enum class MetaMode { kDecode = 0, kTargetVerify = 1, kDraftExtend = 2, kDraftExtendStatic = 3, kExtend = 4 };

inline const char* meta_mode_name(MetaMode m) {
  switch (m) {
    case MetaMode::kDecode: return "decode";
    case MetaMode::kTargetVerify: return "target_verify";
    case MetaMode::kDraftExtend: return "draft_extend";
    case MetaMode::kDraftExtendStatic: return "draft_extend_static";
    case MetaMode::kExtend: return "extend";
  }
  return "?";
}

inline const std::vector<MetaMode>& all_meta_modes() {
  static const std::vector<MetaMode> modes = {MetaMode::kDecode, MetaMode::kTargetVerify, MetaMode::kDraftExtend,
                                              MetaMode::kDraftExtendStatic, MetaMode::kExtend};
  return modes;
}

// Output slots of one destination set, in ExpandOutputs order.
enum MetaSlot : int {
  kMSeqlensExpanded = 0,
  kMCuSeqlensQ = 1,
  kMRowToReq = 2,
  kMNumRows = 3,
  kMStatus = 4,
  kMCacheSeqlens = 5,
  kMCuSeqlensK = 6,
  kMSparseSeqlens = 7,
  kMSparseCuSeqlensK = 8,
  kMPageTable1 = 9,
  kMRealPageTable = 10,
  kMetaSlots = 11,
};
constexpr unsigned kAllMetaOutputs = (1u << kMetaSlots) - 1;
constexpr unsigned kPageTableOutputs = (1u << kMPageTable1) | (1u << kMRealPageTable);

inline const char* meta_slot_name(int s) {
  static const char* names[kMetaSlots] = {"seqlens_expanded", "cu_seqlens_q",   "row_to_req",
                                          "num_rows",         "status",         "cache_seqlens",
                                          "cu_seqlens_k",     "sparse_seqlens", "sparse_cu_seqlens_k",
                                          "page_table_1",     "real_page_table"};
  return names[s];
}
inline bool is_table_slot(int s) { return s == kMPageTable1 || s == kMRealPageTable; }

// A row-major int32 table held by value: row i starts at values[i * stride].
struct RefTable {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;
  std::vector<int32_t> values;  // rows * stride elements (the padding of the last row included)

  int32_t at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * stride + c)]; }
  int32_t& at(int64_t r, int64_t c) { return values[static_cast<size_t>(r * stride + c)]; }
};

// The general expansion, as ExpandArgs describes it, with host values.
struct MetaExpansion {
  std::vector<int64_t> kv_lens;  // kv_b = kv_lens[b] + kv_offset; its size is bs
  int64_t kv_offset = 0;
  bool uniform = false;          // qo_b = qo_uniform for every b
  int64_t qo_uniform = 0;
  std::vector<int64_t> qo;       // raw per-request qo_b when !uniform
  int64_t max_qo = kI32Max;      // per-request qo outside [0, max_qo] counts as 0 rows
};

// builder-contract "Modes": where qo_b and kv_b come from.
inline MetaExpansion mode_expansion(MetaMode mode, const std::vector<int64_t>& seq_lens,
                                    const std::vector<int64_t>& accept_lens, const std::vector<int64_t>& extend_lens,
                                    int64_t num_draft_tokens) {
  MetaExpansion e;
  e.kv_lens = seq_lens;
  switch (mode) {
    case MetaMode::kDecode:
      e.uniform = true;
      e.qo_uniform = 1;
      break;
    case MetaMode::kTargetVerify:
      e.uniform = true;
      e.qo_uniform = num_draft_tokens;
      e.kv_offset = num_draft_tokens;
      break;
    case MetaMode::kDraftExtend:
      e.qo = accept_lens;
      e.max_qo = num_draft_tokens;
      break;
    case MetaMode::kDraftExtendStatic:
      e.uniform = true;
      e.qo_uniform = num_draft_tokens;
      break;
    case MetaMode::kExtend:
      e.qo = extend_lens;
      e.max_qo = kI32Max;
      break;
  }
  return e;
}

struct MetaRefInput {
  MetaExpansion expansion;
  int64_t capacity = 0;
  int64_t topk = kI32Max;
  int64_t kpool = 1;
  std::vector<int64_t> req_pool_indices;  // size bs when a page table is wanted
  RefTable req_to_token;                  // [pool, W], pool = rows
  int64_t width = 0;                      // W'
  int64_t page_size = 1;
  bool full_width = false;
  unsigned wanted = kAllMetaOutputs;      // bit s: MetaSlot s is wanted
  // Page tables before the call (rows >= capacity; page_table_1 has `width`
  // columns, real_page_table ceil(width / page_size)); only read when wanted.
  RefTable page_table_1_before;
  RefTable real_page_table_before;

  bool wants(int slot) const { return (wanted >> slot) & 1u; }
};

struct MetaRefOutput {
  std::vector<int32_t> seqlens_expanded;     // [capacity]
  std::vector<int32_t> cu_seqlens_q;         // [bs + 1]
  std::vector<int32_t> row_to_req;           // [capacity]
  int32_t num_rows = 0;
  int32_t status = 0;
  std::vector<int32_t> cache_seqlens;        // [bs]
  std::vector<int32_t> cu_seqlens_k;         // [bs + 1]
  std::vector<int32_t> sparse_seqlens;       // [capacity]
  std::vector<int32_t> sparse_cu_seqlens_k;  // [capacity + 1]
  RefTable page_table_1;                     // after the call (when wanted)
  RefTable real_page_table;
  wide total = 0;                            // rows needed, unclamped (bookkeeping for tests)
};

// min(v, INT32_MAX) and max(v, 0), on exact integers.
inline wide ref_min_i32max(wide v) { return v > wide(kI32Max) ? wide(kI32Max) : v; }
inline wide ref_clamp_0_i32max(wide v) { return v < 0 ? wide(0) : ref_min_i32max(v); }

// sparse_seqlens of a row of length x >= 0: f = (x // kpool) * kpool; min(f, topk) + (x - f).
inline wide ref_sparse_len(wide x, wide topk, wide kpool) {
  const wide f = (x / kpool) * kpool;
  return std::min(f, topk) + (x - f);
}

// torch's `//` for a positive divisor: the largest q with q * d <= v.
inline wide ref_floor_div(wide v, wide d) {
  wide q = v / d;  // rounds toward zero
  if (q * d > v) q -= 1;
  return q;
}

inline wide ref_ceil_div(wide v, wide d) { return (v + d - 1) / d; }

inline MetaRefOutput reference_metadata(const MetaRefInput& in) {
  const MetaExpansion& e = in.expansion;
  const int64_t bs = static_cast<int64_t>(e.kv_lens.size());
  MetaRefOutput out;
  int32_t status = 0;

  // Per request: the checked qo_b and kv_b, exact.
  std::vector<wide> qo(bs), kv(bs);
  for (int64_t b = 0; b < bs; ++b) {
    kv[b] = wide(e.kv_lens[b]) + wide(e.kv_offset);
    wide q = e.uniform ? wide(e.qo_uniform) : wide(e.qo[b]);
    if (!e.uniform && (q < 0 || q > wide(e.max_qo))) {
      status |= kBitQoRange;
      q = 0;
    }
    qo[b] = q;
    if (qo[b] > kv[b]) status |= kBitQoExceedsKv;
    if (qo[b] > 0 && kv[b] > wide(kI32Max)) status |= kBitOverflow;  // (a) its last row saturates
  }

  // cu_seqlens_q and the total.
  wide cu_q = 0;
  out.cu_seqlens_q.push_back(0);
  for (int64_t b = 0; b < bs; ++b) {
    cu_q += qo[b];
    out.cu_seqlens_q.push_back(static_cast<int32_t>(ref_min_i32max(cu_q)));
  }
  out.total = cu_q;
  if (out.total > wide(kI32Max)) status |= kBitOverflow;  // (b)
  if (out.total > wide(in.capacity)) status |= kBitCapacity;
  const int64_t num_rows = static_cast<int64_t>(std::min(out.total, wide(in.capacity)));
  out.num_rows = static_cast<int32_t>(num_rows);

  // cache_seqlens and cu_seqlens_k.
  wide cu_k = 0;
  out.cu_seqlens_k.push_back(0);
  for (int64_t b = 0; b < bs; ++b) {
    const wide kv_clamped = ref_clamp_0_i32max(kv[b]);
    out.cache_seqlens.push_back(static_cast<int32_t>(kv_clamped));
    cu_k += kv_clamped;
    out.cu_seqlens_k.push_back(static_cast<int32_t>(ref_min_i32max(cu_k)));
    if (kv[b] > wide(kI32Max) && (in.wants(kMCacheSeqlens) || in.wants(kMCuSeqlensK))) status |= kBitOverflow;  // (c)
  }
  if (cu_k > wide(kI32Max) && in.wants(kMCuSeqlensK)) status |= kBitOverflow;  // (d)

  // Live rows: request b, row j, in order, the first num_rows of them.
  std::vector<int64_t> row_b;
  std::vector<int64_t> row_j;
  for (int64_t b = 0; b < bs && static_cast<int64_t>(row_b.size()) < num_rows; ++b) {
    for (int64_t j = 0; wide(j) < qo[b] && static_cast<int64_t>(row_b.size()) < num_rows; ++j) {
      row_b.push_back(b);
      row_j.push_back(j);
    }
  }

  // Per-row outputs over the whole capacity; rows past num_rows are empty.
  out.seqlens_expanded.assign(static_cast<size_t>(in.capacity), 0);
  out.sparse_seqlens.assign(static_cast<size_t>(in.capacity), 0);
  out.row_to_req.assign(static_cast<size_t>(in.capacity), -1);
  out.sparse_cu_seqlens_k.assign(static_cast<size_t>(in.capacity) + 1, 0);
  wide sparse_sum = 0;
  for (int64_t r = 0; r < num_rows; ++r) {
    const int64_t b = row_b[r];
    const wide x = ref_clamp_0_i32max(kv[b] - qo[b] + 1 + row_j[r]);
    const wide g = ref_sparse_len(x, in.topk, in.kpool);
    out.seqlens_expanded[r] = static_cast<int32_t>(x);
    out.sparse_seqlens[r] = static_cast<int32_t>(g);
    out.row_to_req[r] = static_cast<int32_t>(b);
    sparse_sum += g;
    out.sparse_cu_seqlens_k[r + 1] = static_cast<int32_t>(ref_min_i32max(sparse_sum));
  }
  for (int64_t r = num_rows; r < in.capacity; ++r) out.sparse_cu_seqlens_k[r + 1] = out.sparse_cu_seqlens_k[num_rows];
  if (sparse_sum > wide(kI32Max) && in.wants(kMSparseCuSeqlensK)) status |= kBitOverflow;  // (e)

  // Page tables: start from the previous contents, write the live prefixes.
  const bool want_pt1 = in.wants(kMPageTable1);
  const bool want_real = in.wants(kMRealPageTable);
  if (want_pt1) out.page_table_1 = in.page_table_1_before;
  if (want_real) out.real_page_table = in.real_page_table_before;
  if (want_pt1 || want_real) {
    const int64_t pool = in.req_to_token.rows;
    std::vector<bool> valid(bs);
    for (int64_t b = 0; b < bs; ++b) {
      valid[b] = in.req_pool_indices[b] >= 0 && in.req_pool_indices[b] < pool;
      if (!valid[b]) status |= kBitBadPoolIndex;  // whatever qo_b is
    }
    for (int64_t r = 0; r < num_rows; ++r) {
      const int64_t b = row_b[r];
      if (!valid[b]) continue;
      const int64_t src = in.req_pool_indices[b];
      const wide live = in.full_width ? wide(in.width) : std::max(wide(0), std::min(kv[b], wide(in.width)));
      if (want_pt1) {
        for (int64_t c = 0; wide(c) < live; ++c) out.page_table_1.at(r, c) = in.req_to_token.at(src, c);
      }
      if (want_real) {
        const wide pages = ref_ceil_div(live, in.page_size);
        for (int64_t p = 0; wide(p) < pages; ++p) {
          const wide slot = in.req_to_token.at(src, p * in.page_size);
          out.real_page_table.at(r, p) = static_cast<int32_t>(ref_floor_div(slot, in.page_size));
        }
      }
    }
  }
  out.status = status;
  return out;
}

}  // namespace specmeta_test
