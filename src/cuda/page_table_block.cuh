// Page-table blocks: parts_per_request blocks per request copy the request's
// row of req_to_token (page_table_1) and its every page_size-th entry divided
// by page_size (real_page_table) into all of the request's rows in every
// destination set. Each source element is read once and written qo times;
// the blocks of a request interleave their column ranges so a long row is
// spread over the grid. Small tables use the row-group layout (see
// kernel_params.cuh, kRowGroupShift): more blocks, fewer stores each. Only the live prefix, min(kv, width) columns (all
// width columns with full_width), is touched: the cost follows the live
// lengths, not the table width.
#pragma once

#include "device_util.cuh"

namespace specmeta {
namespace cuda_detail {

constexpr uint32_t kLineCols = 32;  // int32 columns of a 128-byte line

// A page-table block's shared memory; one member of the kernel's shared union.
struct PageTableStorage {
  uint64_t warp_sums[kWarps];
};

// The sum over the warp of one value per lane, each under 2^31: two
// __reduce_add_sync of its 16-bit halves, which cannot overflow (32 x 2^16).
__device__ __forceinline__ uint64_t warp_sum_halves(uint32_t value) {
  const uint32_t high = __reduce_add_sync(kFullWarp, value >> 16);
  const uint32_t low = __reduce_add_sync(kFullWarp, value & 0xffffu);
  return (static_cast<uint64_t>(high) << 16) + low;
}

// The lengths rows_before (below) reads where requests [0, b) pass a warp,
// as far as kEarlyQoLoads per thread go (b up to kEarlyQoLoads * kThreads):
// thread t's t, t + kThreads, ... The copy with passes in flight can issue
// them before its row's loads (RowsAfterFirstLoads::start), so that they
// return while those are in flight and its sum after them has nothing of
// its own to wait for but the barrier.
constexpr int kEarlyQoLoads = 4;

template <class QoT>
struct EarlyQo {
  QoT raw[kEarlyQoLoads];
};

template <class QoT>
__device__ __forceinline__ EarlyQo<QoT> load_early_qo(const KernelParams& p, uint32_t b) {
  EarlyQo<QoT> e;
  // None where b is within a warp: rows_before sums those from lanes of its own.
  load_requests(threadIdx.x, b, e.raw,
                [&](uint32_t i) { return b > kWarpThreads ? static_cast<QoT>(load_qo<QoT>(p, i)) : QoT{0}; });
  return e;
}

// Rows before request b: the checked qo of requests [0, b), summed by the
// whole block (uniform qo needs no sum). Each warp reduces its share and
// every thread adds up the warps' sums after one barrier: against
// cub::BlockReduce and a second barrier to hand its result to every thread,
// per-request-qo tables were up to 6% faster (bs 1024, W 4096) and no call
// slower by more than 0.03 us (docs/perf-notes.md). A warp reduces with two
// __reduce_add_sync of 16-bit halves instead of five 64-bit shuffle steps:
// per-request calls 1.003-1.025x faster (bs 1024 W 4096 the most, small
// calls about 1%), the others unchanged (H100, bench_metadata). Reading the
// lengths four at a time measured slower.
//
// Requests 0-32 have at most a warp of requests before them: every warp sums
// them alone, one load per lane, with no barrier. Measured
// (H100, bench_metadata, two rounds behind --hold-cycles=100000 and one
// idle): per-request calls at bs 1-64 1.01-1.037x faster (extend W 4096 bs 4
// E 16 1.99 -> 1.95 us), the uniform ones (which never sum) 0.994-1.004x.
// early: the lengths load_early_qo read, summed instead of loaded here.
template <class QoT>
__device__ __forceinline__ uint64_t rows_before(const KernelParams& p, uint32_t b, PageTableStorage& smem,
                                                const EarlyQo<QoT>* early = nullptr) {
  if constexpr (std::is_same_v<QoT, UniformQo>) {
    return static_cast<uint64_t>(b) * p.qo_uniform;
  } else {
    // Each thread's share stops at the capacity (exact below it: both terms
    // are under 2^31), and each warp adds its shares' 16-bit halves with one
    // instruction each, which cannot overflow (32 x 2^16): a sum that
    // reaches the capacity stays at or above it, and every smaller one is
    // exact, which is all the callers need.
    int32_t ignored = 0;
    if (b <= kWarpThreads) {
      // Each term at most the capacity (< 2^31): the sum is exact.
      const uint32_t lane = threadIdx.x % kWarpThreads;
      const uint32_t qo =
          lane < b ? min(static_cast<uint32_t>(detail::checked_qo(load_qo<QoT>(p, lane), p.max_qo, ignored)),
                         p.capacity)
                   : 0u;
      return warp_sum_halves(qo);
    }
    uint32_t sum = 0;
    uint32_t first = threadIdx.x;
    if (early) {
#pragma unroll
      for (int k = 0; k < kEarlyQoLoads; ++k) {
        const uint32_t qo = static_cast<uint32_t>(detail::checked_qo(early->raw[k], p.max_qo, ignored));
        sum = min(sum + qo, p.capacity);
      }
      first += kEarlyQoLoads * kThreads;
    }
#pragma unroll 4
    for (uint32_t i = first; i < b; i += kThreads) {
      const uint32_t qo = static_cast<uint32_t>(detail::checked_qo(load_qo<QoT>(p, i), p.max_qo, ignored));
      sum = min(sum + qo, p.capacity);
    }
    const uint64_t warp_sum = warp_sum_halves(sum);
    if (threadIdx.x % kWarpThreads == 0) smem.warp_sums[threadIdx.x / kWarpThreads] = warp_sum;
    __syncthreads();
    uint64_t total = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += smem.warp_sums[w];
    return total;
  }
}

// A page-table store, with the evict-first hint when kStreaming (kernel_params.cuh).
template <bool kStreaming, class T>
__device__ __forceinline__ void store_table(T* dst, const T& value) {
  if constexpr (kStreaming) {
    __stcs(dst, value);
  } else {
    *dst = value;
  }
}

// The first of the kColsPerThread columns, and the page, that lane `lane`
// of a group of 2^lane_bits lanes copies in pass `pass`.
__device__ __forceinline__ uint32_t pass_column(uint32_t pass, uint32_t lane, uint32_t lane_bits) {
  return (pass << (lane_bits + kColsPerThreadShift)) + lane * kColsPerThread;
}
__device__ __forceinline__ uint32_t pass_page(uint32_t pass, uint32_t lane, uint32_t lane_bits) {
  return (pass << lane_bits) + lane;
}

// Copies one request's share of its row: the passes part, part + parts, ...
// Threads form 2^kShift groups of `lanes`: each group loads the same column
// chunk (one global read per block; the other groups hit L1) and writes
// every 2^kShift-th (set, row) pair of the request. kShift = 0 (one group
// writing every pair) is the bandwidth layout; kernel_params.cuh says when
// the host picks the row-group layout. A template, so the bandwidth layout's
// code is what it was before there was a choice; kStreaming likewise.
// kOwnPages: see col_end below. Rows: the request's first row and rows,
// KnownRows or RowsAfterFirstLoads (below).
template <int kShift, bool kStreaming, bool kOwnPages, class Rows>
__device__ __forceinline__ void copy_request_rows(const KernelParams& p, const int32_t* src, uint32_t part,
                                                  Rows request_rows, uint64_t live) {
  constexpr uint32_t kLaneBits = kThreadBits - kShift;
  constexpr uint32_t kGroupMask = (1u << kShift) - 1;
  constexpr uint32_t kColsPerGroupPass = uint32_t{kColsPerThread} << kLaneBits;
  constexpr uint32_t kPagesPerGroupPass = uint32_t{1} << kLaneBits;
  const uint32_t group = threadIdx.x >> kLaneBits;
  const uint32_t lane = threadIdx.x & ((1u << kLaneBits) - 1);

  // Columns and pages in 32 bits: live <= width <= INT32_MAX (validated), so
  // every index below stays under 2^32 (c < col_end + kColsPerGroupPass, and
  // a page's column < live). Fewer registers in the copy loop: the
  // high-occupancy kernel's 40 (kCopyMinBlocks) spilled in it otherwise.
  // One loop for both tables, each pass issuing its loads before any store:
  // a load after a store to memory that might alias waits for nothing, but
  // the compiler may not hoist it, and every load waited for is a round trip.
  //
  // real_page_table: entry k is column k * page_size of the row, shifted.
  // Lane l of pass q loads page q * lanes + l, a gather over a page_size
  // times wider span of the row than the pass's columns. With kOwnPages, a
  // page size of a power of two from kColsPerThread and page_table_1
  // written, the thread whose first column starts a page stores that page
  // from its own registers instead: no gather (which re-reads lines beyond
  // L2 on large tables), but a store instruction per warp and row in every
  // pass. Only the high-occupancy kernel (about two pairs or fewer) takes it.
  // Measured (H100, docs/perf-notes.md): its large tables 1.02-1.05x faster
  // (decode W 131072 bs 256 55.1 -> 53.2 us), its other calls within 1.5%;
  // in every kernel (an earlier form, testing each of a thread's columns in
  // the row loop), tables of many pairs took up to 1.45x as long.
  const uint32_t col_end = p.sets[0].page_table_1 ? static_cast<uint32_t>(live) : 0;
  const bool own_pages = kOwnPages && p.sets[0].real_page_table && col_end > 0 && p.page_shift >= kColsPerThreadShift;
  // The page count by a shift where the page size is a power of two: the
  // division by a run-time divisor is about twenty dependent instructions.
  const uint32_t page_end = static_cast<uint32_t>(live) + p.page_size - 1;
  const uint32_t pages = !p.sets[0].real_page_table || own_pages ? 0
                         : p.page_shift >= 0                     ? page_end >> p.page_shift
                                                                 : page_end / p.page_size;
  const uint32_t passes = max((col_end + kColsPerGroupPass - 1) / kColsPerGroupPass,
                              (pages + kPagesPerGroupPass - 1) / kPagesPerGroupPass);
  // The next pass's page_table_1 lines, into L2 (kernel_params.cuh,
  // prefetches_next_pass): the code only in the large-table kernels chosen
  // for it (Rows::kNextPass).
  constexpr bool kPrefetchNextPass = (kStreaming || kOwnPages) && Rows::kNextPass;
  const uint32_t prefetch_passes = kPrefetchNextPass && group == 0 ? passes : 0;
  for (uint32_t pass = part; pass < passes; pass += p.parts.divisor) {
    if constexpr (kPrefetchNextPass) {
      // next_c is used only where next < passes, whose columns fit 32 bits.
      const uint32_t next = pass + p.parts.divisor;
      const uint32_t next_c = pass_column(next, lane, kLaneBits);
      if (next < prefetch_passes && next_c < col_end && next_c % kLineCols == 0) prefetch_l2(src + next_c);
    }
    const uint32_t c = pass_column(pass, lane, kLaneBits);
    const uint32_t page = pass_page(pass, lane, kLaneBits);
    const bool full_vector = p.vector_copy && c + kColsPerThread <= col_end;
    int4 cols = make_int4(0, 0, 0, 0);
    if (full_vector) {
      cols = *reinterpret_cast<const int4*>(src + c);
    } else if (c < col_end) {
      cols.x = src[c];
      cols.y = c + 1 < col_end ? src[c + 1] : 0;
      cols.z = c + 2 < col_end ? src[c + 2] : 0;
      cols.w = c + 3 < col_end ? src[c + 3] : 0;
    }
    const int32_t page_id = page < pages ? src[page * p.page_size] : 0;
    const int32_t page_value = p.page_shift >= 0 ? page_id >> p.page_shift
                                                 : detail::floor_div(page_id, static_cast<int32_t>(p.page_size));
    // c is a multiple of kColsPerThread and so of no page size past it: only
    // the first of the thread's columns can start a page.
    // page_shift >= kColsPerThreadShift wherever own_page holds, so the shift
    // below is only taken with a valid amount.
    const bool own_page = own_pages && c < col_end && (c & (p.page_size - 1)) == 0;
    if constexpr (Rows::kAfterFirstLoads) {
      // After the first pass's loads. Every thread of the block runs the
      // same passes, so all of them reach find()'s barrier, or none.
      if (pass == part && !request_rows.find()) return;
    }
    const uint64_t first_row = request_rows.first_row;
    const uint32_t rows = request_rows.rows;
    for (int s = 0; s < p.num_sets; ++s) {
      const DestSet& d = p.sets[s];
      // Group g stores the (set, row) pairs s * rows + j that are g modulo
      // 2^kShift: its first row of set s, then every 2^kShift-th. Visiting
      // every pair and skipping the other groups' made each thread's store
      // loop as long as the bandwidth layout's; measured (H100,
      // docs/perf-notes.md), many-pair calls up to 1.39x faster (extend
      // bs 4 E 256) and target_verify N 16 bs 1 1.21x, while the plain
      // kernel's other paths moved a little (decode bs 16 0.97x).
      const uint32_t first_j = kShift > 0 ? (group - static_cast<uint32_t>(s) * rows) & kGroupMask : 0;
      for (uint32_t j = first_j; j < rows; j += uint32_t{1} << kShift) {
        const uint64_t row = first_row + j;
        if (full_vector) {
          store_table<kStreaming>(reinterpret_cast<int4*>(d.page_table_1 + row * d.page_table_1_stride + c), cols);
        } else if (c < col_end) {
          int32_t* dst = d.page_table_1 + row * d.page_table_1_stride + c;
          dst[0] = cols.x;
          if (c + 1 < col_end) dst[1] = cols.y;
          if (c + 2 < col_end) dst[2] = cols.z;
          if (c + 3 < col_end) dst[3] = cols.w;
        }
        if (own_page) {
          store_table<kStreaming>(d.real_page_table + row * d.real_page_table_stride + (c >> p.page_shift),
                                  cols.x >> p.page_shift);
        } else if (page < pages) {
          store_table<kStreaming>(d.real_page_table + row * d.real_page_table_stride + page, page_value);
        }
      }
    }
  }
}

// The high-occupancy copy with kInFlight passes of a block loaded before any
// is stored (kernel_params.cuh, in_flight_pass_order), where copy_request_rows
// loads and stores one pass at a time: every pass's load is then one round
// trip of the block's, not one each. Bandwidth layout only, page_table_1
// wanted, and real_page_table (where wanted) stored from the copying threads'
// own columns: the host picks it only where those hold; a call where the own
// pages do not (copy_request_rows says when) takes copy_request_rows.
// Its partial-column load and store repeat copy_request_rows' on purpose: a
// helper shared by both changed every kernel's register allocation, and
// small uniform calls took 0.83-0.90x (H100, docs/perf-notes.md).
template <int kInFlight, class Rows>
__device__ __forceinline__ void copy_request_rows_in_flight(const KernelParams& p, const int32_t* src, uint32_t part,
                                                            Rows request_rows, uint64_t live) {
  const bool own_pages = p.page_shift >= kColsPerThreadShift;
  if (p.sets[0].page_table_1 == nullptr || (p.sets[0].real_page_table && !own_pages)) {
    copy_request_rows<0, false, true>(p, src, part, request_rows, live);
    return;
  }
  // 32-bit columns as in copy_request_rows: a pass past the row's is given
  // the column col_end, never formed from its index.
  const uint32_t col_end = static_cast<uint32_t>(live);
  const uint32_t passes = (col_end + kColsPerPass - 1) / kColsPerPass;
  const uint32_t stride = p.parts.divisor;
  auto column = [&](uint32_t pass) { return pass < passes ? pass_column(pass, threadIdx.x, kThreadBits) : col_end; };
  if constexpr (Rows::kEarlySum) {
    if (part < passes) request_rows.start();
  }
  for (uint32_t first = part; first < passes; first += stride * kInFlight) {
    int4 cols[kInFlight];
#pragma unroll
    for (int k = 0; k < kInFlight; ++k) {
      const uint32_t c = column(first + k * stride);
      cols[k] = make_int4(0, 0, 0, 0);
      if (p.vector_copy && c + kColsPerThread <= col_end) {
        cols[k] = *reinterpret_cast<const int4*>(src + c);
      } else if (c < col_end) {
        cols[k].x = src[c];
        cols[k].y = c + 1 < col_end ? src[c + 1] : 0;
        cols[k].z = c + 2 < col_end ? src[c + 2] : 0;
        cols[k].w = c + 3 < col_end ? src[c + 3] : 0;
      }
    }
    if constexpr (Rows::kAfterFirstLoads) {
      if (first == part && !request_rows.find()) return;
    }
    for (int s = 0; s < p.num_sets; ++s) {
      const DestSet& d = p.sets[s];
      for (uint32_t j = 0; j < request_rows.rows; ++j) {
        const uint64_t row = request_rows.first_row + j;
#pragma unroll
        for (int k = 0; k < kInFlight; ++k) {
          const uint32_t c = column(first + k * stride);
          int32_t* dst = d.page_table_1 + row * d.page_table_1_stride + c;
          if (p.vector_copy && c + kColsPerThread <= col_end) {
            *reinterpret_cast<int4*>(dst) = cols[k];
          } else if (c < col_end) {
            dst[0] = cols[k].x;
            if (c + 1 < col_end) dst[1] = cols[k].y;
            if (c + 2 < col_end) dst[2] = cols[k].z;
            if (c + 3 < col_end) dst[3] = cols[k].w;
          }
          if (d.real_page_table && c < col_end && (c & (p.page_size - 1)) == 0) {
            d.real_page_table[row * d.real_page_table_stride + (c >> p.page_shift)] = cols[k].x >> p.page_shift;
          }
        }
      }
    }
  }
}

// The rows of a request of qo rows whose first row is first_row (below the
// capacity) that fit the capacity.
__device__ __forceinline__ uint32_t rows_within_capacity(const KernelParams& p, uint64_t first_row, uint64_t qo) {
  return static_cast<uint32_t>(min(qo, p.capacity - first_row));
}

// Page-table block `index` (counted from the first after the request block)
// copies part `part` of request `b`'s row.
struct TableBlockRequest {
  uint32_t b;
  uint32_t part;
};
__device__ __forceinline__ TableBlockRequest table_block_request(const KernelParams& p, uint32_t index) {
  // index < gridDim.x < 2^31, as PartsDivisor needs.
  const uint32_t b = quotient(p.parts, index);
  return {b, index - b * p.parts.divisor};
}

// The request's row of req_to_token; its pool index is checked.
__device__ __forceinline__ const int32_t* pool_row(const KernelParams& p, int64_t pool_index) {
  return p.req_to_token + static_cast<uint64_t>(pool_index) * p.req_to_token_stride;
}

// A request's rows in the table, summed before the copy. kNext: the copy
// prefetches its next pass (kernel_params.cuh, prefetches_next_pass).
// kInFlight: passes loaded before any is stored (copy_request_rows_in_flight;
// 1: copy_request_rows).
template <bool kNext, int kInFlight = 1>
struct KnownRows {
  static constexpr bool kEarlySum = false;
  static constexpr bool kAfterFirstLoads = false;
  static constexpr bool kNextPass = kNext;
  static constexpr int kPassesInFlight = kInFlight;
  uint64_t first_row;
  uint32_t rows;
};

// A request's rows, summed once the block's first pass has issued its loads
// (copy_request_rows calls find() there), so that the sum's loads and barrier
// overlap the row's loads; a block with no pass of its request never sums.
// find() is false when no row of the request fits the capacity. kEarly: with
// passes in flight, the sum's first loads go before the row's (start(),
// load_early_qo; expand_cuda.cu says which kernels).
template <class QoT, bool kNext, int kInFlight = 1, bool kEarly = false>
struct RowsAfterFirstLoads {
  static constexpr bool kEarlySum = kInFlight > 1 && kEarly;
  static constexpr bool kAfterFirstLoads = true;
  static constexpr bool kNextPass = kNext;
  static constexpr int kPassesInFlight = kInFlight;
  const KernelParams& p;
  uint32_t b;
  uint32_t qo;
  PageTableStorage& smem;
  uint64_t first_row = 0;
  uint32_t rows = 0;
  EarlyQo<QoT> early{};
  __device__ __forceinline__ void start() { early = load_early_qo<QoT>(p, b); }
  __device__ __forceinline__ bool find() {
    first_row = kEarlySum ? rows_before<QoT>(p, b, smem, &early) : rows_before<QoT>(p, b, smem);
    if (first_row >= p.capacity) return false;
    rows = rows_within_capacity(p, first_row, qo);
    return true;
  }
};

// The columns of a request's rows that are copied: its live prefix, or the
// whole width with full_width.
__device__ __forceinline__ uint64_t copied_columns(const KernelParams& p, int64_t kv) {
  return p.full_width ? p.width : min(detail::clamped_kv(kv), static_cast<int64_t>(p.width));
}

// kFewPairs: the high-occupancy kernel's tables (at most kCopyMaxPairs
// pairs on average): no row-group layout (they never take it) and own pages.
template <bool kStreaming, bool kFewPairs, class Rows>
__device__ __forceinline__ void copy_in_layout(const KernelParams& p, const int32_t* src, uint32_t part, Rows rows,
                                               uint64_t live) {
  if constexpr (kFewPairs && Rows::kPassesInFlight > 1) {
    copy_request_rows_in_flight<Rows::kPassesInFlight>(p, src, part, rows, live);
  } else if constexpr (kFewPairs) {
    copy_request_rows<0, kStreaming, true>(p, src, part, rows, live);
  } else if (p.row_groups) {
    copy_request_rows<kRowGroupShift, kStreaming, false>(p, src, part, rows, live);
  } else {
    copy_request_rows<0, kStreaming, false>(p, src, part, rows, live);
  }
}

// Before the wait, a page-table block of a wait-first grid (kLaunchAfterWait,
// which sits on the GPU for a microsecond or more before the prior grid
// ends) fetches into L2 the lines its first pass will load: its columns of
// the request's row and, where it copies real_page_table, its pages. The
// request's pool index is read for that before the wait, so it may be stale
// (the prior grid may still write it): it serves only this prefetch, checked
// against the pool and the width so that any value names lines of
// req_to_token, and the copy reads it again after the wait. It bypasses L1
// (ld.global.cg), so no line read before the wait is read from L1 after it.
// Measured (H100, bench_metadata behind --hold-cycles=100000, two rounds;
// the same with a plain load in another device call): small per-request
// calls up to 3.1% faster (extend W 4096 bs 4 E 16 2.05 -> 1.99 us, W 32768
// bs 4 E 4 2.08 -> 2.02, draft_extend W 32768 bs 1 1.75 -> 1.72), draft_extend
// at bs 16 unchanged, the other calls 0.99-1.015x. A block trace shows the
// gain before the block's first load after the wait, not in the row's load
// itself; a prefetch of the request's kv, qo and pool index lines alone
// (nothing read before the wait) lost up to 5% at bs 16. In two suite runs
// against one without it: per-request cells at bs 1-16 under 1 MB 1.017x
// at the geometric mean (up to 1.048x); but per-request cells at bs 64 W 4096
// N 1-8 (1-3 MB) 0.945-0.996x, where the prefetch's traffic presumably
// meets the prior grid's copy (docs/perf-notes.md). Hence only small batches
// of small tables prefetch (kernel_params.cuh, kPrefetchMaxBatch).
// Grids that let the next launch first go without: their later blocks start
// after the release, where the read would only add a round trip.
__device__ __forceinline__ void prefetch_first_pass(const KernelParams& p, uint32_t index) {
  if (p.req_to_token == nullptr) return;
  const uint32_t lane_bits = p.row_groups ? kThreadBits - kRowGroupShift : kThreadBits;
  const uint32_t lane = threadIdx.x;
  if (lane >> lane_bits) return;  // group 0 loads what every group of the block loads
  const auto [b, part] = table_block_request(p, index);
  const int64_t pool_index = p.rpi_int64 ? __ldcg(static_cast<const int64_t*>(p.req_pool_indices) + b)
                                         : __ldcg(static_cast<const int32_t*>(p.req_pool_indices) + b);
  if (pool_index < 0 || pool_index >= p.pool_rows) return;
  const int32_t* src = pool_row(p, pool_index);
  // The first pass's column and page of this lane, as copy_request_rows counts them.
  const uint32_t c = pass_column(part, lane, lane_bits);
  if (c % kLineCols == 0 && c < p.width) prefetch_l2(src + c);
  const uint64_t page_col = static_cast<uint64_t>(pass_page(part, lane, lane_bits)) * p.page_size;
  if (p.sets[0].real_page_table && page_col < p.width) prefetch_l2(src + page_col);
}

// kSumAfterFirstLoads: per-request blocks sum the rows before their request
// after their first pass's loads (RowsAfterFirstLoads); expand_cuda.cu says
// which kernels do. kNextPass: the blocks prefetch their next pass.
// kInFlight: the high-occupancy copy's passes in flight (copy_in_layout).
// kEarlySum: RowsAfterFirstLoads' kEarly.
template <class KvT, class QoT, bool kStreaming, bool kFewPairs, bool kSumAfterFirstLoads, bool kNextPass,
          int kInFlight = 1, bool kEarlySum = false>
__device__ __forceinline__ void page_table_block(const KernelParams& p, uint32_t index, PageTableStorage& smem) {
  const auto [b, part] = table_block_request(p, index);
  const int64_t kv = detail::offset_kv(static_cast<const KvT*>(p.kv_lens)[b], p.kv_offset);
  const int64_t raw_qo = load_qo<QoT>(p, b);
  const int64_t pool_index = load_pool_index(p, b);
  int32_t ignored = 0;
  if constexpr (kSumAfterFirstLoads && !std::is_same_v<QoT, UniformQo>) {
    // The exits below, but for the capacity's, which find() takes.
    const int64_t qo = detail::checked_qo(raw_qo, p.max_qo, ignored);
    if (pool_index < 0 || pool_index >= p.pool_rows || p.req_to_token == nullptr || qo == 0) return;
    const RowsAfterFirstLoads<QoT, kNextPass, kInFlight, kEarlySum> rows{p, b, static_cast<uint32_t>(qo), smem};
    copy_in_layout<kStreaming, kFewPairs>(p, pool_row(p, pool_index), part, rows, copied_columns(p, kv));
  } else {
    const uint64_t first_row = rows_before<QoT>(p, b, smem);
    const int64_t qo = detail::checked_qo(raw_qo, p.max_qo, ignored);
    // Block-uniform exits: a bad pool index (the request block flags it), no
    // row of this request within the capacity, or a null table (validation
    // allows it only without elements: no column to copy, and no pointer
    // arithmetic on null).
    if (pool_index < 0 || pool_index >= p.pool_rows || first_row >= p.capacity || p.req_to_token == nullptr) return;
    if constexpr (!std::is_same_v<QoT, UniformQo>) {
      // A request with no row (an accept length of 0, or a qo out of range)
      // loads nothing. Only where qo is per request: the uniform
      // instantiations keep their code (the same exit taken after the rows, in
      // every instantiation, cost small calls 0.2-0.3 us; docs/perf-notes.md).
      if (qo == 0) return;
    }
    const KnownRows<kNextPass, kInFlight> rows{first_row, rows_within_capacity(p, first_row, static_cast<uint64_t>(qo))};
    copy_in_layout<kStreaming, kFewPairs>(p, pool_row(p, pool_index), part, rows, copied_columns(p, kv));
  }
}

}  // namespace cuda_detail
}  // namespace specmeta
