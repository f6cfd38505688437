// Random test cases for the ragged expansion. Each test makes its own CaseGen,
// seeded from std::random_device (or from --seed=N on the test binary's
// command line, to replay a failure), and prints the seed with SCOPED_TRACE.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "reference.h"
#include "specmeta/specmeta.h"

namespace specmeta_test {

constexpr int64_t kI32Min = -2147483647 - 1;
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

// The batch sizes where the CUDA backend switches algorithm: one group of 32
// requests, groups summed per warp up to 128, scan chunks of 256 / 1024 /
// 4096 requests, streaming chunk by chunk beyond 4096.
inline const std::vector<int64_t>& boundary_batch_sizes() {
  static const std::vector<int64_t> sizes = {0,    1,    2,    31,   32,   33,   127,  128,  129,  255,  256,
                                             257,  1023, 1024, 1025, 4095, 4096, 4097, 8191, 8193, 12289};
  return sizes;
}
constexpr int64_t kRowsPerCudaBlock = 1024;
// Larger totals get a small capacity (bit 1), so no buffer exceeds 4 MB.
constexpr int64_t kMaxTestCapacity = int64_t{1} << 20;

enum class Kind {
  kUniform,        // uniform qo 0..16
  kRandomQo,       // per-request qo 0..16
  kSkewed,         // most qo 0/1, a few of ~5000
  kAllZero,        // every qo 0
  kBoundaryBs,     // bs on the CUDA algorithm switches
  kNearInt32Max,   // kv at 2^31-1, 2^31-5 (and above it for int64): bit 8
  kQoExceedsKv,    // qo > kv, negative kv: bit 2
  kQoOutOfRange,   // qo < 0 or > max_qo: bit 16
  kHugeTotal,      // total > INT32_MAX with a small capacity: bits 8 and 1
  kMixed,          // every fault above inside one batch
};

inline const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> kinds = {Kind::kUniform,      Kind::kRandomQo,    Kind::kSkewed,
                                          Kind::kAllZero,      Kind::kBoundaryBs,  Kind::kNearInt32Max,
                                          Kind::kQoExceedsKv,  Kind::kQoOutOfRange, Kind::kHugeTotal,
                                          Kind::kMixed};
  return kinds;
}

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kUniform: return "Uniform";
    case Kind::kRandomQo: return "RandomQo";
    case Kind::kSkewed: return "Skewed";
    case Kind::kAllZero: return "AllZero";
    case Kind::kBoundaryBs: return "BoundaryBs";
    case Kind::kNearInt32Max: return "NearInt32Max";
    case Kind::kQoExceedsKv: return "QoExceedsKv";
    case Kind::kQoOutOfRange: return "QoOutOfRange";
    case Kind::kHugeTotal: return "HugeTotal";
    case Kind::kMixed: return "Mixed";
  }
  return "?";
}

// So that gtest (and ctest's test names) print a Kind parameter by name.
inline void PrintTo(Kind k, std::ostream* os) { *os << kind_name(k); }

inline const char* type_name(specmeta::IntType t) { return t == specmeta::IntType::kInt64 ? "int64" : "int32"; }

// Output slots, in ExpandOutputs order.
enum OutSlot { kSeqlens = 0, kCuSeqlensQ = 1, kRowToReq = 2, kNumRows = 3, kStatus = 4, kNumSlots = 5 };
constexpr unsigned kAllOutputs = 0x1f;
inline const char* slot_name(int s) {
  static const char* names[kNumSlots] = {"seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"};
  return names[s];
}

struct Case {
  Kind kind = Kind::kRandomQo;
  specmeta::IntType kv_type = specmeta::IntType::kInt32;
  specmeta::IntType qo_type = specmeta::IntType::kInt32;
  RefInput in;                  // kv, qo, uniform, qo_uniform, max_qo, capacity
  std::vector<int64_t> kv_tail;  // elements past bs in the kv buffer (must not be read)
  std::vector<int64_t> qo_tail;  // same for qo
  unsigned out_mask = kAllOutputs;
  int64_t front_guard = 4;       // poisoned elements before each output (4 keeps 16-byte alignment)

  int64_t bs() const { return static_cast<int64_t>(in.kv.size()); }
  bool wants(int slot) const { return (out_mask >> slot) & 1u; }
  int64_t slot_size(int slot) const {
    switch (slot) {
      case kSeqlens:
      case kRowToReq: return in.capacity;
      case kCuSeqlensQ: return bs() + 1;
      default: return 1;
    }
  }

  std::string describe() const {
    std::ostringstream s;
    s << "case kind=" << kind_name(kind) << " bs=" << bs() << " kv=" << type_name(kv_type);
    if (in.uniform) {
      s << " qo=uniform(" << in.qo_uniform << ")";
    } else {
      s << " qo=" << type_name(qo_type);
    }
    s << " max_qo=" << in.max_qo << " capacity=" << in.capacity << " out_mask=0x" << std::hex << out_mask
      << std::dec << " front_guard=" << front_guard;
    if (bs() <= 12) {
      s << " kv={";
      for (int64_t v : in.kv) s << v << ",";
      s << "}";
      if (!in.uniform) {
        s << " qo={";
        for (int64_t v : in.qo) s << v << ",";
        s << "}";
      }
    }
    return s.str();
  }
};

struct CaseOptions {
  std::optional<int64_t> bs;
  std::optional<specmeta::IntType> kv_type;
  std::optional<specmeta::IntType> qo_type;
  std::optional<bool> uniform;
  std::optional<int64_t> qo_uniform;
  std::optional<int64_t> max_qo;
  std::optional<int64_t> capacity;
  std::optional<int64_t> front_guard;
  bool random_out_mask = false;
};

// Set by main() from --seed=N.
inline std::optional<uint64_t>& replay_seed() {
  static std::optional<uint64_t> seed;
  return seed;
}

class CaseGen {
 public:
  CaseGen() : CaseGen(fresh_seed()) {}
  explicit CaseGen(uint64_t seed) : seed_(seed), rng_(seed) {}

  // --seed=N replays a run (see main.cpp); otherwise a fresh seed every run.
  static uint64_t fresh_seed() {
    if (replay_seed()) return *replay_seed();
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  uint64_t seed() const { return seed_; }
  std::string seed_text() const {
    return "seed=" + std::to_string(seed_) + " (rerun the test binary with --seed=" + std::to_string(seed_) + ")";
  }

  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p; }
  template <class T>
  T pick(std::initializer_list<T> values) {
    return *(values.begin() + range(0, static_cast<int64_t>(values.size()) - 1));
  }
  template <class T>
  T pick(const std::vector<T>& values) {
    return values[static_cast<size_t>(range(0, static_cast<int64_t>(values.size()) - 1))];
  }
  specmeta::IntType any_type() { return chance(0.5) ? specmeta::IntType::kInt64 : specmeta::IntType::kInt32; }

  Case make(Kind kind, const CaseOptions& opt = {}) {
    Case c;
    c.kind = kind;
    c.kv_type = opt.kv_type ? *opt.kv_type : any_type();
    c.qo_type = opt.qo_type ? *opt.qo_type : any_type();
    c.front_guard = opt.front_guard ? *opt.front_guard : 4;
    c.out_mask = opt.random_out_mask ? static_cast<unsigned>(range(0, kAllOutputs)) : kAllOutputs;
    const int64_t bs = opt.bs ? *opt.bs : pick_bs(kind);
    RefInput& in = c.in;

    bool uniform = false;
    switch (kind) {
      case Kind::kUniform: uniform = true; break;
      case Kind::kAllZero:
      case Kind::kBoundaryBs:
      case Kind::kNearInt32Max:
      case Kind::kQoExceedsKv: uniform = chance(0.3); break;
      default: break;
    }
    if (opt.uniform) uniform = *opt.uniform;
    in.uniform = uniform;

    // max_qo: a tight bound for the out-of-range kind, otherwise often none.
    if (opt.max_qo) {
      in.max_qo = *opt.max_qo;
    } else if (kind == Kind::kQoOutOfRange || (kind == Kind::kMixed && chance(0.7))) {
      in.max_qo = range(0, 16);
    } else if (kind == Kind::kSkewed) {
      in.max_qo = chance(0.5) ? kI32Max : pick<int64_t>({5000, 6000, 100000});
    } else if (kind == Kind::kHugeTotal) {
      in.max_qo = kI32Max;
    } else {
      in.max_qo = chance(0.5) ? kI32Max : range(16, 64);
    }

    if (uniform) {
      int64_t q = opt.qo_uniform ? *opt.qo_uniform : (kind == Kind::kAllZero ? 0 : range(0, 16));
      in.qo_uniform = std::min(q, in.max_qo);  // the host rejects qo_uniform > max_qo
    } else {
      in.qo.resize(bs);
      for (int64_t b = 0; b < bs; ++b) in.qo[b] = fit(gen_qo(kind, in.max_qo, c.qo_type), c.qo_type);
      if (kind == Kind::kSkewed && bs > 0) {  // a few huge requests in every batch
        for (int64_t n = range(1, 4); n > 0; --n) in.qo[range(0, bs - 1)] = range(4000, 6000);
      }
      if (kind == Kind::kHugeTotal && bs > 0) {  // at least two near-int32 requests: total > INT32_MAX
        for (int n = 0; n < 2; ++n) in.qo[range(0, bs - 1)] = range(int64_t{1} << 30, kI32Max);
        if (bs == 1) in.qo[0] = kI32Max;
      }
    }
    in.kv.resize(bs);
    for (int64_t b = 0; b < bs; ++b) {
      const int64_t qo = uniform ? in.qo_uniform : in.qo[b];
      in.kv[b] = fit(gen_kv(kind, qo, c.kv_type), c.kv_type);
    }
    // Garbage past bs, which the library must not read.
    for (int64_t n = range(0, 2); n > 0; --n) c.kv_tail.push_back(fit(pick<int64_t>({-7, 1000000, kI32Max}), c.kv_type));
    for (int64_t n = range(0, 2); n > 0; --n) c.qo_tail.push_back(fit(pick<int64_t>({-7, 1000000, 3}), c.qo_type));

    if (opt.capacity) {
      in.capacity = *opt.capacity;
    } else {
      const int64_t total = effective_total(in);
      if (kind == Kind::kHugeTotal || total > kMaxTestCapacity) {
        in.capacity = chance(0.5) ? range(0, 5000) : range(1, 8) * kRowsPerCudaBlock + range(-1, 1);
      } else {
        in.capacity = pick_capacity(total, /*allow_less=*/!uniform);
      }
    }
    return c;
  }

  // Rows the batch needs (per-request qo outside [0, max_qo] counts as 0).
  static int64_t effective_total(const RefInput& in) {
    RefInput copy = in;
    copy.capacity = 0;
    return reference_expand(copy).total;
  }

  // Capacities around the total and around multiples of the CUDA block's 1024 rows.
  int64_t pick_capacity(int64_t total, bool allow_less) {
    const int64_t B = kRowsPerCudaBlock;
    const int64_t up = (total + B - 1) / B * B;
    int64_t cap;
    if (allow_less && total > 0 && chance(0.3)) {
      const int64_t down = (total - 1) / B * B;
      cap = pick<int64_t>({total - 1, down, down - 1, total - B, total - B - 1, range(0, total - 1), 0, total / 2});
    } else {
      cap = pick<int64_t>({total, total + 1, total + B - 1, total + B, up, up + 1, up + B * range(1, 3),
                           up + B - 1, total + range(0, 3000)});
    }
    return std::clamp<int64_t>(cap, std::max<int64_t>(0, allow_less ? 0 : total), kI32Max);
  }

  int64_t pick_bs(Kind kind) {
    switch (kind) {
      case Kind::kBoundaryBs: return pick(boundary_batch_sizes());
      case Kind::kHugeTotal: return chance(0.7) ? range(1, 8) : pick<int64_t>({255, 257, 1025, 4097});
      default:
        if (chance(0.25)) return pick(boundary_batch_sizes());
        return chance(0.8) ? range(0, 64) : range(65, 5000);
    }
  }

 private:
  static int64_t fit(int64_t v, specmeta::IntType t) {
    return t == specmeta::IntType::kInt64 ? v : std::clamp<int64_t>(v, kI32Min, kI32Max);
  }

  int64_t gen_qo(Kind kind, int64_t max_qo, specmeta::IntType t) {
    switch (kind) {
      case Kind::kAllZero: return 0;
      case Kind::kSkewed: {
        const int64_t r = range(0, 99);
        return r < 60 ? 0 : r < 92 ? 1 : range(2, 16);
      }
      case Kind::kQoOutOfRange: return out_of_range_qo(max_qo, t);
      case Kind::kHugeTotal: return range(0, 16);
      case Kind::kMixed:
        switch (range(0, 4)) {
          case 0: return out_of_range_qo(max_qo, t);
          case 1: return chance(0.1) ? range(int64_t{1} << 30, kI32Max) : range(0, 3);
          default: return range(0, 16);
        }
      default: return range(0, 16);
    }
  }

  int64_t out_of_range_qo(int64_t max_qo, specmeta::IntType t) {
    const int64_t r = range(0, 9);
    if (r < 6) return range(0, max_qo);
    if (r == 6) return max_qo + range(1, 5);
    if (r == 7) return range(-3, -1);
    if (t == specmeta::IntType::kInt64) return pick<int64_t>({kI64Min, kI64Max, 1000000000000LL, -1000000000000LL, kI32Max + 1});
    return pick<int64_t>({kI32Min, kI32Max, -1});
  }

  int64_t normal_kv(int64_t qo) {
    const int64_t q = std::clamp<int64_t>(qo, 0, kI32Max);
    return chance(0.9) ? q + range(0, 4096) : range(q, q + 1000000);
  }

  int64_t near_max_kv(specmeta::IntType t) {
    if (t == specmeta::IntType::kInt64 && chance(0.5)) {
      return pick<int64_t>({kI32Max + 1, 3000000000LL, (int64_t{1} << 32) + 7, 1000000000000LL});
    }
    return pick<int64_t>({kI32Max, kI32Max - 1, kI32Max - 4, kI32Max - 16, kI32Max - 17});
  }

  int64_t small_or_negative_kv(specmeta::IntType t) {
    const int64_t r = range(0, 9);
    if (r < 8) return range(0, 8);
    if (r == 8) return range(-1000, -1);
    return t == specmeta::IntType::kInt64 ? pick<int64_t>({kI32Min, -1000000000000LL}) : kI32Min;
  }

  int64_t gen_kv(Kind kind, int64_t qo, specmeta::IntType t) {
    switch (kind) {
      case Kind::kNearInt32Max: return chance(0.5) ? near_max_kv(t) : normal_kv(qo);
      case Kind::kQoExceedsKv: return small_or_negative_kv(t);
      case Kind::kHugeTotal: return chance(0.8) ? normal_kv(qo) : near_max_kv(t);
      case Kind::kMixed:
        switch (range(0, 4)) {
          case 0: return near_max_kv(t);
          case 1: return small_or_negative_kv(t);
          default: return normal_kv(qo);
        }
      default: return normal_kv(qo);
    }
  }

  uint64_t seed_;
  std::mt19937_64 rng_;
};

}  // namespace specmeta_test
