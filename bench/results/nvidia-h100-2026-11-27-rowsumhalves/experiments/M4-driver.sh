#!/usr/bin/env bash
# M4 (variants built off the device from HEAD 786f9bd): bal (one-warp batches' row blocks scan qo by ballots,
# one per bit of max_qo, when it has at most 5 bits: draft_extend and small max_qo). Mutant balm (the ballot
# scan counting its own lane) against the builder's random tests. bal: CUDA and rule gtests, memcheck,
# racecheck. bench_metadata base vs bal, default x3 rounds.
set -u
R=$OUT/m4; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt) + variants"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var && ls .scratch/var | tr '\n' ' ' || exit 1
echo
timeout 100 .scratch/var/balm-tests --gtest_brief=1 \
  --gtest_filter='*MetadataCuda.RandomCases*:*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/balm-tests.txt 2>&1
echo "mutant rc=$? (nonzero = caught) $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED)' $R/balm-tests.txt | head -3
timeout 150 .scratch/var/bal-tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/bal-tests.txt 2>&1
echo "bal tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/bal-tests.txt | head -4
for tool in memcheck racecheck; do
  timeout 80 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/bal-tests --gtest_brief=1 \
    --gtest_filter='*MetadataCuda.BatchSizes*:*MetadataCuda.DraftTokens*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt; grep -E '^\[  (PASSED|FAILED)' $R/$tool.txt | head -2
done
V="base bal"
for r in 1 2 3; do
  for v in $V; do timeout 60 .scratch/var/$v --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,bal > $R/default.md
cat $R/default.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/m4.tgz -C $OUT m4
