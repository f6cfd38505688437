#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU (the lent H100/H200; no network
# needed): build, every C++ and Python test on CUDA (CUDA-graph replay tests
# included), compute-sanitizer memcheck/racecheck/initcheck/synccheck over the
# CUDA tests, the main job, and the benchmarks. Uses the system python3, which
# must already have nanobind, scikit-build-core, numpy, pytest and torch.
#
#   bash scripts/gpu-check.sh [OUTDIR] [STEP...]   (default: build/gpu-check, every step)
#
# Naming steps runs only those (plus the builds they need), so a machine with
# a per-command time limit can run the check in parts, e.g. "ctest pytest"
# and then "sanitizer-memcheck sanitizer-racecheck ...".
#
# OUTDIR receives gpu-check.log (everything), summary.md (the results file to
# commit as bench/results/<gpu>-<date>.md) and the benchmark's own files.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/gpu-check}")
shift || true
selected=("$@")
mkdir -p "$out"
log="$out/gpu-check.log"
summary="$out/summary.md"
: >"$log"
failures=0
rows=()

# Runs one named step (when selected), appending its output to the log and
# its verdict to the summary.
step() {
  local name=$1
  shift
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} build-python configure-cpp build-cpp " =~ " $name " ]]; then
    return
  fi
  echo "=== $name: $*" | tee -a "$log"
  local start=$SECONDS
  if "$@" >>"$log" 2>&1; then
    rows+=("| $name | pass | $((SECONDS - start)) s |")
  else
    rows+=("| $name | **FAIL** | $((SECONDS - start)) s |")
    failures=$((failures + 1))
    tail -n 40 "$log"
  fi
}

gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)
tests=build/cpp/tests/cpp/specmeta_tests
# The CUDA tests, less the two that make CUDA API calls fail on purpose
# (an invalid device ordinal), which compute-sanitizer would count as errors,
# and the chained-calls test: its first call has 2^20 requests so that, run
# natively, a second call reading too early would see poison. Under memcheck
# it takes about 4 minutes (H100), initcheck longer; its kernels' accesses are
# those of the other tests at a larger batch. synccheck, which is fast, keeps it.
sanitize() {
  local skip=':*ChainedCallsReadThePriorCallsOutputs*'
  [ "$1" = synccheck ] && skip=''
  compute-sanitizer --tool "$1" --error-exitcode 1 "$tests" --gtest_brief=1 \
    --gtest_filter="*Cuda*:-*UseCudaDevice*$skip"
}
graph_bench() { build/cpp/bench/specmeta_bench_graph | tee "$out/bench_graph.md"; }
metadata_bench() {
  build/cpp/bench/specmeta_bench_metadata --json="$out/bench_metadata.json" | tee "$out/bench_metadata.md"
}
# Every mode's tables of 9 MB to 0.6 GB (the spread of large tables is chosen on them).
metadata_large_bench() {
  build/cpp/bench/specmeta_bench_metadata --large --calls=20 --replays=15 --json="$out/bench_metadata_large.json" |
    tee "$out/bench_metadata_large.md"
}

step build-python python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python
step configure-cpp cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON
step build-cpp cmake --build build/cpp -j "$(nproc)"
step ctest ctest --test-dir build/cpp --output-on-failure -j "$(nproc)"
step pytest python3 -m pytest -q -rs tests/python
for tool in memcheck racecheck initcheck synccheck; do
  step "sanitizer-$tool" sanitize "$tool"
done
# One CUDA graph of four Builders replayed 100,000 times with random valid and
# invalid inputs, every 1,000th replay compared with the CPU backend, outputs
# guarded by poisoned margins (tests/soak/soak.py).
step soak python3 tests/soak/soak.py --replays 100000 --check-every 1000
# A short soak under memcheck; without torch's caching allocator every tensor
# is its own allocation, so an access past one is an error memcheck sees.
# CUDA API errors are not counted: torch's start-up makes some on purpose, and
# one of specmeta's would fail the soak itself (it raises).
sanitize_soak() {
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 1 \
    python3 tests/soak/soak.py --replays 300 --check-every 100
}
step sanitizer-soak sanitize_soak
# Metadata.empty's outputs (their fields read once) changed in place, under
# memcheck without the caching allocator: a call that wrote where torch had
# moved an output from would write freed memory.
sanitize_buffers() {
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 1 \
    python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py -k metadata_empty
}
step sanitizer-buffers sanitize_buffers
step main-job python3 examples/demo.py
step bench-graph graph_bench
step bench-metadata metadata_bench
step bench-metadata-large metadata_large_bench
step bench-seed python3 bench/bench_seed.py --out "$out"
# The full suite (about 4 minutes): results.md/results.json in $out/suite; the
# PNG plots too where matplotlib is installed (else: python3 bench/plot.py DIR
# on any machine, from the JSON).
suite_bench() {
  python3 bench/bench_suite.py --out "$out/suite" || return 1
  if python3 -c "import matplotlib" 2>/dev/null; then python3 bench/plot.py "$out/suite"; fi
}
step bench-suite suite_bench
# One launch filling every draft step's metadata against SGLang's
# precompute-then-copy scheme, in CUDA graphs (issue 5).
step bench-multistep python3 bench/bench_multistep.py --out "$out/multistep"
# The SGLang adapter example: a backend swapping in specmeta's metadata path.
step example-adapter python3 examples/sglang_adapter.py
cpu_bench() { build/cpp/bench/specmeta_bench_cpu | tee "$out/bench_cpu.txt"; }
step bench-cpu cpu_bench

{
  echo "# specmeta GPU check: $gpu, $(date -u +%Y-%m-%d)"
  echo
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo "(not a git checkout)")
  # A copy of a working tree may carry an older .git: say when the files differ from it.
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit plus uncommitted changes"; fi
  echo "Command: \`bash scripts/gpu-check.sh\` at commit $commit (the results file's own commit says which code ran)."
  echo "nvcc: $(nvcc --version | tail -n 1); torch: $(python3 -c 'import torch; print(torch.__version__)')"
  echo
  echo "| step | result | time |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "## Test counts"
  echo
  echo '```'
  grep -E "tests passed|tests failed|[0-9]+ (passed|failed|skipped)|ERROR SUMMARY|RACECHECK SUMMARY|^soak: |^replays: |^mismatches: |^  status bit " "$log"
  echo '```'
  for table in bench_graph.md bench_metadata.md bench_metadata_large.md bench_seed.md; do
    if [ -f "$out/$table" ]; then
      echo
      cat "$out/$table"
    fi
  done
  if [ -f "$out/suite/results.md" ]; then
    echo
    echo "Benchmark suite: suite/results.md (tables), suite/results.json (raw), suite/*.png (plots)."
  fi
  if [ -f "$out/bench_cpu.txt" ]; then
    echo
    echo "## CPU backend (Google Benchmark, the device machine's CPU, all five outputs, N=4)"
    echo
    echo '```'
    grep -E "^(Benchmark|Uniform|PerRequest|-)" "$out/bench_cpu.txt"
    echo '```'
  fi
} >"$summary"
cat "$summary"
exit $((failures > 0))
