#!/usr/bin/env bash
# J4 (HEAD): install; graph vs eager copy rates at a few sizes (suite_timing); bench_metadata default; the suite
# with eager size-matched copies; the must-show counts against I2.
set -u
R=$OUT/j4; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
gunzip -f .scratch/bench_metadata.gz; chmod +x .scratch/bench_metadata
.scratch/bench_metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
echo "bench_metadata rc=$? $((SECONDS - t0)) s"
(cd bench && python3 -c "
import torch, suite_timing as st
c = st.Clock(torch, True)
print('| MiB | graph TB/s | eager TB/s |'); print('|---|---|---|')
for b in (8_388_608, 25_000_000, 50_000_000, 134_217_728, 268_435_456, 300_000_000, 536_870_912):
    print(f'| {b / 2**20:.1f} | {st.copy_bandwidth_gbps(c, b, 0.2) / 1e3:.2f} | {st.copy_bandwidth_gbps(c, b, 0.2, eager=True) / 1e3:.2f} |')
") > $R/graph_vs_eager_copy.md 2>&1
echo "copies rc=$?"; cat $R/graph_vs_eager_copy.md
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-rowgroups/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/j4.tgz -C $OUT j4
