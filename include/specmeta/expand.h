// The ragged expansion: one row per query token of every request (SPEC sections 2-4).
//
// Request b has qo_b query rows and may attend to kv_b KV entries from its
// last row; it owns rows [cu_q_b, cu_q_b + qo_b). Row cu_q_b + j gets
//   seqlens_expanded = x = max(kv_b - qo_b + 1 + j, 0)     row_to_req = b
//   sparse_seqlens   = min(f, topk) + (x - f),  f = (x / kpool) * kpool
// and, when a page table is wanted, request b's row of req_to_token
// (req_to_token[req_pool_indices[b], c] for c < min(kv_b, width)). Rows in
// [num_rows, capacity) get 0 / -1; page-table rows there are not written.
// Every mode of SPEC section 2 is this expansion with a different source for
// qo_b and kv_b (see metadata.h for the presets).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "specmeta/types.h"

namespace specmeta {

// max_qo when the caller sets no upper bound on per-request query rows.
constexpr int64_t kNoMaxQo = std::numeric_limits<int32_t>::max();
// topk when sparse_seqlens should equal seqlens_expanded (no clipping).
constexpr int64_t kNoTopk = std::numeric_limits<int32_t>::max();
// Destination sets one call can write (SPEC section 5: one per draft step).
constexpr int kMaxDestinationSets = 8;

// One destination set. Every output is optional; sizes are checked against
// what the call writes (at least that many elements).
struct ExpandOutputs {
  OutSpan seqlens_expanded;     // [capacity]
  OutSpan cu_seqlens_q;         // [bs + 1]
  OutSpan row_to_req;           // [capacity]
  OutSpan num_rows;             // [1]
  OutSpan status;               // [1], overwritten with this call's StatusBit flags
  OutSpan cache_seqlens;        // [bs]: kv_b
  OutSpan cu_seqlens_k;         // [bs + 1]: prefix sums of kv_b
  OutSpan sparse_seqlens;       // [capacity]
  OutSpan sparse_cu_seqlens_k;  // [capacity + 1]: 0, then inclusive prefix sums of sparse_seqlens
  OutTable page_table_1;        // [capacity, width]
  OutTable real_page_table;     // [capacity, ceil(width / page_size)]
};

struct ExpandArgs {
  int64_t bs = 0;            // number of requests
  IntSpan kv_lens;           // kv_b = kv_lens[b] + kv_offset for b < bs
  int64_t kv_offset = 0;     // added to every kv_lens element (target_verify: N)
  IntSpan qo_lens;           // qo_b for b < bs; data == nullptr selects qo_uniform
  int64_t qo_uniform = 0;    // qo_b for every request when qo_lens.data == nullptr
  int64_t max_qo = kNoMaxQo; // per-request qo outside [0, max_qo] counts as 0 rows
  int64_t capacity = 0;      // rows every per-row output holds
  int64_t topk = kNoTopk;    // sparse_seqlens clip, >= 1
  int64_t kpool = 1;         // sparse_seqlens index pool size, >= 1
  // Page tables: needed only when page_table_1 or real_page_table is wanted.
  IntSpan req_pool_indices;  // [bs], int32 or int64: request b's row of req_to_token
  TableSpan req_to_token;    // [pool, W] KV slot ids
  int64_t width = 0;         // W' <= W: page-table columns
  int64_t page_size = 1;     // ps >= 1
  bool full_width = false;   // write all W' columns of live rows, not only min(kv_b, W')
  ExpandOutputs out;
  // Further destination sets, written with identical contents in the same
  // launch; each must want the same outputs as `out`, with the same shapes.
  const ExpandOutputs* extra_out = nullptr;
  int32_t extra_out_count = 0;

  bool uniform_qo() const { return qo_lens.data == nullptr; }
  bool wants_page_table() const { return out.page_table_1.wanted() || out.real_page_table.wanted(); }
};

// Host-side checks of sizes and relations (SPEC section 6, host-visible part).
// Both backends call it first; nothing is written when it fails.
Status validate(const ExpandArgs& args);

// Rows the batch needs, from host memory (uniform qo, or a host qo array),
// with the same clamping the kernels apply. Used to size buffers.
int64_t count_rows_host(const ExpandArgs& args);

// CPU backend: every array in host memory. Allocation-free.
Status expand_cpu(const ExpandArgs& args);

// CUDA backend: every array in device memory of the current device.
// One kernel launch on `stream`, no allocation, no host synchronisation, so
// it can be captured in a CUDA graph and replayed with new input values.
Status expand_cuda(const ExpandArgs& args, cudaStream_t stream);

// A validated call for callers whose buffers never move (CUDA-graph runners):
// bind() checks everything once for args.bs requests; a launch then covers
// the first bs <= args.bs requests with no further checks (every check holds
// for fewer requests), so its host cost is the launch alone.
class BoundExpansion {
 public:
  Status bind(const ExpandArgs& args);
  Status run_cpu(int64_t bs) const;
  Status launch_cuda(int64_t bs, cudaStream_t stream) const;
  bool bound() const { return bound_; }
  int64_t max_bs() const { return args_.bs; }

 private:
  Status with_bs(int64_t bs, ExpandArgs* args) const;
  ExpandArgs args_;
  std::vector<ExpandOutputs> extra_out_;  // owned copy of args.extra_out
  bool bound_ = false;
};

// True when this build has the CUDA backend and a CUDA device is visible.
bool cuda_available();

// Makes `device` the calling thread's current CUDA device (a no-op when it
// already is), for callers whose arrays live on another GPU.
Status use_cuda_device(int device);

}  // namespace specmeta
