// Shared plumbing of the CPU and CUDA tests: poisoned, guarded output
// allocations, the ExpandArgs of a Case, exact comparison with the reference
// (or with another backend), and run_and_compare(backend, case).
//
// A backend is any callable `void(const Case&, Observed*)` that fills every
// wanted slot of Observed with the host copy of the whole allocation (front
// guard, payload, back guard) after one call. It may use gtest ASSERT_* /
// FAIL(); run_and_compare stops on a fatal failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cases.h"
#include "reference.h"
#include "specmeta/specmeta.h"

namespace specmeta_test {

// Calls fn(options) once for each int32/int64 combination of kv and qo.
template <class Fn>
void for_each_type_combination(Fn&& fn) {
  for (specmeta::IntType kv : {specmeta::IntType::kInt32, specmeta::IntType::kInt64}) {
    for (specmeta::IntType qo : {specmeta::IntType::kInt32, specmeta::IntType::kInt64}) {
      SCOPED_TRACE(std::string("kv=") + type_name(kv) + " qo=" + type_name(qo));
      CaseOptions options;
      options.kv_type = kv;
      options.qo_type = qo;
      fn(options);
    }
  }
}

constexpr int32_t kPoison = 0x7f7f7f7f;  // cudaMemset(0x7f) gives the same words
constexpr int64_t kBackGuard = 4;

// One output allocation as seen after the call: [front guard | payload | back guard].
struct OutBuffer {
  bool present = false;
  int64_t front = 0;
  int64_t size = 0;
  std::vector<int32_t> all;
  int32_t* payload() { return all.data() + front; }
};

struct Observed {
  specmeta::Status status;
  OutBuffer out[kNumSlots];
};

inline int64_t alloc_elems(const Case& c, int slot) { return c.front_guard + c.slot_size(slot) + kBackGuard; }

// An input array in its element type, bs elements then the tail garbage.
struct HostInput {
  std::vector<int32_t> v32;
  std::vector<int64_t> v64;
  specmeta::IntType type = specmeta::IntType::kInt32;

  HostInput(const std::vector<int64_t>& values, const std::vector<int64_t>& tail, specmeta::IntType t) : type(t) {
    for (const auto* src : {&values, &tail}) {
      for (int64_t v : *src) {
        if (t == specmeta::IntType::kInt64) {
          v64.push_back(v);
        } else {
          v32.push_back(static_cast<int32_t>(v));
        }
      }
    }
  }
  const void* data() const {
    if (type == specmeta::IntType::kInt64) return v64.empty() ? nullptr : v64.data();
    return v32.empty() ? nullptr : v32.data();
  }
  int64_t elems() const { return static_cast<int64_t>(type == specmeta::IntType::kInt64 ? v64.size() : v32.size()); }
  int64_t bytes() const { return elems() * specmeta::element_size(type); }
};

// The call's arguments for a case whose arrays live at the given addresses.
// `kv` / `qo` hold bs elements plus the case's tail; qo is ignored for uniform qo.
inline specmeta::ExpandArgs make_args(const Case& c, const void* kv, const void* qo, int32_t* const outs[kNumSlots]) {
  specmeta::ExpandArgs a;
  a.bs = c.bs();
  a.kv_lens = {kv, c.kv_type, c.bs() + static_cast<int64_t>(c.kv_tail.size())};
  if (c.in.uniform) {
    a.qo_lens = {};
    a.qo_uniform = c.in.qo_uniform;
  } else {
    a.qo_lens = {qo, c.qo_type, c.bs() + static_cast<int64_t>(c.qo_tail.size())};
  }
  a.max_qo = c.in.max_qo;
  a.capacity = c.in.capacity;
  specmeta::OutSpan* spans[kNumSlots] = {&a.out.seqlens_expanded, &a.out.cu_seqlens_q, &a.out.row_to_req,
                                         &a.out.num_rows, &a.out.status};
  for (int s = 0; s < kNumSlots; ++s) {
    if (c.wants(s)) *spans[s] = {outs[s], c.slot_size(s)};
  }
  return a;
}

// Fresh poisoned host allocations for every wanted slot.
inline void prepare_host_outputs(const Case& c, Observed* obs) {
  for (int s = 0; s < kNumSlots; ++s) {
    OutBuffer& b = obs->out[s];
    b = OutBuffer{};
    if (!c.wants(s)) continue;
    b.present = true;
    b.front = c.front_guard;
    b.size = c.slot_size(s);
    b.all.assign(static_cast<size_t>(alloc_elems(c, s)), kPoison);
  }
}

// CPU backend: host arrays, outputs written in place.
// Calls `call(args)` on the case's host inputs and fresh poisoned host
// outputs (kept in `obs`), and returns what it returns.
template <class Call>
auto with_host_args(const Case& c, Observed* obs, Call&& call) {
  const HostInput kv(c.in.kv, c.kv_tail, c.kv_type);
  const HostInput qo(c.in.qo, c.qo_tail, c.qo_type);
  prepare_host_outputs(c, obs);
  int32_t* outs[kNumSlots] = {};
  for (int s = 0; s < kNumSlots; ++s) outs[s] = obs->out[s].present ? obs->out[s].payload() : nullptr;
  return call(make_args(c, kv.data(), c.in.uniform ? nullptr : qo.data(), outs));
}

inline void run_cpu(const Case& c, Observed* obs) { obs->status = with_host_args(c, obs, specmeta::expand_cpu); }

// Reports the first few differing elements of two equally long arrays.
inline ::testing::AssertionResult same_elements(const std::string& what, const int32_t* expected, const int32_t* got,
                                                int64_t n) {
  int64_t bad = 0;
  std::ostringstream msg;
  for (int64_t i = 0; i < n; ++i) {
    if (expected[i] == got[i]) continue;
    if (bad < 8) msg << "\n  " << what << "[" << i << "]: expected " << expected[i] << ", got " << got[i];
    ++bad;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements of " << what << " differ:" << msg.str();
}

// Exact check of every wanted output against the reference, guards included.
inline ::testing::AssertionResult matches_reference(const Case& c, const Observed& obs) {
  const RefOutput ref = reference_expand(c.in);
  const std::vector<int32_t> expected[kNumSlots] = {ref.seqlens_expanded, ref.cu_seqlens_q, ref.row_to_req,
                                                    {ref.num_rows}, {ref.status}};
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  std::ostringstream failures;
  bool failed = false;
  for (int s = 0; s < kNumSlots; ++s) {
    if (!c.wants(s)) continue;
    const OutBuffer& b = obs.out[s];
    if (!b.present || static_cast<int64_t>(b.all.size()) != alloc_elems(c, s)) {
      failures << "\n" << slot_name(s) << ": no buffer came back";
      failed = true;
      continue;
    }
    if (static_cast<int64_t>(expected[s].size()) != b.size) {
      failures << "\n" << slot_name(s) << ": reference has " << expected[s].size() << " elements, buffer " << b.size;
      failed = true;
      continue;
    }
    const std::vector<int32_t> front(static_cast<size_t>(b.front), kPoison);
    const std::vector<int32_t> back(static_cast<size_t>(kBackGuard), kPoison);
    const std::string name = slot_name(s);
    for (auto r : {same_elements(name + " (front guard)", front.data(), b.all.data(), b.front),
                   same_elements(name, expected[s].data(), b.all.data() + b.front, b.size),
                   same_elements(name + " (back guard)", back.data(), b.all.data() + b.front + b.size, kBackGuard)}) {
      if (!r) {
        failures << "\n" << r.message();
        failed = true;
      }
    }
  }
  if (!failed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "mismatch with the reference (total rows " << ref.total
                                       << ", expected status " << ref.status << ", num_rows " << ref.num_rows << "):"
                                       << failures.str();
}

// Bitwise equality of two backends' allocations (guards included).
inline ::testing::AssertionResult same_observed(const Case& c, const Observed& a, const Observed& b) {
  std::ostringstream failures;
  bool failed = false;
  for (int s = 0; s < kNumSlots; ++s) {
    if (!c.wants(s)) continue;
    if (a.out[s].all.size() != b.out[s].all.size()) {
      failures << "\n" << slot_name(s) << ": sizes differ";
      failed = true;
      continue;
    }
    auto r = same_elements(std::string(slot_name(s)) + " (whole allocation)", a.out[s].all.data(),
                           b.out[s].all.data(), static_cast<int64_t>(a.out[s].all.size()));
    if (!r) {
      failures << "\n" << r.message();
      failed = true;
    }
  }
  if (!failed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "backends differ:" << failures.str();
}

// Runs one case on `backend` and compares every output with the reference.
// Returns false (after recording the failure) on any mismatch.
template <class Backend>
bool run_and_compare(Backend&& backend, const Case& c, Observed* keep = nullptr) {
  SCOPED_TRACE(c.describe());
  Observed local;
  Observed& obs = keep ? *keep : local;
  backend(c, &obs);
  if (::testing::Test::HasFatalFailure()) return false;
  if (!obs.status.ok()) {
    ADD_FAILURE() << "backend returned error " << static_cast<int>(obs.status.code()) << ": " << obs.status.message();
    return false;
  }
  const auto r = matches_reference(c, obs);
  EXPECT_TRUE(r);
  return static_cast<bool>(r);
}

// Same, and also compares with the CPU backend bit for bit.
template <class Backend>
bool run_and_compare_with_cpu(Backend&& backend, const Case& c) {
  Observed obs;
  bool ok = run_and_compare(backend, c, &obs);
  if (::testing::Test::HasFatalFailure()) return false;
  Observed cpu;
  run_cpu(c, &cpu);
  SCOPED_TRACE(c.describe());
  if (!cpu.status.ok()) {
    ADD_FAILURE() << "CPU backend returned error: " << cpu.status.message();
    return false;
  }
  const auto r = same_observed(c, cpu, obs);
  EXPECT_TRUE(r);
  return ok && static_cast<bool>(r);
}

// Runs `n` random cases of `kind`, stopping after a few failing ones.
template <class Backend>
void run_random_cases(Backend&& backend, CaseGen& gen, Kind kind, int n, const CaseOptions& opt = {},
                      bool compare_with_cpu = false) {
  int failures = 0;
  for (int i = 0; i < n && failures < 3; ++i) {
    SCOPED_TRACE("random case #" + std::to_string(i));
    const Case c = gen.make(kind, opt);
    const bool ok = compare_with_cpu ? run_and_compare_with_cpu(backend, c) : run_and_compare(backend, c);
    if (::testing::Test::HasFatalFailure()) return;
    if (!ok) ++failures;
  }
}

}  // namespace specmeta_test
