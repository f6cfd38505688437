"""Soak test: one CUDA graph of several `specmeta.Builder` calls, replayed many
times with random valid and invalid inputs (issue 6, docs/reliability.md).

    python3 tests/soak/soak.py [--replays 100000] [--check-every 1000] [--seed S]
    python3 tests/soak/soak.py --cpu --replays 200 --check-every 10   (NumPy, no GPU, no graph)
    python3 tests/soak/soak.py --eager ...   (on the GPU without a graph: Builder calls)

Four Builders share one set of static inputs (seq_lens, accept_lens,
extend_lens, req_pool_indices, req_to_token) and are captured in one graph:
draft_extend (two destination sets, both page tables), target_verify
(full_width, kpool 4), extend (a capacity that the row total often exceeds)
and decode (a subset of the outputs). A pool of input sets is made up front,
on the device: valid batches (some with CUDA-graph padding rows) and batches
with the data faults of SPEC section 6 (qo > kv, accept/extend lengths
outside [0, max_qo], pool indices out of range, row totals above capacity,
lengths past INT32_MAX). Each replay copies one pool entry into the static
inputs (three device copies) and replays the graph.

Every output is a view into a larger buffer whose margins (before and after
each 1-D output; rows before and after and columns either side of each
page-table row) hold POISON. Every --check-every replays, and after the last,
the replay's outputs are compared element for element, margins included,
with the CPU backend run on the same inputs from the same pre-replay buffer
contents, and with tests/python/metadata_reference.py; the margins must still
hold POISON. Prints a summary; exits 1 on any mismatch or touched margin.
With --cpu, the replayed side is the CPU backend itself, called directly: a
dry run of everything but the graph, for machines without a GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

import specmeta

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from metadata_reference import ALL_BITS, OUTPUTS, PAGE_TABLES, POISON, output_shapes, reference_metadata  # noqa: E402

GUARD = 16  # POISON elements before and after each 1-D output
GUARD_ROWS = 2  # POISON rows before and after each page table
GUARD_COLS = 3  # POISON columns either side of each page-table row
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class Config:
    """One Builder in the graph."""

    name: str
    mode: str
    num_draft_tokens: Optional[int]
    rows_per_request: int  # capacity = bs * this (+ capacity_extra)
    outputs: tuple
    sets: int = 1
    page_size: int = 1
    topk: int = 2048
    kpool: int = 1
    full_width: bool = False
    capacity_extra: int = 0


DRAFT_N = 4
VERIFY_N = 3
EXTEND_ROWS = 2  # extend's capacity per request: valid batches stay below it, "capacity" faults exceed it
CONFIGS = (
    Config("draft_extend", "draft_extend", DRAFT_N, DRAFT_N, OUTPUTS, sets=2, page_size=16, topk=64),
    Config("target_verify", "target_verify", VERIFY_N, VERIFY_N, OUTPUTS, page_size=4, kpool=4, full_width=True,
           capacity_extra=5),
    Config("extend", "extend", None, EXTEND_ROWS, tuple(n for n in OUTPUTS if n != "real_page_table"), topk=16),
    Config("decode", "decode", None, 1, ("cache_seqlens", "cu_seqlens_k", "cu_seqlens_q", "num_rows",
                                         "page_table_1", "status")),
)
BIT_NAMES = dict(zip(ALL_BITS, ("capacity", "qo > kv", "pool index", "int32 overflow", "qo range")))
FAULT_KINDS = ("qo_gt_kv", "accept_range", "extend_range", "pool_index", "capacity", "overflow")


# ---------------------------------------------------------------------------
# Arrays of the replayed side: NumPy (--cpu) or torch CUDA


class NumpyArrays:
    name = "cpu (NumPy, the CPU backend called directly)"

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=dtype)

    def upload(self, a: np.ndarray):
        return np.array(a, copy=True)

    def copy(self, dst, src) -> None:
        np.copyto(dst, src)

    def download(self, x) -> np.ndarray:
        return np.array(x, copy=True)

    def sync(self) -> None:
        pass


class TorchCudaArrays:
    def __init__(self, torch):
        self.torch = torch
        self.name = torch.cuda.get_device_name()
        self.dtypes = {np.int32: torch.int32, np.int64: torch.int64}

    def full(self, shape, value, dtype):
        return self.torch.full(shape, value, dtype=self.dtypes[dtype], device="cuda")

    def upload(self, a: np.ndarray):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to("cuda")

    def copy(self, dst, src) -> None:
        dst.copy_(src, non_blocking=True)

    def download(self, x) -> np.ndarray:
        return x.cpu().numpy().copy()

    def sync(self) -> None:
        self.torch.cuda.synchronize()


# ---------------------------------------------------------------------------
# Inputs


@dataclass
class Inputs:
    """Static inputs of all Builders: lens64 = [seq_lens, req_pool_indices] (int64),
    lens32 = [accept_lens, extend_lens] (int32), req_to_token [pool, cols] (int32)."""

    lens64: Any
    lens32: Any
    req_to_token: Any

    def kwargs(self, config: Config) -> dict:
        kw = dict(seq_lens=self.lens64[0], req_pool_indices=self.lens64[1], req_to_token=self.req_to_token,
                  num_draft_tokens=config.num_draft_tokens, topk=config.topk, kpool=config.kpool,
                  page_size=config.page_size, full_width=config.full_width)
        if config.mode == "draft_extend":
            kw["accept_lens"] = self.lens32[0]
        if config.mode == "extend":
            kw["extend_lens"] = self.lens32[1]
        return kw


def make_entry(rng: np.random.Generator, bs: int, pool: int, table_cols: int, width: int,
               kinds: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One input set (lens64 [2, bs], lens32 [2, bs], req_to_token [pool, cols]) with the given faults
    (none: a valid batch for every Builder)."""
    accept = rng.integers(0, DRAFT_N + 1, size=bs)
    extend = rng.integers(0, EXTEND_ROWS + 1, size=bs)  # at most EXTEND_ROWS * bs rows: fits
    seq = np.maximum(np.maximum(accept, extend), 1) + rng.integers(0, 2 * width + 3, size=bs)
    rpi = rng.integers(0, pool, size=bs)
    if "padded" in kinds:  # the tail of a captured batch, as SGLang's runner leaves it
        tail = slice(bs - int(rng.integers(1, bs + 1)), bs)
        seq[tail], accept[tail], extend[tail] = 1, 1, 1
    some = lambda: rng.choice(bs, size=int(rng.integers(1, 4)), replace=False)  # noqa: E731
    if "qo_gt_kv" in kinds:
        seq[some()] = -rng.integers(1, 5)
    if "accept_range" in kinds:
        accept[some()] = rng.choice([-1, DRAFT_N + 1, INT32_MIN, INT32_MAX])
    if "extend_range" in kinds:
        extend[some()] = rng.choice([-1, INT32_MIN])
    if "capacity" in kinds:
        extend[:] = rng.integers(EXTEND_ROWS, EXTEND_ROWS + 4, size=bs)
        if rng.random() < 0.2:
            extend[some()] = INT32_MAX  # a total past INT32_MAX too
    if "pool_index" in kinds:
        rpi[some()] = rng.choice(np.array([-1, pool, 2**40, -(2**63)], dtype=np.int64))
    if "overflow" in kinds:
        seq[some()] = rng.choice(np.array([INT32_MAX, 2**31 + 5, 2**40], dtype=np.int64))
    table = rng.integers(INT32_MIN, INT32_MAX, size=(pool, table_cols), dtype=np.int64).astype(np.int32)
    return (np.stack([seq, rpi]).astype(np.int64), np.stack([accept, extend]).astype(np.int32), table)


def make_pool(rng: np.random.Generator, size: int, bs: int, pool: int, table_cols: int, width: int) -> list:
    """Half valid (every other one padded), half with faults: each kind on its own in turn, and every
    third faulty entry a random mix of kinds."""
    entries = []
    for i in range(size):
        faulty = i // 2
        if i % 2 == 0:
            kinds = ("padded",) if faulty % 2 == 0 else ()
        elif faulty % 3 == 2:
            count = int(rng.integers(2, len(FAULT_KINDS) + 1))
            kinds = tuple(str(k) for k in rng.choice(FAULT_KINDS, size=count, replace=False))
        else:
            kinds = (FAULT_KINDS[(faulty - faulty // 3) % len(FAULT_KINDS)],)
        entries.append((kinds, make_entry(rng, bs, pool, table_cols, width, kinds)))
    return entries


# ---------------------------------------------------------------------------
# Guarded outputs


class GuardedSet:
    """One destination set: each output a view into a POISON-filled buffer with margins."""

    def __init__(self, arrays, bs: int, capacity: int, width: int, config: Config):
        self.shapes = {}
        self.backings = {}
        self.views = {}
        self.guards = {}  # name -> bool mask of the margin elements of the backing
        self.inside = {}  # name -> the index of the view within the backing
        shapes = output_shapes(bs, capacity, width, config.page_size)
        for name in config.outputs:
            shape = shapes[name]
            if len(shape) == 1:
                backing = arrays.full((GUARD + shape[0] + GUARD,), POISON, np.int32)
                view = backing[GUARD : GUARD + shape[0]]
                inside = (slice(GUARD, GUARD + shape[0]),)
            else:
                rows, cols = shape
                backing = arrays.full((GUARD_ROWS + rows + GUARD_ROWS, GUARD_COLS + cols + GUARD_COLS), POISON,
                                      np.int32)
                inside = (slice(GUARD_ROWS, GUARD_ROWS + rows), slice(GUARD_COLS, GUARD_COLS + cols))
                view = backing[inside]
            mask = np.ones(tuple(backing.shape), dtype=bool)
            mask[inside] = False
            self.shapes[name] = shape
            self.backings[name] = backing
            self.views[name] = view
            self.guards[name] = mask
            self.inside[name] = inside

    def metadata(self, bs: int, capacity: int, width: int, page_size: int) -> specmeta.Metadata:
        return specmeta.Metadata(bs=bs, capacity=capacity, width=width, page_size=page_size, **self.views)


class Side:
    """The static inputs, the guarded outputs and the bound Builders of one backend."""

    def __init__(self, arrays, bs: int, pool: int, table_cols: int, width: int):
        self.arrays = arrays
        self.inputs = Inputs(arrays.full((2, bs), 0, np.int64), arrays.full((2, bs), 0, np.int32),
                             arrays.full((pool, table_cols), 0, np.int32))
        self.sets = {}  # config name -> [GuardedSet]
        self.builders = []
        for config in CONFIGS:
            capacity = bs * config.rows_per_request + config.capacity_extra
            sets = [GuardedSet(arrays, bs, capacity, width, config) for _ in range(config.sets)]
            metas = [s.metadata(bs, capacity, width, config.page_size) for s in sets]
            out = metas[0] if len(metas) == 1 else metas
            self.sets[config.name] = sets
            self.builders.append(specmeta.Builder(config.mode, out=out, **self.inputs.kwargs(config)))

    def load(self, lens64, lens32, table) -> None:
        self.arrays.copy(self.inputs.lens64, lens64)
        self.arrays.copy(self.inputs.lens32, lens32)
        self.arrays.copy(self.inputs.req_to_token, table)

    def run(self) -> None:
        for builder in self.builders:
            builder()

    def snapshot(self) -> dict:
        """{(config, set, output): the whole backing as NumPy}."""
        self.arrays.sync()
        return {(c, k, name): self.arrays.download(b) for c, sets in self.sets.items() for k, s in enumerate(sets)
                for name, b in s.backings.items()}

    def restore(self, snapshot: dict) -> None:
        for (c, k, name), values in snapshot.items():
            np.copyto(self.sets[c][k].backings[name], values)


# ---------------------------------------------------------------------------
# The soak


class Soak:
    def __init__(self, args, arrays):
        self.args = args
        self.rng = np.random.default_rng(args.seed)
        bs, width = args.bs, args.width
        self.bs, self.width = bs, width
        self.pool_rows, self.table_cols = bs + 8, width + 5
        self.entries = make_pool(self.rng, args.pool, bs, self.pool_rows, self.table_cols, width)
        self.device = Side(arrays, bs, self.pool_rows, self.table_cols, width)
        self.cpu = Side(NumpyArrays(), bs, self.pool_rows, self.table_cols, width)
        # The pool on the replayed side, uploaded once.
        self.device_pool = [tuple(arrays.upload(a) for a in arrays_) for _, arrays_ in self.entries]
        self.entry_status = [self.predict(i) for i in range(len(self.entries))]

    def predict(self, i: int) -> dict:
        """{config: status} of pool entry i, from the CPU backend (from POISON buffers)."""
        self.cpu.load(*self.entries[i][1])
        self.cpu.run()
        return {c: int(sets[0].views["status"][0]) for c, sets in self.cpu.sets.items()}

    def compare(self, i: int, before: dict, after: dict) -> list:
        """Problems of one replay of entry i: the CPU backend and the reference, run from `before`, must
        give `after` exactly; margins must hold POISON."""
        problems = []
        self.cpu.restore(before)
        self.cpu.load(*self.entries[i][1])
        self.cpu.run()
        expected_cpu = self.cpu.snapshot()
        for key, got in after.items():
            c, k, name = key
            guard = self.cpu.sets[c][k].guards[name]
            if not np.all(got[guard] == POISON):
                problems.append(f"{c} set {k} {name}: margin written ({int(np.sum(got[guard] != POISON))} elements)")
            if not np.array_equal(got, expected_cpu[key]):
                at = tuple(int(v) for v in np.argwhere(got != expected_cpu[key])[0])
                problems.append(f"{c} set {k} {name}: replay differs from the CPU backend at {at}: "
                                f"{int(got[at])} != {int(expected_cpu[key][at])}")
        problems += self.compare_reference(i, before, after)
        return problems

    def compare_reference(self, i: int, before: dict, after: dict) -> list:
        lens64, lens32, table = self.entries[i][1]
        problems = []
        for config in CONFIGS:
            sets = self.cpu.sets[config.name]
            inside = sets[0].inside
            capacity = self.bs * config.rows_per_request + config.capacity_extra
            prev = {name: before[(config.name, 0, name)][inside[name]] for name in config.outputs}
            want = reference_metadata(
                config.mode, lens64[0], prev=prev, capacity=capacity, width=self.width,
                page_size=config.page_size,
                req_pool_indices=lens64[1], req_to_token=table if set(config.outputs) & set(PAGE_TABLES) else None,
                accept_lens=lens32[0] if config.mode == "draft_extend" else None,
                extend_lens=lens32[1] if config.mode == "extend" else None,
                num_draft_tokens=config.num_draft_tokens, topk=config.topk, kpool=config.kpool,
                full_width=config.full_width)
            for k in range(config.sets):
                for name in config.outputs:
                    got = after[(config.name, k, name)][inside[name]]
                    if not np.array_equal(got, want.arrays[name]):
                        at = tuple(int(v) for v in np.argwhere(got != want.arrays[name])[0])
                        problems.append(f"{config.name} set {k} {name}: differs from the reference at {at}: "
                                        f"{int(got[at])} != {int(want.arrays[name][at])}")
        return problems


def capture(torch, side: Side):
    """One graph of every Builder, after a warm-up on a side stream (as torch recommends)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        side.run()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        side.run()
    torch.cuda.synchronize()
    return graph


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replays", type=int, default=100_000)
    parser.add_argument("--check-every", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=64, help="input sets made up front")
    parser.add_argument("--bs", type=int, default=256)
    parser.add_argument("--width", type=int, default=48, help="page-table width (req_to_token has 5 more columns)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU backend: no GPU, no graph")
    parser.add_argument("--eager", action="store_true", help="on the GPU, call the Builders instead of a graph")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = int(np.random.SeedSequence().entropy % 2**63)
    if min(args.replays, args.check_every, args.pool, args.bs) < 1 or args.width < 1:
        parser.error("--replays, --check-every, --pool, --bs and --width must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cpu:
        arrays, torch = NumpyArrays(), None
    else:
        import torch

        if not torch.cuda.is_available():
            print("soak: no CUDA GPU visible (use --cpu for the dry run)")
            return 2
        arrays = TorchCudaArrays(torch)
    soak = Soak(args, arrays)
    replay = soak.device.run if torch is None or args.eager else capture(torch, soak.device).replay

    order = soak.rng.integers(0, len(soak.entries), size=args.replays)
    problems, checks = [], 0
    seen_at_checks = {bit: 0 for bit in ALL_BITS}
    start = time.perf_counter()
    for r in range(args.replays):
        i = int(order[r])
        check = (r + 1) % args.check_every == 0 or r + 1 == args.replays
        before = soak.device.snapshot() if check else None
        soak.device.load(*soak.device_pool[i])
        replay()
        if check:
            after = soak.device.snapshot()
            found = soak.compare(i, before, after)
            problems += [f"replay {r} (entry {i}, {'+'.join(soak.entries[i][0]) or 'valid'}): {p}" for p in found]
            checks += 1
            status = 0
            for config in CONFIGS:
                inside = soak.device.sets[config.name][0].inside["status"]
                status |= int(after[(config.name, 0, "status")][inside][0])
            for bit in ALL_BITS:
                seen_at_checks[bit] += bool(status & bit)
    arrays.sync()
    elapsed = time.perf_counter() - start

    injected = {bit: 0 for bit in ALL_BITS}
    counts = np.bincount(order, minlength=len(soak.entries))
    for i, statuses in enumerate(soak.entry_status):
        any_status = 0
        for value in statuses.values():
            any_status |= value
        for bit in ALL_BITS:
            injected[bit] += int(counts[i]) if any_status & bit else 0

    how = "no graph" if torch is None or args.eager else "one CUDA graph"
    print(f"soak: {arrays.name} ({how}); seed {args.seed}; bs {args.bs}; pool {args.pool} input sets; "
          f"builders {', '.join(c.name + (f' ({c.sets} sets)' if c.sets > 1 else '') for c in CONFIGS)}")
    print(f"replays: {args.replays} in {elapsed:.1f} s ({1e6 * elapsed / args.replays:.1f} us each, "
          f"input copies and checks included); checks: {checks}")
    for bit in ALL_BITS:
        print(f"  status bit {bit:2} ({BIT_NAMES[bit]}): in {injected[bit]} replays, seen at {seen_at_checks[bit]} checks")
    missing = [BIT_NAMES[bit] for bit in ALL_BITS if injected[bit] == 0]
    if missing:
        problems.append(f"no replay raised status bit(s): {', '.join(missing)} (increase --replays or --pool)")
    guard_problems = [p for p in problems if "margin" in p]
    print(f"mismatches: {len(problems) - len(guard_problems)}; guards intact: {'no' if guard_problems else 'yes'}")
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        print("  " + p)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    print("FAIL" if problems else "PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
