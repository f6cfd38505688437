#!/usr/bin/env bash
# M2 (variants built off the device from HEAD 949a1a4): rx (the rows-before sum in 32-bit shares added as 16-bit
# halves by __reduce_add_sync; no other change). Mutants m1 (high halves dropped) and m2 (shares not kept below
# the capacity) and base against the reworked RowSumsPast16Bits test. rx: CUDA and rule gtests, memcheck,
# racecheck, synccheck, initcheck. bench_metadata base vs rx: default x3 rounds, --large --filter=extend x2.
set -u
R=$OUT/m2; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt) + variants"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var && ls .scratch/var | tr '\n' ' ' || exit 1
echo
for v in m1 m2 base rx; do
  timeout 60 .scratch/var/$v-tests --gtest_brief=1 --gtest_filter='*RowSumsPast16Bits*' > $R/$v-rowsums.txt 2>&1
  echo "$v RowSumsPast16Bits rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/$v-rowsums.txt | head -3; grep -m1 -E 'metadata_suites.h:[0-9]+: (a few|request|requests)' $R/$v-rowsums.txt | cut -c1-200
done
timeout 150 .scratch/var/rx-tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/rx-tests.txt 2>&1
echo "rx tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/rx-tests.txt | head -4
for tool in memcheck racecheck synccheck initcheck; do
  timeout 80 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/rx-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*:*RowSumsPast16Bits*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
V="base rx"
for r in 1 2 3; do
  for v in $V; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for r in 1 2; do
  for v in $V; do timeout 90 .scratch/var/$v --large --filter=extend --calls=20 --replays=15 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v large failed"; done
done
python3 bench/ab_variants.py compare $R/ab base,rx > $R/default.md
python3 bench/ab_variants.py compare $R/ab base,rx --large > $R/large.md
cat $R/default.md $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/m2.tgz -C $OUT m2
