"""Property test of `build_metadata` and `Builder` on the CPU backend (Hypothesis).

For any host-valid call (every mode, int32/int64 inputs, any subset of the
outputs, one to eight destination sets, CUDA-graph padding rows, strided
tables, buffers longer than required, data faults of every status bit), every
element of every buffer equals `metadata_reference` and the poisoned guards
around the buffers are untouched. For any call with one host mistake, the
error names the argument and no buffer (inputs, outputs, guards) changed.
Hypothesis shrinks a failure to a minimal call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from harness import Backend  # noqa: E402
from metadata_reference import ALL_BITS, MODES, OUTPUTS, PAGE_TABLES, POISON  # noqa: E402
from test_metadata_cpu import Batch, DestinationSet, Layout, call_kwargs, check_sets, expected_for  # noqa: E402

import specmeta  # noqa: E402

MAX_BS = 40
MAX_N = 6
MAX_WIDTH = 40
MAX_CAPACITY = 600  # a ragged total above it is a capacity fault (bit 1)
INT64 = np.iinfo(np.int64)
UNIFORM_QO = {"decode": lambda n: 1, "target_verify": lambda n: n, "draft_extend_static": lambda n: n}


@dataclass
class Call:
    batch: Batch
    layout: Layout
    builder: bool  # through specmeta.Builder instead of build_metadata


def _values(draw, size: int, normal: st.SearchStrategy, dtype, faulty: st.SearchStrategy, faults: bool) -> np.ndarray:
    info = np.iinfo(dtype)
    extreme = st.integers(int(info.min), int(info.max))
    element = st.one_of(normal, faulty, extreme) if faults else normal
    return np.array(draw(st.lists(element, min_size=size, max_size=size)), dtype=dtype)


@st.composite
def valid_calls(draw) -> Call:
    mode = draw(st.sampled_from(MODES))
    bs = draw(st.integers(0, MAX_BS))
    faults = draw(st.booleans())
    seq_dtype, idx_dtype, qo_dtype = (draw(st.sampled_from([np.int32, np.int64])) for _ in range(3))
    width = draw(st.integers(0, MAX_WIDTH))
    n = None
    if mode in ("target_verify", "draft_extend_static") or (mode == "draft_extend" and draw(st.booleans())):
        n = draw(st.integers(0, MAX_N))
    batch = Batch(mode, _values(draw, bs, st.integers(0, 2 * width + 8), seq_dtype, st.integers(-4, -1), faults), n)
    qo_limit = MAX_N if n is None else n
    if mode == "draft_extend":
        batch.accept_lens = _values(draw, bs, st.integers(0, qo_limit), qo_dtype,
                                    st.sampled_from([-1, qo_limit + 1]), faults)
    if mode == "extend":
        batch.extend_lens = _values(draw, bs, st.integers(0, 8), qo_dtype, st.integers(-3, -1), faults)

    outputs = tuple(name for name in OUTPUTS if name in draw(st.sets(st.sampled_from(OUTPUTS))))
    tables = any(name in outputs for name in PAGE_TABLES) or draw(st.booleans())  # given also where unused
    if tables:
        pool = draw(st.integers(1, bs + 3))
        seed = draw(st.integers(0, 2**32 - 1))
        table_rng = np.random.default_rng(seed)
        cols = width + draw(st.integers(0, 4))
        batch.req_to_token = table_rng.integers(-(2**31), 2**31, size=(pool, cols), dtype=np.int64).astype(np.int32)
        batch.req_pool_indices = _values(draw, bs, st.integers(0, pool - 1), idx_dtype,
                                         st.sampled_from([-1, pool]), faults)

    # CUDA-graph padding, as SGLang's runner leaves the unused tail of a captured batch.
    padded = draw(st.integers(0, bs))
    pad = slice(bs - padded, bs)
    batch.seq_lens[pad] = 1
    for lens in (batch.accept_lens, batch.extend_lens):
        if lens is not None:
            lens[pad] = 1

    if mode in UNIFORM_QO:  # a uniform total above capacity is a host error
        capacity = bs * UNIFORM_QO[mode](n) + draw(st.integers(0, 20))
    else:
        total = min(batch.total(), MAX_CAPACITY)
        low = max(0, total - 10) if faults else total
        capacity = draw(st.integers(low, min(total + 20, MAX_CAPACITY)))
    layout = Layout(
        capacity=capacity,
        width=width,
        page_size=draw(st.sampled_from([1, 2, 3, 16])),
        topk=draw(st.sampled_from([1, 3, 64, 2048])),
        kpool=draw(st.sampled_from([1, 2, 5])),
        full_width=draw(st.booleans()),
        outputs=outputs,
        sets=draw(st.sampled_from([1, 1, 2, 3, specmeta.MAX_DESTINATION_SETS])),
        table_stride=None if not tables or draw(st.booleans()) else batch.req_to_token.shape[1] + draw(st.integers(1, 3)),
        page_stride_extra=draw(st.integers(0, 3)),
        longer=draw(st.integers(0, 2)),
    )
    return Call(batch, layout, draw(st.booleans()))


def _launch(backend: Backend, call: Call, metas: list, kwargs: dict, seq) -> None:
    out = metas[0] if len(metas) == 1 else metas
    if call.builder:
        specmeta.Builder(call.batch.mode, out=out, seq_lens=seq, **kwargs)()
    else:
        specmeta.build_metadata(call.batch.mode, seq, out=out, **kwargs)


def _describe(call: Call) -> str:
    b, lay = call.batch, call.layout
    return (f"mode={b.mode} bs={b.bs} N={b.num_draft_tokens} seq={b.seq_lens.tolist()} "
            f"accept={None if b.accept_lens is None else b.accept_lens.tolist()} "
            f"extend={None if b.extend_lens is None else b.extend_lens.tolist()} "
            f"rpi={None if b.req_pool_indices is None else b.req_pool_indices.tolist()} {lay} builder={call.builder}")


@settings(max_examples=200, deadline=None)
@given(valid_calls())
def test_valid_calls_match_reference(call):
    backend = Backend()
    sets = [DestinationSet(backend, call.batch.bs, call.layout) for _ in range(call.layout.sets)]
    metas = [s.metadata(call.batch.bs, call.layout) for s in sets]
    _launch(backend, call, metas, call_kwargs(backend, call.batch, call.layout), call.batch.seq_lens)
    check_sets(backend, call.batch, call.layout, sets, _describe(call))


# ---------------------------------------------------------------------------
# one host mistake: rejected, naming the argument, nothing written


@dataclass
class Mistake:
    name: str  # the argument the message must name
    error: type
    kwargs: dict  # overrides of build_metadata's keyword arguments
    metas_edit: Optional[Callable] = None  # edits the Metadata list in place
    capacity: Optional[int] = None  # geometry for the outputs (None: the call's)


def _mistakes(draw, call: Call, metas: list, seq: np.ndarray) -> Mistake:
    b, lay = call.batch, call.layout
    options = [
        Mistake("page_size", ValueError, {"page_size": draw(st.sampled_from([0, -1]))}),
        Mistake("topk", ValueError, {"topk": 0}),
        Mistake("kpool", ValueError, {"kpool": draw(st.sampled_from([0, -3]))}),
        Mistake("full_width", TypeError, {"full_width": 1}),
    ]
    if b.mode != "draft_extend":
        options.append(Mistake("accept_lens", ValueError, {"accept_lens": np.zeros(b.bs, dtype=np.int32)}))
    if b.num_draft_tokens is not None:
        options.append(Mistake("num_draft_tokens", ValueError, {"num_draft_tokens": -1}))
    if b.mode in ("target_verify", "draft_extend_static") and b.bs * b.num_draft_tokens > 0:
        options.append(Mistake("capacity", ValueError, {}, capacity=b.bs * b.num_draft_tokens - 1))
    # 1-D outputs that need at least one element (a buffer `longer` elements past what they need).
    shrinkable = [name for name in lay.outputs if name not in PAGE_TABLES and getattr(metas[0], name).size > lay.longer]
    if shrinkable:
        name = draw(st.sampled_from(shrinkable))

        def shorten(ms, name=name):
            setattr(ms[-1], name, getattr(ms[-1], name)[: -1 - lay.longer])

        options.append(Mistake(name, ValueError, {}, metas_edit=shorten))
    wide = [name for name in lay.outputs if name not in PAGE_TABLES]
    if wide:
        name = draw(st.sampled_from(wide))

        def widen_dtype(ms, name=name):
            setattr(ms[0], name, getattr(ms[0], name).astype(np.int64))

        options.append(Mistake(name, TypeError, {}, metas_edit=widen_dtype))
    if "cache_seqlens" in lay.outputs and seq.dtype == np.int32 and b.bs > 0:

        def alias_seq(ms):
            ms[0].cache_seqlens = seq

        options.append(Mistake("cache_seqlens", ValueError, {}, metas_edit=alias_seq))
    if any(name in lay.outputs for name in PAGE_TABLES) and lay.width > 0:
        narrow = np.ascontiguousarray(b.req_to_token[:, : lay.width - 1])
        options.append(Mistake("width", ValueError, {"req_to_token": narrow}))
    return draw(st.sampled_from(options))


@settings(max_examples=150, deadline=None)
@given(valid_calls(), st.data())
def test_one_host_mistake_is_rejected_without_writing(call, data):
    backend = Backend()
    seq = call.batch.seq_lens
    metas_for = lambda lay: [DestinationSet(backend, call.batch.bs, lay) for _ in range(lay.sets)]  # noqa: E731
    probe = metas_for(call.layout)
    mistake = _mistakes(data.draw, call, [s.metadata(call.batch.bs, call.layout) for s in probe], seq)
    layout = call.layout if mistake.capacity is None else replace(call.layout, capacity=mistake.capacity)
    sets = metas_for(layout)
    metas = [s.metadata(call.batch.bs, layout) for s in sets]
    if mistake.metas_edit is not None:
        mistake.metas_edit(metas)
    kwargs = call_kwargs(backend, call.batch, layout)
    kwargs.update(mistake.kwargs)
    watched = [s.backings[name] for s in sets for name in s.backings] + [seq] + [
        v for v in kwargs.values() if isinstance(v, np.ndarray)]
    before = [np.array(a, copy=True) for a in watched]
    with pytest.raises(mistake.error) as info:
        _launch(backend, call, metas, kwargs, seq)
    assert mistake.name in str(info.value), f"{_describe(call)}: {info.value!r} does not name {mistake.name}"
    for old, now in zip(before, watched):
        assert np.array_equal(old, now), f"{_describe(call)}: a buffer changed although the call failed: {info.value!r}"
    assert all(np.all(s.backings[name] == POISON) for s in sets for name in s.backings)


def test_the_strategy_reaches_every_status_bit():
    """Every fault the library reports occurs among generated valid calls (else the property above is
    weaker than it looks). Reference only: no library call."""
    seen = 0

    @settings(max_examples=300, deadline=None, database=None)
    @given(valid_calls())
    def collect(call):
        nonlocal seen
        prev = DestinationSet(Backend(), call.batch.bs, call.layout).poisoned_prev()
        seen |= expected_for(call.batch, call.layout, prev).status

    collect()
    missing = [bit for bit in ALL_BITS if not seen & bit]
    assert not missing, f"no generated call sets status bit(s) {missing}"
