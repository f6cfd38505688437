#!/usr/bin/env bash
# P1 (variants built off the device from HEAD 757484b + the bench's --hold-cycles and bs 1024 W 4096 cases):
# bulk (many-pair bandwidth-layout page-table rows stored by cp.async.bulk from shared memory), bulkef (the same
# with an L2 evict_first policy), mutant bulkm (each bulk store 16 bytes short). Tests, sanitizers, bench A/B;
# then the package installed from the tree and the suite-timing GPU test.
set -u
R=$OUT/p1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt) + variants"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var && ls .scratch/var | tr '\n' ' ' || exit 1
echo
F='*Cuda*:*Rule*:-*UseCudaDevice*'
timeout 90 .scratch/var/bulkm-tests --gtest_brief=1 --gtest_filter="$F" > $R/bulkm-tests.txt 2>&1; echo "bulkm tests rc=$? $((SECONDS - t0)) s"
grep -E '^\[  (PASSED|FAILED)' $R/bulkm-tests.txt | head -3; grep -m3 -E 'Failure|FAILED  \]' $R/bulkm-tests.txt | cut -c1-200
for v in bulk bulkef; do timeout 150 .scratch/var/$v-tests --gtest_brief=1 --gtest_filter="$F" > $R/$v-tests.txt 2>&1 & done; wait
for v in bulk bulkef; do echo "$v tests"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/$v-tests.txt | head -4; done; echo "$((SECONDS - t0)) s"
for tool in memcheck racecheck synccheck initcheck; do
  timeout 80 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/bulk-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*:*RowSumsPast16Bits*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
H=--hold-cycles=100000
for v in base bulk; do timeout 70 .scratch/var/$v $H --json=$R/ab/$v-r1.json > /dev/null 2>&1 || echo "$v default failed"; done
timeout 70 .scratch/var/base --json=$R/ab/basenohold-r1.json > /dev/null 2>&1 || echo "base nohold failed"
echo "default $((SECONDS - t0)) s"
for r in 1 2; do
  for v in base bulk bulkef; do
    for f in -n8 -n16 -e16 -n4 -e4; do
      timeout 60 .scratch/var/$v --large $H --filter=$f --calls=20 --replays=15 --json=$R/ab/$v$f-large-r$r.json > /dev/null 2>&1 || echo "$v $f r$r failed"
    done
  done
  echo "large round $r $((SECONDS - t0)) s"
done
python3 - $R/ab <<'PY'
import glob, json, os, sys
d = sys.argv[1]
for v in ("base", "bulk", "bulkef"):
    for r in (1, 2):
        cases = []
        for f in sorted(glob.glob(os.path.join(d, f"{v}-*-large-r{r}.json"))):
            cases += json.load(open(f))["cases"]
        base = json.load(open(sorted(glob.glob(os.path.join(d, f"{v}-*-large-r{r}.json")))[0]))
        base["cases"] = cases
        json.dump(base, open(os.path.join(d, f"{v}-large-r{r}.json"), "w"))
PY
python3 bench/ab_variants.py compare $R/ab base,bulk,basenohold > $R/default.md
python3 bench/ab_variants.py compare $R/ab base,bulk,bulkef --large > $R/large.md
cat $R/default.md $R/large.md
echo "bench done $((SECONDS - t0)) s"
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1; echo "pip rc=$? $((SECONDS - t0)) s"
timeout 120 python3 -m pytest -q -rs tests/python/test_suite_timing_gpu.py > $R/timing-test.txt 2>&1; echo "timing test rc=$? $((SECONDS - t0)) s"; tail -5 $R/timing-test.txt
tar -czf $OUT/p1.tgz -C $OUT p1
echo "done $((SECONDS - t0)) s"
