#!/usr/bin/env bash
# Builds the libFuzzer harness of the CPU backend with clang++ (AddressSanitizer
# and UndefinedBehaviorSanitizer) and runs it:
#   bash scripts/fuzz.sh 0     replay the committed corpus once (a regression test)
#   bash scripts/fuzz.sh [N]   explore for N seconds (default 60), from the corpus;
#                              new inputs go to build/fuzz/corpus, crashes to build/fuzz/
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSPECMETA_FUZZ=ON >/dev/null
cmake --build build/fuzz
fuzzer=build/fuzz/tests/fuzz/specmeta_fuzz_expand
if [ "$seconds" = 0 ]; then
  "$fuzzer" -runs=0 tests/fuzz/corpus
else
  mkdir -p build/fuzz/corpus
  "$fuzzer" -max_total_time="$seconds" -max_len=4096 -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/corpus
fi
