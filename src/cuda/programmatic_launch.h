// Kernel launches with programmatic stream serialization (sm_90): the
// kernel's launch and block scheduling overlap the end of the kernel before
// it in the stream; the kernel itself waits for that grid before it reads
// anything (enter_after_prior_grid in device_util.cuh).
#pragma once

#include <cuda_runtime.h>

namespace specmeta {
namespace cuda_detail {

// Launches kernel<<<grid, threads, 0, stream>>>(params); the caller checks
// cudaGetLastError.
template <class Params>
void launch_programmatic(void (*kernel)(Params), unsigned grid, unsigned threads, cudaStream_t stream,
                         const Params& params) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(threads);
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  cudaLaunchKernelEx(&config, kernel, params);
}

}  // namespace cuda_detail
}  // namespace specmeta
