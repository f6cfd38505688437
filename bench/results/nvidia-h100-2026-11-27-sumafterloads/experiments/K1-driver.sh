#!/usr/bin/env bash
# K1: per-request page-table blocks sum the rows before their request after their first pass's loads
# (lazyall: every per-request instantiation; lazybig: only grids of over 384 blocks and the high-occupancy
# kernel), against HEAD (base). bench_metadata default x2, --large x2 (three per-request cases added);
# CUDA and rule gtests of lazyall; memcheck and racecheck over the BatchSizes and DraftTokens tests.
set -u
R=$OUT/k1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
for f in .scratch/var/*.gz; do gunzip -f $f; chmod +x ${f%.gz}; done
V="base lazyall lazybig"
for r in 1 2; do
  for v in $V; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for r in 1 2; do
  for v in $V; do timeout 90 .scratch/var/$v --large --calls=20 --replays=15 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v large r$r failed"; done
  echo "large round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,lazyall,lazybig | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base,lazyall,lazybig --large | tee $R/large.md
F='*Cuda*:*Rule*:-*UseCudaDevice*'
timeout 120 .scratch/var/lazyall-tests --gtest_brief=1 --gtest_filter="$F" > $R/tests.txt 2>&1
echo "lazyall tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -4
for tool in memcheck racecheck; do
  timeout 60 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/lazyall-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt
done
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/k1.tgz -C $OUT k1
