#!/usr/bin/env bash
# J5: bench_metadata in the fast state and after kernels on four busy streams (the suite's slow state), for
# HEAD's kernels (base) and with every grid letting the next launch before its wait (trig); bench_builder_eager.
set -u
R=$OUT/j5; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt) + bench_metadata --busy-streams (uncommitted)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
for v in base trig; do gunzip -c .scratch/var/$v.gz > .scratch/var/$v; chmod +x .scratch/var/$v; done
for r in 1 2; do
  for v in base trig; do
    .scratch/var/$v --json=$R/ab/$v-fast-r$r.json > /dev/null 2>&1 || echo "$v fast r$r failed"
    .scratch/var/$v --busy-streams=4 --json=$R/ab/$v-slow-r$r.json > $R/$v-slow-r$r.md 2>&1 || echo "$v slow r$r failed"
  done
  echo "round $r $((SECONDS - t0)) s"
done
grep -A4 "^| floor" $R/base-slow-r1.md
python3 bench/ab_variants.py compare $R/ab base-fast,trig-fast,base-slow,trig-slow | tee $R/compare.md
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_builder_eager.py > $R/builder_eager.md 2>&1; echo "builder_eager rc=$? $((SECONDS - t0)) s"
cat $R/builder_eager.md
tar -czf $OUT/j5.tgz -C $OUT j5
