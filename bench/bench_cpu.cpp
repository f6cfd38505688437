// CPU backend cost of expand_cpu with all five outputs, N = 4 draft tokens.
//   Uniform/bs:    target_verify   (qo_b = N,              kv_b = seq_b + N)
//   PerRequest/bs: draft_extend    (qo_b = accept_lens[b], kv_b = seq_b)
// Inputs rotate among several sets so one set's values are not the only ones
// the branch predictor sees. Benchmark 1.7.1 takes --benchmark_min_time in
// seconds as a plain number (0.05, not 0.05s).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "specmeta/expand.h"

namespace {

constexpr int64_t kN = 4;
constexpr int kInputSets = 8;

struct Workload {
  std::vector<std::vector<int32_t>> kv, qo;  // kInputSets sets of bs values
  std::vector<int32_t> seqlens, cu_q, row_to_req, num_rows, status;
};

Workload make_workload(int64_t bs, bool uniform) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> seq(1024, 32768), accept(1, kN);
  Workload w;
  for (int s = 0; s < kInputSets; ++s) {
    std::vector<int32_t> kv(bs), qo(bs);
    for (int64_t b = 0; b < bs; ++b) {
      kv[b] = seq(rng) + (uniform ? kN : 0);
      qo[b] = accept(rng);
    }
    w.kv.push_back(std::move(kv));
    w.qo.push_back(std::move(qo));
  }
  const int64_t capacity = bs * kN;  // both modes: at most N rows per request
  w.seqlens.resize(capacity);
  w.row_to_req.resize(capacity);
  w.cu_q.resize(bs + 1);
  w.num_rows.resize(1);
  w.status.resize(1);
  return w;
}

specmeta::ExpandArgs make_args(Workload& w, int64_t bs, bool uniform, int set) {
  specmeta::ExpandArgs a;
  a.bs = bs;
  a.kv_lens = {w.kv[set].data(), specmeta::IntType::kInt32, bs};
  if (uniform) {
    a.qo_uniform = kN;
  } else {
    a.qo_lens = {w.qo[set].data(), specmeta::IntType::kInt32, bs};
    a.max_qo = kN;
  }
  a.capacity = bs * kN;
  a.out.seqlens_expanded = {w.seqlens.data(), a.capacity};
  a.out.cu_seqlens_q = {w.cu_q.data(), bs + 1};
  a.out.row_to_req = {w.row_to_req.data(), a.capacity};
  a.out.num_rows = {w.num_rows.data(), 1};
  a.out.status = {w.status.data(), 1};
  return a;
}

void run(benchmark::State& state, bool uniform) {
  const int64_t bs = state.range(0);
  Workload w = make_workload(bs, uniform);
  std::vector<specmeta::ExpandArgs> args;
  for (int s = 0; s < kInputSets; ++s) args.push_back(make_args(w, bs, uniform, s));
  // A failing call would time the validation path only; refuse to report that.
  if (!specmeta::expand_cpu(args[0]).ok()) throw std::runtime_error("expand_cpu rejected the benchmark input");
  int set = 0;
  for (auto _ : state) {
    specmeta::Status s = specmeta::expand_cpu(args[set]);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
    set = (set + 1) % kInputSets;
  }
  // Rows differ between per-request sets; the mean over the rotation is what each call writes on average.
  double rows = 0;
  for (int s = 0; s < kInputSets; ++s) {
    for (int32_t q : w.qo[s]) rows += uniform ? kN : q;
  }
  state.counters["rows/s"] = benchmark::Counter(rows / kInputSets, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * bs);  // items = requests
}

void Uniform(benchmark::State& state) { run(state, true); }
void PerRequest(benchmark::State& state) { run(state, false); }

void batch_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t bs : {1, 16, 64, 256, 1024, 4096}) b->Arg(bs);
  b->ArgName("bs");
}

BENCHMARK(Uniform)->Apply(batch_sizes);
BENCHMARK(PerRequest)->Apply(batch_sizes);

}  // namespace

BENCHMARK_MAIN();
