// CUDA backend of the ragged expansion: one launch, no workspace, no host sync.
//
// Work split. The grid covers the capacity in tiles of kRowsPerBlock rows;
// each thread owns kRowsPerThread consecutive rows and writes them with one
// 16-byte store per output. Block 0 also owns the per-request outputs
// (cu_seqlens_q) and the scalars (num_rows, status), so every output has a
// single writer and `status` needs no global atomics or reset pass.
//
// Algorithm by size:
// - Uniform qo (decode, target_verify, draft_extend_static): row r belongs to
//   request r / qo. No scan.
// - Per-request qo (draft_extend, extend): every block runs the exclusive
//   prefix sum of qo itself with cub::BlockScan, over one request per thread
//   for batches of up to 256 (straight from memory) or four per thread
//   beyond (a chunk of 1024, loaded coalesced and transposed through shared
//   memory), then writes the rows of each request that fall in its tile into
//   shared memory, from where the row owners store them.
// - A capacity of up to kRowsPerBlock rows is one block. Beyond that, blocks
//   repeat the scan (bs lengths are a few KB, served from L2) instead of
//   exchanging partial sums, which would need a second launch or a workspace
//   that every CUDA-graph replay must reset first.
// - Batches over 1024 requests stream through the scan chunk by chunk,
//   carrying the running total; a block stops once its rows are placed. That
//   costs O(bs) per block: the price of a launch with no inter-block
//   communication, small at serving batch sizes.
//
// These kernels are latency-bound (a few microseconds, one memory round
// trip), so the code favours a short instruction path over unrolled width:
// every executed instruction must be fetched, and a kernel of a CUDA graph
// often starts on a multiprocessor whose instruction cache is cold.
#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>
#include <cstdint>
#include <string>

#include "../common/load.h"
#include "../common/row_math.h"
#include "specmeta/expand.h"

namespace specmeta {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerThread = 4;  // one int4 store per output
constexpr int kRowsPerBlock = kThreads * kRowsPerThread;
// Requests per thread of the scan: one for batches of up to kThreads
// requests (loaded straight into registers), else four (a chunk of
// kThreads * kWideItems requests, staged through shared memory).
constexpr int kNarrowItems = 1;
constexpr int kWideItems = 4;

// Sizes are validated to be at most INT32_MAX on the host, so rows and
// requests are indexed in 32 bits: a row index stays below
// capacity + kRowsPerBlock < 2^32. Half the instructions of 64-bit indexing,
// which matters in a kernel this short.
struct KernelParams {
  const void* kv_lens;
  const void* qo_lens;
  uint32_t bs;
  uint32_t qo_uniform;
  uint32_t max_qo;
  uint32_t capacity;
  int32_t* seqlens_expanded;
  int32_t* cu_seqlens_q;
  int32_t* row_to_req;
  int32_t* num_rows;
  int32_t* status;
};

// Writes one thread's kRowsPerThread rows; 16-byte store when the buffer is
// aligned for it (a sliced output may not be) and the rows are all in range.
__device__ __forceinline__ void store_rows(int32_t* dst, uint32_t row0, const int32_t (&v)[kRowsPerThread],
                                           uint32_t capacity) {
  if (dst == nullptr) return;
  if (row0 + kRowsPerThread <= capacity && (reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
    *reinterpret_cast<int4*>(dst + row0) = make_int4(v[0], v[1], v[2], v[3]);
    return;
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    if (row0 + k < capacity) dst[row0 + k] = v[k];
  }
}

__device__ __forceinline__ uint32_t first_row_of_thread() {
  return blockIdx.x * kRowsPerBlock + threadIdx.x * kRowsPerThread;
}

// Each warp's OR of `value`, into warp_or[warp]: one writer per slot, so the
// slots need no initialisation; a later barrier makes them visible.
__device__ __forceinline__ void publish_warp_or(int32_t value, int32_t* warp_or) {
  value = static_cast<int32_t>(__reduce_or_sync(0xffffffffu, static_cast<unsigned>(value)));
  if (threadIdx.x % 32 == 0) warp_or[threadIdx.x / 32] = value;
}

__device__ __forceinline__ int32_t gather_warp_or(const int32_t* warp_or) {
  int32_t result = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) result |= warp_or[w];
  return result;
}

// Block 0's last step, by its thread 0: the scalars, from the total
// (saturated at UINT32_MAX) and the faults of the whole batch.
__device__ __forceinline__ void write_scalars(const KernelParams& p, uint32_t total, int32_t faults) {
  const int32_t total32 = detail::saturate_int32(total, faults);
  if (total > p.capacity) faults |= kCapacityExceeded;
  if (p.cu_seqlens_q) p.cu_seqlens_q[p.bs] = total32;
  if (p.num_rows) *p.num_rows = static_cast<int32_t>(min(total, p.capacity));
  if (p.status) *p.status = faults;
}

// Programmatic dependent launch (sm_90). Kernels are launched with the
// programmatic-stream-serialization attribute, so a kernel's launch and
// block scheduling overlap the end of the kernel before it in the stream.
// Each kernel first lets the next one launch early, then waits until the
// previous grid has completed and its memory is visible, before it reads
// any input: stream order is kept, only the launch latency is hidden. On a
// launch without the attribute both instructions do nothing.
__device__ __forceinline__ void enter_after_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Every global load of a kernel is issued before its first store: the
// compiler may not move a load past a store to an output that could alias
// the input, and each load waited for costs a full memory round trip.
template <class KvT>
__global__ void __launch_bounds__(kThreads) expand_uniform_kernel(KernelParams p) {
  enter_after_prior_grid();
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const uint32_t qo = p.qo_uniform;
  const uint32_t total = p.bs * qo;  // validated <= capacity on the host
  const uint32_t row0 = first_row_of_thread();
  uint32_t b = qo > 0 ? row0 / qo : 0;
  uint32_t j = row0 - b * qo;
  int64_t kv[kRowsPerThread];
  uint32_t req[kRowsPerThread];
  uint32_t col[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    req[k] = b;
    col[k] = j;
    kv[k] = row0 + k < total ? static_cast<int64_t>(kv_lens[b]) : 0;
    if (++j == qo) {
      j = 0;
      ++b;
    }
  }
  // Block 0 checks every request: one load per thread for small batches (the
  // short path matters most there), else kRequestLoads loads per thread in
  // flight at once, so batches up to kRequestLoads * kThreads take one round
  // trip. Unrolling further costs more in instruction fetch than it saves.
  constexpr int kRequestLoads = 4;
  int32_t faults = 0;
  if (blockIdx.x == 0 && p.bs <= kThreads) {
    if (threadIdx.x < p.bs) faults = detail::request_faults(kv_lens[threadIdx.x], qo);
  } else if (blockIdx.x == 0) {
    for (uint32_t base = threadIdx.x; base < p.bs; base += kRequestLoads * kThreads) {
      int64_t request_kv[kRequestLoads];
#pragma unroll
      for (int i = 0; i < kRequestLoads; ++i) {
        const uint32_t r = base + i * kThreads;
        request_kv[i] = r < p.bs ? static_cast<int64_t>(kv_lens[r]) : qo;
      }
#pragma unroll
      for (int i = 0; i < kRequestLoads; ++i) faults |= detail::request_faults(request_kv[i], qo);
    }
  }

  int32_t len[kRowsPerThread];
  int32_t owner[kRowsPerThread];
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) {
    const bool live = row0 + k < total;
    len[k] = live ? detail::expanded_len(kv[k], qo, col[k]) : 0;
    owner[k] = live ? static_cast<int32_t>(req[k]) : -1;
  }
  store_rows(p.seqlens_expanded, row0, len, p.capacity);
  store_rows(p.row_to_req, row0, owner, p.capacity);
  if (blockIdx.x != 0) return;
  if (p.cu_seqlens_q) {
    for (uint32_t r = threadIdx.x; r < p.bs; r += kThreads) p.cu_seqlens_q[r] = static_cast<int32_t>(r * qo);
  }
  __shared__ int32_t warp_faults[kThreads / 32];
  publish_warp_or(faults, warp_faults);
  __syncthreads();
  if (threadIdx.x == 0) write_scalars(p, total, gather_warp_or(warp_faults));
}

// Unsigned addition that sticks at UINT32_MAX. For non-negative operands it is
// associative (it equals min(a + b + ..., UINT32_MAX)), so a scan with it gives
// every prefix sum exactly up to INT32_MAX and a value above INT32_MAX for any
// larger one: all that cu_seqlens_q (saturated), the row lookup (rows are
// below capacity <= INT32_MAX) and the overflow bit need, at half the shuffle
// traffic of an int64 scan.
struct SaturatingAdd {
  __device__ __forceinline__ uint32_t operator()(uint32_t a, uint32_t b) const { return a + min(b, ~a); }
};

// Reads one thread's kRowsPerThread rows of a tile array in shared memory:
// rows below `live_end` come from the array, the rest are `tail`.
__device__ __forceinline__ void read_tile_rows(const int32_t* tile, uint32_t local0, uint32_t row0, uint32_t live_end,
                                               int32_t tail, int32_t (&v)[kRowsPerThread]) {
  if (row0 + kRowsPerThread <= live_end) {
    const int4 q = *reinterpret_cast<const int4*>(tile + local0);
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
    return;
  }
#pragma unroll
  for (int k = 0; k < kRowsPerThread; ++k) v[k] = row0 + k < live_end ? tile[local0 + k] : tail;
}

// Loads one chunk of requests into the blocked arrangement the scan takes:
// thread t holds requests kItems * t ... of the chunk, as checked qo and the
// length of each one's first row, clipped to int32 (row_math.h).
template <int kItems, class KvT, class QoT>
__device__ __forceinline__ void load_chunk(const KvT* kv_lens, const QoT* qo_lens, uint32_t chunk_begin,
                                           uint32_t chunk_size, uint32_t max_qo, int32_t& faults,
                                           uint32_t (&qo)[kItems], int32_t (&first_len)[kItems]) {
  if constexpr (kItems == 1) {
    // One request per thread: striped and blocked coincide, straight from memory.
    const bool valid = threadIdx.x < chunk_size;
    const int64_t raw_qo = valid ? static_cast<int64_t>(qo_lens[chunk_begin + threadIdx.x]) : 0;
    const int64_t kv = valid ? static_cast<int64_t>(kv_lens[chunk_begin + threadIdx.x]) : 0;
    qo[0] = static_cast<uint32_t>(detail::checked_qo(raw_qo, max_qo, faults));
    if (valid) faults |= detail::request_faults(kv, qo[0]);
    first_len[0] = detail::clipped_first_len(kv, qo[0]);
  } else {
    // Coalesced (striped) loads, all in flight together, then a transpose
    // through shared memory, read back with one 16-byte access per array.
    static_assert(kItems == 4, "the transpose reads one int4 per thread");
    __shared__ __align__(16) uint32_t staged_qo[kThreads * kItems];
    __shared__ __align__(16) int32_t staged_first_len[kThreads * kItems];
    QoT raw_qo[kItems];
    KvT raw_kv[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t local = threadIdx.x + i * kThreads;
      raw_qo[i] = local < chunk_size ? qo_lens[chunk_begin + local] : QoT{0};
      raw_kv[i] = local < chunk_size ? kv_lens[chunk_begin + local] : KvT{0};
    }
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const uint32_t local = threadIdx.x + i * kThreads;
      const bool valid = local < chunk_size;
      const uint32_t checked = valid ? static_cast<uint32_t>(detail::checked_qo(raw_qo[i], max_qo, faults)) : 0u;
      if (valid) faults |= detail::request_faults(raw_kv[i], checked);
      staged_qo[local] = checked;
      staged_first_len[local] = detail::clipped_first_len(raw_kv[i], checked);
    }
    __syncthreads();
    const uint4 q4 = reinterpret_cast<const uint4*>(staged_qo)[threadIdx.x];
    const int4 f4 = reinterpret_cast<const int4*>(staged_first_len)[threadIdx.x];
    qo[0] = q4.x;
    qo[1] = q4.y;
    qo[2] = q4.z;
    qo[3] = q4.w;
    first_len[0] = f4.x;
    first_len[1] = f4.y;
    first_len[2] = f4.z;
    first_len[3] = f4.w;
  }
}

template <class KvT, class QoT, int kItems>
__global__ void __launch_bounds__(kThreads) expand_ragged_kernel(KernelParams p) {
  enter_after_prior_grid();
  using BlockScan = cub::BlockScan<uint32_t, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
  constexpr uint32_t kChunk = kThreads * kItems;
  __shared__ typename BlockScan::TempStorage scan_storage;
  // This block's rows. The thread that holds a request after the scan writes
  // that request's rows here (no search: a binary search over shared memory
  // costs a bank-conflicted round trip per step); the thread that owns the
  // rows then reads them back with one 16-byte access per array.
  __shared__ __align__(16) int32_t tile_len[kRowsPerBlock];
  __shared__ __align__(16) int32_t tile_req[kRowsPerBlock];
  // Per-warp fault bits of block 0, published before the final barrier.
  __shared__ int32_t warp_faults[kThreads / 32];
  const KvT* kv_lens = static_cast<const KvT*>(p.kv_lens);
  const QoT* qo_lens = static_cast<const QoT*>(p.qo_lens);
  const bool owns_requests = blockIdx.x == 0;
  const uint32_t tile_begin = blockIdx.x * kRowsPerBlock;
  const uint32_t tile_end = min(tile_begin + kRowsPerBlock, p.capacity);

  int32_t faults = 0;
  uint32_t carry = 0;  // rows of the chunks before this one, saturated
  for (uint32_t chunk_begin = 0; chunk_begin < p.bs; chunk_begin += kChunk) {
    uint32_t qo[kItems];
    int32_t first_len[kItems];
    load_chunk<kItems>(kv_lens, qo_lens, chunk_begin, min(p.bs - chunk_begin, kChunk), p.max_qo, faults, qo,
                       first_len);
    const SaturatingAdd add;
    uint32_t start;
    uint32_t chunk_rows;
    uint32_t thread_rows = 0;
#pragma unroll
    for (int i = 0; i < kItems; ++i) thread_rows = add(thread_rows, qo[i]);
    BlockScan(scan_storage).ExclusiveScan(thread_rows, start, carry, add, chunk_rows);
    const uint32_t first = chunk_begin + threadIdx.x * kItems;
    uint32_t item_start[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      if (owns_requests && p.cu_seqlens_q && first + i < p.bs) {
        p.cu_seqlens_q[first + i] = detail::saturate_int32(start, faults);
      }
      item_start[i] = start;
      start = add(start, qo[i]);
    }
    // The thread's requests own one contiguous run of rows: one loop over the
    // part of it in this tile, the request of each row picked by comparisons
    // (the last request starting at or before it; empty ones are skipped so).
    for (uint32_t row = max(item_start[0], tile_begin); row < min(start, tile_end); ++row) {
      int32_t row_first_len = first_len[0];
      uint32_t row_start = item_start[0];
      uint32_t request = first;
#pragma unroll
      for (int i = 1; i < kItems; ++i) {
        if (row >= item_start[i]) {
          row_first_len = first_len[i];
          row_start = item_start[i];
          request = first + i;
        }
      }
      tile_len[row - tile_begin] = detail::row_len(row_first_len, row - row_start);
      tile_req[row - tile_begin] = static_cast<int32_t>(request);
    }
    carry = add(carry, chunk_rows);
    if (owns_requests) publish_warp_or(faults, warp_faults);
    if (p.bs - chunk_begin <= kChunk) break;          // last chunk
    if (!owns_requests && carry >= tile_end) break;  // block-uniform: every row of the tile is placed
    __syncthreads();                                  // the next chunk reuses the shared arrays
  }
  __syncthreads();  // tile rows and fault bits complete

  const uint32_t row0 = first_row_of_thread();
  const uint32_t local0 = threadIdx.x * kRowsPerThread;
  const uint32_t live_end = min(carry, tile_end);
  int32_t len[kRowsPerThread];
  int32_t req[kRowsPerThread];
  read_tile_rows(tile_len, local0, row0, live_end, 0, len);
  read_tile_rows(tile_req, local0, row0, live_end, -1, req);
  store_rows(p.seqlens_expanded, row0, len, p.capacity);
  store_rows(p.row_to_req, row0, req, p.capacity);
  // No batch, no faults (and no published bits to read).
  if (owns_requests && threadIdx.x == 0) write_scalars(p, carry, p.bs > 0 ? gather_warp_or(warp_faults) : 0);
}

bool any_output(const ExpandOutputs& o) {
  return o.seqlens_expanded.data || o.cu_seqlens_q.data || o.row_to_req.data || o.num_rows.data || o.status.data;
}

// Launches `kernel` with programmatic stream serialization (see
// enter_after_prior_grid).
void launch_overlapped(void (*kernel)(KernelParams), const KernelParams& p, unsigned grid, cudaStream_t stream) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(kThreads);
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  cudaLaunchKernelEx(&config, kernel, p);  // errors are read by cudaGetLastError in expand_cuda
}

template <class KvT>
void launch_uniform(const KernelParams& p, unsigned grid, cudaStream_t stream) {
  launch_overlapped(expand_uniform_kernel<KvT>, p, grid, stream);
}

template <class KvT, class QoT>
void launch_ragged(const KernelParams& p, unsigned grid, cudaStream_t stream) {
  if (p.bs <= kNarrowItems * kThreads) {
    launch_overlapped(expand_ragged_kernel<KvT, QoT, kNarrowItems>, p, grid, stream);
  } else {
    launch_overlapped(expand_ragged_kernel<KvT, QoT, kWideItems>, p, grid, stream);
  }
}

template <class KvT>
void launch(const ExpandArgs& a, const KernelParams& p, unsigned grid, cudaStream_t stream) {
  if (a.uniform_qo()) {
    launch_uniform<KvT>(p, grid, stream);
  } else if (a.qo_lens.type == IntType::kInt64) {
    launch_ragged<KvT, int64_t>(p, grid, stream);
  } else {
    launch_ragged<KvT, int32_t>(p, grid, stream);
  }
}

}  // namespace

Status expand_cuda(const ExpandArgs& a, cudaStream_t stream) {
  if (Status s = validate(a); !s.ok()) return s;
  if (!any_output(a.out)) return {};
  const KernelParams p{a.kv_lens.data,
                       a.qo_lens.data,
                       static_cast<uint32_t>(a.bs),
                       static_cast<uint32_t>(a.qo_uniform),
                       static_cast<uint32_t>(a.max_qo),
                       static_cast<uint32_t>(a.capacity),
                       a.out.seqlens_expanded.data,
                       a.out.cu_seqlens_q.data,
                       a.out.row_to_req.data,
                       a.out.num_rows.data,
                       a.out.status.data};
  // At least one block: block 0 writes cu_seqlens_q, num_rows and status.
  const int64_t tiles = (a.capacity + kRowsPerBlock - 1) / kRowsPerBlock;
  const unsigned grid = static_cast<unsigned>(tiles > 0 ? tiles : 1);
  if (a.kv_lens.type == IntType::kInt64) {
    launch<int64_t>(a, p, grid, stream);
  } else {
    launch<int32_t>(a, p, grid, stream);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status::cuda_error(std::string("expand_cuda: kernel launch failed: ") + cudaGetErrorString(err));
  }
  return {};
}

bool cuda_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

Status use_cuda_device(int device) {
  int current = -1;
  cudaError_t err = cudaGetDevice(&current);
  if (err == cudaSuccess && current != device) err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    cudaGetLastError();  // consumed here, so the next launch check does not report it
    return Status::cuda_error("cannot use CUDA device " + std::to_string(device) + ": " + cudaGetErrorString(err));
  }
  return {};
}

}  // namespace specmeta
