#!/usr/bin/env bash
# G1: bench_metadata --large (with the new bs 1024 N/E 4 cases), variants built here from the working tree:
# base; nosum (DIAGNOSTIC: per-request blocks skip rows_before, rows spaced at the bound; outputs wrong);
# ppb2 (at least 2 passes per page-table block: less spread for many-pair tables); nostream (DIAGNOSTIC-ish: no
# streaming stores anywhere); hio4 (per-request tables of average pairs <= 2, bound 4, take the high-occupancy kernel).
# Round 1 verifies (but nosum); round 2 in reverse order, --no-verify. --replays=80.
set -uo pipefail
W=/tmp/G1; rm -rf $W; mkdir -p $W/large
pack() { tar -C /tmp -czf $OUT/G1.tgz G1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader > $W/gpu.txt
V=/tmp/gv; mkdir -p $V; tar -C $V -xJf .scratch/g/vars.tar.xz
run() { # variant round extra...
  local v=$1 r=$2; shift 2
  local t0=$SECONDS
  $V/$v/metadata --large --replays=80 --json=$W/large/$v-large-r$r.json "$@" > $W/large/$v-large-r$r.md 2>&1 || echo "$v r$r rc=$?"
  echo "$v r$r $((SECONDS-t0)) s (at $SECONDS s)"
}
for v in base nosum ppb2 nostream hio4; do
  if [ $v = nosum ]; then run $v 1 --no-verify; else run $v 1; fi
  pack
done
for v in hio4 nostream ppb2 nosum base; do
  [ $SECONDS -gt 500 ] && { echo "stop before $v r2 at $SECONDS s"; break; }
  run $v 2 --no-verify; pack
done
echo "total $SECONDS s"
