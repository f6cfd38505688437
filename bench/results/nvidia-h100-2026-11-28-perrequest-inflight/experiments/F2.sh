#!/usr/bin/env bash
# F2 (F1's machine, warm, right after it; run as one command line, here as a script): the whole suite on a08b86b's
# tree as F1's pip installed it, against Q3's (the fourteenth stop's final kernels).
W=/tmp/F2; rm -rf $W; mkdir -p $W; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1
PYTHONUNBUFFERED=1 timeout 330 python3 bench/bench_suite.py --out $W/suite --minutes 2.8 > $W/suite.log 2>&1
echo "suite rc=$? at $SECONDS s"
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-28-planned-bound/suite > $W/must-show.md 2>&1
head -20 $W/must-show.md; tar -C /tmp -czf $OUT/F2.tgz F2
