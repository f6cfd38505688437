"""seqlens_expanded as one Triton kernel launch: what a user writing Triton would build.

Fixed capacity, no host sync, every length read from device memory, so it
can be captured in a CUDA graph. Rows past the real total are 0 (SPEC
section 4). Valid input only (0 <= qo_b <= min(kv_b, max_qo)).

One kernel, two layouts chosen by a compile-time flag:
  uniform qo (target_verify, qo_b = N for all b): program p owns rows
    [p * BLOCK, (p + 1) * BLOCK); row r belongs to request r // N.
  per-request qo (draft_extend, qo_b = accept_lens[b]): the first
    ceil(bs / REQS) programs each own REQS requests and write a
    [REQS, next_pow2(max_qo)] tile of their rows, after summing the accept
    lengths of every earlier request (their first row); the remaining
    ceil(capacity / BLOCK) programs each zero the rows of their block that
    lie at or past the total (the sum of all accept lengths).
The grid is sized from host integers (bs, capacity, N) only.

Triton and torch are imported lazily, so the suite can list this variant as
unavailable where Triton is missing.
"""

from __future__ import annotations

import functools

BLOCK = 1024  # rows per program in the uniform layout and in the tail programs
REQS = 128  # requests per program in the per-request layout


def available():
    """(True, "") when Triton imports, else (False, why)."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means "no Triton here"
        return False, f"Triton is not importable ({type(e).__name__}: {e})"
    return True, ""


@functools.lru_cache(maxsize=None)
def _kernel():
    import triton
    import triton.language as tl

    # Sizes vary from call to call: without this, Triton compiles a new kernel for each size that is 1 or a
    # multiple of 16 (its integer specialisation), seconds per compile in the middle of a timed run.
    @triton.jit(do_not_specialize=["bs", "capacity", "n_uniform"])
    def expand_kernel(
        kv_ptr,
        qo_ptr,
        out_ptr,
        bs,
        capacity,
        n_uniform,
        UNIFORM: tl.constexpr,
        BLOCK: tl.constexpr,
        REQS: tl.constexpr,
        QO_TILE: tl.constexpr,
    ):
        pid = tl.program_id(0)
        if UNIFORM:
            row = pid * BLOCK + tl.arange(0, BLOCK)
            live = row < bs * n_uniform
            req = row // n_uniform
            kv = tl.load(kv_ptr + req, mask=live, other=0).to(tl.int64)
            value = kv - n_uniform + 1 + (row - req * n_uniform)
            tl.store(out_ptr + row, tl.where(live, value, 0).to(tl.int32), mask=row < capacity)
        else:
            req_programs = tl.cdiv(bs, REQS)
            offs = tl.arange(0, REQS)
            if pid < req_programs:
                first_req = pid * REQS
                earlier = tl.zeros((REQS,), dtype=tl.int32)
                for start in range(0, first_req, REQS):  # rows of every earlier request
                    earlier += tl.load(qo_ptr + start + offs).to(tl.int32)
                req = first_req + offs
                mine = req < bs
                qo = tl.load(qo_ptr + req, mask=mine, other=0).to(tl.int32)
                kv = tl.load(kv_ptr + req, mask=mine, other=0).to(tl.int64)
                first_row = tl.sum(earlier, axis=0) + tl.cumsum(qo, axis=0) - qo
                j = tl.arange(0, QO_TILE)
                row = first_row[:, None] + j[None, :]
                value = (kv - qo + 1)[:, None] + j[None, :]
                keep = mine[:, None] & (j[None, :] < qo[:, None]) & (row < capacity)
                tl.store(out_ptr + row, value.to(tl.int32), mask=keep)
            else:
                # Names differ from the other branch's: Triton wants a name to keep one type across branches.
                every = tl.zeros((REQS,), dtype=tl.int32)
                for start in range(0, bs, REQS):
                    each = start + offs
                    every += tl.load(qo_ptr + each, mask=each < bs, other=0).to(tl.int32)
                total = tl.sum(every, axis=0)
                tail = (pid - req_programs) * BLOCK + tl.arange(0, BLOCK)
                tl.store(out_ptr + tail, tl.zeros((BLOCK,), dtype=tl.int32), mask=(tail >= total) & (tail < capacity))

    return expand_kernel, triton


def triton_target_verify(kv_lens, n, out):
    """kv_lens: int32/int64 [bs] (seq_lens + N); out: int32 [capacity >= bs * N]."""
    kernel, triton = _kernel()
    bs, capacity = kv_lens.shape[0], out.shape[0]
    grid = (triton.cdiv(capacity, BLOCK),)
    kernel[grid](kv_lens, kv_lens, out, bs, capacity, n, UNIFORM=True, BLOCK=BLOCK, REQS=REQS, QO_TILE=1)
    return out


def triton_draft_extend(seq_lens, accept_lens, max_qo, out):
    """seq_lens: [bs] (kv_b); accept_lens: [bs] in [0, max_qo]; out: int32 [capacity]."""
    kernel, triton = _kernel()
    bs, capacity = seq_lens.shape[0], out.shape[0]
    grid = (triton.cdiv(bs, REQS) + triton.cdiv(capacity, BLOCK),)
    kernel[grid](
        seq_lens, accept_lens, out, bs, capacity, 1,
        UNIFORM=False, BLOCK=BLOCK, REQS=REQS, QO_TILE=triton.next_power_of_2(max(max_qo, 1)),
    )
    return out
