// Stand-in for the CUDA backend in builds configured with SPECMETA_CUDA=OFF.
#include "../common/backends.h"
#include "specmeta/expand.h"

namespace specmeta {

Status expand_cuda(const ExpandArgs& args, cudaStream_t) {
  if (Status s = validate(args); !s.ok()) return s;
  return Status::unavailable("expand_cuda: specmeta was built without its CUDA backend (SPECMETA_CUDA=OFF)");
}

Status detail::expand_cuda_validated(const ExpandArgs&, cudaStream_t) {
  return Status::unavailable("expand_cuda: specmeta was built without its CUDA backend (SPECMETA_CUDA=OFF)");
}

Status detail::expand_cuda_general(const ExpandArgs&, cudaStream_t) {
  return Status::unavailable("expand_cuda: specmeta was built without its CUDA backend (SPECMETA_CUDA=OFF)");
}

bool cuda_available() { return false; }

Status use_cuda_device(int) {
  return Status::unavailable("specmeta was built without its CUDA backend (SPECMETA_CUDA=OFF)");
}

}  // namespace specmeta
