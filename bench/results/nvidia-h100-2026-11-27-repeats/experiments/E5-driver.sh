#!/usr/bin/env bash
# E5 (H100): C++ build of the working tree (sixteen row groups), the CUDA gtests (RowGroupLayouts among them)
# and memcheck over the table sweeps, then narrow (HEAD's kernels) against wide: default rounds, one --large round.
set -u
cd "$(dirname "$0")/.."
R=$OUT/e5; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"
python3 bench/ab_variants.py build narrow=.scratch/narrow.diff wide=TREE > $R/variants.txt 2>&1 &
vpid=$!
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/tests.txt
compute-sanitizer --tool memcheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*RowGroupLayouts*:*TableCopyThresholds*:*DraftTokens*Cuda*:*Cuda*DraftTokens*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/memcheck.txt
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
for r in 1 2; do
  for v in narrow wide; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab narrow,wide | tee $R/default.md
if [ $((SECONDS - t0)) -lt 230 ]; then
  for v in narrow wide; do timeout 70 build/cpp/var/$v/metadata --large --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
  python3 bench/ab_variants.py compare $R/ab narrow,wide --large | tee $R/large.md
fi
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/e5.tgz -C $OUT e5
