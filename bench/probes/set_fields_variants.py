"""Host cost of ways to read a destination set's eleven torch CUDA outputs (build_metadata's
largest host cost): the per-tensor fast path (arrays given to Metadata), one C-level pass per
property over all of a set's tensors (`map`), the checks written out in one loop, and the
fields Metadata.empty read once (per call, each output's address and size only). Each variant is checked to give
the same fields first.

    python3 bench/probes/set_fields_variants.py
"""
from operator import attrgetter

import torch
from host_timing import per_call_us as per_call

import specmeta
from specmeta import _arrays as A
from specmeta import _metadata as M


_outputs = attrgetter(*M.OUTPUTS)
_vector_slots = tuple(i for i, name in enumerate(M.OUTPUTS) if name not in M._TABLES)
_dtype = attrgetter("dtype")
_is_cuda = attrgetter("is_cuda")


def bulk_fields(meta, device, fields):
    """One map per property over the set's present tensors; None when any check fails."""
    T = A._torch_tensor_type
    arrays = _outputs(meta)
    present = [x for x in arrays if x is not None]
    if not present:
        return None
    if (
        set(map(type, present)) != {T}
        or set(map(_dtype, present)) != {A._torch_int32}
        or set(map(T.get_device, present)) != {device}
        or device < 0
        or not all(map(_is_cuda, present))
    ):
        return None
    vectors = [arrays[i] for i in _vector_slots if arrays[i] is not None]
    if vectors and set(map(T.stride, vectors)) != {(1,)}:
        return None
    ptrs = iter(list(map(T.data_ptr, present)))
    sizes = iter(list(map(T.numel, vectors)))
    for i, x in enumerate(arrays):
        if x is None:
            fields += M._ABSENT_TABLE if i in (8, 9) else M._ABSENT_OUTPUT
        elif i in (8, 9):
            rows, cols = x.shape
            row_stride, col_stride = x.stride()
            if not (rows > 1 and cols > 1 and col_stride == 1 and row_stride >= cols):
                return None
            fields += (next(ptrs), rows, cols, row_stride)
        else:
            fields += (next(ptrs), next(sizes))
    return fields


def inline_fields(meta, device, fields):
    """The library's checks, written out in one loop without a call per tensor."""
    T, int32 = A._torch_tensor_type, A._torch_int32
    unit = (1,)
    for i, x in enumerate(_outputs(meta)):
        if x is None:
            fields += M._ABSENT_TABLE if i in (8, 9) else M._ABSENT_OUTPUT
            continue
        if type(x) is not T or x.dtype is not int32 or x.get_device() != device or not x.is_cuda:
            return None
        if i in (8, 9):
            rows, cols = x.shape
            row_stride, col_stride = x.stride()
            if not (rows > 1 and cols > 1 and col_stride == 1 and row_stride >= cols):
                return None
            fields += (x.data_ptr(), rows, cols, row_stride)
        elif x.stride() == unit:
            fields += (x.data_ptr(), x.numel())
        else:
            return None
    return fields


def main():
    dev = "cuda"
    bs, N, W, ps = 64, 4, 8192, 64
    seq = torch.randint(100, 8000, (bs,), device=dev, dtype=torch.int64)
    rpi = torch.arange(bs, device=dev, dtype=torch.int64)
    r2t = torch.randint(0, 1 << 20, (bs, W), device=dev, dtype=torch.int32)
    meta = specmeta.Metadata.empty(bs=bs, capacity=bs * N, width=W, page_size=ps, like=seq)
    # The same arrays given to Metadata(...): every call reads and checks each of them.
    given = specmeta.Metadata(bs=bs, capacity=bs * N, width=W, page_size=ps,
                              **{name: getattr(meta, name) for name in M.OUTPUTS})
    info = A.torch_cuda_input(seq)
    reference = []
    M._read_set_fields("out", given, info, reference)
    variants = {
        "per-tensor fast path (given arrays)": lambda f: M._set_fields(0, given, info, f),
        "bulk (a map per property)": lambda f: bulk_fields(given, info.device, f),
        "inline (one loop, no call per tensor)": lambda f: inline_fields(given, info.device, f),
        "Metadata.empty's outputs (each one's address and size)": (
            lambda f: M._set_fields(0, meta, info, f)
        ),
    }
    print(f"| set of 11 torch CUDA outputs ({torch.cuda.get_device_name()}) | us per set | same fields |")
    print("|---|---|---|")
    for name, fn in variants.items():
        got = []
        fn(got)
        print(f"| {name} | {per_call(lambda: fn([])):.2f} | {got == reference} |")
    for label, out in (("given arrays", given), ("Metadata.empty", meta)):
        args = dict(out=out, req_pool_indices=rpi, req_to_token=r2t, num_draft_tokens=N, page_size=ps)
        print(f"| build_metadata target_verify, all 11, {label} | "
              f"{per_call(lambda: specmeta.build_metadata('target_verify', seq, **args)):.2f} | |")
        print(f"| _descriptor alone, {label} | "
              f"{per_call(lambda: M._descriptor('target_verify', seq, out, rpi, r2t, None, None, N, 2048, 1, ps, False)):.2f} | |")
    desc, _ = M._descriptor("target_verify", seq, meta, rpi, r2t, None, None, N, 2048, 1, ps, False)
    print(f"| tuple(descriptor) and a plan-cache hit | {per_call(lambda: M._plan(desc)):.2f} | |")
    builder = specmeta.Builder("target_verify", out=meta, seq_lens=seq, req_pool_indices=rpi, req_to_token=r2t,
                               num_draft_tokens=N, page_size=ps)
    print(f"| Builder(bs), all 11 | {per_call(lambda: builder(bs)):.2f} | |")
    small = torch.zeros(1, device=dev, dtype=torch.int32)
    print(f"| torch small.add_(1) (a stock launch, this host's speed) | {per_call(lambda: small.add_(1)):.2f} | |")


if __name__ == "__main__":
    main()
