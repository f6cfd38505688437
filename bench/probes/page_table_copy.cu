// Diagnosis probe (not the library): the page-table copy alone, in the builder's bandwidth layout (one
// block per (request, part), passes part, part + parts, ...), swept over occupancy (dynamic shared
// memory limits the blocks per SM), block target, streaming stores (__stcs) and passes in flight; and an
// ideal grid-stride kernel moving the same bytes with the same read:write ratio. Prints a Markdown table
// of in-graph us per call (bench/results/nvidia-h100-2026-11-26-streaming/experiments/H2-*.md).
//
//   nvcc -std=c++17 -arch=sm_90 -O3 -I include bench/probes/page_table_copy.cu -o page_table_copy && ./page_table_copy
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../bench_cuda.cuh"

constexpr int kT = 256;
constexpr int kCols = 4;
constexpr int kPassCols = kT * kCols;
constexpr int kPassPages = kT;

struct P {
  const int64_t* kv; const int64_t* rpi; const int32_t* first; const int32_t* rows;
  const int32_t* r2t; uint64_t r2t_stride;
  int bs, sets, width, ps, shift, parts;
  int32_t* pt1[4]; int32_t* rpt[4];
  uint64_t pt1_stride, rpt_stride;
};

struct Chunk { int4 cols; int32_t page; };

__device__ __forceinline__ Chunk load_chunk(const P& p, const int32_t* src, uint64_t pass, uint64_t live, uint64_t pages) {
  Chunk c;
  const uint64_t col = pass * kPassCols + threadIdx.x * kCols;
  const uint64_t page = pass * kPassPages + threadIdx.x;
  c.cols = make_int4(0, 0, 0, 0);
  if (col + kCols <= live) c.cols = *reinterpret_cast<const int4*>(src + col);
  else if (col < live) {
    c.cols.x = src[col]; c.cols.y = col + 1 < live ? src[col + 1] : 0;
    c.cols.z = col + 2 < live ? src[col + 2] : 0; c.cols.w = col + 3 < live ? src[col + 3] : 0;
  }
  c.page = page < pages ? (src[page * p.ps] >> p.shift) : 0;
  return c;
}

template <bool kCs>
__device__ __forceinline__ void store_chunk(const P& p, const Chunk& c, uint64_t pass, uint64_t live, uint64_t pages, uint64_t first, int rows) {
  const uint64_t col = pass * kPassCols + threadIdx.x * kCols;
  const uint64_t page = pass * kPassPages + threadIdx.x;
  for (int s = 0; s < p.sets; ++s) for (int j = 0; j < rows; ++j) {
    const uint64_t row = first + j;
    int32_t* d = p.pt1[s] + row * p.pt1_stride + col;
    if (col + kCols <= live) { if (kCs) __stcs(reinterpret_cast<int4*>(d), c.cols); else *reinterpret_cast<int4*>(d) = c.cols; }
    else if (col < live) { d[0] = c.cols.x; if (col + 1 < live) d[1] = c.cols.y; if (col + 2 < live) d[2] = c.cols.z; if (col + 3 < live) d[3] = c.cols.w; }
    if (page < pages) { int32_t* r = p.rpt[s] + row * p.rpt_stride + page; if (kCs) __stcs(r, c.page); else *r = c.page; }
  }
}

template <bool kCs, int kU>
__global__ void __launch_bounds__(kT, 8) layout_a(P p) {
  extern __shared__ int occupancy_limiter[];
  asm volatile("griddepcontrol.wait;" ::: "memory");
  const int b = blockIdx.x / p.parts, part = blockIdx.x % p.parts;
  const int64_t kv = p.kv[b];
  const int64_t pool = p.rpi[b];
  const int rows = p.rows[b];
  const uint64_t first = p.first[b];
  const uint64_t live = kv < 0 ? 0 : (kv > p.width ? uint64_t(p.width) : uint64_t(kv));
  const uint64_t pages = (live + p.ps - 1) / p.ps;
  const int32_t* src = p.r2t + pool * p.r2t_stride;
  for (uint64_t pass = part; pass * kPassCols < live || pass * kPassPages < pages; pass += uint64_t(p.parts) * kU) {
    Chunk c[kU];
#pragma unroll
    for (int u = 0; u < kU; ++u) c[u] = load_chunk(p, src, pass + uint64_t(u) * p.parts, live, pages);
#pragma unroll
    for (int u = 0; u < kU; ++u) store_chunk<kCs>(p, c[u], pass + uint64_t(u) * p.parts, live, pages, first, rows);
  }
}

// Same read:write ratio, perfectly balanced and contiguous: v = src[i], written to `pairs` regions.
__global__ void __launch_bounds__(kT) ideal(const int4* __restrict__ s, int4* __restrict__ d, size_t n, int pairs) {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  for (size_t i = blockIdx.x * size_t(kT) + threadIdx.x; i < n; i += size_t(gridDim.x) * kT) {
    const int4 v = s[i];
    for (int r = 0; r < pairs; ++r) d[r * n + i] = v;
  }
}

// us per call: the median of 25 replays (after 5) of a graph of 100 calls f(i % 8).
float graph_us(cudaStream_t st, const std::function<void(int)>& f) {
  return bench::median_graph_us(st, 100, 5, 25, [&](int i) { f(i % 8); });
}

template <class K, class... A>
void launch(K k, int grid, size_t smem, cudaStream_t st, A... args) {
  bench::launch_programmatic(k, grid, kT, smem, st, args...);
}

template <bool kCs, int kU>
void setup_smem() { CUDA_CHECK(cudaFuncSetAttribute(layout_a<kCs, kU>, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024)); }

int run() {
  int sms; CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  int smem_sm; CUDA_CHECK(cudaDeviceGetAttribute(&smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, 0));
  cudaStream_t st; CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  setup_smem<false, 1>(); setup_smem<true, 1>(); setup_smem<false, 2>(); setup_smem<true, 2>();
  std::mt19937_64 rng(11);
  std::printf("SMs %d, smem/SM %d\n", sms, smem_sm);
  enum M { kDecode, kTv, kDe, kExt };
  struct Case { const char* name; M mode; int bs, width, sets, e; };
  const Case cases[] = {{"tv-w8192-bs256", kTv, 256, 8192, 1, 0}, {"tv-w131072-bs64", kTv, 64, 131072, 1, 0},
                        {"tv-w1048576-bs4", kTv, 4, 1048576, 1, 0}, {"decode-w131072-bs64", kDecode, 64, 131072, 1, 0},
                        {"decode-w1048576-bs4", kDecode, 4, 1048576, 1, 0}, {"decode-w8192-bs256", kDecode, 256, 8192, 1, 0},
                        {"de-w8192-bs256", kDe, 256, 8192, 1, 0}, {"tv-w8192-bs64-x4", kTv, 64, 8192, 4, 0},
                        {"extend-w8192-bs32-e64", kExt, 32, 8192, 1, 64}, {"tv-w8192-bs64", kTv, 64, 8192, 1, 0}};
  struct Var { std::string name; bool cs; int u; int occ; int target; };
  std::vector<Var> vars;
  for (int occ : {8, 4, 2}) for (int target : {2048, 4096}) for (bool cs : {false, true}) for (int u : {1, 2})
    vars.push_back({"o" + std::to_string(occ) + "t" + std::to_string(target / 1024) + "k" + (cs ? "cs" : "") + (u == 2 ? "u2" : ""), cs, u, occ, target});
  std::printf("| case | live MB | ideal us (o8) | ideal GB/s |");
  for (auto& v : vars) std::printf(" %s |", v.name.c_str());
  std::printf(" best | best GB/s |\n|---|---|---|---|");
  for (size_t i = 0; i < vars.size() + 2; ++i) std::printf("---|");
  std::printf("\n");
  for (const Case& cs : cases) {
    const int bs = cs.bs, W = cs.width, ps = 64, N = 4;
    const int pool = bs * 8;
    int32_t* r2t; CUDA_CHECK(cudaMalloc(&r2t, size_t(pool) * W * 4));
    { std::vector<int32_t> h(size_t(pool) * W); for (size_t i = 0; i < h.size(); ++i) h[i] = int32_t(i & 0x3fffffff);
      CUDA_CHECK(cudaMemcpy(r2t, h.data(), h.size() * 4, cudaMemcpyHostToDevice)); }
    int64_t *kv[8], *rpi[8]; int32_t *first[8], *rows[8];
    double live_bytes = 0; int64_t max_rows_total = 0;
    for (int s = 0; s < 8; ++s) {
      std::vector<int64_t> k(bs), r(bs); std::vector<int32_t> f(bs), q(bs);
      int64_t acc = 0; double lb = 0;
      for (int i = 0; i < bs; ++i) {
        int64_t qo, kvv;
        switch (cs.mode) {
          case kDecode: qo = 1; kvv = 1 + rng() % W; break;
          case kTv: qo = N; kvv = 1 + rng() % (W - N) + N; break;
          case kDe: qo = rng() % (N + 1); kvv = std::max<int64_t>(1, qo) + rng() % (W - std::max<int64_t>(1, qo) + 1); break;
          default: qo = 1 + rng() % cs.e; kvv = qo + rng() % (W - qo + 1); break;
        }
        k[i] = kvv; q[i] = int32_t(qo); f[i] = int32_t(acc); acc += qo; r[i] = (i * 8 + s) % pool;
        const double lv = double(std::min<int64_t>(kvv, W));
        lb += lv * 4 + (lv * 4 + std::ceil(lv / ps) * 4) * qo * cs.sets;
      }
      if (s == 0) live_bytes = lb;
      max_rows_total = std::max(max_rows_total, acc);
      CUDA_CHECK(cudaMalloc(&kv[s], bs * 8)); CUDA_CHECK(cudaMalloc(&rpi[s], bs * 8)); CUDA_CHECK(cudaMalloc(&first[s], bs * 4)); CUDA_CHECK(cudaMalloc(&rows[s], bs * 4));
      CUDA_CHECK(cudaMemcpy(kv[s], k.data(), bs * 8, cudaMemcpyHostToDevice)); CUDA_CHECK(cudaMemcpy(rpi[s], r.data(), bs * 8, cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemcpy(first[s], f.data(), bs * 4, cudaMemcpyHostToDevice)); CUDA_CHECK(cudaMemcpy(rows[s], q.data(), bs * 4, cudaMemcpyHostToDevice));
    }
    P p{};
    p.r2t = r2t; p.r2t_stride = W; p.bs = bs; p.sets = cs.sets; p.width = W; p.ps = ps; p.shift = 6;
    const size_t trows = size_t(max_rows_total);
    p.pt1_stride = W; p.rpt_stride = W / ps;
    for (int s = 0; s < cs.sets; ++s) { CUDA_CHECK(cudaMalloc(&p.pt1[s], trows * W * 4)); CUDA_CHECK(cudaMalloc(&p.rpt[s], trows * (W / ps) * 4)); }
    const int passes = (W + kPassCols - 1) / kPassCols;
    auto with = [&](int s, int parts) { P q = p; q.kv = kv[s]; q.rpi = rpi[s]; q.first = first[s]; q.rows = rows[s]; q.parts = parts; return q; };
    // ideal: same total bytes, same read:write ratio
    const double pairs_avg = cs.mode == kTv ? N * cs.sets : cs.mode == kDecode ? 1 : cs.mode == kDe ? 2.0 : (cs.e + 1) / 2.0;
    const int pairs = std::max(1, int(std::lround(pairs_avg)));
    const size_t n = size_t(live_bytes / (1 + pairs) / 16);
    int4 *is, *id; CUDA_CHECK(cudaMalloc(&is, n * 16)); CUDA_CHECK(cudaMalloc(&id, n * 16 * pairs));
    const float ti = graph_us(st, [&](int) { launch(ideal, 8 * sms, 0, st, (const int4*)is, id, n, pairs); });
    std::printf("| %s | %.2f | %.2f | %.0f |", cs.name, live_bytes / 1e6, ti, n * 16.0 * (1 + pairs) / ti / 1e3);
    float best = 1e30f; std::string bestn;
    for (const Var& v : vars) {
      const int parts = std::max(1, std::min((v.target + bs - 1) / bs, passes));
      const size_t smem = v.occ >= 8 ? 0 : size_t(smem_sm / v.occ) - 1024 - 512;
      auto k = v.cs ? (v.u == 2 ? layout_a<true, 2> : layout_a<true, 1>) : (v.u == 2 ? layout_a<false, 2> : layout_a<false, 1>);
      int occ; CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k, kT, smem));
      const float t = graph_us(st, [&](int s) { launch(k, bs * parts, smem, st, with(s, parts)); });
      std::printf(" %.2f%s |", t, occ == v.occ ? "" : ("(occ" + std::to_string(occ) + ")").c_str());
      if (t < best) { best = t; bestn = v.name; }
    }
    std::printf(" %s %.2f | %.0f |\n", bestn.c_str(), best, live_bytes / best / 1e3);
    std::fflush(stdout);
    cudaFree(is); cudaFree(id); cudaFree(r2t);
    for (int s = 0; s < 8; ++s) { cudaFree(kv[s]); cudaFree(rpi[s]); cudaFree(first[s]); cudaFree(rows[s]); }
    for (int s = 0; s < cs.sets; ++s) { cudaFree(p.pt1[s]); cudaFree(p.rpt[s]); }
  }
  return 0;
}

int main() { return bench::run_main(run); }
