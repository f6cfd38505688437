#!/usr/bin/env bash
# F3 (H100, F1's machine): racecheck over the builder's CUDA gtests, then the suite again (a second host sample).
set -u
cd "$(dirname "$0")/.."
R=$OUT/f3; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
t0=$SECONDS
compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*Metadata*Cuda*:*Cuda*Metadata*' > $R/racecheck.txt 2>&1
echo "racecheck rc=$? $((SECONDS - t0)) s"; tail -n 4 $R/racecheck.txt
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-repeats/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/f3.tgz -C $OUT f3
