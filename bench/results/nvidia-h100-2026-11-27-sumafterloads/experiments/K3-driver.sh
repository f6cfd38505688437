#!/usr/bin/env bash
# K3 (tree: HEAD + the rows-before sum after the first pass's loads in large per-request grids, "plain"):
# a mutant of it (request 1's first row one too far) against the per-request tests; the CUDA and rule gtests;
# memcheck, racecheck and synccheck over the BatchSizes and DraftTokens tests; bench_metadata base vs plain,
# default and --large --filter=extend; the suite; the must-show counts against J4.
set -u
R=$OUT/k3; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt) + uncommitted kernel change"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
timeout 100 .scratch/var/mut-tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.RandomCases*:*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/mut-tests.txt 2>&1
echo "mutant rc=$? (nonzero = caught) $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED)' $R/mut-tests.txt | head -3; grep -m2 -E 'differ' $R/mut-tests.txt | cut -c1-160
timeout 150 .scratch/var/plain-tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -4
for tool in memcheck racecheck synccheck; do
  timeout 80 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/plain-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
for v in base plain; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r1.json > /dev/null 2>&1 || echo "$v failed"; done
for v in base plain; do timeout 90 .scratch/var/$v --large --filter=extend --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
python3 bench/ab_variants.py compare $R/ab base,plain > $R/default.md
python3 bench/ab_variants.py compare $R/ab base,plain --large > $R/large.md
echo "bench_metadata $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-copysizes/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/k3.tgz -C $OUT k3
