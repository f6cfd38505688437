#!/usr/bin/env bash
# J8 (HEAD, the warp sum): a mutant (one length too many) against the per-request tests; memcheck, racecheck and
# synccheck over the bs <= 32 tests; bench_metadata default; the suite; the must-show counts against J4.
set -u
R=$OUT/j8; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
.scratch/var/mut-tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.RandomCases*:*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/mut-tests.txt 2>&1
echo "mutant rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mut-tests.txt | head -3; grep -m2 -E 'differ|Failure' $R/mut-tests.txt | cut -c1-160
.scratch/var/tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.RandomCases*:*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/tests.txt 2>&1
echo "tree tests rc=$?"; grep -E '^\[  (PASSED|FAILED)' $R/tests.txt | head -3
for tool in memcheck racecheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
.scratch/var/metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
echo "bench_metadata rc=$? $((SECONDS - t0)) s"
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-copysizes/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/j8.tgz -C $OUT j8
