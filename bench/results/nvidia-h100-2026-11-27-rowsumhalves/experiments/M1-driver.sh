#!/usr/bin/env bash
# M1 (variants built off the device from HEAD 949a1a4): poolrow (the page-table block's exits through one
# pool_row helper), redux (poolrow + the rows-before sum in 32-bit shares added as 16-bit halves by
# __reduce_add_sync). Mutants m1 (the high halves dropped) and m2 (shares not kept below the capacity) against
# the new RowSumsPast16Bits test; base on it. redux: CUDA and rule gtests, memcheck, racecheck, synccheck.
# poolrow: the per-request random tests. bench_metadata default x2 rounds, --large --filter=extend x1.
set -u
R=$OUT/m1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt) + variants"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var && ls .scratch/var || exit 1
for v in m1 m2 base redux; do
  timeout 60 .scratch/var/$v-tests --gtest_brief=1 --gtest_filter='*RowSumsPast16Bits*' > $R/$v-rowsums.txt 2>&1
  echo "$v RowSumsPast16Bits rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/$v-rowsums.txt | head -3; grep -m1 -E 'differ' $R/$v-rowsums.txt | cut -c1-160
done
timeout 150 .scratch/var/redux-tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/redux-tests.txt 2>&1
echo "redux tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/redux-tests.txt | head -4
timeout 100 .scratch/var/poolrow-tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.RandomCases*:*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*:*RowSumsPast16Bits*' > $R/poolrow-tests.txt 2>&1
echo "poolrow tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/poolrow-tests.txt | head -4
for tool in memcheck racecheck synccheck; do
  timeout 80 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/redux-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*:*RowSumsPast16Bits*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
V="base poolrow redux"
for r in 1 2; do
  for v in $V; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for v in $V; do timeout 90 .scratch/var/$v --large --filter=extend --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
python3 bench/ab_variants.py compare $R/ab base,poolrow,redux > $R/default.md
python3 bench/ab_variants.py compare $R/ab base,poolrow,redux --large > $R/large.md
cat $R/default.md $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/m1.tgz -C $OUT m1
