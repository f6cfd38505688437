"""The host-time loop the Python probes share: a callable's median cost per call, in us."""

import statistics
import time


def per_call_us(fn, n=4000, reps=9, warmup=300, sync=None):
    """Median over `reps` loops of `n` calls, after `warmup` calls; `sync` (if given) runs
    after the warm-up and after each loop, outside the timed region of the next one."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
        if sync:
            sync()
    return statistics.median(samples)
