#!/usr/bin/env bash
# P4 (tree: 84a5b2f + the launch-order rule for uniform batches of 16 or more, uncommitted): the CUDA and rule
# gtests (binary built off the device from this tree), the package installed, the whole suite, its must-show
# counts against P3 (84a5b2f's kernels, same timing).
set -u
R=$OUT/p4; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var
timeout 120 .scratch/var/tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -4
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite .scratch/m/p3-suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/p4.tgz -C $OUT p4
