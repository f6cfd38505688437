// Diagnosis probe (not the library): what rate can a device-to-device copy reach, by size and by how its
// threads walk the bytes? The suite's reference copy (torch's copy_, 256 MiB) runs at 3.01 TB/s while its
// size-matched copies of 20-800 MB run at 2.2-2.4 and a 512 MiB copy at 2.43, in every phase of
// bench/probes/copy_drift.py (J0): the "drift" is a size effect, not the process's state. The large metadata
// cells run at the same 2.4. Is 2.4 what HBM gives beyond some footprint (address translation reach, say), or
// what cudaMemcpy's kernel gives?
//
// Found (J1, J3, H100; bench/results/nvidia-h100-2026-11-27-copysizes/): in a graph, cudaMemcpyAsync runs at
// 2.9-3.0 TB/s at 64, 128, 256 and 384 MiB, and at 2.35-2.43 at 50-300 MB sizes that are no such multiple and at
// 512 MiB and 1 GiB (0.79 a byte off alignment). An eager copy holds about 3.0 from 256 MiB to 2 GiB
// (copy_footprint.py, K2). The kernels hold their rate at every size from 50 MB: grid-stride 2.69-2.81,
// evict-first the same, bulk copies 2.77-2.89; block chunks 2.48-2.81. So the suite's reference (a 256 MiB copy
// in a graph, 3.01) is the device's eager copy rate; its size-matched copies, graph nodes of other sizes, were
// 2.2-2.4, and are now eager (suite_timing.copy_bandwidth_gbps). Sizes under 40 MB partly hit L2 across replays.
//
// Rows, each in CUDA graphs (median of kReplays replays, read + write counted):
//   memcpy:          cudaMemcpyAsync device to device (what torch's copy_ does for contiguous bytes);
//   grid-stride:     16-byte loads and stores, kUnroll per thread in flight, the whole grid sweeping the buffer
//                    front to back (the bytes in flight at any moment lie close together);
//   block chunks:    the same, but each block copies its own contiguous chunk (bytes in flight spread over the
//                    whole buffer, as when each block copies its own request's rows).
// Sizes are the source's bytes; powers of two and others, and one misaligned by a byte for memcpy.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/copy_sizes.cu -o copy_sizes && ./copy_sizes
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "../bench_cuda.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;
constexpr int kUnroll = 4;
constexpr int kReplays = 15;
constexpr double kReplayTargetUs = 3000.0;
constexpr double kNominalBytesPerUs = 3.0e6;  // 3 TB/s, only to size the graphs

// kEvictFirst: loads and stores with the evict-first hint (ld.global.cs, st.global.cs).
template <bool kEvictFirst>
__device__ __forceinline__ int4 load16(const int4* p) {
  if constexpr (kEvictFirst) return __ldcs(p);
  return *p;
}
template <bool kEvictFirst>
__device__ __forceinline__ void store16(int4* p, int4 v) {
  if constexpr (kEvictFirst) {
    __stcs(p, v);
  } else {
    *p = v;
  }
}

template <bool kEvictFirst>
__global__ void grid_stride_copy(const int4* __restrict__ src, int4* __restrict__ dst, size_t n) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    int4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = load16<kEvictFirst>(src + i + u * stride);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) store16<kEvictFirst>(dst + i + u * stride, v[u]);
  }
  for (; i < n; i += stride) store16<kEvictFirst>(dst + i, load16<kEvictFirst>(src + i));
}

__global__ void block_chunk_copy(const int4* __restrict__ src, int4* __restrict__ dst, size_t n) {
  const size_t chunk = (n + gridDim.x - 1) / gridDim.x;
  const size_t begin = blockIdx.x * chunk;
  const size_t end = begin + chunk < n ? begin + chunk : n;
  size_t i = begin + threadIdx.x;
  for (; i + (kUnroll - 1) * blockDim.x < end; i += kUnroll * blockDim.x) {
    int4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = src[i + u * blockDim.x];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) dst[i + u * blockDim.x] = v[u];
  }
  for (; i < end; i += blockDim.x) dst[i] = src[i];
}

// Bulk copies (the Hopper tensor-memory-access engine): one thread per block moves kBulkChunk-byte chunks
// global -> shared -> global, kBulkStages chunks of loads in flight; chunk k of block b is chunk b + k * grid.
// Long runs of reads, then of writes, instead of warps' interleaved 16-byte accesses.
constexpr int kBulkChunk = 16 << 10;
constexpr int kBulkStages = 4;
constexpr int kBulkBlocksPerSm = 2;
constexpr int kBulkSmem = kBulkChunk * kBulkStages;

__device__ __forceinline__ uint32_t smem_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__global__ void bulk_copy(const char* __restrict__ src, char* __restrict__ dst, size_t bytes) {
  extern __shared__ __align__(128) char stage[];
  __shared__ __align__(8) uint64_t full[kBulkStages];
  const size_t chunks = bytes / kBulkChunk;
  // The tail (under a chunk, a multiple of 16 bytes) by every thread, 16 bytes at a time.
  const size_t tail_begin = chunks * kBulkChunk / sizeof(int4);
  const size_t n = bytes / sizeof(int4);
  for (size_t i = tail_begin + size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    reinterpret_cast<int4*>(dst)[i] = reinterpret_cast<const int4*>(src)[i];
  }
  if (threadIdx.x != 0) return;
  for (int s = 0; s < kBulkStages; ++s) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem_address(&full[s])));
  }
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  const size_t mine = chunks > blockIdx.x ? (chunks - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
  auto chunk_of = [&](size_t k) { return (blockIdx.x + k * gridDim.x) * size_t{kBulkChunk}; };
  auto load = [&](size_t k) {
    const int s = static_cast<int>(k % kBulkStages);
    const uint32_t bar = smem_address(&full[s]);
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(kBulkChunk) : "memory");
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
            smem_address(stage + s * kBulkChunk)),
        "l"(src + chunk_of(k)), "r"(kBulkChunk), "r"(bar)
        : "memory");
  };
  for (size_t k = 0; k < mine && k < kBulkStages; ++k) load(k);
  for (size_t k = 0; k < mine; ++k) {
    const int s = static_cast<int>(k % kBulkStages);
    const uint32_t parity = static_cast<uint32_t>((k / kBulkStages) & 1);
    const uint32_t bar = smem_address(&full[s]);
    uint32_t done = 0;
    while (!done) {
      asm volatile(
          "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
          : "=r"(done)
          : "r"(bar), "r"(parity)
          : "memory");
    }
    asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;" ::"l"(dst + chunk_of(k)),
                 "r"(smem_address(stage + s * kBulkChunk)), "r"(kBulkChunk)
                 : "memory");
    asm volatile("cp.async.bulk.commit_group;" ::: "memory");
    if (k + kBulkStages < mine) {
      asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
      load(k + kBulkStages);
    }
  }
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
}

}  // namespace

int main() {
  return bench::run_main([] {
    bench::ProbeDevice d = bench::probe_device();
    const int blocks = d.sms * kBlocksPerSm;
    const std::vector<size_t> sizes = {
        size_t{8} << 20,   size_t{16} << 20,  20000000,          size_t{32} << 20,  50000000,
        size_t{64} << 20,  100000000,         size_t{128} << 20, 200000000,         size_t{256} << 20,
        300000000,         size_t{384} << 20, size_t{512} << 20, 700000000,         size_t{1} << 30};
    const size_t largest = size_t{1} << 30;
    char *src = nullptr, *dst = nullptr;
    CUDA_CHECK(cudaMalloc(&src, largest + 64));
    CUDA_CHECK(cudaMalloc(&dst, largest + 64));
    CUDA_CHECK(cudaMemset(src, 1, largest + 64));
    CUDA_CHECK(cudaMemset(dst, 0, largest + 64));
    bench::warm_up_clocks(d.stream);
    std::printf("# Device-to-device copy rate by size (%s, %d blocks of %d threads for the kernels): TB/s read + "
                "write, median of %d graph replays\n\n",
                d.prop.name, blocks, kThreads, kReplays);
    CUDA_CHECK(cudaFuncSetAttribute(bulk_copy, cudaFuncAttributeMaxDynamicSharedMemorySize, kBulkSmem));
    const int bulk_blocks = d.sms * kBulkBlocksPerSm;
    // Checks the bulk copy once: a wrong copy is no rate.
    {
      const size_t check_bytes = 20000000;
      std::vector<unsigned char> host(check_bytes);
      for (size_t i = 0; i < check_bytes; ++i) host[i] = static_cast<unsigned char>(i * 7 + (i >> 12));
      CUDA_CHECK(cudaMemcpy(src, host.data(), check_bytes, cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemsetAsync(dst, 0, check_bytes, d.stream));
      bulk_copy<<<bulk_blocks, kThreads, kBulkSmem, d.stream>>>(src, dst, check_bytes);
      CUDA_CHECK_LAUNCH();
      std::vector<unsigned char> back(check_bytes);
      CUDA_CHECK(cudaStreamSynchronize(d.stream));
      CUDA_CHECK(cudaMemcpy(back.data(), dst, check_bytes, cudaMemcpyDeviceToHost));
      if (back != host) throw bench::Failure("bulk_copy copied wrong bytes");
    }
    std::printf("| source MB | memcpy | memcpy, source off by 1 byte | grid-stride | block chunks | grid-stride, "
                "evict-first | bulk (TMA) |\n|---|---|---|---|---|---|---|\n");
    for (size_t bytes : sizes) {
      const int calls = std::max(1, static_cast<int>(kReplayTargetUs * kNominalBytesPerUs / (2.0 * bytes)));
      auto tbps = [&](auto&& launch) {
        const float us = bench::median_graph_us(d.stream, calls, 2, kReplays, [&](int) { launch(); });
        return 2.0 * static_cast<double>(bytes) / (us * 1e6);
      };
      const size_t n = bytes / sizeof(int4);
      const double memcpy_rate =
          tbps([&] { CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, d.stream)); });
      const double misaligned_rate =
          tbps([&] { CUDA_CHECK(cudaMemcpyAsync(dst, src + 1, bytes, cudaMemcpyDeviceToDevice, d.stream)); });
      const double stride_rate = tbps([&] {
        grid_stride_copy<false><<<blocks, kThreads, 0, d.stream>>>(reinterpret_cast<const int4*>(src),
                                                                   reinterpret_cast<int4*>(dst), n);
        CUDA_CHECK_LAUNCH();
      });
      const double chunk_rate = tbps([&] {
        block_chunk_copy<<<blocks, kThreads, 0, d.stream>>>(reinterpret_cast<const int4*>(src),
                                                            reinterpret_cast<int4*>(dst), n);
        CUDA_CHECK_LAUNCH();
      });
      const double streaming_rate = tbps([&] {
        grid_stride_copy<true><<<blocks, kThreads, 0, d.stream>>>(reinterpret_cast<const int4*>(src),
                                                                  reinterpret_cast<int4*>(dst), n);
        CUDA_CHECK_LAUNCH();
      });
      const double bulk_rate = tbps([&] {
        bulk_copy<<<bulk_blocks, kThreads, kBulkSmem, d.stream>>>(src, dst, bytes);
        CUDA_CHECK_LAUNCH();
      });
      std::printf("| %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", bytes / 1e6, memcpy_rate, misaligned_rate,
                  stride_rate, chunk_rate, streaming_rate, bulk_rate);
    }
    CUDA_CHECK(cudaFree(src));
    CUDA_CHECK(cudaFree(dst));
    CUDA_CHECK(cudaStreamDestroy(d.stream));
    return 0;
  });
}
