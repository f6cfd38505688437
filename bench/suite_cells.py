"""The suite's cells: inputs, the variants that build each cell's output, and their exact-equality check.

A cell is (kind, mode, bs, N, W). kind "seqlens_expanded" times the seed's
output alone (target_verify, draft_extend); kind "metadata" times every SPEC
output, page tables included (all five modes). Before a cell is timed, every
variant runs on every input set and is compared with an independent result;
a variant that differs is dropped from the cell and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import baselines as bl
import metadata_torch
import sglang_path
import syncfree_torch
import triton_expand

INPUT_SETS = 4  # rotated, so one set's cache lines do not stay hot
# req_to_token rows per request. A server's pool holds every running request's row and reads each from DRAM once per
# forward pass; with one row per set, no set reads a row another set has left in L2. 1 is the pool of every suite
# run before this constant: every set permuted the same bs rows, so pools up to about 40 MB stayed in L2 from call
# to call (docs/perf-notes.md, "the suite's pools stay in L2").
POOL_ROWS_PER_REQUEST = INPUT_SETS
TOPK = 2048  # DeepSeek-V3.2's indexer top-k
PAGE_SIZE = 64
SEED_CONTEXT = (1024, 32768)  # seq_lens of the seqlens_expanded cells (as SPEC section 7's measurements)
TABLE_VALUE_LIMIT = 1 << 30  # KV slot ids in req_to_token
POISON = 0x7F7F7F7F  # outputs are filled with this before each checked call
COMPARE_ELEMENTS = 1 << 26  # page-table elements compared per step on the device

NON_TABLE = ("cache_seqlens", "cu_seqlens_k", "cu_seqlens_q", "seqlens_expanded", "sparse_seqlens",
             "sparse_cu_seqlens_k", "row_to_req", "num_rows", "status")
TABLES = ("page_table_1", "real_page_table")

def workload(pool_rows=POOL_ROWS_PER_REQUEST):
    """The workload's description, as results.md states it."""
    pool = ("a random permutation of a pool of bs rows of random slot ids, the same rows in every set"
            if pool_rows == 1 else
            f"a random permutation of bs rows of a pool of {pool_rows} x bs rows of random slot ids, set i taking "
            f"rows [(i mod {pool_rows}) bs, (i mod {pool_rows} + 1) bs)")
    return (
        f"Workload: seqlens_expanded cells draw seq_lens (int64) uniform in [{SEED_CONTEXT[0]}, {SEED_CONTEXT[1]}]; "
        "metadata cells draw seq_lens uniform in [N + 1, W - N] (so every kv_b fits the table), req_pool_indices "
        f"(int64) {pool}. Accept lengths (draft_extend) and "
        "extend lengths (extend) are int32, uniform in [1, N]; capacity is bs * N rows (bs in decode). "
        f"topk {TOPK}, page size {PAGE_SIZE}, kpool 1."
    )


def request_rows(rng, bs, set_index, pool_rows):
    """Input set `set_index`'s req_pool_indices: its own bs rows of a pool of pool_rows x bs, in random order.

    The draws are those of a pool of bs rows (one permutation per set), so seq_lens and lengths drawn after them
    do not depend on pool_rows."""
    return (set_index % pool_rows) * bs + rng.permutation(bs)


@dataclass(frozen=True)
class Cell:
    kind: str
    mode: str
    bs: int
    n: Optional[int]  # None in decode (no draft tokens)
    width: Optional[int]  # None for seqlens_expanded (no page table)

    @property
    def capacity(self):
        return self.bs if self.mode == "decode" else self.bs * self.n

    def table_bytes(self):
        return 0 if self.width is None else 4 * self.capacity * self.width

    def fields(self):
        return dict(kind=self.kind, mode=self.mode, bs=self.bs, n=self.n, width=self.width, capacity=self.capacity)

    def label(self):
        n = "-" if self.n is None else self.n
        w = "" if self.width is None else f" W={self.width}"
        return f"{self.kind} {self.mode} bs={self.bs} N={n}{w}"


@dataclass
class Variant:
    name: str
    fn: Callable[[int], object]  # fn(input set index)
    syncs: bool  # waits for the GPU inside every call (declared from the code, not detected)
    reference: bool = False  # specmeta's variant that the ratios divide by
    graph_note: Optional[str] = None  # why it cannot be timed in a graph although it does not sync


HOST_VALUES = "reads host copies of the lengths, which a graph would freeze"


def variant_plan(cell, triton_ok):
    """(name, syncs, capturable) of every variant a cell will have: for budgeting before any is built."""
    if cell.kind == "seqlens_expanded":
        out = [("specmeta Builder", False, True), ("specmeta expand_seqlens", False, True), ("seed before", True, False),
               ("seed after", cell.mode == "draft_extend", cell.mode == "target_verify"),
               ("sync-free torch", False, True)]
        return out + ([("Triton", False, True)] if triton_ok else [])
    out = [("specmeta Builder", False, True), ("specmeta build_metadata", False, True), ("sync-free torch", False, True)]
    if cell.mode in sglang_path.REPLAY_MODES:
        out.append(("SGLang replay", cell.mode == "draft_extend", False))
    return out


def _expanded_rows(kv, qo):
    """The seed's seqlens_expanded (live rows): kv_b - qo_b + 1 + j for j < qo_b, request after request."""
    pieces = [np.arange(k - q + 1, k + 1, dtype=np.int64) for k, q in zip(kv.tolist(), qo.tolist())]
    return np.concatenate(pieces + [np.zeros(0, np.int64)]).astype(np.int32)


class SeqlensCell:
    """seqlens_expanded alone: specmeta (a bound Builder, expand_seqlens), the seed's two versions,
    sync-free torch, Triton."""

    def __init__(self, torch, device, cell, rng, triton_ok):
        self.cell, self.torch = cell, torch
        bs, n = cell.bs, cell.n
        self.sets = []
        for _ in range(INPUT_SETS):
            seq = rng.integers(SEED_CONTEXT[0], SEED_CONTEXT[1], size=bs, endpoint=True)
            acc = rng.integers(1, n, size=bs, endpoint=True)
            self.sets.append(dict(
                seq=torch.tensor(seq, dtype=torch.int64, device=device),
                kv=torch.tensor(seq + n, dtype=torch.int32, device=device),  # SGLang's cache_seqlens (target_verify)
                seq32=torch.tensor(seq, dtype=torch.int32, device=device),  # SGLang's cache_seqlens (draft_extend)
                acc=torch.tensor(acc, dtype=torch.int32, device=device),
                seq_np=seq, acc_np=acc,
            ))
        cap = cell.capacity
        fixed = ("specmeta Builder", "specmeta expand_seqlens", "sync-free torch", "Triton")
        out = {name: torch.empty(cap, dtype=torch.int32, device=device) for name in fixed}
        rows = torch.arange(cap, dtype=torch.int64, device=device)
        offsets = syncfree_torch.target_verify_offsets(torch, n, device)
        s = self.sets
        builders = [self._builder(cell, s[i], out["specmeta Builder"]) for i in range(INPUT_SETS)]
        builder = Variant("specmeta Builder", lambda i: builders[i](), False, True)
        if cell.mode == "target_verify":
            self.variants = [
                builder,
                Variant("specmeta expand_seqlens", lambda i: bl.specmeta_target_verify(s[i]["kv"], n, out["specmeta expand_seqlens"]), False),
                Variant("seed before", lambda i: bl.before_target_verify(s[i]["seq"], n), True),
                Variant("seed after", lambda i: bl.after_target_verify(s[i]["seq"], n, s[i]["kv"]), False),
                Variant("sync-free torch",
                        lambda i: syncfree_torch.syncfree_target_verify(torch, s[i]["kv"], offsets, out["sync-free torch"]), False),
            ]
            if triton_ok:
                self.variants.append(Variant("Triton", lambda i: triton_expand.triton_target_verify(s[i]["kv"], n, out["Triton"]), False))
        else:
            self.variants = [
                builder,
                Variant("specmeta expand_seqlens",
                        lambda i: bl.specmeta_draft_extend(s[i]["seq"], s[i]["acc"], out["specmeta expand_seqlens"]), False),
                Variant("seed before", lambda i: bl.before_draft_extend(s[i]["seq"], s[i]["acc"]), True),
                Variant("seed after", lambda i: bl.after_draft_extend(s[i]["seq"], s[i]["acc"], s[i]["seq32"]), True),
                Variant("sync-free torch",
                        lambda i: syncfree_torch.syncfree_draft_extend(torch, s[i]["seq"], s[i]["acc"], rows, out["sync-free torch"]), False),
            ]
            if triton_ok:
                self.variants.append(Variant(
                    "Triton", lambda i: triton_expand.triton_draft_extend(s[i]["seq"], s[i]["acc"], n, out["Triton"]), False))
        self.out = out
        self.fixed = set(out)  # variants writing the whole capacity (rows past the total must be 0)

    @staticmethod
    def _builder(cell, inputs, buffer):
        """A bound specmeta.Builder that writes seqlens_expanded alone, from seq_lens (and accept_lens)."""
        import specmeta

        meta = specmeta.Metadata(bs=cell.bs, capacity=cell.capacity, seqlens_expanded=buffer)
        extra = {"accept_lens": inputs["acc"]} if cell.mode == "draft_extend" else {}
        return specmeta.Builder(cell.mode, out=meta, seq_lens=inputs["seq"], num_draft_tokens=cell.n, **extra)

    def _want(self, i):
        s, n = self.sets[i], self.cell.n
        if self.cell.mode == "target_verify":
            return _expanded_rows(s["seq_np"] + n, np.full_like(s["seq_np"], n))
        return _expanded_rows(s["seq_np"], s["acc_np"])

    def check(self, variant):
        """[] when the variant equals the reference on every set, else one message per difference."""
        problems = []
        for i in range(INPUT_SETS):
            want = self._want(i)
            result = variant.fn(i)
            got = (self.out[variant.name] if variant.name in self.fixed else result).cpu().numpy()
            if variant.name in self.fixed:
                if len(got) != self.cell.capacity or np.any(got[len(want):] != 0):
                    problems.append(f"set {i}: rows past the total are not 0")
                got = got[: len(want)]
            if got.dtype != np.int32 or not np.array_equal(got, want):
                problems.append(f"set {i}: seqlens_expanded differs from the reference")
        return problems

    def live_bytes(self):
        """Inputs read (kv int32, or seq int64 + accept int32) and every row of the capacity written."""
        bs, cap = self.cell.bs, self.cell.capacity
        reads = 4 * bs if self.cell.mode == "target_verify" else (8 + 4) * bs
        return reads + 4 * cap

    def rows(self):
        if self.cell.mode == "target_verify":
            return float(self.cell.capacity)
        return float(np.mean([s["acc_np"].sum() for s in self.sets]))


class MetadataCell:
    """The whole metadata: specmeta (bound Builder and build_metadata), sync-free torch, SGLang's replay path."""

    def __init__(self, torch, device, cell, rng, pool_rows=POOL_ROWS_PER_REQUEST):
        import specmeta

        self.cell, self.torch = cell, torch
        mode, bs, n, width = cell.mode, cell.bs, cell.n, cell.width
        self.n_arg = None if mode in ("decode", "extend") else n
        self.table = torch.randint(0, TABLE_VALUE_LIMIT, (pool_rows * bs, width), dtype=torch.int32, device=device)
        lo, hi = (n or 0) + 1, width - (n or 0)
        self.sets = []
        for i in range(INPUT_SETS):
            seq = rng.integers(lo, hi, size=bs, endpoint=True)
            rpi = request_rows(rng, bs, i, pool_rows)
            qo = rng.integers(1, n, size=bs, endpoint=True) if mode in ("draft_extend", "extend") else None
            self.sets.append(dict(
                seq=torch.tensor(seq, dtype=torch.int64, device=device),
                seq_cpu=torch.tensor(seq, dtype=torch.int64),  # the host copy SGLang's scheduler keeps
                rpi=torch.tensor(rpi, dtype=torch.int64, device=device),
                qo=None if qo is None else torch.tensor(qo, dtype=torch.int32, device=device),
                seq_np=seq, rpi_np=rpi, qo_np=qo,
            ))
        s = self.sets
        like = s[0]["seq"]

        def empty():
            return specmeta.Metadata.empty(bs=bs, capacity=cell.capacity, width=width, page_size=PAGE_SIZE, like=like)

        self.spec, self.free = empty(), empty()
        lengths_kw = {"draft_extend": "accept_lens", "extend": "extend_lens"}.get(mode)

        def kwargs(i):
            kw = dict(req_pool_indices=s[i]["rpi"], req_to_token=self.table, num_draft_tokens=self.n_arg,
                      topk=TOPK, page_size=PAGE_SIZE)
            if lengths_kw:
                kw[lengths_kw] = s[i]["qo"]
            return kw

        self.kwargs = kwargs  # set i's keywords but seq_lens and out (bench/probes/repeat_path.py times them as a dict)
        builders = [specmeta.Builder(mode, out=self.spec, seq_lens=s[i]["seq"], **kwargs(i)) for i in range(INPUT_SETS)]

        def build_call(i):
            # The call as a server writes it, by keyword: no dict built and unpacked per call (0.66-0.93 us
            # of the harness's own on an H100 host: bench/probes/repeat_path.py), as the Builder variant
            # calls a bound builder.
            seq, rpi, lengths = s[i]["seq"], s[i]["rpi"], s[i]["qo"]
            accept = lengths if mode == "draft_extend" else None
            extend = lengths if mode == "extend" else None
            spec, table, n_arg = self.spec, self.table, self.n_arg
            return lambda: specmeta.build_metadata(mode, seq, out=spec, req_pool_indices=rpi, req_to_token=table,
                                                   accept_lens=accept, extend_lens=extend, num_draft_tokens=n_arg,
                                                   topk=TOPK, page_size=PAGE_SIZE)

        build_calls = [build_call(i) for i in range(INPUT_SETS)]
        free = metadata_torch.SyncFreeMetadata(torch, mode, self.free, self.table, num_draft_tokens=n or 0,
                                               topk=TOPK, page_size=PAGE_SIZE)
        self.outputs = {"specmeta Builder": self.spec, "specmeta build_metadata": self.spec, "sync-free torch": self.free}
        self.free_fn = lambda i: free(s[i]["seq"], s[i]["rpi"], s[i]["qo"])
        self.variants = [
            Variant("specmeta Builder", lambda i: builders[i](), False, True),
            Variant("specmeta build_metadata", lambda i: build_calls[i](), False),
            Variant("sync-free torch", self.free_fn, False),
        ]
        if mode in sglang_path.REPLAY_MODES:
            self.sglang = empty()
            replay = sglang_path.SglangReplayPath(torch, mode, self.sglang, self.table, num_draft_tokens=n or 0,
                                                  topk=TOPK, page_size=PAGE_SIZE)
            self.outputs["SGLang replay"] = self.sglang
            self.variants.append(Variant("SGLang replay", lambda i: replay(s[i]["seq"], s[i]["seq_cpu"], s[i]["rpi"], s[i]["qo"]),
                                         mode == "draft_extend", graph_note=HOST_VALUES))

    # --- the check --------------------------------------------------------------------------------

    def _lengths(self, i):
        """(qo, kv) per request as NumPy int64."""
        s, mode, n = self.sets[i], self.cell.mode, self.cell.n
        seq = s["seq_np"].astype(np.int64)
        if mode == "decode":
            return np.ones_like(seq), seq
        if mode == "target_verify":
            return np.full_like(seq, n), seq + n
        if mode == "draft_extend_static":
            return np.full_like(seq, n), seq
        return s["qo_np"].astype(np.int64), seq

    def _expected(self, i):
        """Every non-table output over its whole buffer (SPEC sections 3-4), written from the definitions."""
        qo, kv = self._lengths(i)
        cap = self.cell.capacity
        total = int(qo.sum())
        rows = _expanded_rows(kv, qo).astype(np.int64)
        sparse = np.minimum(rows, TOPK)
        pad = cap - total
        return dict(
            cache_seqlens=kv, cu_seqlens_k=np.concatenate([[0], np.cumsum(kv)]),
            cu_seqlens_q=np.concatenate([[0], np.cumsum(qo)]),
            seqlens_expanded=np.concatenate([rows, np.zeros(pad, np.int64)]),
            sparse_seqlens=np.concatenate([sparse, np.zeros(pad, np.int64)]),
            sparse_cu_seqlens_k=np.concatenate([[0], np.cumsum(sparse), np.full(pad, sparse.sum())]),
            row_to_req=np.concatenate([np.repeat(np.arange(len(qo)), qo), np.full(pad, -1)]),
            num_rows=np.array([total]), status=np.array([0]),
        ), total

    def _poison(self, meta):
        for name in meta.wanted():
            getattr(meta, name).fill_(POISON)
        if meta is getattr(self, "sglang", None):  # SGLang zeroes these once, when it allocates its buffers
            meta.cu_seqlens_k[0] = 0
            meta.sparse_cu_seqlens_k[0] = 0

    def _table_differs(self, a, b, live):
        """True when a and b differ anywhere in the first live[r] columns of some row r."""
        torch = self.torch
        cols = int(live.max()) if len(live) else 0
        if cols == 0:
            return False
        live_t = torch.tensor(live, dtype=torch.int64, device=a.device)
        index = torch.arange(cols, dtype=torch.int64, device=a.device).view(1, -1)
        step = max(1, COMPARE_ELEMENTS // cols)
        for r0 in range(0, len(live), step):
            r1 = min(len(live), r0 + step)
            differs = (a[r0:r1, :cols] != b[r0:r1, :cols]) & (index < live_t[r0:r1].view(-1, 1))
            if bool(differs.any()):
                return True
        return False

    def check(self, variant):
        """[] when the variant's outputs equal the definitions (non-table outputs, on the host) and the
        sync-free torch builder's page tables (on the device) on every set, else one message per difference.
        SGLang's replay is compared on what it writes: live rows, and not seqlens_expanded in decode."""
        meta = self.outputs[variant.name]
        is_sglang = variant.name == "SGLang replay"
        problems = []
        for i in range(INPUT_SETS):
            want, total = self._expected(i)
            qo, kv = self._lengths(i)
            live = np.repeat(np.minimum(kv, self.cell.width), qo)
            if variant.name != "sync-free torch":  # the page tables to compare with
                self._poison(self.free)
                self.free_fn(i)
            self._poison(meta)
            variant.fn(i)
            bs = self.cell.bs
            for name in NON_TABLE:
                if is_sglang and (name not in sglang_path.WRITTEN or (name == "seqlens_expanded" and self.cell.mode == "decode")):
                    continue
                got = getattr(meta, name).cpu().numpy().astype(np.int64)
                expected = want[name]
                if is_sglang:
                    size = {"cache_seqlens": bs, "cu_seqlens_k": bs + 1, "sparse_cu_seqlens_k": total + 1}.get(name, total)
                    got, expected = got[:size], expected[:size]
                if not np.array_equal(got, expected):
                    problems.append(f"set {i}: {name} differs from its definition")
            if variant.name != "sync-free torch":
                for name, unit in (("page_table_1", 1), ("real_page_table", PAGE_SIZE)):
                    if self._table_differs(getattr(meta, name), getattr(self.free, name), -(-live // unit)):
                        problems.append(f"set {i}: {name} differs from the sync-free torch builder's on live elements")
        return problems

    def live_bytes(self):
        """Mean over the sets of what any builder must move: inputs, live req_to_token prefixes, outputs."""
        bs, cap, width = self.cell.bs, self.cell.capacity, self.cell.width
        total = 0
        for i in range(INPUT_SETS):
            qo, kv = self._lengths(i)
            kv_live = np.minimum(kv, width)
            reads = (8 + 8) * bs + (4 * bs if self.sets[i]["qo_np"] is not None else 0) + 4 * int(kv_live[qo > 0].sum())
            row_live = np.repeat(kv_live, qo)
            small = bs + 2 * (bs + 1) + 3 * cap + (cap + 1) + 2  # per-request, per-row outputs, num_rows, status
            tables = int(row_live.sum()) + int((-(-row_live // PAGE_SIZE)).sum())
            total += reads + 4 * (small + tables)
        return total / INPUT_SETS

    def rows(self):
        return float(np.mean([self._lengths(i)[0].sum() for i in range(INPUT_SETS)]))
