#!/usr/bin/env bash
# F2 (H100, F1's machine): the suite first (quiet host), bench_metadata, a soak, then compute-sanitizer
# memcheck, initcheck, synccheck over the CUDA gtests and racecheck over the builder's.
set -u
cd "$(dirname "$0")/.."
R=$OUT/f2; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-repeats/suite | tee $R/must_show.md
build/cpp/bench/specmeta_bench_metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
echo "bench_metadata rc=$? $((SECONDS - t0)) s"
python3 tests/soak/soak.py --replays 20000 --check-every 1000 > $R/soak.txt 2>&1
echo "soak rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/soak.txt
T=build/cpp/tests/cpp/specmeta_tests
for tool in memcheck initcheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='*Cuda*:-*UseCudaDevice*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/$tool.txt
done
if [ $((SECONDS - t0)) -lt 400 ]; then
  timeout $((570 - (SECONDS - t0))) compute-sanitizer --tool racecheck --error-exitcode 1 $T --gtest_brief=1 \
    --gtest_filter='*Metadata*Cuda*:*Cuda*Metadata*' > $R/racecheck.txt 2>&1
  echo "racecheck rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/racecheck.txt
fi
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/f2.tgz -C $OUT f2
