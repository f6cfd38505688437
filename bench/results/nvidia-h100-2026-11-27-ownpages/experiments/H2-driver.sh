#!/usr/bin/env bash
# H2: chunk pages (a pass's real_page_table entries are the pages starting in its own columns) against
# HEAD's kernels; CUDA gtests and memcheck on the tree; two mutants of it against the page-size sweeps;
# diag4 (torch vs CuPy capture of the suite's Builder cells) and bench_metadata's w4096 cases.
set -u
cd "$(dirname "$0")/.."
R=$OUT/h2; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build base=.scratch/base.diff chunk=TREE > $R/variants.txt 2>&1 &
vpid=$!
for m in mutA mutB; do
  ( rm -rf /tmp/$m && mkdir -p /tmp/$m && tar --exclude=./build --exclude=./.scratch --exclude=./.git -cf - . | tar -xf - -C /tmp/$m \
    && cd /tmp/$m && patch -s -p1 < $OLDPWD/.scratch/$m.diff && cmake -S . -B b -G Ninja -DSPECMETA_TESTS=ON > /dev/null \
    && cmake --build b -j 3 --target specmeta_tests > /dev/null ) > $R/$m-build.txt 2>&1 &
done
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; tail -n 4 $R/tests.txt
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 .scratch/diag4.py > $R/diag4.md 2>&1
echo "diag4 rc=$? $((SECONDS - t0)) s"; cat $R/diag4.md
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
for r in 1 2; do
  for v in base chunk; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,chunk | tee $R/default.md
for v in base chunk; do timeout 80 build/cpp/var/$v/metadata --large --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
python3 bench/ab_variants.py compare $R/ab base,chunk --large | tee $R/large.md
echo "large $((SECONDS - t0)) s"
compute-sanitizer --tool memcheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.PageSizeKpoolTopk*:*MetadataCuda.OutputSubsets*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/memcheck.txt
wait
for m in mutA mutB; do
  if [ -x /tmp/$m/b/tests/cpp/specmeta_tests ]; then
    /tmp/$m/b/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*MetadataCuda.PageSizeKpoolTopk*:*MetadataCuda.OutputSubsets*' > $R/$m-tests.txt 2>&1
    echo "$m tests rc=$? (nonzero = caught)"; grep -m3 -E 'FAILED|Failure' $R/$m-tests.txt | cut -c1-200
  else echo "$m build failed"; tail -n 5 $R/$m-build.txt; fi
done
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/h2.tgz -C $OUT h2
