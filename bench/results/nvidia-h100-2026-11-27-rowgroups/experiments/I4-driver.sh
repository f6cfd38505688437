#!/usr/bin/env bash
# I4: row groups for few-pair tables up to 768 or 1024 blocks (lim768, lim1024) against the tree's 384 (base).
set -u
cd "$(dirname "$0")/.."
R=$OUT/i4; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(git log -1 --format=%h 2>/dev/null) + .scratch/lim*.diff"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=OFF -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build base=TREE lim768=.scratch/lim768.diff lim1024=.scratch/lim1024.diff > $R/variants.txt 2>&1
echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/variants.txt
for r in 1 2 3; do
  for v in base lim768 lim1024; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,lim768,lim1024 | tee $R/default.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/i4.tgz -C $OUT i4
