// Device time of build_metadata_cuda with every SPEC output wanted (page tables
// included), inside CUDA graphs, next to the bytes each call must move and the
// device's own copy bandwidth, all measured in one process.
//
//   per call: one graph holds `--calls` builder calls (default 100), call i on
//     input set i % kInputSets; the graph is replayed `--replays` times (after
//     warm-up), each replay between two CUDA events. Per-call time = replay
//     time / calls; the table gives the median and the minimum over replays.
//   live bytes per call: computed on the host from the generated lengths,
//     averaged over the calls of the graph (so over the rotating sets as the
//     graph uses them). Counted once each:
//       read:    seq_lens, req_pool_indices (int64), accept/extend lengths
//                (int32), and req_to_token[req_pool_indices[b], 0:min(kv_b, W)]
//                for every request with at least one row;
//       written: per destination set, every element SPEC section 4 says a call
//                writes: cache_seqlens, cu_seqlens_k, cu_seqlens_q (per
//                request), seqlens_expanded, sparse_seqlens,
//                sparse_cu_seqlens_k, row_to_req (the whole capacity),
//                num_rows, status, and the live prefix of each live page-table
//                row: min(kv_b, W) columns of page_table_1 and
//                ceil(min(kv_b, W) / ps) of real_page_table.
//     A kernel that rounds page-table rows up to a tile moves more than this.
//   copy bandwidth: cudaMemcpyAsync device-to-device of kCopyBytes inside a
//     graph, median; read + write bytes over time. Each case's "% of copy BW"
//     is its live bytes per second over that. The table also gives what one
//     graph-captured device-to-device copy of the case's own volume (half read,
//     half written) costs per call, replayed the same way.
//   floors: an empty kernel, plain and with programmatic dependent launch (as
//     the library's kernels launch), per call in a graph of `--calls`.
//
// Inputs: seq_lens and req_pool_indices int64, accept/extend lengths int32.
// Contexts are uniform in [1, W] (target_verify: seq_b uniform in [1, W - N],
// so kv_b = seq_b + N <= W), accept lengths uniform in [0, N] (seq_b >= accept),
// extend lengths uniform in [1, E] (seq_b >= extend length). Each request's
// req_to_token row is a distinct random row of a pool of bs * kInputSets rows
// (bs * --pool-rows=K with it) filled with page-structured slot ids (page id *
// ps + offset, random page ids), so real_page_table values are the page ids.
// --pool-rows=1 gives every set the same bs rows (as bench/bench_suite.py's
// cells do): a pool small enough then stays in L2 from call to call, where a
// server's, read once per forward pass, would not.
//
// Every case is checked twice against a host computation: once on input set 0
// after poisoning every output, and again after timing against the set of the
// graph's last call. All per-request and per-row outputs and the scalars are
// compared in full; page tables over the live prefix of every live row of
// every destination set. A mismatch aborts before any number is printed.
// --no-verify skips both checks (the JSON then says "verified": false): for
// diagnostic kernel variants (bench/ab_variants.py) that leave outputs
// unwritten on purpose, e.g. one block role switched off to see which role
// sets a call's time.
//
//   specmeta_bench_metadata [--json=PATH] [--filter=SUBSTR] [--calls=100]
//                           [--replays=200] [--seed=N] [--large] [--cases=ID,...]
//                           [--bound] [--suite-lengths] [--no-verify]
//                           [--busy-streams=N] [--hold-cycles=N] [--pool-rows=K]
// (--help lists the case ids; --filter=ID runs that case alone, any other
// value the cases whose id contains it. --large runs the large-table cases
// instead: every mode's tables of 9 MB to 0.6 GB of live bytes, the shapes
// the page-table layout of large tables is chosen on. --cases=ID,... runs
// the cases those ids name instead, listed or not (case_from_id says the
// form). --busy-streams=N first runs a kernel on each of N streams of its
// own, kept to the end: a server's process runs kernels on several streams
// (its default stream, its graph capture stream, NCCL's), and after four such
// streams every small graph node takes longer on an H100, about 0.2 us for
// the builder's small calls (bench/probes/stream_state.cu). The suite
// measures in that state.
// --suite-lengths draws the lengths as bench/bench_suite.py's metadata cells
// do (draw_suite_lengths) instead of the above, so that with --pool-rows=4
// a case's inputs are distributed as the suite's cell of that shape.
// --bound also times, on each case's inputs, lean copies of the same
// page-table bytes (planned_copy.cuh): one planned on the host, which bounds
// what the builder's copy could take, and the builder's own layout with a
// block's passes all in flight; it prints the builder's time over the bound,
// the JSON every shape's time.
// --hold-cycles=N queues a kernel spinning N clocks before each timed replay,
// so the start event is not recorded on an idle GPU while the host still
// launches the graph; the suite times its replays so, with 100000.)
#include <cuda_runtime.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "bench_cuda.cuh"
#include "planned_copy.cuh"
#include "specmeta/metadata.h"

namespace {

using specmeta::Mode;

constexpr int kInputSets = 8;
constexpr int kWarmupReplays = 10;
constexpr int64_t kTopk = 2048;
constexpr int64_t kKpool = 1;
constexpr int64_t kCopyBytes = int64_t{512} << 20;  // the bandwidth probe (>= 256 MB)
constexpr int kCopiesPerGraph = 4;
constexpr int kCopyReplays = 30;

// ---------------------------------------------------------------------------
// req_to_token contents: a pure function of (pool row, column), so the host
// can check any element without a copy of the table.

__host__ __device__ inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 31)) * 0xD6E8FEB86659FD93ull;
  x = (x ^ (x >> 29)) * 0xA0761D6478BD642Full;
  return x ^ (x >> 32);
}

// Slot id of token `col` of pool row `row`: a random page id (such that every
// slot of the page fits int32) times ps, plus the offset in the page.
__host__ __device__ inline int32_t slot_of(int64_t row, int64_t col, int64_t width, int64_t ps) {
  const int64_t pages_per_row = (width + ps - 1) / ps;
  const int64_t page_ids = INT32_MAX / ps;
  const uint64_t h = mix64(static_cast<uint64_t>(row * pages_per_row + col / ps));
  return static_cast<int32_t>(static_cast<int64_t>(h % static_cast<uint64_t>(page_ids)) * ps + col % ps);
}

__global__ void fill_req_to_token(int32_t* table, int64_t rows, int64_t width, int64_t ps) {
  const int64_t n = rows * width;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    table[i] = slot_of(i / width, i % width, width, ps);
  }
}

// ---------------------------------------------------------------------------
// Floors: bench_cuda.cuh's empty kernels.

using bench::empty_kernel;
using bench::launch_empty_pdl;
using bench::status_check;
using bench::warm_up_clocks;

// ---------------------------------------------------------------------------
// Timing.

struct Timing {
  double median_us = 0;  // per call
  double min_us = 0;     // per call
};

// Captures `calls` invocations of launch(i) (each enqueues one call on
// `stream`) into one graph, replays it, and returns per-call times.
Timing time_graph(cudaStream_t stream, int calls, int replays, long long hold_cycles,
                  const std::function<void(int)>& launch) {
  cudaGraphExec_t exec = bench::capture_graph(stream, calls, launch);
  CUDA_CHECK(cudaGraphUpload(exec, stream));
  std::vector<double> per_call;
  per_call.reserve(replays);
  for (float ms : bench::replay_ms(stream, exec, kWarmupReplays, replays, hold_cycles)) {
    per_call.push_back(ms * 1000.0 / calls);
  }
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  std::sort(per_call.begin(), per_call.end());
  return Timing{per_call[per_call.size() / 2], per_call.front()};
}

// One graph-captured device-to-device copy of `bytes`, per call.
Timing time_copy(cudaStream_t stream, int64_t bytes, int calls, int replays, long long hold_cycles) {
  void* src = nullptr;
  void* dst = nullptr;
  const size_t n = static_cast<size_t>(std::max<int64_t>(bytes, 4));
  CUDA_CHECK(cudaMalloc(&src, n));
  CUDA_CHECK(cudaMalloc(&dst, n));
  CUDA_CHECK(cudaMemset(src, 1, n));
  CUDA_CHECK(cudaMemset(dst, 0, n));
  const Timing t = time_graph(stream, calls, replays, hold_cycles, [&](int) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream));
  });
  CUDA_CHECK(cudaFree(src));
  CUDA_CHECK(cudaFree(dst));
  return t;
}

// ---------------------------------------------------------------------------
// Cases.

struct CaseSpec {
  std::string id;       // for --filter and the JSON
  Mode mode;
  int64_t bs;
  int64_t width;        // W' = W = req_to_token columns
  int64_t page_size;
  int64_t n;            // num_draft_tokens (target_verify, draft_extend)
  int64_t extend_max;   // E (extend only)
  int dest_sets;
  double sglang_us;     // SGLang's fused Triton kernel, same shape; < 0: none
  std::string target;   // a goal to print, if any
};

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kDecode: return "decode";
    case Mode::kTargetVerify: return "target_verify";
    case Mode::kDraftExtend: return "draft_extend";
    case Mode::kDraftExtendStatic: return "draft_extend_static";
    case Mode::kExtend: return "extend";
  }
  return "?";
}

// N of every case but the large-table ones that name theirs ("-nN").
constexpr int64_t kDefaultN = 4;

// A case's id: mode, W and bs; extend's E; N where the case names it
// (named_n > 0); the destination sets beyond one.
std::string case_id(Mode mode, int64_t bs, int64_t width, int64_t named_n, int64_t extend_max, int sets) {
  std::string id = std::string(mode_name(mode)) + "-w" + std::to_string(width) + "-bs" + std::to_string(bs);
  if (mode == Mode::kExtend) id += "-e" + std::to_string(extend_max);
  if (named_n > 0) id += "-n" + std::to_string(named_n);
  if (sets > 1) id += "-x" + std::to_string(sets);
  return id;
}

std::vector<CaseSpec> all_cases() {
  std::vector<CaseSpec> cases;
  auto add = [&](Mode mode, int64_t bs, int64_t width, int sets, double sglang, std::string target,
                 int64_t extend_max = 0) {
    cases.push_back({case_id(mode, bs, width, 0, extend_max, sets), mode, bs, width, 64, kDefaultN, extend_max, sets,
                     sglang, std::move(target)});
  };
  const double none = -1;
  add(Mode::kTargetVerify, 1, 8192, 1, 1.8, "");
  add(Mode::kTargetVerify, 16, 8192, 1, 4.2, "");
  add(Mode::kTargetVerify, 64, 8192, 1, 8.0, "");
  add(Mode::kTargetVerify, 256, 8192, 1, 14.7, "");
  add(Mode::kTargetVerify, 64, 131072, 1, 40.4, "");
  add(Mode::kDraftExtend, 64, 8192, 1, none, "");
  add(Mode::kDraftExtend, 256, 8192, 1, none, "< 10 us");
  add(Mode::kDecode, 16, 8192, 1, none, "");
  add(Mode::kDecode, 256, 8192, 1, none, "");
  add(Mode::kDecode, 64, 131072, 1, none, "");
  add(Mode::kExtend, 4, 8192, 1, none, "", 256);
  add(Mode::kExtend, 32, 8192, 1, none, "", 64);
  add(Mode::kTargetVerify, 4, 1048576, 1, none, "");
  add(Mode::kDecode, 4, 1048576, 1, none, "");
  add(Mode::kTargetVerify, 64, 8192, 4, none, "");
  add(Mode::kDecode, 64, 8192, 4, none, "");
  // Tables far beyond L2 (the page-table copy bound by DRAM; docs/perf-notes.md).
  add(Mode::kDecode, 256, 131072, 1, none, "");
  add(Mode::kDraftExtend, 256, 131072, 1, none, "");
  // Small calls whose rows vary per request (under 1 MB of live bytes).
  add(Mode::kDraftExtend, 1, 32768, 1, none, "");
  add(Mode::kDraftExtend, 16, 4096, 1, none, "");
  add(Mode::kExtend, 1, 32768, 1, none, "", 4);
  add(Mode::kExtend, 16, 4096, 1, none, "", 4);
  // Small calls of uniform qo (under 2 MB), most of them in the row-group
  // layout: N 8 names its N.
  auto add_n = [&](Mode mode, int64_t bs, int64_t width, int64_t n) {
    cases.push_back({case_id(mode, bs, width, n, 0, 1), mode, bs, width, 64, n, 0, 1, none, ""});
  };
  add(Mode::kDecode, 16, 4096, 1, none, "");
  add(Mode::kTargetVerify, 16, 4096, 1, none, "");
  add_n(Mode::kTargetVerify, 16, 4096, 8);
  add_n(Mode::kTargetVerify, 1, 131072, 8);
  add(Mode::kDraftExtendStatic, 16, 4096, 1, none, "");
  // Small calls of many rows per request or of wide rows, which the suite
  // (bench/bench_suite.py) had over 2.0 us: N 16 and 8, and grids of over 500
  // page-table blocks in the row-group layout (W 131072 at bs 1, W 32768 at bs 4).
  add_n(Mode::kTargetVerify, 1, 4096, 16);
  add_n(Mode::kDraftExtend, 16, 4096, 8);
  add(Mode::kExtend, 4, 4096, 1, none, "", 16);
  add(Mode::kTargetVerify, 1, 131072, 1, none, "");
  add(Mode::kDraftExtend, 1, 131072, 1, none, "");
  add(Mode::kExtend, 1, 131072, 1, none, "", 4);
  add(Mode::kExtend, 4, 32768, 1, none, "", 4);
  // Uniform batches of 4 and 8, either side of kLaunchFirstUniformMinBatch
  // (src/cuda/kernel_params.cuh), where the launch-first order starts.
  add_n(Mode::kTargetVerify, 4, 4096, 16);
  add_n(Mode::kTargetVerify, 8, 4096, 8);
  add(Mode::kDraftExtendStatic, 8, 4096, 1, none, "");
  // Per-request calls of 1-4 MB: two that the page-table blocks' prefetch
  // before the wait (src/cuda/page_table_block.cuh) slowed in two suite runs
  // (bs 64 W 4096), and one whose suite time moves by 6% between runs.
  add(Mode::kDraftExtend, 64, 4096, 1, none, "");
  add(Mode::kExtend, 64, 4096, 1, none, "", 8);
  add_n(Mode::kDraftExtend, 1, 131072, 8);
  // The smallest per-request calls: one request of one row, four of up to
  // four rows.
  add(Mode::kExtend, 1, 4096, 1, none, "", 1);
  add_n(Mode::kDraftExtend, 1, 4096, 1);
  add(Mode::kExtend, 4, 4096, 1, none, "", 4);
  return cases;
}

// The case an id names, listed or not (--cases): "MODE-wW-bsB", then "-eE"
// (extend's E, required there), "-nN" (else N = kDefaultN), "-xS" (S
// destination sets), in case_id's order; page size 64. Empty when the id is
// not of that form.
std::optional<CaseSpec> case_from_id(const std::string& id) {
  const size_t dash = id.find('-');
  if (dash == std::string::npos) return std::nullopt;
  const std::string name = id.substr(0, dash);
  std::optional<Mode> mode;
  for (Mode m : {Mode::kDecode, Mode::kTargetVerify, Mode::kDraftExtend, Mode::kDraftExtendStatic, Mode::kExtend}) {
    if (name == mode_name(m)) mode = m;
  }
  if (!mode) return std::nullopt;
  int64_t width = 0, bs = 0, n = 0, extend_max = 0, sets = 1;
  std::istringstream fields(id.substr(dash + 1));
  for (std::string field; std::getline(fields, field, '-');) {
    const size_t digits = field.find_first_of("0123456789");
    if (digits == 0 || digits == std::string::npos) return std::nullopt;
    const std::string key = field.substr(0, digits);
    char* end = nullptr;
    const long long value = std::strtoll(field.c_str() + digits, &end, 10);
    if (*end != '\0' || value < 1) return std::nullopt;
    if (key == "w") width = value;
    else if (key == "bs") bs = value;
    else if (key == "e") extend_max = value;
    else if (key == "n") n = value;
    else if (key == "x") sets = value;
    else return std::nullopt;
  }
  const bool extend = *mode == Mode::kExtend;
  if (width == 0 || bs == 0 || extend != (extend_max > 0) || sets > specmeta::kMaxDestinationSets) return std::nullopt;
  CaseSpec c{case_id(*mode, bs, width, n, extend_max, static_cast<int>(sets)), *mode, bs, width, 64,
             n > 0 ? n : kDefaultN, extend_max, static_cast<int>(sets), -1, ""};
  if (c.id != id) return std::nullopt;  // fields out of case_id's order, or a leading zero
  return c;
}

// --large: one destination set; N 2 and 8 for target_verify, 2, 4 and 8 for
// draft_extend, E 4 and 16 for extend; then 1024 requests of one or two rows
// (decode, draft_extend N 1, extend E 1 and 2); then 1024 requests of 8-16
// short rows; then 1024 requests of up to four rows, W 4096 and 32768; then
// per-request rows far beyond L2; every table at most 1 GiB.
std::vector<CaseSpec> large_cases() {
  std::vector<CaseSpec> cases;
  // n: N for target_verify and draft_extend, E for extend (decode: unused).
  auto add = [&](Mode mode, int64_t bs, int64_t width, int64_t n) {
    const bool extend = mode == Mode::kExtend;
    const bool names_n = mode == Mode::kTargetVerify || mode == Mode::kDraftExtend;
    const int64_t extend_max = extend ? n : 0;
    cases.push_back({case_id(mode, bs, width, names_n ? n : 0, extend_max, 1), mode, bs, width, 64,
                     extend ? kDefaultN : n, extend_max, 1, -1, ""});
  };
  for (auto [bs, width] : {std::pair{256, 32768}, {1024, 32768}, {256, 131072}, {1024, 131072}, {64, 1048576}}) {
    add(Mode::kDecode, bs, width, 1);
  }
  for (auto [bs, width] : {std::pair{256, 32768}, {64, 131072}, {256, 131072}}) {
    for (int64_t n : {2, 8}) add(Mode::kTargetVerify, bs, width, n);
  }
  for (auto [bs, width] : {std::pair{256, 32768}, {256, 131072}}) {
    for (int64_t n : {2, 4, 8}) add(Mode::kDraftExtend, bs, width, n);
  }
  for (auto [bs, width] : {std::pair{256, 32768}, {64, 131072}}) {
    for (int64_t e : {4, 16}) add(Mode::kExtend, bs, width, e);
  }
  // Many short rows: a request's rows are 1 or 2, 1024 requests.
  add(Mode::kDecode, 1024, 4096, 1);  // (and decode-w32768-bs1024 above)
  for (int64_t width : {4096, 32768}) {
    add(Mode::kDraftExtend, 1024, width, 1);
    for (int64_t e : {1, 2}) add(Mode::kExtend, 1024, width, e);
  }
  // Many rows of short tables (1024 requests, W 4096): the suite's lowest
  // many-pair cells (79-82% of the copy).
  for (int64_t n : {8, 16}) add(Mode::kTargetVerify, 1024, 4096, n);
  add(Mode::kDraftExtend, 1024, 4096, 16);
  add(Mode::kExtend, 1024, 4096, 16);
  // Up to four rows a request at 1024 requests, whose rows are not known to
  // the host: the suite's lowest cells against a copy of their own bytes
  // (78-80% at W 4096, 79-80% of the copy at W 32768).
  for (int64_t width : {4096, 32768}) {
    add(Mode::kDraftExtend, 1024, width, 4);
    add(Mode::kExtend, 1024, width, 4);
  }
  // Per-request rows far beyond L2, which the suite had under 85% of the copy.
  add(Mode::kDraftExtend, 1024, 131072, 1);
  add(Mode::kExtend, 1024, 131072, 1);
  add(Mode::kExtend, 64, 1048576, 4);
  return cases;
}

int64_t capacity_of(const CaseSpec& c) {
  switch (c.mode) {
    case Mode::kDecode: return c.bs;
    case Mode::kExtend: return c.bs * c.extend_max;
    default: return c.bs * c.n;
  }
}

// One input set on the host, with the per-request qo_b and kv_b it implies.
struct HostSet {
  std::vector<int64_t> seq;  // seq_lens
  std::vector<int64_t> rpi;  // req_pool_indices
  std::vector<int32_t> lens; // accept_lens / extend_lens (empty otherwise)
  std::vector<int64_t> qo, kv;
};

// The suite's lengths (bench/suite_cells.py, MetadataCell): seq_b uniform in
// [n + 1, W - n], n being N (extend: E; decode: 0), accept and extend lengths
// uniform in [1, n]; target_verify's kv_b is seq_b + N.
void draw_suite_lengths(const CaseSpec& c, std::mt19937_64& rng, int64_t b, HostSet* h) {
  const int64_t n = c.mode == Mode::kDecode ? 0 : c.mode == Mode::kExtend ? c.extend_max : c.n;
  h->seq[b] = std::uniform_int_distribution<int64_t>(n + 1, c.width - n)(rng);
  switch (c.mode) {
    case Mode::kDecode: h->qo[b] = 1; break;
    case Mode::kTargetVerify:
    case Mode::kDraftExtendStatic: h->qo[b] = n; break;
    case Mode::kDraftExtend:
    case Mode::kExtend:
      h->lens[b] = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(1, n)(rng));
      h->qo[b] = h->lens[b];
      break;
  }
  h->kv[b] = c.mode == Mode::kTargetVerify ? h->seq[b] + n : h->seq[b];
}

HostSet make_set(const CaseSpec& c, int64_t pool, bool suite_lengths, std::mt19937_64& rng) {
  HostSet h;
  h.seq.resize(c.bs);
  h.qo.resize(c.bs);
  h.kv.resize(c.bs);
  if (c.mode == Mode::kDraftExtend || c.mode == Mode::kExtend) h.lens.resize(c.bs);
  for (int64_t b = 0; b < c.bs; ++b) {
    if (suite_lengths) {
      draw_suite_lengths(c, rng, b, &h);
      continue;
    }
    switch (c.mode) {
      case Mode::kDecode:
        h.seq[b] = std::uniform_int_distribution<int64_t>(1, c.width)(rng);
        h.qo[b] = 1;
        h.kv[b] = h.seq[b];
        break;
      case Mode::kTargetVerify:
        h.seq[b] = std::uniform_int_distribution<int64_t>(1, c.width - c.n)(rng);
        h.qo[b] = c.n;
        h.kv[b] = h.seq[b] + c.n;
        break;
      case Mode::kDraftExtendStatic:
        h.seq[b] = std::uniform_int_distribution<int64_t>(std::max<int64_t>(1, c.n), c.width)(rng);
        h.qo[b] = c.n;
        h.kv[b] = h.seq[b];
        break;
      case Mode::kDraftExtend:
        h.lens[b] = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(0, c.n)(rng));
        h.seq[b] = std::uniform_int_distribution<int64_t>(std::max<int64_t>(1, h.lens[b]), c.width)(rng);
        h.qo[b] = h.lens[b];
        h.kv[b] = h.seq[b];
        break;
      case Mode::kExtend:
        h.lens[b] = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(1, c.extend_max)(rng));
        h.seq[b] = std::uniform_int_distribution<int64_t>(h.lens[b], c.width)(rng);
        h.qo[b] = h.lens[b];
        h.kv[b] = h.seq[b];
        break;
    }
  }
  // bs distinct random pool rows.
  std::vector<int64_t> rows(pool);
  std::iota(rows.begin(), rows.end(), 0);
  for (int64_t i = 0; i < c.bs; ++i) {
    const int64_t j = std::uniform_int_distribution<int64_t>(i, pool - 1)(rng);
    std::swap(rows[i], rows[j]);
  }
  h.rpi.assign(rows.begin(), rows.begin() + c.bs);
  return h;
}

// What a correct call writes for one input set (valid input: status 0).
struct Expected {
  std::vector<int32_t> cache, cu_k, cu_q, seqexp, sparse, sparse_cu, r2r;
  int32_t num_rows = 0;
  int32_t status = 0;
};

Expected expect(const CaseSpec& c, const HostSet& h, int64_t capacity) {
  Expected e;
  e.cache.resize(c.bs);
  e.cu_k.assign(c.bs + 1, 0);
  e.cu_q.assign(c.bs + 1, 0);
  e.seqexp.assign(capacity, 0);
  e.sparse.assign(capacity, 0);
  e.sparse_cu.assign(capacity + 1, 0);
  e.r2r.assign(capacity, -1);
  int64_t row = 0, sum_k = 0, sum_sparse = 0;
  for (int64_t b = 0; b < c.bs; ++b) {
    e.cache[b] = static_cast<int32_t>(h.kv[b]);
    sum_k += h.kv[b];
    e.cu_k[b + 1] = static_cast<int32_t>(sum_k);
    for (int64_t j = 0; j < h.qo[b]; ++j, ++row) {
      const int64_t x = std::max<int64_t>(h.kv[b] - h.qo[b] + 1 + j, 0);
      const int64_t s = std::min(x, kTopk);
      e.seqexp[row] = static_cast<int32_t>(x);
      e.sparse[row] = static_cast<int32_t>(s);
      e.r2r[row] = static_cast<int32_t>(b);
      sum_sparse += s;
      e.sparse_cu[row + 1] = static_cast<int32_t>(sum_sparse);
    }
    e.cu_q[b + 1] = static_cast<int32_t>(row);
  }
  if (row > capacity) {
    throw bench::Failure(bench::format("bench bug: %s needs %" PRId64 " rows, capacity %" PRId64, c.id.c_str(), row,
                                       capacity));
  }
  for (int64_t r = row; r < capacity; ++r) e.sparse_cu[r + 1] = static_cast<int32_t>(sum_sparse);
  e.num_rows = static_cast<int32_t>(row);
  return e;
}

struct Bytes {
  double total = 0, req_to_token = 0, page_tables = 0, other = 0;
};

// Live bytes of one call on set h (see the header comment).
Bytes live_bytes(const CaseSpec& c, const HostSet& h, int64_t capacity) {
  Bytes out;
  const int64_t ps = c.page_size;
  double inputs = c.bs * 8.0 * 2 + (h.lens.empty() ? 0.0 : c.bs * 4.0);
  double r2t = 0, tables = 0;
  for (int64_t b = 0; b < c.bs; ++b) {
    if (h.qo[b] <= 0) continue;
    const int64_t live = std::min(std::max<int64_t>(h.kv[b], 0), c.width);
    r2t += live * 4.0;
    tables += static_cast<double>(h.qo[b]) * (live + (live + ps - 1) / ps) * 4.0;
  }
  const double small = (c.bs + 2.0 * (c.bs + 1) + 4.0 * capacity + 1 + 2) * 4.0;
  out.req_to_token = r2t;
  out.page_tables = tables * c.dest_sets;
  out.other = inputs + small * c.dest_sets;
  out.total = out.req_to_token + out.page_tables + out.other;
  return out;
}

// Device buffers of one destination set.
struct DevOut {
  int32_t *cache = nullptr, *cu_k = nullptr, *cu_q = nullptr, *seqexp = nullptr, *sparse = nullptr,
          *sparse_cu = nullptr, *r2r = nullptr, *num_rows = nullptr, *status = nullptr, *pt1 = nullptr,
          *rpt = nullptr;
};

int32_t* device_alloc_i32(int64_t count) {
  int32_t* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(int32_t)));
  return p;
}

template <class T>
T* device_copy(const std::vector<T>& host) {
  T* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(host.size(), 1) * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

template <class T>
std::vector<T> to_host(const T* dev, int64_t count) {
  std::vector<T> v(count);
  CUDA_CHECK(cudaMemcpy(v.data(), dev, count * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

struct CaseState {
  const CaseSpec* spec = nullptr;
  int64_t capacity = 0, pool = 0, pt_cols = 0, rpt_cols = 0;
  int32_t* req_to_token = nullptr;
  std::vector<HostSet> host;
  std::vector<int64_t*> seq, rpi;
  std::vector<int32_t*> lens;
  std::vector<DevOut> outs;
  std::vector<specmeta::ExpandOutputs> extra;  // outs[1..] as the API takes them
};

specmeta::ExpandOutputs as_outputs(const CaseState& s, const DevOut& o) {
  specmeta::ExpandOutputs e;
  const int64_t bs = s.spec->bs, cap = s.capacity;
  e.cache_seqlens = {o.cache, bs};
  e.cu_seqlens_k = {o.cu_k, bs + 1};
  e.cu_seqlens_q = {o.cu_q, bs + 1};
  e.seqlens_expanded = {o.seqexp, cap};
  e.sparse_seqlens = {o.sparse, cap};
  e.sparse_cu_seqlens_k = {o.sparse_cu, cap + 1};
  e.row_to_req = {o.r2r, cap};
  e.num_rows = {o.num_rows, 1};
  e.status = {o.status, 1};
  e.page_table_1 = {o.pt1, cap, s.pt_cols, s.pt_cols};
  e.real_page_table = {o.rpt, cap, s.rpt_cols, s.rpt_cols};
  return e;
}

specmeta::MetadataArgs args_for(const CaseState& s, int set) {
  const CaseSpec& c = *s.spec;
  specmeta::MetadataArgs a;
  a.mode = c.mode;
  a.bs = c.bs;
  a.seq_lens = {s.seq[set], specmeta::IntType::kInt64, c.bs};
  if (c.mode == Mode::kDraftExtend) a.accept_lens = {s.lens[set], specmeta::IntType::kInt32, c.bs};
  if (c.mode == Mode::kExtend) a.extend_lens = {s.lens[set], specmeta::IntType::kInt32, c.bs};
  const bool uses_n =
      c.mode == Mode::kTargetVerify || c.mode == Mode::kDraftExtend || c.mode == Mode::kDraftExtendStatic;
  a.num_draft_tokens = uses_n ? c.n : 0;
  a.capacity = s.capacity;
  a.topk = kTopk;
  a.kpool = kKpool;
  a.req_pool_indices = {s.rpi[set], specmeta::IntType::kInt64, c.bs};
  a.req_to_token = {s.req_to_token, s.pool, c.width, c.width};
  a.width = c.width;
  a.page_size = c.page_size;
  a.full_width = false;
  a.out = as_outputs(s, s.outs[0]);
  a.extra_out = s.extra.empty() ? nullptr : s.extra.data();
  a.extra_out_count = static_cast<int32_t>(s.extra.size());
  return a;
}

CaseState prepare(const CaseSpec& c, int index, uint64_t seed, int pool_rows, bool suite_lengths,
                  cudaStream_t stream) {
  CaseState s;
  s.spec = &c;
  s.capacity = capacity_of(c);
  s.pool = c.bs * pool_rows;
  s.pt_cols = c.width;
  s.rpt_cols = (c.width + c.page_size - 1) / c.page_size;
  s.req_to_token = device_alloc_i32(s.pool * c.width);
  fill_req_to_token<<<2048, 256, 0, stream>>>(s.req_to_token, s.pool, c.width, c.page_size);
  CUDA_CHECK_LAUNCH();
  std::seed_seq seq_seed{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(index)};
  std::mt19937_64 rng(seq_seed);
  for (int set = 0; set < kInputSets; ++set) {
    s.host.push_back(make_set(c, s.pool, suite_lengths, rng));
    const HostSet& h = s.host.back();
    s.seq.push_back(device_copy(h.seq));
    s.rpi.push_back(device_copy(h.rpi));
    s.lens.push_back(h.lens.empty() ? nullptr : device_copy(h.lens));
  }
  for (int d = 0; d < c.dest_sets; ++d) {
    DevOut o;
    o.cache = device_alloc_i32(c.bs);
    o.cu_k = device_alloc_i32(c.bs + 1);
    o.cu_q = device_alloc_i32(c.bs + 1);
    o.seqexp = device_alloc_i32(s.capacity);
    o.sparse = device_alloc_i32(s.capacity);
    o.sparse_cu = device_alloc_i32(s.capacity + 1);
    o.r2r = device_alloc_i32(s.capacity);
    o.num_rows = device_alloc_i32(1);
    o.status = device_alloc_i32(1);
    o.pt1 = device_alloc_i32(s.capacity * s.pt_cols);
    o.rpt = device_alloc_i32(s.capacity * s.rpt_cols);
    s.outs.push_back(o);
  }
  for (int d = 1; d < c.dest_sets; ++d) s.extra.push_back(as_outputs(s, s.outs[d]));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return s;
}

void release(CaseState& s) {
  CUDA_CHECK(cudaFree(s.req_to_token));
  for (int set = 0; set < kInputSets; ++set) {
    CUDA_CHECK(cudaFree(s.seq[set]));
    CUDA_CHECK(cudaFree(s.rpi[set]));
    if (s.lens[set] != nullptr) CUDA_CHECK(cudaFree(s.lens[set]));
  }
  for (DevOut& o : s.outs) {
    for (int32_t* p : {o.cache, o.cu_k, o.cu_q, o.seqexp, o.sparse, o.sparse_cu, o.r2r, o.num_rows, o.status,
                       o.pt1, o.rpt}) {
      CUDA_CHECK(cudaFree(p));
    }
  }
  s.outs.clear();
  s.extra.clear();
}

// Fills every output with 0xABABABAB: negative, so never a slot id, a page id
// or a length this benchmark produces.
void poison(const CaseState& s, cudaStream_t stream) {
  const int64_t bs = s.spec->bs, cap = s.capacity;
  for (const DevOut& o : s.outs) {
    const std::pair<int32_t*, int64_t> bufs[] = {
        {o.cache, bs},       {o.cu_k, bs + 1}, {o.cu_q, bs + 1},     {o.seqexp, cap},
        {o.sparse, cap},     {o.sparse_cu, cap + 1}, {o.r2r, cap},   {o.num_rows, 1},
        {o.status, 1},       {o.pt1, cap * s.pt_cols}, {o.rpt, cap * s.rpt_cols}};
    for (const auto& b : bufs) {
      CUDA_CHECK(cudaMemsetAsync(b.first, 0xAB, static_cast<size_t>(b.second) * sizeof(int32_t), stream));
    }
  }
}

[[noreturn]] void mismatch(const CaseSpec& c, const char* when, int dest, const char* output, int64_t index,
                           int64_t got, int64_t want) {
  throw bench::Failure(bench::format("MISMATCH (%s) %s, destination set %d, %s[%" PRId64 "]: got %" PRId64
                                     ", want %" PRId64,
                                     when, c.id.c_str(), dest, output, index, got, want));
}

void compare(const CaseSpec& c, const char* when, int dest, const char* output, const std::vector<int32_t>& got,
             const std::vector<int32_t>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) mismatch(c, when, dest, output, static_cast<int64_t>(i), got[i], want[i]);
  }
}

// Checks every destination set against input set `set`.
void verify(const CaseState& s, int set, const char* when) {
  const CaseSpec& c = *s.spec;
  const HostSet& h = s.host[set];
  const Expected e = expect(c, h, s.capacity);
  const int64_t bs = c.bs, cap = s.capacity, ps = c.page_size;
  for (int d = 0; d < c.dest_sets; ++d) {
    const DevOut& o = s.outs[d];
    compare(c, when, d, "num_rows", to_host(o.num_rows, 1), {e.num_rows});
    compare(c, when, d, "status", to_host(o.status, 1), {e.status});
    compare(c, when, d, "cache_seqlens", to_host(o.cache, bs), e.cache);
    compare(c, when, d, "cu_seqlens_k", to_host(o.cu_k, bs + 1), e.cu_k);
    compare(c, when, d, "cu_seqlens_q", to_host(o.cu_q, bs + 1), e.cu_q);
    compare(c, when, d, "seqlens_expanded", to_host(o.seqexp, cap), e.seqexp);
    compare(c, when, d, "sparse_seqlens", to_host(o.sparse, cap), e.sparse);
    compare(c, when, d, "sparse_cu_seqlens_k", to_host(o.sparse_cu, cap + 1), e.sparse_cu);
    compare(c, when, d, "row_to_req", to_host(o.r2r, cap), e.r2r);
    const std::vector<int32_t> pt1 = to_host(o.pt1, cap * s.pt_cols);
    const std::vector<int32_t> rpt = to_host(o.rpt, cap * s.rpt_cols);
    for (int64_t r = 0; r < e.num_rows; ++r) {
      const int64_t b = e.r2r[r];
      const int64_t pool_row = h.rpi[b];
      const int64_t live = std::min(std::max<int64_t>(h.kv[b], 0), c.width);
      for (int64_t col = 0; col < live; ++col) {
        const int32_t want = slot_of(pool_row, col, c.width, ps);
        const int32_t got = pt1[r * s.pt_cols + col];
        if (got != want) mismatch(c, when, d, "page_table_1", r * s.pt_cols + col, got, want);
      }
      for (int64_t p = 0; p < (live + ps - 1) / ps; ++p) {
        const int32_t want = slot_of(pool_row, p * ps, c.width, ps) / static_cast<int32_t>(ps);  // slot ids >= 0
        const int32_t got = rpt[r * s.rpt_cols + p];
        if (got != want) mismatch(c, when, d, "real_page_table", r * s.rpt_cols + p, got, want);
      }
    }
  }
}

struct Result {
  const CaseSpec* spec;
  int64_t capacity;
  double rows;  // average live rows per call
  Bytes bytes;  // average per call
  Timing t;
  Timing same_copy;
  std::vector<std::optional<Timing>> planned;  // --bound: by bench::kPlannedConfigs' shape
};

// ---------------------------------------------------------------------------

struct Options {
  std::string json;
  std::string filter;
  int calls = 100;
  int replays = 200;
  uint64_t seed = 20261126;
  bool large = false;
  std::vector<CaseSpec> cases;  // --cases
  bool verify = true;
  int busy_streams = 0;
  long long hold_cycles = 0;
  int pool_rows = kInputSets;  // req_to_token rows per request
  bool bound = false;
  bool suite_lengths = false;
};

bool starts_with(const char* arg, const char* prefix, const char** value) {
  const size_t n = std::strlen(prefix);
  if (std::strncmp(arg, prefix, n) != 0) return false;
  *value = arg + n;
  return true;
}

// The options; false (with the exit status) when the arguments ask for the
// usage text or are wrong.
bool parse(int argc, char** argv, Options* o, int* exit_status) {
  for (int i = 1; i < argc; ++i) {
    const char* v = nullptr;
    if (starts_with(argv[i], "--json=", &v)) {
      o->json = v;
    } else if (starts_with(argv[i], "--filter=", &v)) {
      o->filter = v;
    } else if (starts_with(argv[i], "--calls=", &v)) {
      o->calls = std::atoi(v);
    } else if (starts_with(argv[i], "--replays=", &v)) {
      o->replays = std::atoi(v);
    } else if (starts_with(argv[i], "--seed=", &v)) {
      o->seed = std::strtoull(v, nullptr, 10);
    } else if (std::strcmp(argv[i], "--large") == 0) {
      o->large = true;
    } else if (starts_with(argv[i], "--cases=", &v)) {
      std::istringstream ids(v);
      for (std::string id; std::getline(ids, id, ',');) {
        const std::optional<CaseSpec> c = case_from_id(id);
        if (!c) {
          std::fprintf(stderr, "--cases: expected ids such as draft_extend-w131072-bs64-n4 or extend-w4096-bs16-e4, "
                               "got %s\n", id.c_str());
          *exit_status = 2;
          return false;
        }
        o->cases.push_back(*c);
      }
    } else if (std::strcmp(argv[i], "--suite-lengths") == 0) {
      o->suite_lengths = true;
    } else if (std::strcmp(argv[i], "--bound") == 0) {
      o->bound = true;
    } else if (std::strcmp(argv[i], "--no-verify") == 0) {
      o->verify = false;
    } else if (starts_with(argv[i], "--busy-streams=", &v)) {
      o->busy_streams = std::atoi(v);
    } else if (starts_with(argv[i], "--hold-cycles=", &v)) {
      o->hold_cycles = std::atoll(v);
    } else if (starts_with(argv[i], "--pool-rows=", &v)) {
      o->pool_rows = std::atoi(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--json=PATH] [--filter=SUBSTR] [--calls=100] [--replays=200] [--seed=N] [--large] "
                   "[--cases=ID,...] [--bound] [--suite-lengths] [--no-verify] [--busy-streams=N] [--hold-cycles=N] [--pool-rows=K]\n"
                   "cases (--filter=ID runs that case; any other value, the ids containing it):\n",
                   argv[0]);
      for (const CaseSpec& c : all_cases()) std::fprintf(stderr, "  %s\n", c.id.c_str());
      std::fprintf(stderr, "with --large:\n");
      for (const CaseSpec& c : large_cases()) std::fprintf(stderr, "  %s\n", c.id.c_str());
      *exit_status = std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
      return false;
    }
  }
  if (o->calls < 1 || o->replays < 1 || o->pool_rows < 1 || o->busy_streams < 0 || o->hold_cycles < 0) {
    std::fprintf(stderr, "--calls, --replays and --pool-rows must be >= 1, --busy-streams and --hold-cycles >= 0\n");
    *exit_status = 2;
    return false;
  }
  return true;
}

// --bound: the lean copies of planned_copy.cuh, timed on the case's inputs as
// the builder is, in each of kPlannedConfigs' shapes; the bound is the fastest host-planned shape that waits
// first. Each shape is checked first, where verify() runs: the builder's
// outputs of input set 0 with both tables poisoned again and written by that
// shape alone pass verify(). Single-destination cases with a power-of-two
// page size of at least 4 only (no times otherwise).
std::vector<std::optional<Timing>> time_planned_copies(const CaseState& s, const Options& opt, int sms,
                                                       cudaStream_t stream) {
  constexpr int kShapes = static_cast<int>(std::size(bench::kPlannedConfigs));
  std::vector<std::optional<Timing>> times(kShapes);
  const CaseSpec& c = *s.spec;
  const int64_t ps = c.page_size;
  if (c.dest_sets != 1 || ps < bench::kPlannedColsPerThread || (ps & (ps - 1)) != 0) return times;
  const DevOut& o = s.outs[0];
  const bench::PlannedTables tables{s.req_to_token, o.pt1, o.rpt, s.pt_cols, s.rpt_cols, __builtin_ctzll(ps)};
  std::vector<bench::PlannedUnit*> units;
  std::vector<int64_t> counts;
  for (const HostSet& h : s.host) {
    const std::vector<bench::PlannedUnit> u = bench::plan_units(h.qo, h.kv, h.rpi, c.width, s.pt_cols, s.rpt_cols, ps);
    units.push_back(device_copy(u));
    counts.push_back(static_cast<int64_t>(u.size()));
  }
  const int32_t passes = static_cast<int32_t>((c.width + bench::kPlannedUnitCols - 1) / bench::kPlannedUnitCols);
  auto requests = [&](int set) {
    const int64_t rows = c.mode == Mode::kDecode ? 1 : c.n;  // unless lens
    return bench::LaidRequests{s.seq[set], s.rpi[set], s.lens[set], c.mode == Mode::kTargetVerify ? c.n : 0, c.bs,
                               c.width, static_cast<int32_t>(rows), passes};
  };
  auto launch = [&](int shape, int set) {
    bench::launch_planned_copy(bench::kPlannedConfigs[shape], sms, units[set], counts[set], requests(set), tables,
                               stream);
  };
  for (int shape = 0; shape < kShapes; ++shape) {
    if (opt.verify) {
      const specmeta::MetadataArgs a = args_for(s, 0);
      status_check(specmeta::build_metadata_cuda(a, stream), "build_metadata_cuda");
      CUDA_CHECK(cudaMemsetAsync(o.pt1, 0xAB, static_cast<size_t>(s.capacity * s.pt_cols) * sizeof(int32_t), stream));
      CUDA_CHECK(cudaMemsetAsync(o.rpt, 0xAB, static_cast<size_t>(s.capacity * s.rpt_cols) * sizeof(int32_t), stream));
      launch(shape, 0);
      CUDA_CHECK(cudaStreamSynchronize(stream));
      verify(s, 0, bench::format("--bound's copy \"%s\", input set 0", bench::kPlannedConfigs[shape].name).c_str());
    }
    times[shape] = time_graph(stream, opt.calls, opt.replays, opt.hold_cycles,
                              [&](int i) { launch(shape, i % kInputSets); });
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (bench::PlannedUnit* u : units) CUDA_CHECK(cudaFree(u));
  return times;
}

// The bound of time_planned_copies' times: the index of the fastest
// host-planned shape that waits first, or -1.
int bound_shape(const std::vector<std::optional<Timing>>& times) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(times.size()); ++i) {
    if (!times[i] || !bench::is_bound_shape(bench::kPlannedConfigs[i])) continue;
    if (best < 0 || times[i]->median_us < times[best]->median_us) best = i;
  }
  return best;
}

// The JSON fields of --bound's times: the bound's median and shape (null
// without one), and every shape's median by name (null where not timed).
std::string planned_json(const std::vector<std::optional<Timing>>& times) {
  if (times.empty()) return "";
  const int best = bound_shape(times);
  std::string out = best < 0 ? std::string(", \"planned_copy_us\": null, \"planned_copy_shape\": null")
                             : bench::format(", \"planned_copy_us\": %.4f, \"planned_copy_shape\": \"%s\"",
                                             times[best]->median_us, bench::kPlannedConfigs[best].name);
  out += ", \"lean_copies_us\": {";
  for (size_t i = 0; i < times.size(); ++i) {
    out += bench::format("%s\"%s\": ", i ? ", " : "", bench::kPlannedConfigs[i].name);
    out += times[i] ? bench::format("%.4f", times[i]->median_us) : std::string("null");
  }
  return out + "}";
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

static int run(int argc, char** argv) {
  Options opt;
  if (int exit_status = 0; !parse(argc, argv, &opt, &exit_status)) return exit_status;
  if (!specmeta::cuda_available()) {
    std::printf("no CUDA device visible: nothing to measure\n");
    return 0;
  }
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int driver = 0, runtime = 0;
  CUDA_CHECK(cudaDriverGetVersion(&driver));
  CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::vector<cudaStream_t> busy(static_cast<size_t>(opt.busy_streams));
  for (cudaStream_t& s : busy) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    empty_kernel<<<1, 1, 0, s>>>();
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaStreamSynchronize(s));
  }

  warm_up_clocks(stream);

  // Floors and the copy bandwidth, in this process, before the cases.
  const Timing empty = time_graph(stream, opt.calls, opt.replays, opt.hold_cycles, [&](int) {
    empty_kernel<<<1, 1, 0, stream>>>();
    CUDA_CHECK_LAUNCH();
  });
  const Timing empty_pdl =
      time_graph(stream, opt.calls, opt.replays, opt.hold_cycles, [&](int) { launch_empty_pdl(stream); });
  const Timing big_copy = time_copy(stream, kCopyBytes, kCopiesPerGraph, kCopyReplays, opt.hold_cycles);
  const double copy_gbps = 2.0 * kCopyBytes / (big_copy.median_us * 1e3);

  const std::vector<CaseSpec> cases = !opt.cases.empty() ? opt.cases : opt.large ? large_cases() : all_cases();
  std::vector<Result> results;
  int index = 0;
  for (const CaseSpec& c : cases) {
    ++index;
    if (!opt.filter.empty()) {
      // An exact id selects that case alone; anything else is a substring.
      const bool exact = std::any_of(cases.begin(), cases.end(), [&](const CaseSpec& x) { return x.id == opt.filter; });
      if (exact ? c.id != opt.filter : c.id.find(opt.filter) == std::string::npos) continue;
    }
    std::fprintf(stderr, "[%d] %s ...\n", index, c.id.c_str());
    if (opt.suite_lengths && 2 * (c.mode == Mode::kExtend ? c.extend_max : c.n) >= c.width) {
      throw bench::Failure(bench::format("--suite-lengths: %s needs W > 2 N", c.id.c_str()));
    }
    CaseState s = prepare(c, index, opt.seed, opt.pool_rows, opt.suite_lengths, stream);

    // Check once on set 0, from poisoned outputs.
    poison(s, stream);
    {
      const specmeta::MetadataArgs a = args_for(s, 0);
      status_check(specmeta::build_metadata_cuda(a, stream), "build_metadata_cuda");
      CUDA_CHECK(cudaGetLastError());
      CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    if (opt.verify) verify(s, 0, "direct call, input set 0");

    Result r;
    r.spec = &c;
    r.capacity = s.capacity;
    r.rows = 0;
    for (int i = 0; i < opt.calls; ++i) {
      const HostSet& h = s.host[i % kInputSets];
      const Bytes b = live_bytes(c, h, s.capacity);
      r.bytes.total += b.total / opt.calls;
      r.bytes.req_to_token += b.req_to_token / opt.calls;
      r.bytes.page_tables += b.page_tables / opt.calls;
      r.bytes.other += b.other / opt.calls;
      r.rows += static_cast<double>(std::accumulate(h.qo.begin(), h.qo.end(), int64_t{0})) / opt.calls;
    }

    r.t = time_graph(stream, opt.calls, opt.replays, opt.hold_cycles, [&](int i) {
      const specmeta::MetadataArgs a = args_for(s, i % kInputSets);
      status_check(specmeta::build_metadata_cuda(a, stream), "build_metadata_cuda (captured)");
    });
    CUDA_CHECK(cudaStreamSynchronize(stream));
    // The graph's last call decides what the outputs hold now.
    if (opt.verify) verify(s, (opt.calls - 1) % kInputSets, "after graph replays, input set of the last call");
    if (opt.bound) r.planned = time_planned_copies(s, opt, sms, stream);
    release(s);

    // The same volume as one plain device-to-device copy (half read, half written).
    const int64_t half = static_cast<int64_t>(r.bytes.total / 2);
    r.same_copy = time_copy(stream, (half + 255) / 256 * 256, opt.calls, opt.replays, opt.hold_cycles);
    results.push_back(r);
  }

  // ---- Markdown.
  std::printf("## build_metadata_cuda, all 11 outputs, in CUDA graphs (%s, sm_%d%d, driver %d, runtime %d)\n\n",
              prop.name, prop.major, prop.minor, driver, runtime);
  std::printf("Per call in a graph of %d calls over %d rotating input sets, median (min) of %d replays. "
              "topk %" PRId64 ", kpool %" PRId64 ", page size 64, N = %s, seq_lens and req_pool_indices int64, "
              "accept/extend lengths int32, %s. Live bytes: req_to_token read once per "
              "request, every output element a call writes (page tables: live prefixes only), the inputs. "
              "Busy streams (a kernel run on each first): %d. Clocks held before each timed replay: %lld. "
              "req_to_token rows per request: %d.\n\n",
              opt.calls, kInputSets, opt.replays, kTopk, kKpool,
              opt.large || !opt.cases.empty() ? "the id's -nN (extend: E = its -eE)" : "4",
              opt.suite_lengths ? "lengths drawn as the suite's (seq_lens uniform in [N + 1, W - N], accept and "
                                  "extend lengths in [1, N])"
                                : "contexts uniform in [1, W]",
              opt.busy_streams, opt.hold_cycles, opt.pool_rows);
  if (!opt.verify) std::printf("**Outputs not verified (--no-verify): timings of a diagnostic variant only.**\n\n");
  std::printf("| floor | us per call (median) | us per call (min) |\n| --- | --- | --- |\n");
  std::printf("| empty kernel <<<1,1>>> | %.2f | %.2f |\n", empty.median_us, empty.min_us);
  std::printf("| empty kernel <<<1,256>>>, programmatic launch | %.2f | %.2f |\n", empty_pdl.median_us,
              empty_pdl.min_us);
  std::printf("| device-to-device copy of %" PRId64 " MiB (%d per graph) | %.1f | %.1f |\n\n", kCopyBytes >> 20,
              kCopiesPerGraph, big_copy.median_us, big_copy.min_us);
  std::printf("Copy bandwidth (read + write): %.0f GB/s.\n\n", copy_gbps);
  std::printf("| case | mode | bs | W | dest sets | rows (avg) | us/call median | us/call min | live MB/call | "
              "req_to_token MB | page-table MB | GB/s | %% of copy BW | same-bytes D2D copy (us) | SGLang Triton (us) |%s\n",
              opt.bound ? " host-planned copy (us) | builder / planned |" : "");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |%s\n",
              opt.bound ? " --- | --- |" : "");
  for (const Result& r : results) {
    const CaseSpec& c = *r.spec;
    const double gbps = r.bytes.total / (r.t.median_us * 1e3);
    std::string ref = c.sglang_us >= 0 ? fmt("%.1f", c.sglang_us) : std::string("-");
    if (!c.target.empty()) ref = (c.sglang_us >= 0 ? ref + "; " : std::string()) + "target " + c.target;
    std::string bound;
    if (opt.bound) {
      const int best = bound_shape(r.planned);
      bound = best < 0 ? std::string(" - | - |")
                       : fmt(" %.2f", r.planned[best]->median_us) +
                             bench::format(" (%s) |", bench::kPlannedConfigs[best].name) +
                             fmt(" %.3f |", r.t.median_us / r.planned[best]->median_us);
    }
    std::printf("| %s | %s | %" PRId64 " | %" PRId64 " | %d | %.1f | %.2f | %.2f | %.3f | %.3f | %.3f | %.0f | %.1f%% | "
                "%.2f | %s |%s\n",
                c.id.c_str(), mode_name(c.mode), c.bs, c.width, c.dest_sets, r.rows, r.t.median_us, r.t.min_us,
                r.bytes.total / 1e6, r.bytes.req_to_token / 1e6, r.bytes.page_tables / 1e6, gbps,
                100.0 * gbps / copy_gbps, r.same_copy.median_us, ref.c_str(), bound.c_str());
  }
  std::fflush(stdout);

  // ---- JSON.
  if (!opt.json.empty()) {
    FILE* f = std::fopen(opt.json.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "cannot open %s for writing\n", opt.json.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"sm\": \"%d%d\",\n  \"driver\": %d,\n  \"runtime\": %d,\n",
                 prop.name, prop.major, prop.minor, driver, runtime);
    std::fprintf(f, "  \"calls_per_graph\": %d,\n  \"replays\": %d,\n  \"input_sets\": %d,\n  \"seed\": %" PRIu64
                 ",\n  \"topk\": %" PRId64 ",\n  \"kpool\": %" PRId64 ",\n  \"busy_streams\": %d,\n"
                 "  \"hold_cycles\": %lld,\n  \"pool_rows_per_request\": %d,\n  \"suite_lengths\": %s,\n",
                 opt.calls, opt.replays, kInputSets, opt.seed, kTopk, kKpool, opt.busy_streams, opt.hold_cycles,
                 opt.pool_rows, opt.suite_lengths ? "true" : "false");
    std::fprintf(f, "  \"floors\": {\n    \"empty_kernel_us\": {\"median\": %.4f, \"min\": %.4f},\n"
                 "    \"empty_kernel_pdl_us\": {\"median\": %.4f, \"min\": %.4f},\n"
                 "    \"d2d_copy\": {\"bytes\": %" PRId64 ", \"copies_per_graph\": %d, \"median_us\": %.3f, "
                 "\"min_us\": %.3f, \"gbps_read_plus_write\": %.1f}\n  },\n",
                 empty.median_us, empty.min_us, empty_pdl.median_us, empty_pdl.min_us, kCopyBytes, kCopiesPerGraph,
                 big_copy.median_us, big_copy.min_us, copy_gbps);
    std::fprintf(f, "  \"cases\": [\n");
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      const CaseSpec& c = *r.spec;
      const double gbps = r.bytes.total / (r.t.median_us * 1e3);
      std::fprintf(f,
                   "    {\"id\": \"%s\", \"mode\": \"%s\", \"bs\": %" PRId64 ", \"width\": %" PRId64
                   ", \"page_size\": %" PRId64 ", \"num_draft_tokens\": %" PRId64 ", \"extend_max\": %" PRId64
                   ", \"dest_sets\": %d, \"capacity\": %" PRId64 ", \"rows_avg\": %.2f, "
                   "\"us_median\": %.4f, \"us_min\": %.4f, \"live_bytes\": %.1f, \"req_to_token_bytes\": %.1f, "
                   "\"page_table_bytes\": %.1f, \"other_bytes\": %.1f, \"gbps\": %.2f, \"pct_of_copy_bw\": %.3f, "
                   "\"same_bytes_copy_us\": %.4f, \"sglang_triton_us\": %s, \"target\": \"%s\", \"verified\": %s%s}%s\n",
                   c.id.c_str(), mode_name(c.mode), c.bs, c.width, c.page_size,
                   (c.mode == Mode::kDecode || c.mode == Mode::kExtend) ? int64_t{0} : c.n, c.extend_max, c.dest_sets,
                   r.capacity, r.rows, r.t.median_us, r.t.min_us, r.bytes.total, r.bytes.req_to_token,
                   r.bytes.page_tables, r.bytes.other, gbps, 100.0 * gbps / copy_gbps, r.same_copy.median_us,
                   c.sglang_us >= 0 ? fmt("%.1f", c.sglang_us).c_str() : "null", c.target.c_str(),
                   opt.verify ? "true" : "false",
                   planned_json(r.planned).c_str(),
                   i + 1 < results.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    if (std::fclose(f) != 0) {
      std::fprintf(stderr, "error writing %s\n", opt.json.c_str());
      return 1;
    }
  }
  for (cudaStream_t s : busy) CUDA_CHECK(cudaStreamDestroy(s));
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}

int main(int argc, char** argv) {
  return bench::run_main([&] { return run(argc, argv); });
}
