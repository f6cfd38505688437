#!/usr/bin/env bash
# Builds the libFuzzer harnesses of the CPU backend with clang++ (AddressSanitizer
# and UndefinedBehaviorSanitizer) and runs them:
#   bash scripts/fuzz.sh 0            replay both committed corpora once (a regression test)
#   bash scripts/fuzz.sh [N]          fuzz both harnesses for N seconds each (default 60), side by
#                                     side, each from its committed corpus
#   bash scripts/fuzz.sh N metadata   only one harness (expand or metadata), e.g. for a long run
# Harnesses: expand   = tests/fuzz/fuzz_expand.cpp   (expand_cpu, the expansion alone)
#            metadata = tests/fuzz/fuzz_metadata.cpp (build_metadata_cpu, expand_cpu with every
#                       ExpandArgs field, BoundExpansion)
# New inputs go to build/fuzz/corpus (expand) and build/fuzz/corpus_metadata; crashes to
# build/fuzz/expand-crash-* and build/fuzz/metadata-crash-*; each run's log to build/fuzz/<name>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
only=${2:-}
case "$only" in "" | expand | metadata) ;; *) echo "unknown harness '$only' (expand or metadata)" >&2; exit 2 ;; esac
cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSPECMETA_FUZZ=ON >/dev/null
cmake --build build/fuzz

binary() { echo "build/fuzz/tests/fuzz/specmeta_fuzz_$1"; }
committed() { if [ "$1" = expand ]; then echo tests/fuzz/corpus; else echo tests/fuzz/corpus_metadata; fi; }
found() { if [ "$1" = expand ]; then echo build/fuzz/corpus; else echo build/fuzz/corpus_metadata; fi; }
harnesses=(expand metadata)
[ -n "$only" ] && harnesses=("$only")

if [ "$seconds" = 0 ]; then
  for h in "${harnesses[@]}"; do
    echo "== replaying $(committed "$h") with $(binary "$h")"
    "$(binary "$h")" -runs=0 -timeout=20 "$(committed "$h")"
  done
  exit 0
fi

# Fuzz side by side; each writes its own log, summarised (or, on a finding, shown) below.
pids=()
for h in "${harnesses[@]}"; do
  mkdir -p "$(found "$h")"
  "$(binary "$h")" -max_total_time="$seconds" -max_len=4096 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="build/fuzz/$h-" "$(found "$h")" "$(committed "$h")" >"build/fuzz/$h.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!harnesses[@]}"; do
  h=${harnesses[$i]}
  if wait "${pids[$i]}"; then
    echo "== $h: no finding in ${seconds} s ($(grep -m1 -E '^Done [0-9]+ runs' "build/fuzz/$h.log"))"
    grep -E '^#[0-9]+[[:space:]]+DONE' "build/fuzz/$h.log" || true
  else
    status=1
    echo "== $h: FINDING (full log: build/fuzz/$h.log)"
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "build/fuzz/$h.log" | tail -60
  fi
done
exit "$status"
