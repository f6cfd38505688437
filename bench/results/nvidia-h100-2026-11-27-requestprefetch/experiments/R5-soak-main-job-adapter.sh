#!/usr/bin/env bash
# R5: the soak, the soak under memcheck, the main job and the SGLang adapter example (run as one command line).
W=/tmp/D; mkdir -p $W; timeout 420 bash scripts/gpu-check.sh build/gd soak sanitizer-soak main-job example-adapter > $W/gd.txt 2>&1; echo rc=$?; cp build/gd/summary.md build/gd/gpu-check.log $W/ 2>/dev/null; tar -C /tmp -czf $OUT/D.tgz D; tail -25 build/gd/summary.md
