#!/usr/bin/env bash
# H1: install + C++ build of the working tree (own pages), CUDA gtests (page sizes 1/2/3/16/48/64),
# memcheck over the page-size and subset sweeps, the capture probe (diag3), base vs own A/B.
set -u
cd "$(dirname "$0")/.."
R=$OUT/h1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/build.txt
python3 bench/ab_variants.py build base=.scratch/base.diff own=TREE > $R/variants.txt 2>&1 &
vpid=$!
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; tail -n 4 $R/tests.txt
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 .scratch/diag3.py $R/dots > $R/diag3.md 2>&1
echo "diag3 rc=$? $((SECONDS - t0)) s"; cat $R/diag3.md
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
for r in 1 2; do
  for v in base own; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,own | tee $R/default.md
for v in base own; do timeout 80 build/cpp/var/$v/metadata --large --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
python3 bench/ab_variants.py compare $R/ab base,own --large | tee $R/large.md
echo "large $((SECONDS - t0)) s"
compute-sanitizer --tool memcheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.PageSizeKpoolTopk*:*MetadataCuda.OutputSubsets*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/memcheck.txt
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/h1.tgz -C $OUT h1
