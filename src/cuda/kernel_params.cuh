// What a launch of the expansion kernel gets: host ints and raw pointers only,
// so the grid and every parameter are fixed when a CUDA graph is captured.
#pragma once

#include <cstdint>

#include "specmeta/expand.h"

namespace specmeta {
namespace cuda_detail {

constexpr int kThreadBits = 8;
constexpr int kThreads = 1 << kThreadBits;
constexpr int kRowsPerThread = 4;  // one int4 store per per-row output
constexpr int kRowsPerBlock = kThreads * kRowsPerThread;
// Requests per thread of a row block's scan: one for batches of up to
// kThreads requests (loaded straight into registers), else four (a chunk of
// kThreads * kWideItems requests, staged through shared memory).
constexpr int kNarrowItems = 1;
constexpr int kWideItems = 4;
// Batches (and capacities) that fit one warp's threads are scanned by warp 0
// alone with shuffles: no block barrier, a few hundred cycles less on the
// latency path where it matters most (small batches).
constexpr int kWarpThreads = 32;
constexpr int kWarps = kThreads / kWarpThreads;
constexpr unsigned kFullWarp = 0xffffffffu;
// Page tables: each thread copies kColsPerThread columns (one int4) per pass.
constexpr int kColsPerThreadShift = 2;
constexpr int kColsPerThread = 1 << kColsPerThreadShift;
constexpr int kColsPerPass = kThreads * kColsPerThread;
// Page-table blocks per launch the grid aims at when widths allow it: about
// two waves of full occupancy on an H100 (132 SMs x 8 blocks of 256
// threads), enough memory traffic in flight to reach copy bandwidth, few
// enough that a block's fixed cost (finding its request's first row) stays
// small against its share of the copy.
constexpr int64_t kPageTableBlockTarget = 2048;
// Grids whose qo is per request aim at half as many: each of their
// page-table blocks first sums the rows of the requests before its own
// (page_table_block.cuh, rows_before), a fixed cost that fewer, longer
// blocks pay less often. Measured (H100, bench_metadata, with the
// high-occupancy kernel's sum after its first loads, expand_cuda.cu):
// draft_extend W 8192 bs 256 6.48 -> 5.88 us, one or two rows per request at
// bs 1024 W 4096 1.05-1.20x, the other cases within 1% (docs/perf-notes.md).
constexpr int64_t kPerRequestBlockTarget = kPageTableBlockTarget / 2;
// The row-group layout of the page-table blocks: 2^kRowGroupShift groups of
// threads per block, each loading the same quarter-width column chunk and
// storing a share of the request's (set, row) pairs: four times the blocks,
// a quarter of the stores each. Measured (docs/perf-notes.md): it halves
// calls whose requests have many rows (extend), and shortens small calls a
// little; but a grid past one wave of resident blocks (132 SMs x 8 on an
// H100) runs in two rounds of latency-bound blocks (target_verify bs = 64
// took 6.2 us instead of 3.7), and with fewer (set, row) pairs than groups,
// groups idle. So the host picks it only when a request has at least as many
// pairs as groups and the grid in this layout stays within
// kRowGroupGridLimit blocks, or within kRowGroupFewPairsGridLimit for tables
// of fewer than kRowGroupManyPairs pairs: each of those blocks stores a row
// or two, and a latency-bound grid of over about 400 such blocks lost to the
// 130 blocks of the bandwidth layout (measured, H100: W 131072 at bs 1 and
// W 32768 at bs 4 with 514 blocks, N or E 4 and 8: 1.11-1.32x faster without
// row groups; target_verify W 8192 bs 16, 1.08x; again with each group
// visiting only its own pairs, limits of 768 and 1024 0.83-0.89x). With
// more pairs the stores dominate and the row groups win up to the larger
// limit (extend E 64, bs 32, W 8192: 1026 blocks, 1.42x faster than without).
constexpr int kRowGroupShift = 2;
constexpr int64_t kRowGroupGridLimit = 1024;
constexpr int64_t kRowGroupManyPairs = 16;
constexpr int64_t kRowGroupFewPairsGridLimit = 384;
// Page-table stores carry the evict-first cache hint (st.global.cs) for
// tables that write each loaded chunk to at least kStreamingStoreMinPairs
// (set, row) pairs, rows as table_row_bound counts them, and have at least
// kStreamingStoreMinUnits (row, set, pass) units: the batch's rows (at most
// bs x the row bound, and at most the capacity) x sets x column passes. Rows
// the host does not know (draft_extend's accept lengths, extend's lengths)
// average about half their bound, so those calls need kVariableRowsFactor
// times the units. Such a table is written once and not read again by the
// call, so its lines need not displace the req_to_token lines still to be
// read. Measured (docs/perf-notes.md): 1-33% faster from 2048 units
// (target_verify bs 64, 8192 columns: 3.86 -> 3.40 us; four sets
// 10.4 -> 8.2 us). With the hint on every table, small calls were
// 0.03-0.06 us slower and decode (one row per request) 1-3% slower; counting
// extend's and draft_extend's rows at their bound, small calls of theirs were
// 0.2-0.5 us slower (H9): hence the thresholds.
constexpr int64_t kStreamingStoreMinPairs = 3;
constexpr int64_t kStreamingStoreMinUnits = 2048;
constexpr int64_t kVariableRowsFactor = 2;

// Tables of at most kCopyMaxPairs (set, row) pairs per request on average
// (average_table_pairs: decode, N of 1 or 2, and rows that vary per request
// up to a bound of 5, such as draft_extend N 4 and extend E 4), laid out
// without row groups and of at least kCopyMinUnits units (counted as above;
// kCopyAveragedMinUnits where only the average is within kCopyMaxPairs),
// are copied by an instantiation of the kernel whose registers allow
// kCopyMinBlocks blocks per multiprocessor (40 registers, some spilled)
// instead of the compiler's choice (52-70: 3-4 blocks): a copy that stores each
// loaded chunk once or twice is bound by the loads in flight, which more
// resident blocks raise. Measured (docs/perf-notes.md): 7-9% faster on the
// large decode tables of bench_metadata, 4.6% at the geometric mean over the
// suite's cells of one or two rows per request that take it; on every call
// it was slower on small calls (0.1-0.6 us: the row and request blocks
// spill) and on tables of many pairs (up to 14%), hence the thresholds.
//
// Rows that vary per request count at their average, not their bound: the
// tables of draft_extend and extend of up to 3-5 rows, which took streaming
// stores before. Measured (H100, bench_metadata, docs/perf-notes.md), with
// at least 16384 rows x passes: 1.11-1.15x faster at bs 1024 (W 4096 and
// 32768), 1.04-1.05x at bs 256 (W 32768 and 131072), 1.003-1.036x at bs 4-64
// (W 131072 and 1048576); with 4096-8192, 0.93-0.996x (W 131072 bs 16,
// W 1048576 bs 1, W 32768 bs 64), though W 4096 bs 256 1.01-1.04x. Such
// tables therefore need kCopyAveragedMinUnits (counted as above: 16384 rows
// x passes). With kCopyMaxPairs 4 (uniform rows of 3-4 and the averages of
// bounds up to 9 too), small uniform tables were up to 9% slower
// (target_verify W 8192 bs 64 N 4 0.935x, four-set decode 0.912x). Where a
// small req_to_token pool stays in L2 from call to call, as in the suite,
// the streaming stores keep its lines there and win (docs/perf-notes.md).
constexpr int kCopyMinBlocks = 6;
constexpr int64_t kCopyMaxPairs = 2;
constexpr int64_t kCopyMinUnits = 2048;
constexpr int64_t kCopyAveragedMinUnits = 4 * kCopyMinUnits;

// Large tables spread each request's row over more blocks than the block
// target gives: each block copies about kUnitsPerTableBlock units (a 1024-
// column pass read once and written to each of the request's (set, row)
// pairs: passes x (1 + pairs)), so one-pair tables get passes of 5 per block,
// sixteen-pair tables one. With the target's few blocks per request, each
// copying many passes, the resident blocks (about a thousand) work on as
// many rows at once, megabytes apart, and a table far beyond L2 reached 75%
// of a contiguous copy (bench/probes/table_locality.cu). With the spread,
// the resident blocks work on fewer rows at a time: tables of 100-600 MB
// took 5-17% less time (bench_metadata --large; docs/perf-notes.md) and
// smaller ones up to 4% less, none more. One pass per block whatever the
// pairs made one-pair tables 1.2-1.6x slower (each block's fixed cost: its
// request's first row). The grid stays within kSpreadGridLimit table blocks.
constexpr int64_t kUnitsPerTableBlock = 10;
constexpr int64_t kSpreadGridLimit = int64_t{1} << 20;

// Launch order under programmatic dependent launch. When a block lets the
// next grid launch before it waits for the prior one, a CUDA graph of small
// calls stacks up to about sixteen waiting grids on the GPU (block traces),
// each with a constant bank of its own; a call's parameter lines read before
// its wait then do not stay cached until it runs (likely why reading them
// there made per-request calls slower). Grids of at most
// kLaunchAfterWaitMaxBlocks blocks therefore wait first and then let the next
// grid launch, so two grids sit on the GPU at a time, and read their
// parameter lines before the wait in every instantiation; larger grids keep
// the other order, since a grid that fills the multiprocessors needs the next
// one's blocks placed early. Measured (H100, docs/perf-notes.md): small
// per-request calls 1.09-1.13x faster (130 and 258 blocks), decode bs 16
// 1.06x; grids of 514 blocks and more 2-5% slower in this order. The order is
// a template parameter, so larger grids run the code they ran before (a
// run-time branch at the entry cost large decode tables 8-13%). The
// high-occupancy copy's tables have larger grids: it has the one order.
constexpr int64_t kLaunchAfterWaitMaxBlocks = 384;
// Uniform-qo calls of at least kLaunchFirstUniformMinBatch requests let the
// next grid launch before their wait (the larger grids' order) at every grid
// size. A graph replay queued behind other work
// (as in a server, and in the suite, whose replays wait behind a sleeping
// kernel) runs these small grids slower in the wait-first order, by about
// 0.26 us a call: measured (H100, bench_metadata --hold-cycles=100000,
// docs/perf-notes.md) target_verify W 4096 bs 16 1.98 -> 1.72 us, N 8
// 2.18 -> 1.89, draft_extend_static bs 16 1.96 -> 1.72, launches on an idle
// GPU unchanged. At bs 8 it gains 2.3-2.4% (target_verify W 4096 N 8
// 1.76 -> 1.72, draft_extend_static 1.63 -> 1.59). At bs 4 it is a wash: the
// suite's uniform cells there moved 0.945-1.038x, geometric mean 0.999. Per-
// request calls lose in the first order in both states (0.82-0.89x), and so
// do uniform calls of one request (target_verify W 131072 bs 1 N 8
// 2.79 -> 3.77 us, W 8192 1.52 -> 1.62). Smaller batches therefore keep the
// wait-first order.
constexpr int64_t kLaunchFirstUniformMinBatch = 8;
// Page-table blocks of wait-first grids prefetch their first pass before the
// wait (page_table_block.cuh, prefetch_first_pass) only for batches of at
// most kPrefetchMaxBatch requests whose table bound, capacity x width, is at
// most kPrefetchMaxTableCells: in the suite (H100, two runs) the prefetch
// made per-request calls at bs 1-16 under 1 MB 1.017x faster, but bs 64
// W 4096 0.945-0.996x. With the rule (and rows_before's warp sum), two
// suite runs had the per-request cells of 1-16 MB 1.03x faster than both
// runs with the prefetch everywhere, the small cells unchanged
// (1.003-1.004x). In bench_metadata alone the rule measured mixed: W 131072
// bs 1 N 8 (2^20 cells) 0.98-0.99x behind the hold, 0.98-1.04x idle; bs 64
// W 4096 0.99x behind the hold, 1.016x idle.
constexpr int64_t kPrefetchMaxBatch = 16;
constexpr int64_t kPrefetchMaxTableCells = int64_t{1} << 19;

// Page-table blocks of the large-table kernels (streaming stores or high
// occupancy) prefetch into L2, before each pass's loads, the columns of their
// next pass (page_table_block.cuh): the rows come from DRAM, and the
// prefetched pass's loads then overlap this pass's stores (and, where rows
// are per request, the sum of the rows before the request). They do so when
// the table has at most kPrefetchNextPassMaxPairs pairs per request on
// average, the grid at least kPrefetchNextPassMinBlocks page-table blocks,
// and a block at least kPrefetchNextPassMinPasses passes of its request's
// row at the width; where rows are uniform, at least
// kPrefetchNextPassMinPassesUniform passes, and in the high-occupancy kernel
// only (uniform tables of more pairs take streaming stores, whose blocks have
// at most two passes: kUnitsPerTableBlock).
// Measured (H100, bench_metadata, rows from DRAM, docs/perf-notes.md):
// - uniform tables from 3 passes a block 1.014-1.037x (decode W 32768
//   bs 1024 53.73 -> 51.79 us); the code alone made those of 1-2 passes a
//   block 0.955-0.992x, prefetching or not;
// - per-request tables on grids of 1664 blocks or more 1.012-1.066x
//   (draft_extend W 32768 bs 1024 N 1 30.58 -> 28.68 us); on grids of 1024
//   or 1368 blocks 0.959-1.014x, where the code alone, not prefetching, cost
//   0.961-0.994x (draft_extend W 32768 bs 64 N 2 4.32 -> 4.50 us);
// - the small calls' kernel lost 1-3% with the code.
// So kernels of their own carry it (template parameters, expand_cuda.cu), and
// the others are compiled without it. A grid of kPrefetchNextPassMinBlocks
// blocks lets the next grid launch first (the static_assert), so per-request
// blocks then sum after their loads.
constexpr int64_t kPrefetchNextPassMaxPairs = 4;
constexpr int64_t kPrefetchNextPassMinBlocks = 3 * kPerRequestBlockTarget / 2;
constexpr int64_t kPrefetchNextPassMinPasses = 2;
constexpr int64_t kPrefetchNextPassMinPassesUniform = 3;
static_assert(kPrefetchNextPassMinBlocks > kLaunchAfterWaitMaxBlocks, "prefetching grids must launch the next first");

// The high-occupancy copy's blocks of at least kPassesInFlightMinPasses
// passes load kPassesInFlight passes before they store any
// (page_table_block.cuh, copy_request_rows_in_flight): one pass at a time,
// each pass's load is a round trip of its own, which tables in or near L2
// wait for in turn. Where rows are uniform, such tables are laid out for it,
// a block per kPassesInFlight passes of a row (page_table_layout). Where rows
// are per request, the layout stays, and only tables of at most
// kPassesInFlightMaxPerRequestPairs pair per request on average (a row bound
// of at most 3) take it. Uniform tables take it before the next-pass
// prefetch, per-request ones where their grid has at most
// kPerRequestInFlightFirstMaxBlocks page-table blocks.
// Measured (H100, bench_metadata behind the suite's state,
// docs/perf-notes.md): lean copies of the suite's bs 1024 W 4096 shapes took
// decode 6.26 us with a block per row, all four passes in flight, where the
// builder took 8.05; in the builder, uniform tables 1.01-1.31x faster
// (decode W 4096 bs 1024 8.08 -> 6.19 us, W 1048576 bs 4 1.22x, W 32768
// bs 256 1.16x). Per-request tables at a bound of 4 lost (0.97x at
// draft_extend W 1048576 bs 4 N 4; 0.93-0.99x with the prefetch given way).
//
// The uniform kernel is compiled for kInFlightMinBlocks blocks per
// multiprocessor (48 registers): for kCopyMinBlocks it spilled more and was
// up to 1.2x slower on tables of four requests of a million columns. The
// per-request one, whose rows-before sum (page_table_block.cuh, rows_before)
// runs with the passes' registers live, spilled at 48 too: compiled for
// kPerRequestInFlightMinBlocks (64 registers, no spills), one and two rows
// per request at bs 1024 W 4096 1.20-1.21x faster (extend E 1 8.24 -> 6.84
// us), W 1048576 bs 4 1.04-1.06x; and taking the passes in flight before the
// prefetch then gained where it had lost at 48 registers: grids of 1664-1792
// blocks (extend W 32768 bs 256 E 1 1.08x, W 131072 bs 64 E 1 1.10x, E 2
// 1.03-1.04x), 3280 blocks 1.005x (draft_extend W 1048576 bs 16 N 1); but
// grids of 6656 blocks or more lost (bs 1024 W 32768 0.976-0.980x, W 131072
// 0.962-0.975x; bs 256 W 131072 0.994-0.996x), which keep the prefetch.
//
// Per-request tables of more pairs on average (up to kCopyMaxPairs: extend
// E 4, draft_extend N 4) load kPassesInFlightTwoPairs passes before they
// store any, in a kernel compiled for kCopyMinBlocks as the one-at-a-time
// copy (at 40 registers it spills about what that one does, ptxas: nothing
// in the small-batch kernels, 164-168 bytes against 156-168), on grids
// of at most kTwoPairsInFlightMaxBlocks page-table blocks, before the
// prefetch. Measured (H100, bench_metadata behind the suite's state, three
// rounds): grids of 1368-2048 blocks 1.02-1.15x faster (extend W 4096
// bs 1024 E 4 12.01 -> 10.80 us, W 2048 bs 2048 1.15x, W 16384 bs 256 and
// W 65536 bs 64 1.05x, W 1048576 bs 4 1.045x), W 3072 bs 1024 (1024 blocks of
// 3) 1.008x; grids of 2752-3072 blocks, which prefetch, 0.989-0.997x (W 8192
// bs 1024, W 32768 bs 256, W 131072 bs 64), so they keep the prefetch.
// The four-pass kernel at 64 registers had lost on these (0.93-0.99x), and
// the same two-pass kernel for 5 blocks per multiprocessor gained less.
constexpr int kPassesInFlight = 4;
constexpr int kInFlightMinBlocks = 5;
constexpr int kPerRequestInFlightMinBlocks = 4;
constexpr int64_t kPerRequestInFlightFirstMaxBlocks = 4096;
constexpr int64_t kPassesInFlightMinPasses = 2;
constexpr int64_t kPassesInFlightMaxPerRequestPairs = 1;
constexpr int kPassesInFlightTwoPairs = 2;
constexpr int64_t kTwoPairsInFlightMaxBlocks = 2048;
static_assert(kPassesInFlightTwoPairs != kPassesInFlight && kPassesInFlightTwoPairs > 1, "two kernels of their own");
static_assert(kTwoPairsInFlightMaxBlocks <= kPerRequestInFlightFirstMaxBlocks, "in flight before the prefetch");

// Rows per request as the rules count them: qo_uniform, else max_qo, at
// most ceil(capacity / bs). The batch's rows fit the capacity, so only a few
// requests can have more; a call where one does is still copied right, by
// the kernel chosen for shorter rows. Counted up to the whole capacity,
// extend's requests of one or two rows took the streaming stores instead of
// the high-occupancy kernel and were 12-19% slower (bench_metadata --large,
// extend E 1 and 2 at bs 1024).
int64_t table_row_bound(const ExpandArgs& a);
// (set, row) pairs per request of `a` on average as the host guesses it: the
// rows when uniform, else half the row bound (kVariableRowsFactor).
int64_t average_table_pairs(const ExpandArgs& a);
// (set, row) pairs per request of the validated call `a`, rows at the row bound.
int64_t table_pairs(const ExpandArgs& a);
// True when `a`'s table has at least `units` (row, set, pass) units, counted
// as the streaming rule counts them (rows that vary per request: twice).
bool table_units_at_least(const ExpandArgs& a, int64_t units);
// True when `a`'s page-table stores carry the evict-first hint (the rule
// above), never for a table that the high-occupancy kernel copies.
bool streaming_table_stores(const ExpandArgs& a);
// True when `a`'s table is copied by the kCopyMinBlocks instantiation, which
// has no row-group code: a table laid out in row groups never is.
bool high_occupancy_table_copy(const ExpandArgs& a);
// True when a builder grid of `grid` blocks for a batch of `bs` requests,
// of uniform qo or not, lets the next grid launch only after its own wait
// (kLaunchAfterWaitMaxBlocks, kLaunchFirstUniformMinBatch).
bool launches_after_wait(int64_t grid, bool uniform_qo, int64_t bs);
// True when the page-table blocks of `a` prefetch their first pass before the
// wait (kPrefetchMaxBatch, kPrefetchMaxTableCells; wait-first grids only).
bool prefetches_first_pass(const ExpandArgs& a);

// The page-table blocks `a`'s grid aims at: kPageTableBlockTarget, or
// kPerRequestBlockTarget where qo is per request.
int64_t page_table_block_target(const ExpandArgs& a);

// How a call's page tables are copied: plainly, with streaming stores, or
// plainly by the kernel compiled for kCopyMinBlocks blocks per multiprocessor.
enum class TableCopy { kPlain, kStreaming, kHighOccupancy };
// The copy `a` gets when it wants a page table: the high-occupancy kernel
// where its rule holds, else streaming stores where theirs does (tables of
// up to 5 rows that vary per request can meet both).
TableCopy table_copy(const ExpandArgs& a);

// How the page-table blocks split the table: the row-group shift and the
// blocks per request (expand_cuda.cu explains the block target, the
// constants above the spread of large tables).
struct PageTableLayout {
  bool row_groups;
  uint32_t parts_per_request;
};
PageTableLayout page_table_layout(const ExpandArgs& a);
// high_occupancy_table_copy and table_copy of a call laid out in `layout`
// (page_table_layout(a)): the launch's form, which has the layout already.
bool high_occupancy_table_copy(const ExpandArgs& a, const PageTableLayout& layout);
TableCopy table_copy(const ExpandArgs& a, const PageTableLayout& layout);

// The builder's grid for the validated call `a` (expand_cuda.cu's header
// says which block plays which role); from host ints only, so a captured
// graph replays with any input values. blocks may pass gridDim.x's limit:
// the launch checks it.
struct BuilderGrid {
  uint32_t row_blocks;
  PageTableLayout layout;
  int64_t blocks;  // row blocks, the request block, then the page-table blocks
};
BuilderGrid builder_grid(const ExpandArgs& a);

// True when the page-table blocks of `a`, copied by `copy` in `layout`,
// prefetch their next pass (kPrefetchNextPassMaxPairs, above); for uniform
// rows, the launch then takes the high-occupancy kernel that has the code.
bool prefetches_next_pass(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout);
// The order of a block's passes (pass_order): one at a time, one at a time
// each prefetching the next, kPassesInFlight loaded before any is stored, or
// kPassesInFlightTwoPairs. Each takes kernels of its own (expand_cuda.cu).
enum class PassOrder { kOneByOne, kPrefetchNext, kInFlight, kTwoInFlight };
// How many passes a block of the high-occupancy copy of `a` in `layout` loads
// before it stores any (page_table_block.cuh, copy_request_rows_in_flight):
// kInFlight, kTwoInFlight or kOneByOne. More than one needs at least
// kPassesInFlightMinPasses passes a block, page_table_1 wanted (live
// prefixes), and real_page_table, if wanted, of a power-of-two page size of at
// least kColsPerThread (stored from the copying threads' own columns). Then
// kInFlight where rows are uniform or at most
// kPassesInFlightMaxPerRequestPairs pair per request on average, else
// kTwoInFlight on grids of at most kTwoPairsInFlightMaxBlocks page-table
// blocks.
PassOrder in_flight_pass_order(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout);
// The order of a block's passes: in_flight_pass_order's where it loads more
// than one (first, but for per-request grids of over
// kPerRequestInFlightFirstMaxBlocks blocks), else kPrefetchNext where
// prefetches_next_pass holds, else in_flight_pass_order's.
PassOrder pass_order(const ExpandArgs& a, TableCopy copy, const PageTableLayout& layout);

// The qo of every request is the host int qo_uniform.
struct UniformQo {};

// One destination set's outputs; nullptr = not wanted. All sets want the
// same outputs (validated), so sets[0] decides what is computed.
struct DestSet {
  int32_t* seqlens_expanded;
  int32_t* sparse_seqlens;
  int32_t* sparse_cu_seqlens_k;
  int32_t* row_to_req;
  int32_t* cache_seqlens;
  int32_t* cu_seqlens_k;
  int32_t* cu_seqlens_q;
  int32_t* num_rows;
  int32_t* status;
  int32_t* page_table_1;
  int32_t* real_page_table;
  uint64_t page_table_1_stride;
  uint64_t real_page_table_stride;
};

// A divisor d >= 1 fixed at launch, for dividends under 2^31: n / d is
// __umulhi(n, magic) >> shift (d = 1 passes n through). With
// shift = ceil(log2 d) - 1 and magic = ceil(2^(32 + shift) / d) < 2^32, the
// quotient's error is under n / 2^(32 + shift) < 2^-(shift + 1) <= 1 / d,
// too little to cross an integer. The page-table blocks divide their index
// by the blocks per request before their first load: a plain 32-bit
// division by a run-time divisor is about twenty dependent instructions
// there. Measured with the page count by a shift (page_table_block.cuh;
// H200, bench_metadata and two suite runs, docs/perf-notes.md): calls
// under 16 MB 1.025-1.034x faster at the geometric mean, target_verify
// W 8192 bs 256 1.06x; per-request calls at bs 16 W 4096 in row groups
// 0.93-0.96x (each half of the change costs them about half).
struct PartsDivisor {
  uint32_t divisor;
  uint32_t magic;
  uint32_t shift;
};
PartsDivisor parts_divisor(uint32_t divisor);
__host__ __device__ __forceinline__ uint32_t quotient(const PartsDivisor& d, uint32_t n) {
#ifdef __CUDA_ARCH__
  const uint32_t high = __umulhi(n, d.magic);
#else
  const uint32_t high = static_cast<uint32_t>((uint64_t{n} * d.magic) >> 32);
#endif
  return d.divisor == 1 ? n : high >> d.shift;
}

// Sizes are validated to be at most INT32_MAX on the host, so rows and
// requests are indexed in 32 bits: a row index stays below
// capacity + kRowsPerBlock < 2^32. Half the instructions of 64-bit indexing.
// Table offsets (row * stride) are 64-bit: tables of 1M columns exist.
struct KernelParams {
  const void* kv_lens;
  const void* qo_lens;
  const void* req_pool_indices;
  const int32_t* req_to_token;
  uint64_t req_to_token_stride;
  int64_t pool_rows;
  uint32_t bs;
  uint32_t qo_uniform;
  uint32_t max_qo;
  uint32_t capacity;
  uint32_t kv_offset;
  uint32_t topk;
  uint32_t kpool;
  uint32_t width;
  uint32_t page_size;
  int32_t page_shift;  // log2(page_size) when a power of two (a shift floors like torch's //), else -1
  uint32_t row_blocks;         // blocks [0, row_blocks) write the per-row outputs
  PartsDivisor parts;          // page-table blocks per request (after the request block), as a multiply-high divisor
  bool row_groups;              // page-table blocks use the row-group layout
  bool rpi_int64;
  // A page table is wanted (it may have no elements, hence null data): the
  // request block then checks every pool index (status bit 4).
  bool check_pool_indices;
  bool full_width;
  bool vector_copy;  // every table row start is 16-byte aligned
  bool prefetch_first_pass;  // prefetches_first_pass
  // sparse_cu_seqlens_k is wanted and could pass INT32_MAX: capacity rows of
  // at most topk + kpool - 1 each. False for any realistic configuration,
  // which spares the request block a closed-form sum per request.
  bool check_sparse_overflow;
  int32_t num_sets;
  DestSet sets[kMaxDestinationSets];
};

}  // namespace cuda_detail
}  // namespace specmeta
