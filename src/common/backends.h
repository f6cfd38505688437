// The backends' entry points after validation: validate() has passed for
// these arguments, so they only compute (CPU) or launch (CUDA).
#pragma once

#include "specmeta/expand.h"

namespace specmeta {
namespace detail {

void expand_cpu_validated(const ExpandArgs& args);
Status expand_cuda_validated(const ExpandArgs& args, cudaStream_t stream);

}  // namespace detail
}  // namespace specmeta
