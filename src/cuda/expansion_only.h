// The expansion-only kernels (expansion_only.cu): calls that want nothing
// but the foundation's outputs get a kernel with one short code path.
#pragma once

#include "specmeta/expand.h"

namespace specmeta {
namespace cuda_detail {

// True when `a` (validated) wants only seqlens_expanded, row_to_req,
// cu_seqlens_q, num_rows and status, into one destination set, with a batch
// the expansion-only kernels cover (expansion_only.cu names the limits).
bool fits_expansion_only(const ExpandArgs& a);

// The kernel a call that fits_expansion_only gets: uniform qo; per-request
// qo in one group of 32 requests, in several (up to 1024 requests), or in
// request blocks (the rest).
enum class ExpansionKernel { kUniform, kOneGroup, kGroups, kRequestBlocks };
ExpansionKernel pick_expansion_kernel(const ExpandArgs& a);

// Launches the expansion-only kernel for `a` (fits_expansion_only(a)); no
// allocation, no sync. Returns the launch error, if any.
Status launch_expansion_only(const ExpandArgs& a, cudaStream_t stream);

}  // namespace cuda_detail
}  // namespace specmeta
