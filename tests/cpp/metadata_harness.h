// Shared plumbing of the metadata builder's CPU and CUDA tests: the host
// copies of a MetaCase's buffers (inputs with their tails, and every output
// of every destination set as [front guard | payload | back guard], poisoned,
// page tables holding their previous contents), the MetadataArgs / ExpandArgs
// of a case whose buffers live at given addresses, and the exact comparison
// of every allocation with what the reference says it must hold afterwards.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "metadata_cases.h"
#include "metadata_reference.h"
#include "specmeta/metadata.h"

namespace specmeta_test {

// Host copies of every buffer of a case. Inputs are typed arrays (bs values,
// then the tail); outputs are whole allocations.
struct MetaBuffers {
  HostInput seq{{}, {}, specmeta::IntType::kInt32};
  HostInput qo{{}, {}, specmeta::IntType::kInt32};
  HostInput rpi{{}, {}, specmeta::IntType::kInt32};
  std::vector<int32_t> req_to_token;
  std::vector<int32_t> out[kMaxSets][kMetaSlots];  // empty when the slot is not wanted

  bool has_qo = false;
  bool has_page_inputs = false;
};

// The allocation of a slot before the call: poison, and the previous
// contents of a page table in its payload.
inline std::vector<int32_t> initial_alloc(const MetaCase& c, int set, int slot) {
  std::vector<int32_t> a(static_cast<size_t>(c.alloc_elems(slot)), kPoison);
  if (is_table_slot(slot)) {
    const RefTable t = c.prior_table(set, slot);
    std::copy(t.values.begin(), t.values.end(), a.begin() + c.front_guard);
  }
  return a;
}

inline MetaBuffers make_host_buffers(const MetaCase& c) {
  MetaBuffers m;
  m.seq = HostInput(c.seq, c.seq_tail, c.seq_type);
  m.has_qo = c.has_qo_array();
  if (m.has_qo) m.qo = HostInput(c.qo, c.qo_tail, c.qo_type);
  m.has_page_inputs = c.page_inputs;
  if (c.page_inputs) {
    m.rpi = HostInput(c.rpi, c.rpi_tail, c.rpi_type);
    m.req_to_token = c.req_to_token.values;
    if (m.req_to_token.empty()) m.req_to_token.push_back(-99);  // a real (non-null) buffer even for 0 rows
  }
  for (int set = 0; set < c.sets; ++set) {
    for (int s = 0; s < kMetaSlots; ++s) {
      if (c.wants(s)) m.out[set][s] = initial_alloc(c, set, s);
    }
  }
  return m;
}

// Where a case's buffers live for one call (host or device addresses); out
// points at each allocation's first element (its front guard).
struct MetaPointers {
  const void* seq = nullptr;
  const void* qo = nullptr;
  const void* rpi = nullptr;
  const int32_t* req_to_token = nullptr;
  int32_t* out[kMaxSets][kMetaSlots] = {};
};

inline MetaPointers host_pointers(MetaBuffers& m) {
  MetaPointers p;
  p.seq = m.seq.data();
  p.qo = m.has_qo ? m.qo.data() : nullptr;
  p.rpi = m.has_page_inputs ? m.rpi.data() : nullptr;
  p.req_to_token = m.has_page_inputs ? m.req_to_token.data() : nullptr;
  for (int set = 0; set < kMaxSets; ++set) {
    for (int s = 0; s < kMetaSlots; ++s) p.out[set][s] = m.out[set][s].empty() ? nullptr : m.out[set][s].data();
  }
  return p;
}

inline specmeta::ExpandOutputs make_outputs(const MetaCase& c, const MetaPointers& p, int set) {
  specmeta::ExpandOutputs o;
  specmeta::OutSpan* spans[] = {&o.seqlens_expanded, &o.cu_seqlens_q,  &o.row_to_req,
                                &o.num_rows,         &o.status,        &o.cache_seqlens,
                                &o.cu_seqlens_k,     &o.sparse_seqlens, &o.sparse_cu_seqlens_k};
  for (int s = 0; s < kMPageTable1; ++s) {
    if (c.wants(s)) *spans[s] = {p.out[set][s] + c.front_guard, c.payload_elems(s)};
  }
  specmeta::OutTable* tables[] = {&o.page_table_1, &o.real_page_table};
  for (int s : {kMPageTable1, kMRealPageTable}) {
    if (c.wants(s)) {
      *tables[s - kMPageTable1] = {p.out[set][s] + c.front_guard, c.table_rows(s), c.table_cols(s), c.table_stride(s)};
    }
  }
  return o;
}

// The arguments of one call. `extra` keeps the further destination sets alive.
struct MetaCallArgs {
  specmeta::MetadataArgs meta;
  specmeta::ExpandArgs expand;
  std::vector<specmeta::ExpandOutputs> extra;
};

inline specmeta::Mode api_mode(MetaMode m) { return static_cast<specmeta::Mode>(static_cast<int32_t>(m)); }

inline void make_call_args(const MetaCase& c, const MetaPointers& p, MetaCallArgs* a) {
  a->extra.clear();
  for (int set = 1; set < c.sets; ++set) a->extra.push_back(make_outputs(c, p, set));
  const specmeta::ExpandOutputs out = make_outputs(c, p, 0);
  const int64_t seq_elems = c.bs() + static_cast<int64_t>(c.seq_tail.size());
  const int64_t qo_elems = c.bs() + static_cast<int64_t>(c.qo_tail.size());
  const int64_t rpi_elems = c.bs() + static_cast<int64_t>(c.rpi_tail.size());
  const specmeta::IntSpan seq{p.seq, c.seq_type, seq_elems};
  const specmeta::IntSpan qo = c.has_qo_array() ? specmeta::IntSpan{p.qo, c.qo_type, qo_elems} : specmeta::IntSpan{};
  const specmeta::IntSpan rpi = c.page_inputs ? specmeta::IntSpan{p.rpi, c.rpi_type, rpi_elems} : specmeta::IntSpan{};
  const specmeta::TableSpan r2t = c.page_inputs ? specmeta::TableSpan{p.req_to_token, c.req_to_token.rows,
                                                                      c.req_to_token.cols, c.req_to_token.stride}
                                                : specmeta::TableSpan{};
  const specmeta::ExpandOutputs* extra = a->extra.empty() ? nullptr : a->extra.data();
  const int32_t extra_count = static_cast<int32_t>(a->extra.size());

  specmeta::MetadataArgs& m = a->meta;
  m = specmeta::MetadataArgs{};
  m.mode = api_mode(c.mode);
  m.bs = c.bs();
  m.seq_lens = seq;
  if (c.mode == MetaMode::kDraftExtend) m.accept_lens = qo;
  if (c.mode == MetaMode::kExtend) m.extend_lens = qo;
  m.num_draft_tokens = c.num_draft_tokens;
  m.capacity = c.capacity;
  m.topk = c.topk;
  m.kpool = c.kpool;
  m.req_pool_indices = rpi;
  m.req_to_token = r2t;
  if (c.page_inputs) {
    m.width = c.width;
    m.page_size = c.page_size;
  }
  m.full_width = c.full_width;
  m.out = out;
  m.extra_out = extra;
  m.extra_out_count = extra_count;

  specmeta::ExpandArgs& e = a->expand;
  e = specmeta::ExpandArgs{};
  e.bs = c.bs();
  e.kv_lens = seq;
  e.kv_offset = c.kv_offset;
  if (c.uniform) {
    e.qo_uniform = c.qo_uniform;
  } else {
    e.qo_lens = qo;
  }
  e.max_qo = c.max_qo;
  e.capacity = c.capacity;
  e.topk = c.topk;
  e.kpool = c.kpool;
  e.req_pool_indices = rpi;
  e.req_to_token = r2t;
  if (c.page_inputs) {
    e.width = c.width;
    e.page_size = c.page_size;
  }
  e.full_width = c.full_width;
  e.out = out;
  e.extra_out = extra;
  e.extra_out_count = extra_count;
}

// `c` cut to its first `bs` requests, over the same buffers: the values of
// the cut requests join the inputs' tails, and the per-request outputs keep
// their size (their elements past bs + 1 count as oversize, never written).
// What a BoundExpansion bound for c.bs() must write when launched for bs.
inline MetaCase first_requests(const MetaCase& c, int64_t bs) {
  MetaCase t = c;
  auto cut = [bs](std::vector<int64_t>& v, std::vector<int64_t>& tail) {
    tail.insert(tail.begin(), v.begin() + bs, v.end());
    v.resize(static_cast<size_t>(bs));
  };
  cut(t.seq, t.seq_tail);
  if (t.has_qo_array()) cut(t.qo, t.qo_tail);
  if (t.page_inputs) cut(t.rpi, t.rpi_tail);
  for (int s : {kMCuSeqlensQ, kMCuSeqlensK, kMCacheSeqlens}) t.oversize[s] += c.bs() - bs;
  return t;
}

// What the backend left behind: the call's Status and every allocation.
struct MetaObserved {
  specmeta::Status status;
  MetaBuffers buffers;
};

// CPU: one build_metadata_cpu (or expand_cpu for a direct case) on fresh host buffers.
inline void run_meta_cpu(const MetaCase& c, MetaObserved* obs) {
  obs->buffers = make_host_buffers(c);
  const MetaBuffers& b = obs->buffers;
  const HostInput seq = b.seq, qo = b.qo, rpi = b.rpi;
  const std::vector<int32_t> req_to_token = b.req_to_token;
  MetaCallArgs a;
  make_call_args(c, host_pointers(obs->buffers), &a);
  obs->status = c.direct ? specmeta::expand_cpu(a.expand) : specmeta::build_metadata_cpu(a.meta);
  // Inputs are read-only.
  EXPECT_TRUE(b.seq.v32 == seq.v32 && b.seq.v64 == seq.v64 && b.qo.v32 == qo.v32 && b.qo.v64 == qo.v64 &&
              b.rpi.v32 == rpi.v32 && b.rpi.v64 == rpi.v64 && b.req_to_token == req_to_token)
      << "an input buffer was modified";
}

// The allocation of `slot` in set `set` that a correct call leaves behind.
inline std::vector<int32_t> expected_alloc(const MetaCase& c, const MetaRefOutput& ref, int slot) {
  std::vector<int32_t> a(static_cast<size_t>(c.alloc_elems(slot)), kPoison);
  int32_t* payload = a.data() + c.front_guard;
  if (is_table_slot(slot)) {
    const RefTable& t = slot == kMPageTable1 ? ref.page_table_1 : ref.real_page_table;
    std::copy(t.values.begin(), t.values.end(), payload);
    return a;
  }
  const std::vector<int32_t> scalar_num_rows = {ref.num_rows};
  const std::vector<int32_t> scalar_status = {ref.status};
  const std::vector<int32_t>* values[] = {&ref.seqlens_expanded, &ref.cu_seqlens_q,  &ref.row_to_req,
                                          &scalar_num_rows,      &scalar_status,     &ref.cache_seqlens,
                                          &ref.cu_seqlens_k,     &ref.sparse_seqlens, &ref.sparse_cu_seqlens_k};
  const std::vector<int32_t>& v = *values[slot];
  std::copy(v.begin(), v.end(), payload);  // elements past what the call needs keep their poison
  return a;
}

// Exact check of every allocation of every set (guards, padding, page-table
// elements that must keep their previous values).
inline ::testing::AssertionResult matches_meta_reference(const MetaCase& c, const MetaBuffers& got) {
  std::ostringstream failures;
  bool failed = false;
  MetaRefOutput ref0;
  for (int set = 0; set < c.sets; ++set) {
    const MetaRefOutput ref = reference_metadata(c.ref_input(set));
    if (set == 0) ref0 = ref;
    for (int s = 0; s < kMetaSlots; ++s) {
      if (!c.wants(s)) continue;
      const std::string name = (set == 0 ? std::string() : "set " + std::to_string(set) + " ") + meta_slot_name(s);
      const std::vector<int32_t> expected = expected_alloc(c, ref, s);
      const std::vector<int32_t>& a = got.out[set][s];
      if (a.size() != expected.size()) {
        failures << "\n" << name << ": allocation of " << a.size() << " elements came back, expected " << expected.size();
        failed = true;
        continue;
      }
      // Guards separately, so that a message says which side was hit.
      const int64_t front = c.front_guard;
      const int64_t payload = c.payload_elems(s);
      const auto parts = {
          same_elements(name + " (front guard)", expected.data(), a.data(), front),
          same_elements(name + " (payload: offsets past the front guard; tables row-major with their stride)",
                        expected.data() + front, a.data() + front, payload),
          same_elements(name + " (back guard)", expected.data() + front + payload, a.data() + front + payload,
                        kMetaBackGuard)};
      for (const auto& r : parts) {
        if (!r) {
          failures << "\n" << r.message();
          failed = true;
        }
      }
    }
  }
  if (!failed) return ::testing::AssertionSuccess();
  std::ostringstream total;
  total << static_cast<long double>(ref0.total);
  return ::testing::AssertionFailure() << "mismatch with the reference (rows needed " << total.str()
                                       << ", expected num_rows " << ref0.num_rows << ", status " << ref0.status
                                       << "):" << failures.str();
}

// Runs one case on `backend` (a callable void(const MetaCase&, MetaObserved*))
// and compares every allocation with the reference. Returns false on a mismatch.
template <class Backend>
bool run_meta_and_compare(Backend&& backend, const MetaCase& c, MetaObserved* keep = nullptr) {
  SCOPED_TRACE(c.describe());
  MetaObserved local;
  MetaObserved& obs = keep ? *keep : local;
  backend(c, &obs);
  if (::testing::Test::HasFatalFailure()) return false;
  if (!obs.status.ok()) {
    ADD_FAILURE() << "backend returned error " << static_cast<int>(obs.status.code()) << ": " << obs.status.message();
    return false;
  }
  const auto r = matches_meta_reference(c, obs.buffers);
  EXPECT_TRUE(r);
  return static_cast<bool>(r);
}

// Runs `n` random cases, stopping after a few failing ones.
template <class Backend>
void run_random_meta_cases(Backend&& backend, MetaGen& gen, int n, const MetaOptions& opt = {}) {
  int failures = 0;
  for (int i = 0; i < n && failures < 3; ++i) {
    SCOPED_TRACE("random case #" + std::to_string(i));
    const MetaCase c = gen.make(opt);
    if (!run_meta_and_compare(backend, c)) ++failures;
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace specmeta_test
