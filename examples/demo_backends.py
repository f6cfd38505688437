"""The demo's implementations, by device: specmeta (expand_seqlens, expand with 5 outputs) and the
baselines of bench/ (the seed's "before" and "after", sync-free PyTorch, Triton) on a CUDA GPU;
specmeta's CPU backend and the seed's "before" in NumPy otherwise. Each step runs every one, timed
(call + sync), and checks it bit for bit against the truth."""

from __future__ import annotations

import time

import numpy as np

import specmeta
from demo_workload import MAX_TRACE_BS, truth

# --- implementations ------------------------------------------------------------------------------------


class Backend:
    """Arrays, sync and the implementations of one device. An implementation is fn(step inputs) -> array
    (the live rows, or the whole capacity where `fixed`)."""

    def __init__(self):
        self.impls = {}  # name -> (fn, fixed)

    def add(self, name, fn, fixed):
        self.impls[name] = (fn, fixed)


class CpuBackend(Backend):
    def __init__(self, max_rows):
        super().__init__()
        self.out = np.empty(max_rows, np.int32)
        self.all = dict(seqlens_expanded=np.empty(max_rows, np.int32), row_to_req=np.empty(max_rows, np.int32),
                        cu_seqlens_q=np.empty(MAX_TRACE_BS + 1, np.int32), num_rows=np.empty(1, np.int32),
                        status=np.empty(1, np.int32))
        self.add("seed before (NumPy loop)", self.before, False)
        self.add("specmeta expand_seqlens", self.spec_seqlens, True)
        self.add("specmeta expand (5 outputs)", self.spec_all, True)

    def inputs(self, batch):
        qo = batch["n"] if batch["mode"] == "target_verify" else batch["accept_lens"]
        kv = batch["seq_lens"] + (batch["n"] if batch["mode"] == "target_verify" else 0)
        bs = len(kv)
        return dict(batch=batch, kv=kv.astype(np.int32), qo=qo, cap=bs * batch["n"], bs=bs)

    @staticmethod
    def before(x):
        # The seed's "before": host lists, one arange per request, one concatenation.
        b = x["batch"]
        qo_list = [b["n"]] * x["bs"] if isinstance(x["qo"], int) else x["qo"].tolist()
        kv_list = x["kv"].tolist()
        return np.concatenate([np.arange(k - q + 1, k + 1, dtype=np.int32) for k, q in zip(kv_list, qo_list)])

    def spec_seqlens(self, x):
        return specmeta.expand_seqlens(x["kv"], x["qo"], out=self.out[: x["cap"]])

    def spec_all(self, x):
        cap, bs = x["cap"], x["bs"]
        outs = dict(seqlens_expanded=self.all["seqlens_expanded"][:cap], row_to_req=self.all["row_to_req"][:cap],
                    cu_seqlens_q=self.all["cu_seqlens_q"][: bs + 1], num_rows=self.all["num_rows"],
                    status=self.all["status"])
        max_qo = None if isinstance(x["qo"], int) else x["batch"]["n"]
        specmeta.expand(x["kv"], x["qo"], max_qo=max_qo, **outs)
        x["all"] = outs
        return outs["seqlens_expanded"]

    def sync(self):
        pass

    def numpy(self, a):
        return np.asarray(a)


class TorchBackend(CpuBackend):
    """The PyTorch baselines and specmeta on torch tensors of `device` (CUDA in the demo; CPU in its tests)."""

    def __init__(self, max_rows, torch, triton_ok, device="cuda"):
        Backend.__init__(self)
        import baselines as bl
        import syncfree_torch
        import triton_expand

        self.torch, self.device = torch, device

        def buf(size):
            return torch.empty(size, dtype=torch.int32, device=device)

        self.out, self.free_out, self.triton_out = buf(max_rows), buf(max_rows), buf(max_rows)
        self.all = dict(seqlens_expanded=buf(max_rows), row_to_req=buf(max_rows), cu_seqlens_q=buf(MAX_TRACE_BS + 1),
                        num_rows=buf(1), status=buf(1))
        self.rows = torch.arange(max_rows, dtype=torch.int64, device=device)
        self.offsets = {}

        def tv(x):
            return x["batch"]["mode"] == "target_verify"

        def before(x):
            return bl.before_target_verify(x["seq"], x["n"]) if tv(x) else bl.before_draft_extend(x["seq"], x["acc"])

        def after(x):
            if tv(x):
                return bl.after_target_verify(x["seq"], x["n"], x["kv"])
            return bl.after_draft_extend(x["seq"], x["acc"], x["seq32"])

        def syncfree(x):
            out = self.free_out[: x["cap"]]
            if tv(x):
                offsets = self.offsets.get(x["n"])
                if offsets is None:
                    offsets = self.offsets[x["n"]] = syncfree_torch.target_verify_offsets(torch, x["n"], device)
                return syncfree_torch.syncfree_target_verify(torch, x["kv"], offsets, out)
            return syncfree_torch.syncfree_draft_extend(torch, x["seq"], x["acc"], self.rows[: x["cap"]], out)

        def triton(x):
            out = self.triton_out[: x["cap"]]
            if tv(x):
                return triton_expand.triton_target_verify(x["kv"], x["n"], out)
            return triton_expand.triton_draft_extend(x["seq"], x["acc"], x["n"], out)

        self.add("seed before (torch)", before, False)
        self.add("seed after (torch)", after, False)
        self.add("sync-free torch", syncfree, True)
        if triton_ok:
            self.add("Triton (one launch)", triton, True)
        self.add("specmeta expand_seqlens", self.spec_seqlens, True)
        self.add("specmeta expand (5 outputs)", self.spec_all, True)

    def inputs(self, batch):
        torch = self.torch
        x = CpuBackend.inputs(self, batch)
        x["n"] = batch["n"]
        x["seq"] = torch.from_numpy(batch["seq_lens"].astype(np.int64)).to(self.device)  # SGLang's seq_lens: int64
        x["kv"] = torch.from_numpy(x["kv"]).to(self.device)  # SGLang's cache_seqlens: int32, already on the device
        if batch["mode"] == "draft_extend":
            x["acc"] = torch.from_numpy(batch["accept_lens"]).to(self.device)
            x["seq32"] = x["kv"]
            x["qo"] = x["acc"]
        return x

    def sync(self):
        if self.device != "cpu":
            self.torch.cuda.synchronize()

    def numpy(self, a):
        return a.cpu().numpy()


def pick_backend(args, max_rows):
    """(backend, description): CUDA when torch sees a GPU and specmeta has its CUDA backend."""
    why = "--cpu given"
    if not args.cpu:
        try:
            import torch
        except ImportError:
            torch, why = None, "torch is not installed"
        if torch is not None and not torch.cuda.is_available():
            why = "no CUDA GPU visible"
        elif torch is not None and not specmeta.cuda_available():
            why = "specmeta was built without its CUDA backend"
        elif torch is not None:
            import triton_expand

            triton_ok, triton_why = triton_expand.available()
            note = "" if triton_ok else f"; no Triton variant: {triton_why}"
            return TorchBackend(max_rows, torch, triton_ok), f"CUDA ({torch.cuda.get_device_name()}){note}"
    return CpuBackend(max_rows), f"CPU: specmeta's CPU backend against the seed's code in NumPy ({why})"


# --- one step -------------------------------------------------------------------------------------------


def run_step(backend, batch):
    """Every implementation once (call + sync, timed), each checked against the truth: {name: us}."""
    want, qo, _ = truth(batch)
    x = backend.inputs(batch)
    costs = {}
    for name, (fn, fixed) in backend.impls.items():
        t0 = time.perf_counter()
        got = fn(x)
        backend.sync()
        costs[name] = (time.perf_counter() - t0) * 1e6
        check(name, backend.numpy(got), fixed, want, x["cap"], batch)
    if "all" in x:
        check_all(backend, x["all"], qo, want, x["cap"], batch)
    return costs


def check(name, got, fixed, want, capacity, batch):
    total = len(want)
    if fixed:
        if len(got) != capacity or np.any(got[total:] != 0):
            raise AssertionError(f"{batch['mode']} bs={len(batch['seq_lens'])}: {name}: rows past the total are not 0")
        got = got[:total]
    if got.dtype != np.int32 or not np.array_equal(got, want):
        raise AssertionError(f"{batch['mode']} bs={len(batch['seq_lens'])}: {name} differs from the reference")


def check_all(backend, outs, qo, want, capacity, batch):
    """expand's other outputs against their definitions."""
    total = len(want)
    got = {k: backend.numpy(v) for k, v in outs.items()}
    r2r = np.concatenate([np.repeat(np.arange(len(qo)), qo), np.full(capacity - total, -1)])
    ok = (np.array_equal(got["cu_seqlens_q"], np.concatenate([[0], np.cumsum(qo)]))
          and np.array_equal(got["row_to_req"], r2r)
          and int(got["num_rows"][0]) == total and int(got["status"][0]) == 0)
    if not ok:
        raise AssertionError(f"{batch['mode']} bs={len(qo)}: expand's cu_seqlens_q/row_to_req/num_rows/status are wrong")
