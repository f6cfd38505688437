// libFuzzer harness over the CPU backend of the full metadata builder:
//   - specmeta::build_metadata_cpu in every mode (and invalid mode codes),
//   - specmeta::expand_cpu with every ExpandArgs field (kv_offset, uniform or
//     per-request qo, max_qo, topk, kpool, page tables, destination sets),
//   - specmeta::BoundExpansion::bind + run_cpu for a batch of at most bs.
// The fuzzer's bytes choose the batch (up to kMaxRequests requests), lengths
// and pool indices of either integer width (mostly small, sometimes anything:
// negatives, values around INT32_MAX and INT64 extremes), N, topk, kpool,
// page_size, width, full_width, req_to_token's shape and row stride, the
// capacity, which outputs are wanted and their sizes (sometimes too small),
// page-table row strides, 1 to 3 destination sets (sometimes inconsistent,
// rarely 9), null pointers, and outputs that overlap an input or another
// output.
//
// Every buffer is its own heap allocation of exactly its claimed size (a
// table: (rows - 1) * row_stride + cols elements), so AddressSanitizer
// reports any access outside it; two buffers share an allocation only when
// the input deliberately makes them overlap.
//
// The oracle, written from SPEC.md section 6 and docs/builder-contract.md
// ("Host errors"), says whether each call must be rejected, must be accepted,
// or may go either way (where the contract leaves it open, e.g. N above
// INT32_MAX in a mode that ignores N). Then:
//   - a rejected call must leave every allocation (inputs and outputs) byte
//     for byte as it was, and its message must name one of the faulty
//     arguments the oracle found;
//   - an accepted call must leave every allocation exactly as
//     tests/cpp/metadata_reference.h says: outputs equal reference_metadata
//     element for element, elements past what an output needs untouched,
//     page-table elements the call does not own keeping their previous
//     values, inputs unchanged.
// Any difference prints the case and aborts (a libFuzzer crash).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../cpp/metadata_reference.h"
#include "specmeta/specmeta.h"

namespace {

using specmeta::IntType;
using specmeta_test::MetaMode;
using specmeta_test::RefTable;
using specmeta_test::wide;

constexpr int64_t kI32Max = 2147483647;
constexpr int64_t kI64Max = INT64_MAX;
constexpr int64_t kI64Min = INT64_MIN;
constexpr int32_t kPoison = 0x6d6d6d6d;
constexpr int64_t kMaxRequests = 300;
constexpr int64_t kMaxCapacity = 4096;
constexpr int64_t kTableBudget = 8192;  // about the elements of one page-table allocation
constexpr int kSlots = specmeta_test::kMetaSlots;
constexpr int kMaxSets = specmeta::kMaxDestinationSets + 1;  // one past the limit, to test it
constexpr int kPt1 = specmeta_test::kMPageTable1;
constexpr int kReal = specmeta_test::kMRealPageTable;

enum Path { kBuilder = 0, kDirect = 1, kBound = 2 };
const char* path_name(int p) { return p == kBuilder ? "build_metadata_cpu" : p == kDirect ? "expand_cpu" : "BoundExpansion"; }

// Input arrays. In the direct and bound paths kAcc is qo_lens and kExt is unused.
enum InputId { kSeq = 0, kAcc = 1, kExt = 2, kRpi = 3, kInputs = 4 };
// Buffer ids: the four input arrays, req_to_token, then set * kSlots + slot.
constexpr int kR2t = kInputs;
constexpr int kFirstOut = kInputs + 1;
constexpr int kBuffers = kFirstOut + kMaxSets * kSlots;
int out_id(int set, int slot) { return kFirstOut + set * kSlots + slot; }

// Reads the fuzzer's bytes little-endian; zeros once they run out, so a short
// input decodes to the plain, valid choices.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t take(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(next()) << (8 * i);
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  uint16_t u16() { return static_cast<uint16_t>(take(2)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() { return take(8); }

 private:
  uint8_t next() { return used_ < size_ ? data_[used_++] : 0; }
  const uint8_t* data_;
  size_t size_;
  size_t used_ = 0;
};

int64_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// A length or index: mostly in [0, plausible), sometimes anything at all.
int64_t take_value(Reader& in, int64_t plausible, bool wide64) {
  const uint8_t shape = in.u8();
  int64_t v;
  if (shape < 208) {
    v = plausible > 0 ? in.u8() % plausible : 0;
  } else if (shape < 216) {
    v = -1 - in.u8() % 4;
  } else if (shape < 226) {
    v = kI32Max - 2 + in.u8() % 5;  // INT32_MAX - 2 .. INT32_MAX + 2
  } else if (shape < 232) {
    v = -kI32Max - 2 + in.u8() % 4;  // INT32_MIN - 1 .. INT32_MIN + 2
  } else if (shape < 238) {
    v = (int64_t{1} << 62) - 1 + in.u8() % 3;
  } else if (shape < 244) {
    v = in.u8() & 1 ? kI64Max - in.u8() % 2 : kI64Min + in.u8() % 2;
  } else if (shape < 250) {
    v = in.u16();
  } else {
    v = wide64 ? static_cast<int64_t>(in.u64()) : static_cast<int32_t>(in.u32());
  }
  return wide64 ? v : wrap32(v);
}

struct Input {
  bool given = false;  // passed to the call at all
  bool null = false;   // passed with a null pointer (size 0)
  int32_t type = 0;    // IntType code; 2 is not a valid one
  std::vector<int64_t> values;  // the claimed elements, wrapped to the element width

  int64_t elem_bytes() const { return type == 1 ? 8 : 4; }
  int64_t size() const { return null ? 0 : static_cast<int64_t>(values.size()); }
  bool live() const { return given && !null; }
};

struct Out {
  bool wanted = false;
  bool null = false;
  int64_t size = 0;                        // 1-D outputs
  int64_t rows = 0, cols = 0, stride = 0;  // page tables
};

// Elements a table spans: full rows but the last.
int64_t table_elems(int64_t rows, int64_t cols, int64_t stride) {
  return rows > 0 && cols > 0 ? (rows - 1) * std::max<int64_t>(stride, 0) + cols : 0;
}

struct Case {
  int path = kBuilder;
  int32_t mode = 0;  // builder: Mode code, 5+ or negative is invalid
  int64_t N = 0;     // num_draft_tokens
  // direct / bound
  int64_t kv_offset = 0;
  bool uniform = false;
  int64_t qo_uniform = 0;
  int64_t max_qo = specmeta::kNoMaxQo;
  int64_t bs_run = 0;  // bound: run_cpu(bs_run)

  int64_t n = 0;   // requests with generated values
  int64_t bs = 0;  // the claimed batch
  Input in[kInputs];
  bool r2t_given = false, r2t_null = false;
  int64_t pool = 0, W = 0, r2t_stride = 0;
  std::vector<int32_t> r2t;  // table_elems(pool, W, r2t_stride) elements
  int64_t capacity = 0, topk = 2048, kpool = 1, width = 0, page_size = 1;
  bool full_width = false;
  int sets = 1;
  bool extra_null = false;  // extra_out == nullptr with extra_out_count > 0
  Out out[kMaxSets][kSlots];
  uint64_t prior_seed = 0;
  int overlap_x = -1, overlap_y = -1;  // buffer y placed over an element of buffer x
  int64_t overlap_offset = 0;          // bytes into x

  bool builder() const { return path == kBuilder; }
  bool mode_valid() const { return mode >= 0 && mode <= 4; }
  bool wants(int slot) const { return out[0][slot].wanted; }
  bool wants_tables() const { return wants(kPt1) || wants(kReal); }
  // Whether the call reads input array `id` (so it is an input in the aliasing sense).
  bool reads(int id) const {
    switch (id) {
      case kSeq: return true;
      case kAcc: return builder() ? mode == static_cast<int32_t>(MetaMode::kDraftExtend) : !uniform;
      case kExt: return builder() && mode == static_cast<int32_t>(MetaMode::kExtend);
      default: return wants_tables();
    }
  }
  const char* input_name(int id) const {
    switch (id) {
      case kSeq: return builder() ? "seq_lens" : "kv_lens";
      case kAcc: return builder() ? "accept_lens" : "qo_lens";
      case kExt: return "extend_lens";
      default: return "req_pool_indices";
    }
  }
  // Rows every request gets when the mode fixes them on the host, else -1.
  int64_t uniform_rows() const {
    if (!builder()) return uniform ? qo_uniform : -1;
    switch (static_cast<MetaMode>(mode)) {
      case MetaMode::kDecode: return 1;
      case MetaMode::kTargetVerify:
      case MetaMode::kDraftExtendStatic: return N;
      default: return -1;
    }
  }
  int64_t max_rows() const {  // per-request qo bound of an array mode
    if (!builder()) return max_qo;
    return mode == static_cast<int32_t>(MetaMode::kDraftExtend) ? N : kI32Max;
  }
};

// Elements an output needs (SPEC section 3), on exact integers.
wide needed(int slot, wide bs, wide capacity) {
  switch (slot) {
    case specmeta_test::kMSeqlensExpanded:
    case specmeta_test::kMRowToReq:
    case specmeta_test::kMSparseSeqlens: return capacity;
    case specmeta_test::kMSparseCuSeqlensK: return capacity + 1;
    case specmeta_test::kMCuSeqlensQ:
    case specmeta_test::kMCuSeqlensK: return bs + 1;
    case specmeta_test::kMCacheSeqlens: return bs;
    default: return 1;
  }
}

// ---------------------------------------------------------------------------
// Decoding a case from the fuzzer's bytes.

// The array of `head` (bs values), then its tail and layout faults.
void take_input(Reader& rd, Input& x, int64_t n, int64_t plausible, const std::vector<int64_t>& head) {
  x.values = head;
  // Garbage past bs, never to be read.
  const uint8_t layout = rd.u8();
  const int64_t tail = layout % 8 == 7 ? 1 + (layout >> 3) % 3 : 0;
  for (int64_t i = 0; i < tail; ++i) x.values.push_back(take_value(rd, plausible, x.type == 1));
  // Rare faults: one element short, a null pointer, an invalid element type.
  const uint8_t fault = rd.u8();
  if (fault >= 250) {
    switch ((fault - 250) % 3) {
      case 0:
        if (n > 0) x.values.resize(static_cast<size_t>(n - 1));
        break;
      case 1: x.null = true; x.values.clear(); break;
      default: x.type = 2; break;
    }
  }
}

Case decode(const uint8_t* data, size_t size) {
  Reader rd(data, size);
  Case c;
  const uint8_t path = rd.u8() % 8;
  c.path = path < 5 ? kBuilder : path < 7 ? kDirect : kBound;

  // Mode, N / the expansion's own fields.
  if (c.builder()) {
    const uint8_t m = rd.u8();
    c.mode = m < 250 ? m % 5 : (m == 250 ? -1 : m == 251 ? 5 : 100 + m);
    const uint8_t s = rd.u8();
    if (s < 200) {
      c.N = rd.u8() % 9;
    } else if (s < 220) {
      c.N = rd.u8() % 64;
    } else if (s < 232) {
      c.N = kI32Max - rd.u8() % 2;
    } else if (s < 240) {
      c.N = rd.u8() & 1 ? -1 : kI64Min;
    } else if (s < 248) {
      c.N = kI32Max + 1 + rd.u8() % 2;
    } else {
      c.N = static_cast<int64_t>(rd.u64());
    }
  } else {
    const uint8_t o = rd.u8();
    c.kv_offset = o < 200 ? o % 9 : o < 230 ? kI32Max - o % 2 : o < 240 ? -1 - o % 2 : kI32Max + 1;
    c.uniform = rd.u8() % 3 == 0;
    const uint8_t q = rd.u8();
    c.qo_uniform = q < 220 ? q % 9 : q < 236 ? kI32Max - q % 2 : q < 246 ? -1 : kI32Max + 1;
    const uint8_t m = rd.u8();
    c.max_qo = m < 128 ? specmeta::kNoMaxQo : m < 240 ? m % 24 : m < 248 ? -1 : kI32Max + 1;
  }

  // Batch size and element types.
  const uint8_t nb = rd.u8();
  c.n = nb < 192 ? rd.u8() % 9 : nb < 240 ? rd.u8() % 65 : rd.u16() % (kMaxRequests + 1);
  const uint8_t types = rd.u8();
  for (int id = 0; id < kInputs; ++id) c.in[id].type = (types >> id) & 1;

  // Scalars of the sparse lengths and the page tables.
  const uint8_t tk = rd.u8();
  c.topk = tk < 100 ? 1 + rd.u8() % 64 : tk < 180 ? 2048 : tk < 232 ? specmeta::kNoTopk
         : tk < 244 ? -static_cast<int64_t>(rd.u8() % 2) : kI32Max + 1;
  const uint8_t kp = rd.u8();
  c.kpool = kp < 160 ? 1 : kp < 230 ? 1 + rd.u8() % 8 : kp < 238 ? (kp & 1 ? kI32Max : 1 + rd.u16())
          : kp < 248 ? -static_cast<int64_t>(rd.u8() % 2) : kI32Max + 1;
  const uint8_t ps = rd.u8();
  static const int64_t kPageSizes[] = {1, 2, 4, 16, 64};
  c.page_size = ps < 100 ? 1 : ps < 200 ? kPageSizes[rd.u8() % 5] : ps < 232 ? 1 + rd.u8() % 7
              : ps < 240 ? -static_cast<int64_t>(rd.u8() % 2) : ps < 248 ? kI32Max : kI32Max + 1;
  c.full_width = rd.u8() & 1;

  // Which outputs, how many destination sets.
  const uint8_t w = rd.u8();
  unsigned wanted = w < 64 ? specmeta_test::kAllMetaOutputs
                  : w < 96 ? specmeta_test::kAllMetaOutputs & ~specmeta_test::kPageTableOutputs
                  : rd.u16() & specmeta_test::kAllMetaOutputs;
  const uint8_t st = rd.u8();
  c.sets = st < 160 ? 1 : st < 216 ? 2 : st < 252 ? 3 : kMaxSets;

  // req_to_token: pool rows, W columns, a row stride; given whenever a page
  // table is wanted, and often when not.
  const bool tables = (wanted & specmeta_test::kPageTableOutputs) != 0;
  const uint8_t pg = rd.u8();
  c.r2t_given = tables || (pg & 1);
  c.pool = pg < 224 ? rd.u8() % 9 : rd.u8() % 65;
  const uint8_t wc = rd.u8();
  c.W = wc < 200 ? rd.u8() % 49 : rd.u8() % 129;
  const uint8_t pad = rd.u8();
  c.r2t_stride = c.W + (pad % 4 == 3 ? 1 + (pad >> 2) % 5 : 0);
  if (pad == 0xff && c.pool <= 1) c.r2t_stride = c.W + (int64_t{1} << 40);  // one row: any stride is honest
  const uint8_t wd = rd.u8();
  c.width = wd < 128 ? c.W : wd < 224 ? rd.u8() % (c.W + 1) : wd < 236 ? c.W + 1 + rd.u8() % 3
          : wd < 244 ? -1 : wd < 250 ? kI32Max + 1 : kI32Max;
  const uint8_t r2t_fault = rd.u8();
  if (r2t_fault >= 248) {
    switch (r2t_fault - 248) {
      case 0: c.r2t_null = true; break;
      case 1: c.pool = -1; break;
      case 2: c.W = -1 - rd.u8() % 2; break;
      case 3: if (c.W > 0) c.r2t_stride = c.W - 1; break;
      case 4: c.r2t_given = false; break;
      default: break;
    }
  }

  // Per-request values: seq_lens, the row array, pool indices.
  Input& seq = c.in[kSeq];
  Input& acc = c.in[kAcc];
  Input& ext = c.in[kExt];
  Input& rpi = c.in[kRpi];
  seq.given = true;
  const int64_t qo_plausible = c.builder() && c.mode == static_cast<int32_t>(MetaMode::kDraftExtend)
                                   ? std::min<int64_t>(std::max<int64_t>(c.N, 0), 62) + 2
                                   : 40;
  const bool qo_array = c.builder() ? c.reads(kAcc) || c.reads(kExt) : !c.uniform;
  Input& qo = c.builder() && c.reads(kExt) ? ext : acc;
  qo.given = qo_array;
  rpi.given = tables || (pg & 2);
  std::vector<int64_t> seq_head, qo_head, rpi_head;
  for (int64_t b = 0; b < c.n; ++b) {
    seq_head.push_back(take_value(rd, 100, seq.type == 1));
    if (qo_array) qo_head.push_back(take_value(rd, qo_plausible, qo.type == 1));
    if (rpi.given) rpi_head.push_back(take_value(rd, std::max<int64_t>(c.pool, 1), rpi.type == 1));
  }
  take_input(rd, seq, c.n, 100, seq_head);
  if (qo_array) take_input(rd, qo, c.n, qo_plausible, qo_head);
  if (rpi.given) take_input(rd, rpi, c.n, std::max<int64_t>(c.pool, 1), rpi_head);
  if (!c.builder() && qo.null) {  // a null qo_lens selects the uniform qo (expand.h)
    c.uniform = true;
    qo.given = qo.null = false;
    qo.values.clear();
  }
  // Mode inputs that are missing or given where the mode does not use them.
  const uint8_t mix = rd.u8();
  if (c.builder() && mix >= 250) {
    if (mix == 250 && qo_array) {
      qo.given = true;
      qo.null = true;
      qo.values.clear();
    } else {
      Input& other = mix % 2 ? acc : ext;
      if (!other.given) {
        other.given = true;
        other.values.assign(static_cast<size_t>(c.n + 1), 1);
      }
    }
  }

  // The claimed batch size.
  const uint8_t bsb = rd.u8();
  c.bs = c.n;
  if (bsb >= 248) {
    switch (bsb - 248) {
      case 0:
      case 1: c.bs = static_cast<int64_t>(seq.values.size()) + 1; break;
      case 2: c.bs = -1; break;
      case 3: c.bs = kI64Min; break;
      case 4: c.bs = kI32Max + 1; break;
      case 5: c.bs = kI32Max; break;
      case 6: c.bs = std::max<int64_t>(c.n - 1, 0); break;
      default: c.bs = 0; break;
    }
  }
  const bool bs_sane = c.bs >= 0 && c.bs <= kMaxRequests + 8;
  const int64_t bs_nom = bs_sane ? c.bs : c.n;

  // Capacity: around the rows needed, or anything.
  wide total = 0;
  const int64_t urows = c.uniform_rows();
  for (int64_t b = 0; b < std::min(bs_nom, c.n); ++b) {
    if (urows >= 0) {
      total += urows;
    } else if (qo.live() && b < qo.size()) {
      const int64_t q = qo.values[b];
      if (q >= 0 && q <= c.max_rows()) total += q;
    }
  }
  const int64_t need = static_cast<int64_t>(std::min(total, wide(kMaxCapacity)));
  const uint8_t cp = rd.u8();
  if (cp < 160) {
    const int d = rd.u8() % 6;
    c.capacity = std::max<int64_t>(0, need + (d < 4 ? d : 3 - d));
  } else if (cp < 224) {
    c.capacity = rd.u8() % 64;
  } else if (cp < 240) {
    c.capacity = rd.u16() % (kMaxCapacity + 1);
  } else if (cp < 248) {
    c.capacity = -1 - rd.u8() % 2;
  } else {
    c.capacity = cp & 1 ? kI32Max : kI32Max + 1;
  }
  const bool cap_sane = c.capacity >= 0 && c.capacity <= kMaxCapacity;
  const int64_t cap_nom = cap_sane ? c.capacity : 8;
  // A capacity beyond what the harness allocates must come with an output
  // that is then too small: a call without per-row outputs would loop over
  // 2^31 empty rows.
  if (!cap_sane) wanted |= 1u << specmeta_test::kMSeqlensExpanded;

  // Keep page tables within the budget: narrow a valid width.
  const int64_t width_budget = kTableBudget / std::max<int64_t>(cap_nom + 2, 1);
  if (c.width >= 0 && c.width <= c.W && c.width > width_budget) c.width = width_budget;
  const int64_t width_nom = c.width >= 0 && c.width <= 4096 ? std::min(c.width, width_budget) : 4;
  const int64_t ps_nom = c.page_size >= 1 ? c.page_size : 1;

  // Set 0's outputs.
  for (int s = 0; s < kSlots; ++s) {
    Out& o = c.out[0][s];
    o.wanted = (wanted >> s) & 1u;
    if (!o.wanted) continue;
    const uint8_t shape = rd.u8();
    if (s == kPt1 || s == kReal) {
      o.cols = s == kPt1 ? width_nom : (width_nom + ps_nom - 1) / ps_nom;
      o.rows = cap_nom + (shape % 8 == 7 ? 1 + (shape >> 3) % 2 : 0);
      const uint8_t spad = rd.u8();
      o.stride = o.cols + (spad % 4 == 3 ? 1 + (spad >> 2) % 3 : 0);
      if (spad == 0xff && o.rows <= 1) o.stride = o.cols + (int64_t{1} << 40);
      if (shape >= 248) {
        switch (shape - 248) {
          case 0: if (o.rows > 0) o.rows -= 1; break;
          case 1: o.cols += 1; o.stride += 1; break;
          case 2: if (o.cols > 0) { o.cols -= 1; } break;
          case 3: if (o.cols > 0) o.stride = o.cols - 1; break;
          case 4: o.null = true; break;
          default: break;
        }
      }
    } else {
      const int64_t nd = static_cast<int64_t>(needed(s, bs_nom, cap_nom));
      o.size = nd;
      if (shape % 16 >= 12 && shape % 16 < 14) o.size += 1 + (shape >> 4) % 3;
      if (shape % 16 == 14 && nd > 0 && shape >= 128) o.size = nd - 1;
      if (shape % 16 == 15 && shape >= 128) o.null = true;  // with size `needed`: fine only when that is 0
    }
  }
  // Further sets: the same shapes (strides may differ), sometimes not.
  for (int set = 1; set < c.sets; ++set) {
    for (int s = 0; s < kSlots; ++s) {
      c.out[set][s] = c.out[0][s];
      c.out[set][s].null = false;
      if (s == kPt1 || s == kReal) {
        const uint8_t spad = rd.u8();
        if (c.out[set][s].wanted) c.out[set][s].stride = c.out[set][s].cols + (spad % 4 == 3 ? 1 + (spad >> 2) % 3 : 0);
      }
    }
    const uint8_t inc = rd.u8();
    if (inc >= 244) {
      Out& o = c.out[set][rd.u8() % kSlots];
      switch (inc % 3) {
        case 0: o.wanted = !o.wanted; break;
        case 1: o.size += 1; o.rows += 1; break;
        default: if (o.rows > 0) o.rows -= 1; if (o.size > 0) o.size -= 1; break;
      }
      if (o.wanted && o.size == 0 && o.rows == 0 && o.cols == 0) o.size = 1;
    }
  }
  if (rd.u8() == 0xee && c.sets > 1) c.extra_null = true;

  // Contents: req_to_token and the page tables' previous values.
  const uint8_t style = rd.u8();
  uint64_t seed = rd.u32();
  c.r2t.resize(static_cast<size_t>(table_elems(c.pool, c.W, c.r2t_stride)));
  for (size_t i = 0; i < c.r2t.size(); ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint32_t rnd = static_cast<uint32_t>(seed >> 32);
    switch (style % 4) {
      case 0: c.r2t[i] = static_cast<int32_t>(i * 7 + 3); break;  // plain slot ids
      case 1: c.r2t[i] = static_cast<int32_t>(rnd % (1u << 20)); break;
      case 2: c.r2t[i] = static_cast<int32_t>(rnd); break;  // any int32, negatives included
      default: c.r2t[i] = static_cast<int32_t>(rnd % 129) - 64; break;
    }
  }
  c.prior_seed = rd.u32();

  // Bound path: the batch of run_cpu.
  if (c.path == kBound) {
    const uint8_t r = rd.u8();
    c.bs_run = r < 240 ? (bs_sane && c.bs > 0 ? r % (c.bs + 1) : 0) : r < 248 ? c.bs : r < 252 ? c.bs + 1 : -1;
  }

  // Overlap: an output placed over an element of an input it reads or of
  // another output, within what both really read or write.
  const uint8_t ov = rd.u8();
  if (ov >= 228) {
    const uint8_t kind = rd.u8();
    const uint8_t x_set = rd.u8() % 3, y_set = rd.u8() % 3, x_slot = rd.u8() % kSlots, y_slot = rd.u8() % kSlots;
    switch (kind % 4) {
      case 0: c.overlap_x = kind / 4 % kInputs; break;  // an input array
      case 1: c.overlap_x = kR2t; break;
      default: c.overlap_x = out_id(x_set, x_slot); break;  // another output, maybe of another set
    }
    c.overlap_y = out_id(y_set, kind >= 128 ? y_slot : x_slot);
    c.overlap_offset = rd.u16();  // reduced to an element of x below, or the overlap is dropped
  }
  return c;
}

// ---------------------------------------------------------------------------
// The oracle: must the call be rejected, accepted, or either?

struct Verdict {
  bool must_reject = false;
  bool either = false;
  std::vector<std::string> names;  // arguments a rejection may name (of must and maybe faults)

  void must(std::initializer_list<const char*> args) {
    must_reject = true;
    for (const char* a : args) names.emplace_back(a);
  }
  // A fault the contract leaves open: the call may be rejected (naming it) or accepted.
  void maybe(std::initializer_list<const char*> args) {
    either = true;
    for (const char* a : args) names.emplace_back(a);
  }
};

void input_rules(Verdict& v, const Input& x, const char* name, int64_t bs) {
  if (x.type != 0 && x.type != 1) v.must({name});
  if (x.null) {
    if (bs > 0) {
      v.must({name});
    } else {
      v.maybe({name});  // a null array for an empty batch: the contract does not say
    }
  } else if (x.size() < bs) {
    v.must({name, "bs"});
  }
}

// Bytes the call may read of a buffer (an input) or write (an output), per
// the contract; 0 when none.
int64_t used_elems(const Case& c, int id) {
  const int64_t bs = std::max<int64_t>(c.bs, 0);
  if (id < kInputs) return c.reads(id) && c.in[id].live() ? std::min<int64_t>(bs, c.in[id].size()) : 0;
  if (id == kR2t) return c.reads(kRpi) && c.r2t_given && !c.r2t_null ? table_elems(c.pool, c.W, c.r2t_stride) : 0;
  const int set = (id - kFirstOut) / kSlots;
  const int slot = (id - kFirstOut) % kSlots;
  const Out& o = c.out[set][slot];
  if (!o.wanted || o.null || set >= c.sets || c.capacity < 0 || c.bs < 0) return 0;
  if (slot == kPt1 || slot == kReal) return table_elems(std::min(o.rows, c.capacity), o.cols, o.stride);
  return static_cast<int64_t>(std::min(needed(slot, c.bs, c.capacity), wide(o.size)));
}

// How an error names a buffer.
const char* overlap_name(const Case& c, int id) {
  if (id < kInputs) return c.input_name(id);
  if (id == kR2t) return "req_to_token";
  return specmeta_test::meta_slot_name((id - kFirstOut) % kSlots);
}

Verdict judge(const Case& c) {
  Verdict v;
  const int64_t bs = c.bs;
  if (c.builder()) {
    if (!c.mode_valid()) v.must({"mode"});
    if (c.N < 0) {
      v.must({"num_draft_tokens"});
    } else if (c.N > kI32Max) {
      v.maybe({"num_draft_tokens"});  // N above INT32_MAX: only "negative N" is named
    }
  } else {
    if (c.kv_offset < 0 || c.kv_offset > kI32Max) v.maybe({"kv_offset"});
    if (c.max_qo < 0 || c.max_qo > kI32Max) v.maybe({"max_qo"});
    if (c.uniform) {
      if (c.qo_uniform < 0) {
        v.must({"qo_lens"});
      } else if (c.qo_uniform > c.max_qo || c.qo_uniform > kI32Max) {
        v.maybe({"qo_lens"});
      }
    }
  }
  if (bs < 0 || bs > kI32Max) v.must({"bs"});
  const int64_t bs0 = std::max<int64_t>(bs, 0);

  // Inputs.
  input_rules(v, c.in[kSeq], c.input_name(kSeq), bs0);
  if (c.builder()) {
    for (int id : {kAcc, kExt}) {
      const Input& x = c.in[id];
      if (!c.mode_valid()) continue;
      if (c.reads(id)) {
        if (!x.given) {
          if (bs0 > 0) v.must({c.input_name(id)}); else v.maybe({c.input_name(id)});
        } else {
          input_rules(v, x, c.input_name(id), bs0);
        }
      } else if (x.live()) {
        v.must({c.input_name(id)});  // given where the mode does not use it
      }
    }
  } else if (!c.uniform) {
    input_rules(v, c.in[kAcc], c.input_name(kAcc), bs0);
  }

  // Scalars.
  if (c.capacity < 0 || c.capacity > kI32Max) v.must({"capacity"});
  if (c.topk < 1) v.must({"topk"}); else if (c.topk > kI32Max) v.maybe({"topk"});
  if (c.kpool < 1) v.must({"kpool"}); else if (c.kpool > kI32Max) v.maybe({"kpool"});
  if (c.page_size < 1) v.must({"page_size"}); else if (c.page_size > kI32Max) v.maybe({"page_size"});
  const int64_t urows = c.uniform_rows();
  if (urows >= 0 && bs >= 0 && wide(bs) * wide(urows) > wide(c.capacity)) v.must({"capacity"});

  // Page-table inputs.
  if (c.wants_tables()) {
    const Input& rpi = c.in[kRpi];
    if (!rpi.given || rpi.null) {
      if (bs0 > 0) v.must({"req_pool_indices"}); else v.maybe({"req_pool_indices"});
    } else {
      input_rules(v, rpi, "req_pool_indices", bs0);
    }
    // Null data: the zero TableSpan (0 x 0) is a missing table; null data with elements is a
    // missing buffer; a shape without elements may be null (an empty pool, or no columns).
    const bool missing = !c.r2t_given || (c.r2t_null && c.pool == 0 && c.W == 0);
    if (missing) {
      if (bs0 > 0) v.must({"req_to_token"}); else v.maybe({"req_to_token"});
    } else if (c.r2t_null && c.pool > 0 && c.W > 0) {
      v.must({"req_to_token"});
    }
    if (c.pool < 0 || c.W < 0 || c.r2t_stride < c.W) v.must({"req_to_token"});
    if (c.width < 0 || c.width > (c.r2t_given ? c.W : 0)) v.must({"width"});
  } else {
    const Input& rpi = c.in[kRpi];
    if (rpi.given && (rpi.null || rpi.type > 1 || rpi.size() < bs0)) v.maybe({"req_pool_indices"});
    if (c.r2t_given && (c.r2t_null || c.pool < 0 || c.W < 0 || c.r2t_stride < c.W)) v.maybe({"req_to_token"});
    if (c.width < 0 || c.width > kI32Max || c.width > c.W) v.maybe({"width"});
  }

  // Outputs of every set.
  const wide pages = c.page_size >= 1 && c.width >= 0 ? (wide(c.width) + c.page_size - 1) / c.page_size : -1;
  for (int set = 0; set < c.sets; ++set) {
    for (int s = 0; s < kSlots; ++s) {
      const Out& o = c.out[set][s];
      const Out& first = c.out[0][s];
      const bool table = s == kPt1 || s == kReal;
      if (set > 0 && (o.wanted != first.wanted ||
                      (o.wanted && (table ? o.rows != first.rows || o.cols != first.cols : o.size != first.size)))) {
        v.must({"out["});  // the sets are copies of one result: same outputs, same shapes
      }
      if (!o.wanted) continue;
      const char* name = specmeta_test::meta_slot_name(s);
      if (s == kPt1 || s == kReal) {
        if (wide(o.rows) < wide(c.capacity)) v.must({name});
        const wide cols = s == kPt1 ? wide(c.width) : pages;
        if (wide(o.cols) != cols) v.must({name, "width", "page_size"});
        if (o.stride < o.cols) v.must({name});
        if (o.null && o.rows > 0 && o.cols > 0) v.must({name});
      } else {
        const wide nd = needed(s, bs, c.capacity);
        if (wide(o.size) < nd) v.must({name, "bs", "capacity"});
        if (o.null && nd > 0) v.must({name});
      }
    }
  }
  if (c.sets > specmeta::kMaxDestinationSets) v.must({"extra_out"});
  if (c.extra_null) v.must({"extra_out"});
  if (c.overlap_x >= 0) {  // the message names both buffers; either will do
    v.must({overlap_name(c, c.overlap_x), overlap_name(c, c.overlap_y)});
  }
  return v;
}

// ---------------------------------------------------------------------------
// Memory: one allocation per buffer (two buffers share one only when they
// overlap on purpose).

struct Place {
  int arena = -1;  // -1: no buffer (null pointer)
  size_t offset = 0;
  size_t bytes = 0;
};

struct Memory {
  std::vector<std::unique_ptr<uint8_t[]>> arenas;
  std::vector<size_t> sizes;
  Place place[kBuffers];

  int add(size_t bytes) {
    arenas.emplace_back(new uint8_t[bytes]);
    sizes.push_back(bytes);
    return static_cast<int>(arenas.size()) - 1;
  }
  uint8_t* at(int id) { return place[id].arena < 0 ? nullptr : arenas[place[id].arena].get() + place[id].offset; }
  int32_t* i32(int id) { return reinterpret_cast<int32_t*>(at(id)); }
};

// Claimed bytes of a buffer, or -1 when the call gets a null pointer / nothing.
int64_t claimed_bytes(const Case& c, int id) {
  if (id < kInputs) return c.in[id].live() ? c.in[id].size() * c.in[id].elem_bytes() : -1;
  if (id == kR2t) return c.r2t_given && !c.r2t_null ? static_cast<int64_t>(c.r2t.size()) * 4 : -1;
  const int set = (id - kFirstOut) / kSlots;
  const int slot = (id - kFirstOut) % kSlots;
  const Out& o = c.out[set][slot];
  if (set >= c.sets || !o.wanted || o.null) return -1;
  if (slot == kPt1 || slot == kReal) return table_elems(o.rows, o.cols, o.stride) * 4;
  return o.size * 4;
}

// The byte offset of a read/written element of buffer x picked by `pick`, or -1.
int64_t element_offset(const Case& c, int x, int64_t pick) {
  const int64_t used = used_elems(c, x);
  if (used <= 0) return -1;
  if (x < kInputs) {
    const int64_t eb = c.in[x].elem_bytes();
    return (pick % used) * eb + (eb == 8 ? ((pick / used) & 1) * 4 : 0);
  }
  int64_t cols, stride;
  if (x == kR2t) {
    cols = c.W;
    stride = c.r2t_stride;
  } else {
    const Out& o = c.out[(x - kFirstOut) / kSlots][(x - kFirstOut) % kSlots];
    const int slot = (x - kFirstOut) % kSlots;
    if (slot != kPt1 && slot != kReal) return (pick % used) * 4;
    cols = o.cols;
    stride = o.stride;
  }
  const int64_t rows = (used - cols) / std::max<int64_t>(stride, 1) + 1;
  return ((pick % rows) * stride + (pick / rows) % cols) * 4;
}

void layout(Case& c, Memory& m) {
  // Keep an overlap only when it is a real one: y writes at least its first
  // element, which lands on an element x reads or writes.
  if (c.overlap_x >= 0) {
    const int64_t off = c.overlap_x == c.overlap_y ? -1 : element_offset(c, c.overlap_x, c.overlap_offset);
    if (off < 0 || used_elems(c, c.overlap_y) <= 0 || claimed_bytes(c, c.overlap_x) < 0) {
      c.overlap_x = c.overlap_y = -1;
    } else {
      c.overlap_offset = off;
    }
  }
  for (int id = 0; id < kBuffers; ++id) {
    if (id == c.overlap_y) continue;
    const int64_t bytes = claimed_bytes(c, id);
    if (bytes < 0) continue;
    size_t arena_bytes = static_cast<size_t>(bytes);
    if (id == c.overlap_x) {
      arena_bytes = std::max(arena_bytes, static_cast<size_t>(c.overlap_offset + claimed_bytes(c, c.overlap_y)));
    }
    m.place[id] = {m.add(arena_bytes), 0, static_cast<size_t>(bytes)};
  }
  if (c.overlap_y >= 0) {
    m.place[c.overlap_y] = {m.place[c.overlap_x].arena, static_cast<size_t>(c.overlap_offset),
                            static_cast<size_t>(claimed_bytes(c, c.overlap_y))};
  }
}

uint32_t prior_value(uint64_t seed, int set, int slot, int64_t i) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1) + 0x632be59bd9b4e019ULL * (set * 16 + slot + 1);
  z = (z ^ (z >> 31)) * 0xd6e8feb86659fd93ULL;
  z = (z ^ (z >> 29)) * 0xd6e8feb86659fd93ULL;
  return static_cast<uint32_t>(z ^ (z >> 32));
}

void fill(const Case& c, Memory& m) {
  // Outputs first, inputs last: in an overlap the input keeps its values.
  for (int set = 0; set < c.sets; ++set) {
    for (int s = 0; s < kSlots; ++s) {
      const int id = out_id(set, s);
      int32_t* p = m.i32(id);
      if (!p) continue;
      const int64_t n = static_cast<int64_t>(m.place[id].bytes / 4);
      for (int64_t i = 0; i < n; ++i) {
        p[i] = (s == kPt1 || s == kReal) ? static_cast<int32_t>(prior_value(c.prior_seed, set, s, i)) : kPoison;
      }
    }
  }
  if (int32_t* p = m.i32(kR2t)) std::copy(c.r2t.begin(), c.r2t.end(), p);
  for (int id = 0; id < kInputs; ++id) {
    uint8_t* p = m.at(id);
    if (!p) continue;
    const Input& x = c.in[id];
    for (size_t i = 0; i < x.values.size(); ++i) {
      if (x.type == 1) {
        const int64_t v = x.values[i];
        std::memcpy(p + 8 * i, &v, 8);
      } else {
        const int32_t v = static_cast<int32_t>(x.values[i]);
        std::memcpy(p + 4 * i, &v, 4);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The call.

[[noreturn]] void fail(const Case& c, const std::string& what);

specmeta::IntSpan span_of(const Case& c, Memory& m, int id) {
  const Input& x = c.in[id];
  if (!x.given) return {};
  return {m.at(id), static_cast<IntType>(x.type), x.size()};
}

specmeta::ExpandOutputs outputs_of(const Case& c, Memory& m, int set) {
  specmeta::ExpandOutputs o;
  specmeta::OutSpan* spans[] = {&o.seqlens_expanded, &o.cu_seqlens_q, &o.row_to_req,     &o.num_rows,
                                &o.status,           &o.cache_seqlens, &o.cu_seqlens_k, &o.sparse_seqlens,
                                &o.sparse_cu_seqlens_k};
  for (int s = 0; s < kPt1; ++s) {
    const Out& x = c.out[set][s];
    if (x.wanted) *spans[s] = {m.i32(out_id(set, s)), x.size};
  }
  specmeta::OutTable* tables[] = {&o.page_table_1, &o.real_page_table};
  for (int s : {kPt1, kReal}) {
    const Out& x = c.out[set][s];
    if (x.wanted) *tables[s - kPt1] = {m.i32(out_id(set, s)), x.rows, x.cols, x.stride};
  }
  return o;
}

struct Outcome {
  specmeta::Status status;  // of the call (bound path: of bind, then of run_cpu)
  bool bound_ok = false;    // bound path: bind() succeeded
};

Outcome call(const Case& c, Memory& m) {
  std::vector<specmeta::ExpandOutputs> extra;
  for (int set = 1; set < c.sets; ++set) extra.push_back(outputs_of(c, m, set));
  const specmeta::ExpandOutputs* extra_ptr = c.extra_null || extra.empty() ? nullptr : extra.data();
  const int32_t extra_count = c.sets - 1;
  const specmeta::TableSpan r2t =
      c.r2t_given ? specmeta::TableSpan{reinterpret_cast<const int32_t*>(m.at(kR2t)), c.pool, c.W, c.r2t_stride}
                  : specmeta::TableSpan{};
  const specmeta::IntSpan rpi = span_of(c, m, kRpi);
  // The fields MetadataArgs and ExpandArgs share, set alike on either.
  auto set_common = [&](auto& a) {
    a.bs = c.bs;
    a.capacity = c.capacity;
    a.topk = c.topk;
    a.kpool = c.kpool;
    a.req_pool_indices = rpi;
    a.req_to_token = r2t;
    a.width = c.width;
    a.page_size = c.page_size;
    a.full_width = c.full_width;
    a.out = outputs_of(c, m, 0);
    a.extra_out = extra_ptr;
    a.extra_out_count = extra_count;
  };
  Outcome r;
  if (c.builder()) {
    specmeta::MetadataArgs a;
    set_common(a);
    a.mode = static_cast<specmeta::Mode>(c.mode);
    a.seq_lens = span_of(c, m, kSeq);
    a.accept_lens = span_of(c, m, kAcc);
    a.extend_lens = span_of(c, m, kExt);
    a.num_draft_tokens = c.N;
    r.status = specmeta::build_metadata_cpu(a);
    return r;
  }
  specmeta::ExpandArgs a;
  set_common(a);
  a.kv_lens = span_of(c, m, kSeq);
  a.kv_offset = c.kv_offset;
  if (c.uniform) {
    a.qo_uniform = c.qo_uniform;
  } else {
    a.qo_lens = span_of(c, m, kAcc);
  }
  a.max_qo = c.max_qo;
  if (c.path == kDirect) {
    r.status = specmeta::expand_cpu(a);
    return r;
  }
  specmeta::BoundExpansion bound;
  r.status = bound.bind(a);
  r.bound_ok = r.status.ok();
  // A failed bind leaves nothing bound: run_cpu must refuse (and write nothing).
  if (!r.bound_ok && (bound.bound() || bound.run_cpu(0).ok())) fail(c, "run_cpu ran after a failed bind()");
  if (!r.bound_ok) return r;
  r.status = bound.run_cpu(c.bs_run);
  return r;
}

// ---------------------------------------------------------------------------
// Reporting.

std::string list(const std::vector<int64_t>& v, size_t limit = 24) {
  std::string s = "{";
  for (size_t i = 0; i < v.size() && i < limit; ++i) s += std::to_string(v[i]) + (i + 1 < v.size() ? "," : "");
  if (v.size() > limit) s += "... (" + std::to_string(v.size()) + ")";
  return s + "}";
}

std::string describe(const Case& c) {
  std::string s = std::string(path_name(c.path));
  if (c.builder()) {
    s += " mode=" + std::to_string(c.mode) +
         (c.mode_valid() ? std::string(" (") + specmeta_test::meta_mode_name(static_cast<MetaMode>(c.mode)) + ")" : "") +
         " N=" + std::to_string(c.N);
  } else {
    s += " kv_offset=" + std::to_string(c.kv_offset) + " uniform=" + std::to_string(c.uniform) +
         " qo_uniform=" + std::to_string(c.qo_uniform) + " max_qo=" + std::to_string(c.max_qo);
    if (c.path == kBound) s += " run_cpu(bs=" + std::to_string(c.bs_run) + ")";
  }
  s += "\n  bs=" + std::to_string(c.bs) + " capacity=" + std::to_string(c.capacity) + " topk=" + std::to_string(c.topk) +
       " kpool=" + std::to_string(c.kpool) + " width=" + std::to_string(c.width) +
       " page_size=" + std::to_string(c.page_size) + " full_width=" + std::to_string(c.full_width) +
       " sets=" + std::to_string(c.sets) + (c.extra_null ? " extra_out=nullptr" : "");
  const char* names[] = {"seq", "acc/qo", "ext", "rpi"};
  for (int id = 0; id < kInputs; ++id) {
    const Input& x = c.in[id];
    if (!x.given) continue;
    s += "\n  " + std::string(names[id]) + ": type=" + std::to_string(x.type) + (x.null ? " null" : "") +
         " values=" + list(x.values);
  }
  if (c.r2t_given) {
    s += "\n  req_to_token: [" + std::to_string(c.pool) + " x " + std::to_string(c.W) + ", stride " +
         std::to_string(c.r2t_stride) + "]" + (c.r2t_null ? " null" : "");
    std::vector<int64_t> head(c.r2t.begin(), c.r2t.begin() + std::min<size_t>(c.r2t.size(), 24));
    s += " values=" + list(head);
  }
  for (int set = 0; set < c.sets; ++set) {
    s += "\n  set " + std::to_string(set) + ":";
    for (int k = 0; k < kSlots; ++k) {
      const Out& o = c.out[set][k];
      if (!o.wanted) continue;
      s += std::string(" ") + specmeta_test::meta_slot_name(k);
      if (k == kPt1 || k == kReal) {
        s += "[" + std::to_string(o.rows) + "x" + std::to_string(o.cols) + "/" + std::to_string(o.stride) + "]";
      } else {
        s += "[" + std::to_string(o.size) + "]";
      }
      if (o.null) s += "(null)";
    }
  }
  if (c.overlap_x >= 0) {
    s += "\n  overlap: buffer " + std::to_string(c.overlap_y) + " placed " + std::to_string(c.overlap_offset) +
         " bytes into buffer " + std::to_string(c.overlap_x);
  }
  return s;
}

[[noreturn]] void fail(const Case& c, const std::string& what) {
  std::fprintf(stderr, "\n==== fuzz_metadata: %s\n  %s\n", what.c_str(), describe(c).c_str());
  std::fflush(stderr);
  std::abort();
}

std::string buffer_name(int id) {
  static const char* inputs[] = {"seq_lens/kv_lens", "accept_lens/qo_lens", "extend_lens", "req_pool_indices",
                                 "req_to_token"};
  if (id < kFirstOut) return inputs[id];
  const int set = (id - kFirstOut) / kSlots;
  return "set " + std::to_string(set) + " " + specmeta_test::meta_slot_name((id - kFirstOut) % kSlots);
}

// ---------------------------------------------------------------------------
// What an accepted call must leave behind.

RefTable table_before(const Memory& m, const std::vector<std::vector<uint8_t>>& before, const Case& c, int set, int s) {
  const Out& o = c.out[set][s];
  RefTable t;
  t.rows = o.rows;
  t.cols = o.cols;
  t.stride = o.stride;
  t.values.assign(static_cast<size_t>(table_elems(o.rows, o.cols, o.stride)), 0);  // all that at() reaches
  const Place& p = m.place[out_id(set, s)];
  if (p.arena >= 0 && p.bytes > 0) std::memcpy(t.values.data(), before[p.arena].data() + p.offset, p.bytes);
  return t;
}

// The first n values of an input the call read (an accepted call has them).
std::vector<int64_t> first(const Case& c, int id, int64_t n) {
  const Input& x = c.in[id];
  if (n > x.size() || (n > 0 && !x.live())) {
    fail(c, "accepted a call whose " + std::string(c.input_name(id)) + " has fewer than bs elements");
  }
  return std::vector<int64_t>(x.values.begin(), x.values.begin() + n);
}

void check_accepted(const Case& c, Memory& m, const std::vector<std::vector<uint8_t>>& before) {
  const int64_t bs = c.path == kBound ? c.bs_run : c.bs;
  specmeta_test::MetaRefInput in;
  const std::vector<int64_t> seq = first(c, kSeq, bs);
  if (c.builder()) {
    const MetaMode mode = static_cast<MetaMode>(c.mode);
    const std::vector<int64_t> acc = c.reads(kAcc) ? first(c, kAcc, bs) : std::vector<int64_t>();
    const std::vector<int64_t> ext = c.reads(kExt) ? first(c, kExt, bs) : std::vector<int64_t>();
    in.expansion = specmeta_test::mode_expansion(mode, seq, acc, ext, c.N);
  } else {
    in.expansion.kv_lens = seq;
    in.expansion.kv_offset = c.kv_offset;
    in.expansion.uniform = c.uniform;
    in.expansion.qo_uniform = c.qo_uniform;
    if (!c.uniform) in.expansion.qo = first(c, kAcc, bs);
    in.expansion.max_qo = c.max_qo;
  }
  in.capacity = c.capacity;
  in.topk = c.topk;
  in.kpool = c.kpool;
  in.wanted = 0;
  for (int s = 0; s < kSlots; ++s) in.wanted |= c.wants(s) ? 1u << s : 0u;
  if (c.wants_tables()) {
    in.req_pool_indices = first(c, kRpi, bs);
    in.req_to_token.rows = c.pool;
    in.req_to_token.cols = c.W;
    in.req_to_token.stride = c.r2t_stride;
    in.req_to_token.values = c.r2t;
    in.width = c.width;
    in.page_size = c.page_size;
    in.full_width = c.full_width;
  }

  std::vector<std::vector<uint8_t>> expected = before;
  for (int set = 0; set < c.sets; ++set) {
    if (c.wants(kPt1)) in.page_table_1_before = table_before(m, before, c, set, kPt1);
    if (c.wants(kReal)) in.real_page_table_before = table_before(m, before, c, set, kReal);
    const specmeta_test::MetaRefOutput ref = specmeta_test::reference_metadata(in);
    const std::vector<int32_t> num_rows = {ref.num_rows}, status = {ref.status};
    const std::vector<int32_t>* values[] = {&ref.seqlens_expanded, &ref.cu_seqlens_q,  &ref.row_to_req,
                                            &num_rows,             &status,            &ref.cache_seqlens,
                                            &ref.cu_seqlens_k,     &ref.sparse_seqlens, &ref.sparse_cu_seqlens_k,
                                            &ref.page_table_1.values, &ref.real_page_table.values};
    for (int s = 0; s < kSlots; ++s) {
      const Place& p = m.place[out_id(set, s)];
      if (!c.out[set][s].wanted || p.arena < 0) continue;
      const std::vector<int32_t>& v = *values[s];
      const size_t n = (s == kPt1 || s == kReal) ? p.bytes / 4 : v.size();
      if (n * 4 > p.bytes || n > v.size()) {
        fail(c, "accepted a call whose " + buffer_name(out_id(set, s)) + " holds " + std::to_string(p.bytes / 4) +
                    " elements, fewer than the " + std::to_string(v.size()) + " it needs");
      }
      if (n > 0) std::memcpy(expected[p.arena].data() + p.offset, v.data(), n * 4);
    }
  }
  for (size_t a = 0; a < expected.size(); ++a) {
    if (expected[a].empty() || std::memcmp(expected[a].data(), m.arenas[a].get(), expected[a].size()) == 0) continue;
    size_t at = 0;
    while (expected[a][at] == m.arenas[a][at]) ++at;
    std::string where = "arena " + std::to_string(a) + " byte " + std::to_string(at);
    for (int id = 0; id < kBuffers; ++id) {
      const Place& p = m.place[id];
      if (p.arena == static_cast<int>(a) && at >= p.offset && at < p.offset + std::max<size_t>(p.bytes, 1)) {
        const size_t e = (at - p.offset) / 4;
        int32_t got, want;
        std::memcpy(&got, m.arenas[a].get() + p.offset + 4 * e, 4);
        std::memcpy(&want, expected[a].data() + p.offset + 4 * e, 4);
        where = buffer_name(id) + " element " + std::to_string(e) + ": got " + std::to_string(got) + ", expected " +
                std::to_string(want);
        break;
      }
    }
    fail(c, "accepted call differs from the reference: " + where);
  }
}

// Case mix, printed at exit when SPECMETA_FUZZ_STATS is set (to see what a
// corpus exercises: bash scripts/fuzz.sh leaves it unset).
struct Stats {
  enum : int { kRuns, kRejected, kAccepted, kAcceptedTables, kAcceptedSets, kAcceptedBits, kAcceptedBound,
               kOverlap, kEitherRejected, kEitherAccepted, kBuilder0, kCount = kBuilder0 + 5 };
  long counts[kCount] = {};
  long status_bits[32] = {};
  bool on = std::getenv("SPECMETA_FUZZ_STATS") != nullptr;
  ~Stats() {
    if (!on) return;
    static const char* names[] = {"runs", "rejected", "accepted", "  with a page table", "  with 2+ sets",
                                  "  with status bits", "  bound path", "overlap injected", "open case rejected",
                                  "open case accepted"};
    for (int i = 0; i < kBuilder0; ++i) std::fprintf(stderr, "%-22s %ld\n", names[i], counts[i]);
    for (int i = 0; i < 5; ++i) {
      std::fprintf(stderr, "accepted %-13s %ld\n", specmeta_test::meta_mode_name(static_cast<MetaMode>(i)),
                   counts[kBuilder0 + i]);
    }
    for (int b = 0; b < 5; ++b) std::fprintf(stderr, "status bit %-11d %ld\n", 1 << b, status_bits[b]);
  }
};
Stats stats;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Case c = decode(data, size);
  Memory m;
  layout(c, m);
  fill(c, m);
  std::vector<std::vector<uint8_t>> before(m.arenas.size());
  for (size_t a = 0; a < m.arenas.size(); ++a) before[a].assign(m.arenas[a].get(), m.arenas[a].get() + m.sizes[a]);

  const Verdict v = judge(c);
  static const bool print = std::getenv("SPECMETA_FUZZ_PRINT") != nullptr;  // show each case (replaying one input)
  if (print) std::fprintf(stderr, "%s\n", describe(c).c_str());
  const Outcome r = call(c, m);
  if (stats.on) {
    long* n = stats.counts;
    ++n[Stats::kRuns];
    ++n[r.status.ok() ? Stats::kAccepted : Stats::kRejected];
    n[Stats::kOverlap] += c.overlap_x >= 0;
    if (v.either && !v.must_reject) ++n[r.status.ok() ? Stats::kEitherAccepted : Stats::kEitherRejected];
    if (r.status.ok()) {
      n[Stats::kAcceptedTables] += c.wants_tables();
      n[Stats::kAcceptedSets] += c.sets > 1;
      n[Stats::kAcceptedBound] += c.path == kBound;
      if (c.builder()) ++n[Stats::kBuilder0 + c.mode];
      for (int set = 0; set < c.sets; ++set) {
        const int32_t* st = m.i32(out_id(set, specmeta_test::kMStatus));
        if (set == 0 && st && c.out[0][specmeta_test::kMStatus].size > 0) {
          n[Stats::kAcceptedBits] += *st != 0;
          for (int b = 0; b < 5; ++b) stats.status_bits[b] += (*st >> b) & 1;
        }
      }
    }
  }
  const bool run_must_fail = c.path == kBound && r.bound_ok && (c.bs_run < 0 || c.bs_run > c.bs);

  if (!r.status.ok()) {
    for (size_t a = 0; a < m.arenas.size(); ++a) {
      if (m.sizes[a] > 0 && std::memcmp(before[a].data(), m.arenas[a].get(), m.sizes[a]) != 0) {
        fail(c, "a rejected call wrote to memory (" + r.status.message() + ")");
      }
    }
    if (c.path == kBound && r.bound_ok) {  // bind accepted, run_cpu refused
      if (!run_must_fail) fail(c, "run_cpu refused a batch within the bound one: " + r.status.message());
      if (v.must_reject) fail(c, "bind accepted an invalid call");
      return 0;
    }
    if (!v.must_reject && !v.either) fail(c, "rejected a valid call: " + r.status.message());
    if (v.must_reject || v.either) {
      bool named = false;
      for (const std::string& n : v.names) named = named || r.status.message().find(n) != std::string::npos;
      if (!named) {
        std::string expected;
        for (const std::string& n : v.names) expected += " '" + n + "'";
        fail(c, "the error names none of the faulty arguments" + expected + ": " + r.status.message());
      }
    }
    return 0;
  }
  if (v.must_reject) {
    std::string names;
    for (const std::string& n : v.names) names += " '" + n + "'";
    fail(c, "accepted an invalid call (faults:" + names + ")");
  }
  if (run_must_fail) fail(c, "run_cpu accepted a batch outside [0, bound bs]");
  check_accepted(c, m, before);
  return 0;
}
