// The backends' entry points after validation: validate() has passed for
// these arguments, so they only compute (CPU) or launch (CUDA).
#pragma once

#include "specmeta/expand.h"

namespace specmeta {
namespace detail {

void expand_cpu_validated(const ExpandArgs& args);
Status expand_cuda_validated(const ExpandArgs& args, cudaStream_t stream);
// The builder's kernel for any call, also those expand_cuda_validated gives
// to the expansion-only kernels: tests and benchmarks compare the two.
Status expand_cuda_general(const ExpandArgs& args, cudaStream_t stream);

}  // namespace detail
}  // namespace specmeta
