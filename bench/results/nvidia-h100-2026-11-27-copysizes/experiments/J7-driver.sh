#!/usr/bin/env bash
# J7: rows before a request summed by every warp itself, gated by the request index (wsum) or by the batch size
# (wsumg), against HEAD's kernels (base): bench_metadata default x3; CUDA and rule gtests of both variants; a
# mutant of wsumg (one length too many) against the per-request tests; memcheck and racecheck over bs <= 32 tests.
set -u
R=$OUT/j7; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(git log -1 --format=%h 2>/dev/null) kernels + .scratch/ab/wsum*.diff"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
V="base wsum wsumg"
for r in 1 2 3; do
  for v in $V; do .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,wsum,wsumg | tee $R/default.md
F='*Cuda*:*Rule*:-*UseCudaDevice*'
.scratch/var/wsum-tests --gtest_brief=1 --gtest_filter="$F" > $R/wsum-tests.txt 2>&1 &
p1=$!
.scratch/var/wsumg-tests --gtest_brief=1 --gtest_filter="$F" > $R/wsumg-tests.txt 2>&1
echo "wsumg tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/wsumg-tests.txt | head -4
wait $p1; echo "wsum tests rc=$?"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/wsum-tests.txt | head -4
.scratch/var/mut-tests --gtest_brief=1 --gtest_filter='MetadataCuda*RandomCases*:MetadataCuda*BatchSizes*:MetadataCuda*DraftTokens*' > $R/mut-tests.txt 2>&1
echo "mutant rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mut-tests.txt | head -3
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/wsumg-tests --gtest_brief=1 \
    --gtest_filter='MetadataCuda*BatchSizes*:MetadataCuda*DraftTokens*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt
done
tar -czf $OUT/j7.tgz -C $OUT j7
