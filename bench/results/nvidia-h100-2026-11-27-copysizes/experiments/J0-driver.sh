#!/bin/bash
# J0: the slow-state probe (allocation column; small spread arrays) and the copy-drift probe.
set -x
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu --format=csv
cd .scratch
./stream_state > $OUT/J0-stream_state.txt 2>&1
./stream_state 65536 > $OUT/J0-stream_state-65536.txt 2>&1
cd ..
python3 bench/probes/copy_drift.py > $OUT/J0-copy_drift.md 2>&1
tail -n 30 $OUT/*.txt $OUT/*.md
