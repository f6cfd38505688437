"""The suite's three measurements of one variant, and the time budget that sizes them.

  call + sync   wall time of one call followed by a device sync (median)
  eager         wall time of K back-to-back calls, then one sync, over K (median)
  in-graph      device time per call of R calls captured in one CUDA graph,
                CUDA events around each replay, queued behind a sleeping
                kernel (median)

Every measurement rotates the input sets (call k uses set k % sets), so one
set's cache lines do not stay hot. K and R shrink for slow variants so that
each measurement stays near its share of the run's time budget, in whole
rounds of the sets (at least one call per set).
"""

from __future__ import annotations

import statistics
import time

MIN_SAMPLES = 3  # even a variant slower than its whole budget gets this many samples
EAGER_K = 200  # calls per eager sample, at most
GRAPH_R = 100  # calls per graph, at most
MIN_REPLAYS = 5  # graph replays a measurement aims for within its budget
WARMUP_CALLS = 3
BUDGET_SHARE = 0.6  # of the time left, what measurements get (the rest: set-up, checks, graph capture)
MIN_BUDGET_S = 0.004
MAX_BUDGET_S = 0.25


class Budget:
    """Hands each measurement an equal share of the time left, recomputed as the run goes."""

    def __init__(self, total_s, planned):
        self.deadline = time.perf_counter() + total_s
        self.left = max(planned, 1)
        self.given = []

    def next(self):
        remaining = max(self.deadline - time.perf_counter(), 0.0)
        share = min(max(remaining * BUDGET_SHARE / max(self.left, 1), MIN_BUDGET_S), MAX_BUDGET_S)
        self.left -= 1
        self.given.append(share)
        return share

    def summary(self):
        g = sorted(self.given) or [0.0]
        return dict(measurements=len(self.given), min_s=g[0], median_s=statistics.median(g), max_s=g[-1],
                    overran_s=max(time.perf_counter() - self.deadline, 0.0))


class Clock:
    """Syncs and graphs on the device the suite runs on: CUDA, or the CPU for a smoke run."""

    def __init__(self, torch, cuda):
        self.torch, self.cuda = torch, cuda

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()


def _samples(budget_s, one_sample, max_samples=None):
    samples, stop = [], time.perf_counter() + budget_s
    while (max_samples is None or len(samples) < max_samples) and (
        len(samples) < MIN_SAMPLES or time.perf_counter() < stop
    ):
        samples.append(one_sample(len(samples)))
    return samples


def call_sync_us(clock, fn, sets, budget_s):
    """(median us, samples): one call then a sync, timed on the host."""

    def one(k):
        t0 = time.perf_counter()
        fn(k % sets)
        clock.sync()
        return (time.perf_counter() - t0) * 1e6

    samples = _samples(budget_s, one)
    return statistics.median(samples), len(samples)


def calls_per_sample(budget_s, per_call_us, sets, at_most, min_samples):
    """Calls per sample (eager K, graph R): a multiple of `sets`, so that every input set runs equally often and
    the bytes timed are the cell's live bytes (an average over the sets); at least `sets` and at most `at_most`;
    and few enough that min_samples samples of calls of per_call_us take about half of budget_s."""
    fit = int(budget_s * 1e6 / (min_samples * 2 * max(per_call_us, 1e-3)))
    return sets * max(1, min(at_most, fit) // sets)


def eager_us(clock, fn, sets, budget_s, hint_us):
    """(median us per call, samples, K): K back-to-back calls then one sync; K from the call + sync hint."""
    k_calls = calls_per_sample(budget_s, hint_us, sets, EAGER_K, MIN_SAMPLES)

    def one(_):
        clock.sync()
        t0 = time.perf_counter()
        for k in range(k_calls):
            fn(k % sets)
        clock.sync()
        return (time.perf_counter() - t0) * 1e6 / k_calls

    samples = _samples(budget_s, one)
    return statistics.median(samples), len(samples), k_calls


# The stream every graph is captured on: one for the process, as torch.cuda.graph's own default.
_capture_stream = None


def capture_calls(torch, fn, calls, sets, warmup):
    """(graph, None): a CUDA graph of `calls` calls fn(k % sets), captured after `warmup`
    calls on a side stream (as torch.cuda.graph asks) and replayed once (the first replay
    uploads it); (None, why) when the capture fails.

    Captured with capture_begin / capture_end rather than in torch.cuda.graph, whose entry empties the
    allocator's cache: the driver's work on memory given back slows the kernels that run after it (H100: a graph
    of large extend calls 16% slower for about 20 ms after 8 GiB were given back, for over 65 ms after 24 GiB;
    bench/probes/memory_release.py), so the first graph timed in a cell after a large one read up to 22% slow.
    """
    global _capture_stream
    if _capture_stream is None:
        _capture_stream = torch.cuda.Stream()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for k in range(warmup):
            fn(k % sets)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.stream(_capture_stream):
            graph.capture_begin()
            try:
                for k in range(calls):
                    fn(k % sets)
            finally:
                graph.capture_end()
    except Exception as e:  # noqa: BLE001 - any capture failure means "not capturable"
        torch.cuda.synchronize()
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    graph.replay()
    torch.cuda.synchronize()
    return graph, None


# The driver's work on memory given back: 8 GiB slowed the kernels after it for about 20 ms, 24 GiB for over 65 ms
# (bench/probes/memory_release.py, H100: about 400 GB/s), and after 0.5 s of waiting for 24 GiB they ran at their
# usual speed. At this rate, eight times slower, the waits add about 5 s to a whole run (about 256 GB given back
# over its 74 cells of over 256 MB of table).
RELEASE_SETTLE_BYTES_PER_S = 50e9


def release_cached_memory(torch):
    """Gives the allocator's cached memory back to the driver, then waits for the driver's work on it, which
    would otherwise slow the next measurements (capture_calls says by how much)."""
    reserved = torch.cuda.memory_reserved()
    torch.cuda.empty_cache()
    released = max(reserved - torch.cuda.memory_reserved(), 0)
    time.sleep(released / RELEASE_SETTLE_BYTES_PER_S)


# The GPU sleeps this long (cycles: 50 us at 2 GHz) before each timed replay, longer than the host takes to launch
# a graph, so the start event is reached only once the replay is queued.
REPLAY_SLEEP_CYCLES = 100_000


def replay_sample(torch, graph, calls):
    """A sampler (its argument unused) timing one replay of `graph` with CUDA events: device
    us per call, free of Python and launch overhead.

    The replay is queued behind a sleeping kernel: with the start event recorded on an idle GPU, the wait for the
    host's launch counted as the calls' time, 0.02-0.1 us per call in graphs of 100 small calls (H100, the suite's
    cells under 1 MB; bench/probes/replay_gap.py).
    """
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def one(_):
        torch.cuda._sleep(REPLAY_SLEEP_CYCLES)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e3 / calls

    return one


def graph_us(clock, fn, sets, budget_s):
    """((median us per call, replays, R), None), or ((None, 0, 0), why) when capture fails.

    R calls (rotating sets) are captured once; each replay is timed with CUDA events. R is sized from a first
    graph of one call per set (calls_per_sample), whose replay gives the device time per call. An eager time
    would not do: a host-bound call's eager time is the host's, 25 times its device time on a busy host, which
    cut R to 30 in one cell (H100, extend bs 1 N 2 W 4096: 2.08 us per call at R = 30; 1.75 at R = 100 in the
    next two runs).
    """
    torch = clock.torch
    graph, why = capture_calls(torch, fn, sets, sets, WARMUP_CALLS)
    if graph is None:
        return (None, 0, 0), f"capture failed: {why}"
    per_call_us = replay_sample(torch, graph, sets)(0)
    calls = calls_per_sample(budget_s, per_call_us, sets, GRAPH_R, MIN_REPLAYS)
    if calls != sets:
        del graph
        graph, why = capture_calls(torch, fn, calls, sets, 0)
        if graph is None:
            return (None, 0, 0), f"capture failed: {why}"
    samples = _samples(budget_s, replay_sample(torch, graph, calls))
    del graph
    return (statistics.median(samples), len(samples), calls), None


def copy_bandwidth_gbps(clock, nbytes, budget_s, eager=False):
    """Device-to-device copy of nbytes (read + write counted) per second, in GB/s.

    On CUDA, in a graph; or with eager, COPY_CALLS copies issued back to back behind a sleeping kernel (so that
    none waits for the host) between two CUDA events. A copy node in a graph runs at 2.2-2.4 TB/s at most sizes
    that are not a multiple of 64 MiB, an eager copy at about 3.0 from 256 MiB (H100;
    bench/probes/copy_sizes.cu, J1): the size-matched references are eager.
    """
    torch = clock.torch
    device = "cuda" if clock.cuda else "cpu"
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    if clock.cuda and eager:
        us = statistics.median(_samples(budget_s, eager_copy_sample(torch, src, dst)))
    elif clock.cuda:
        (us, _, _), error = graph_us(clock, lambda _: dst.copy_(src), 1, budget_s)
        if error:
            raise RuntimeError(f"copy bandwidth probe: {error}")
    else:
        us, _ = call_sync_us(clock, lambda _: dst.copy_(src), 1, budget_s)
    return 2 * nbytes / (us * 1e3)


COPY_CALLS = 20
# The sleeping kernel's cycles per copy queued behind it: 20 us at 2 GHz, more than a copy's launch takes.
SLEEP_CYCLES_PER_CALL = 40_000


def eager_copy_sample(torch, src, dst):
    """A sampler timing COPY_CALLS back-to-back copies src -> dst with CUDA events: device us per copy."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    dst.copy_(src)  # the first copy of new buffers maps their pages

    def one(_):
        torch.cuda._sleep(SLEEP_CYCLES_PER_CALL * COPY_CALLS)
        start.record()
        for _ in range(COPY_CALLS):
            dst.copy_(src)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e3 / COPY_CALLS

    return one
