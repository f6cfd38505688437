"""Re-applies the committed stall rule (suite_report.EagerHistory, f5e2386) to a suite run measured under its first
form (1fc7f77): a row whose eager time was measured again goes back to its first reading unless the committed rule
flags that reading too; then the must-show's eager counts.

    python3 bench/results/nvidia-h100-2026-11-27-remeasure/experiments/final_rule.py DIR   (from the repository root)
"""
import copy, re, sys, statistics as S
sys.path.insert(0, 'bench')
import suite_report as sr, suite_must_show as m
from itertools import groupby
d = sys.argv[1]
res = sr.read(d)
rows = res['rows']
h = sr.EagerHistory(res['meta']['floors']['eager per call'])
kept_first = 0
for key, grp in groupby(rows, key=sr.cell_key):
    grp = list(grp)
    for r in grp:
        note = [n for n in r.get('eager_check', [])]
        if note:
            first = float(re.search(r'first ([\d.]+)', note[0]).group(1))
            probe = dict(r, eager_us=first)
            if not h.stalled([probe]):
                r['eager_us'] = first; kept_first += 1
    h.add(grp)
builder = sr.reference_rows([r for r in rows if r['kind'] == 'metadata'])
build = {sr.cell_key(r): r for r in rows if r['kind'] == 'metadata' and r['variant'] == 'specmeta build_metadata'}
host = [k for k, r in builder.items() if r['graph_us'] is not None and r['graph_us'] < m.HOST_BOUND_GRAPH_US]
b = [builder[k]['eager_us'] for k in host]; bm = [build[k]['eager_us'] for k in host if k in build]
print(d, 'rows back at their first reading:', kept_first,
      f'| builder eager {sum(v <= 8 for v in b)} of {len(b)} | build_metadata eager {sum(v <= 20 for v in bm)} of {len(bm)}')
