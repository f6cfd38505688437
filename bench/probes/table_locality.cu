// Diagnosis probe (not the library): why page-table copies far beyond L2 (tables of 0.5-4 GB)
// reach about 73% of a contiguous copy's bandwidth. The copy of one row per request (decode),
// contexts uniform in [1, W], in three orders of the same (request, pass) units:
//   parts:    the builder's bandwidth layout: a block per (request, part), passes part,
//             part + parts, ...: at any moment every resident block's request is being copied,
//             so the accesses are spread over hundreds of rows megabytes apart;
//   rotated:  the same, each request's passes starting at a request-dependent offset (tests
//             whether same-offset accesses of different rows collide in DRAM);
//   dense:    the builder's layout with as many parts as the widest row has passes, so each
//             block copies at most one pass and the blocks, dispatched in index order, walk the
//             requests one after another (passes past a row's live prefix exit at once);
//   streamed: a grid-stride loop over the units in request-major order (the unit list is made on
//             the host here), so the resident blocks work on a window of a few MB of one or two
//             rows at a time, as a contiguous copy does.
// And a contiguous copy of the same bytes. Prints a Markdown table of in-graph us per call.
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/table_locality.cu -o table_locality && ./table_locality
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../bench_cuda.cuh"

constexpr int kT = 256;
constexpr int kPassCols = kT * 4;
constexpr int kPageSize = 64;
constexpr int kPageShift = 6;

struct Params {
  const int64_t* kv;
  const int64_t* rpi;
  const int32_t* r2t;
  int32_t* pt1;
  int32_t* rpt;
  uint64_t width;
  int parts;
  int rotate;
  const int32_t* unit_req;
  const int32_t* unit_pass;
  int units;
};

// One pass of one request: 1024 columns of page_table_1 and 256 real_page_table entries.
__device__ __forceinline__ void copy_pass(const Params& p, int b, uint64_t pass, uint64_t live) {
  const int32_t* src = p.r2t + uint64_t(p.rpi[b]) * p.width;
  const uint64_t col = pass * kPassCols + threadIdx.x * 4;
  const uint64_t pages = (live + kPageSize - 1) / kPageSize;
  const uint64_t page = pass * kT + threadIdx.x;
  int4 v = make_int4(0, 0, 0, 0);
  const bool whole = col + 4 <= live;
  if (whole) v = *reinterpret_cast<const int4*>(src + col);
  const int32_t pv = page < pages ? src[page * kPageSize] >> kPageShift : 0;
  int32_t* dst = p.pt1 + uint64_t(b) * p.width + col;
  if (whole) {
    *reinterpret_cast<int4*>(dst) = v;
  } else {
    for (uint64_t c = col; c < live && c < col + 4; ++c) p.pt1[uint64_t(b) * p.width + c] = src[c];
  }
  if (page < pages) p.rpt[uint64_t(b) * (p.width / kPageSize) + page] = pv;
}

__device__ __forceinline__ uint64_t live_of(const Params& p, int b) {
  const int64_t kv = p.kv[b];
  return kv < 0 ? 0 : uint64_t(kv) < p.width ? uint64_t(kv) : p.width;
}

__global__ void __launch_bounds__(kT) parts_layout(Params p) {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  const int b = blockIdx.x / p.parts, part = blockIdx.x % p.parts;
  const uint64_t live = live_of(p, b);
  const uint64_t passes = (live + kPassCols - 1) / kPassCols;
  if (passes == 0) return;
  const uint64_t start = p.rotate ? (uint64_t(b) * 37) % passes : 0;
  for (uint64_t i = part; i < passes; i += p.parts) copy_pass(p, b, (i + start) % passes, live);
}

__global__ void __launch_bounds__(kT) streamed_layout(Params p) {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  for (int u = blockIdx.x; u < p.units; u += gridDim.x) {
    const int b = p.unit_req[u];
    copy_pass(p, b, uint64_t(p.unit_pass[u]), live_of(p, b));
  }
}

__global__ void __launch_bounds__(kT) contiguous(const int4* __restrict__ s, int4* __restrict__ d, size_t n) {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  for (size_t i = blockIdx.x * size_t(kT) + threadIdx.x; i < n; i += size_t(gridDim.x) * kT) d[i] = s[i];
}

// us per call: the median of 11 replays (after 1) of a graph of `calls` calls of f.
float graph_us(cudaStream_t st, int calls, const std::function<void()>& f) {
  return bench::median_graph_us(st, calls, 1, 11, [&](int) { f(); });
}

template <class K, class... A>
void launch(K k, int grid, cudaStream_t st, A... args) {
  bench::launch_programmatic(k, grid, kT, 0, st, args...);
}

int run() {
  int sms;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  cudaStream_t st;
  CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  std::mt19937_64 rng(7);
  struct Case {
    int bs;
    int width;
  };
  std::printf("| decode case | live MB | contiguous copy us | parts us | rotated us | dense us | streamed us | "
              "contiguous GB/s | parts GB/s | dense GB/s | streamed GB/s |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Case c : {Case{1024, 4096}, Case{256, 32768}, Case{64, 131072}, Case{1024, 32768}, Case{256, 131072}, Case{1024, 131072},
                       Case{64, 1048576}, Case{256, 1048576}}) {
    const int bs = c.bs;
    const uint64_t W = uint64_t(c.width);
    std::vector<int64_t> kv(bs), rpi(bs);
    std::vector<int32_t> ureq, upass;
    double live_bytes = 0;
    for (int b = 0; b < bs; ++b) {
      kv[b] = 1 + int64_t(rng() % W);
      rpi[b] = b;
      const uint64_t passes = (uint64_t(kv[b]) + kPassCols - 1) / kPassCols;
      for (uint64_t i = 0; i < passes; ++i) {
        ureq.push_back(b);
        upass.push_back(int32_t(i));
      }
      live_bytes += kv[b] * 8.0 + (kv[b] + kPageSize - 1) / kPageSize * 4.0;
    }
    std::shuffle(rpi.begin(), rpi.end(), rng);
    Params p{};
    int64_t *dkv, *drpi;
    int32_t *r2t, *pt1, *rpt, *dureq, *dupass;
    CUDA_CHECK(cudaMalloc(&dkv, bs * 8));
    CUDA_CHECK(cudaMalloc(&drpi, bs * 8));
    CUDA_CHECK(cudaMalloc(&r2t, bs * W * 4));
    CUDA_CHECK(cudaMalloc(&pt1, bs * W * 4));
    CUDA_CHECK(cudaMalloc(&rpt, bs * (W / kPageSize) * 4));
    CUDA_CHECK(cudaMalloc(&dureq, ureq.size() * 4));
    CUDA_CHECK(cudaMalloc(&dupass, upass.size() * 4));
    CUDA_CHECK(cudaMemset(r2t, 1, bs * W * 4));
    CUDA_CHECK(cudaMemcpy(dkv, kv.data(), bs * 8, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(drpi, rpi.data(), bs * 8, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dureq, ureq.data(), ureq.size() * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(dupass, upass.data(), upass.size() * 4, cudaMemcpyHostToDevice));
    p.kv = dkv;
    p.rpi = drpi;
    p.r2t = r2t;
    p.pt1 = pt1;
    p.rpt = rpt;
    p.width = W;
    p.unit_req = dureq;
    p.unit_pass = dupass;
    p.units = int(ureq.size());
    const int passes = int((W + kPassCols - 1) / kPassCols);
    p.parts = std::max(1, std::min((2048 + bs - 1) / bs, passes));
    const int calls = live_bytes > 2e8 ? 5 : 40;
    const size_t n = size_t(live_bytes / 2 / 16);
    const float t_copy = graph_us(st, calls, [&] { launch(contiguous, 8 * sms, st, (const int4*)r2t, (int4*)pt1, n); });
    Params q = p;
    const float t_parts = graph_us(st, calls, [&] { launch(parts_layout, bs * p.parts, st, q); });
    Params r = p;
    r.rotate = 1;
    const float t_rot = graph_us(st, calls, [&] { launch(parts_layout, bs * p.parts, st, r); });
    Params dn = p;
    dn.parts = passes;
    const float t_dense = graph_us(st, calls, [&] { launch(parts_layout, bs * passes, st, dn); });
    const float t_str = graph_us(st, calls, [&] { launch(streamed_layout, 8 * sms, st, p); });
    std::printf("| bs %d, W %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", bs,
                c.width, live_bytes / 1e6, t_copy, t_parts, t_rot, t_dense, t_str, live_bytes / t_copy / 1e3,
                live_bytes / t_parts / 1e3, live_bytes / t_dense / 1e3, live_bytes / t_str / 1e3);
    std::fflush(stdout);
    for (void* ptr : {(void*)dkv, (void*)drpi, (void*)r2t, (void*)pt1, (void*)rpt, (void*)dureq, (void*)dupass})
      CUDA_CHECK(cudaFree(ptr));
  }
  return 0;
}

int main() { return bench::run_main(run); }
