// The ragged expansion: one row per query token of every request (SPEC sections 2-4).
//
// Request b owns rows [cu_q_b, cu_q_b + qo_b). Row cu_q_b + j gets
//   seqlens_expanded = max(kv_b - qo_b + 1 + j, 0)      row_to_req = b
// and rows in [num_rows, capacity) get 0 and -1. Every mode of SPEC section 2
// is this expansion with a different source for qo_b and kv_b.
#pragma once

#include <cstdint>
#include <limits>

#include "specmeta/types.h"

namespace specmeta {

// max_qo when the caller sets no upper bound on per-request query rows.
constexpr int64_t kNoMaxQo = std::numeric_limits<int32_t>::max();

struct ExpandOutputs {
  OutSpan seqlens_expanded;  // [capacity]
  OutSpan cu_seqlens_q;      // [bs + 1]
  OutSpan row_to_req;        // [capacity]
  OutSpan num_rows;          // [1]
  OutSpan status;            // [1], overwritten with this call's StatusBit flags
};

struct ExpandArgs {
  int64_t bs = 0;            // number of requests
  IntSpan kv_lens;           // kv_b for b < bs
  IntSpan qo_lens;           // qo_b for b < bs; data == nullptr selects qo_uniform
  int64_t qo_uniform = 0;    // qo_b for every request when qo_lens.data == nullptr
  int64_t max_qo = kNoMaxQo; // per-request qo outside [0, max_qo] counts as 0 rows
  int64_t capacity = 0;      // rows every per-row output holds
  ExpandOutputs out;

  bool uniform_qo() const { return qo_lens.data == nullptr; }
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

// True when this build has the CUDA backend and a CUDA device is visible.
bool cuda_available();

// Makes `device` the calling thread's current CUDA device (a no-op when it
// already is), for callers whose arrays live on another GPU.
Status use_cuda_device(int device);

}  // namespace specmeta
