// The per-forward metadata of a sparse-attention backend, for every mode of
// SPEC section 2. A mode only says where qo_b and kv_b come from; each is a
// preset over the one ragged expansion of expand.h:
//
//   mode                 qo_b                         kv_b
//   decode               1                            seq_b
//   target_verify        N                            seq_b + N
//   draft_extend         accept_lens[b] in [0, N]     seq_b
//   draft_extend_static  N                            seq_b
//   extend               extend_lens[b]               seq_b
#pragma once

#include <cstdint>

#include "specmeta/expand.h"
#include "specmeta/types.h"

namespace specmeta {

enum class Mode : int32_t { kDecode = 0, kTargetVerify = 1, kDraftExtend = 2, kDraftExtendStatic = 3, kExtend = 4 };

// Rows the mode gives each request when it is a host constant, or -1 when the
// rows come from a device array (draft_extend, extend).
int64_t uniform_rows(Mode mode, int64_t num_draft_tokens);

struct MetadataArgs {
  Mode mode = Mode::kDecode;
  int64_t bs = 0;
  IntSpan seq_lens;               // [bs], int32 or int64
  IntSpan accept_lens;            // [bs], draft_extend only
  IntSpan extend_lens;            // [bs], extend only
  // N: target_verify, draft_extend_static; for draft_extend the largest valid
  // accept length (kNoMaxQo: no bound).
  int64_t num_draft_tokens = 0;
  int64_t capacity = 0;
  int64_t topk = 2048;
  int64_t kpool = 1;
  IntSpan req_pool_indices;
  TableSpan req_to_token;
  int64_t width = 0;
  int64_t page_size = 1;
  bool full_width = false;
  ExpandOutputs out;
  const ExpandOutputs* extra_out = nullptr;
  int32_t extra_out_count = 0;
};

// The preset: the expansion that computes `args`' metadata. Fails, naming the
// argument, when the mode's inputs are missing or given where not used.
Status to_expand_args(const MetadataArgs& args, ExpandArgs* expansion);

// to_expand_args, then validate(ExpandArgs), with errors naming the
// builder's arguments (seq_lens, accept_lens, ...). Fills `expansion`.
Status validate(const MetadataArgs& args, ExpandArgs* expansion);

// Both validate first; nothing is written when that fails.
Status build_metadata_cpu(const MetadataArgs& args);
Status build_metadata_cuda(const MetadataArgs& args, cudaStream_t stream);

}  // namespace specmeta
