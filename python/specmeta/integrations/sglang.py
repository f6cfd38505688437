"""A drop-in for the metadata path of SGLang's sparse-attention backend.

SGLang's `NativeSparseAttnBackend` (nsa_backend.py; renamed
`DeepseekSparseAttnBackend`, dsa_backend.py, with `dsa_` field names) builds its
per-pass metadata with a chain of torch ops, `.tolist()` and a Python loop per
request. `SparseAttnMetadataBackend` keeps that backend's method shapes and
SGLang's field names, and fills every length, prefix sum and page table with
one specmeta launch into the buffers the CUDA graph was captured with:

    init_cuda_graph_state(max_bs, max_num_tokens)
    init_forward_metadata_capture_cuda_graph(bs, num_tokens, req_pool_indices, seq_lens,
                                             encoder_lens, forward_mode, spec_info)
    init_forward_metadata_replay_cuda_graph(bs, req_pool_indices, seq_lens, seq_lens_sum,
                                            encoder_lens, forward_mode, spec_info, seq_lens_cpu)
    init_forward_metadata(forward_batch)             # eager passes

for decode (and idle), target_verify, draft_extend (per-request accept
lengths, `spec_info.accept_length`) and draft_extend_v2 (every request extends
by speculative_num_draft_tokens: specmeta's draft_extend_static). The replay
reads nothing on the host (seq_lens_cpu and seq_lens_sum are accepted and
ignored). `MultiStepSparseAttnMetadataBackend` is the multi-step draft
backend: one launch fills the metadata of every draft step (SPEC section 5,
several destination sets), where SGLang precomputes once and copies per step.

What the metadata holds, by SGLang field name (`nsa_` or `dsa_` prefix):

    cache_seqlens_int32, cu_seqlens_k               written per call (SPEC cache_seqlens, cu_seqlens_k)
    {p}_seqlens_expanded                            written (seqlens_expanded); in decode it *is*
                                                    cache_seqlens_int32, as in SGLang
    {p}_cache_seqlens_int32, {p}_cu_seqlens_k       written (sparse_seqlens, sparse_cu_seqlens_k)
    page_table_1, real_page_table                   written over each row's live prefix
                                                    [0, min(kv_b, W)); with page_size 1,
                                                    real_page_table *is* page_table_1, as in SGLang
    token_to_batch_idx                              written (row_to_req) when asked for, else None
    cu_seqlens_q, {p}_cu_seqlens_q                  static aranges, one "sequence" per query row,
                                                    as SGLang captures them
    max_seq_len_q, max_seq_len_k, {p}_max_seqlen_q, {p}_extend_seq_lens_list, page_size
                                                    host values, as SGLang sets them
    specmeta_status                                 the call's fault bits (SPEC section 6); check()

Rows past the real total (graph padding, draft_extend's short batches) hold 0
lengths and flat prefix sums (SPEC section 4) where SGLang leaves stale values;
consumers bound their reads by the lengths either way. SGLang's other fields
(FlashMLA and DeepGEMM schedules, prefill-only fields) are outside specmeta and
stay None: a backend computes them from these tensors as before.

Arrays may be torch tensors (CPU or CUDA), NumPy or CuPy arrays: buffers are
allocated in the framework and on the device of `req_to_token`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .._arrays import framework_of, new_int32
from .._metadata import MAX_DESTINATION_SETS, Builder, Metadata, _zeros, build_metadata

MODES = ("decode", "target_verify", "draft_extend", "draft_extend_static")
_MODE_NAMES = {  # SGLang's ForwardMode names (lower case) -> specmeta mode
    "decode": "decode",
    "idle": "decode",
    "target_verify": "target_verify",
    "draft_extend": "draft_extend",
    "draft_extend_v2": "draft_extend_static",
}
_ROW_MODES = ("target_verify", "draft_extend", "draft_extend_static")  # bs * N rows in a graph


def field_names(prefix: str = "nsa") -> dict:
    """SPEC output name -> SGLang field name (prefix "nsa": NSAMetadata, "dsa": DSAMetadata)."""
    if prefix not in ("nsa", "dsa"):
        raise ValueError(f"prefix: expected 'nsa' or 'dsa', got {prefix!r}")
    return {
        "cache_seqlens": "cache_seqlens_int32",
        "cu_seqlens_k": "cu_seqlens_k",
        "seqlens_expanded": f"{prefix}_seqlens_expanded",
        "sparse_seqlens": f"{prefix}_cache_seqlens_int32",
        "sparse_cu_seqlens_k": f"{prefix}_cu_seqlens_k",
        "row_to_req": "token_to_batch_idx",
        "page_table_1": "page_table_1",
        "real_page_table": "real_page_table",
        "status": "specmeta_status",
    }


def specmeta_mode(forward_mode: Any) -> str:
    """The specmeta mode of an SGLang ForwardMode (or of its lower-case name)."""
    if isinstance(forward_mode, str):
        mode = _MODE_NAMES.get(forward_mode)
        if mode is None:
            raise ValueError(f"forward_mode: expected one of {', '.join(_MODE_NAMES)}, got {forward_mode!r}")
        return mode
    # A ForwardMode: its predicates, v2 first (is_draft_extend() excludes v2 by default).
    checks = (("is_decode_or_idle", "decode"), ("is_target_verify", "target_verify"),
              ("is_draft_extend_v2", "draft_extend_static"), ("is_draft_extend", "draft_extend"))
    for method, mode in checks:
        predicate = getattr(forward_mode, method, None)
        if predicate is not None and predicate():
            return mode
    raise ValueError(f"forward_mode: expected decode, idle, target_verify, draft_extend or draft_extend_v2, "
                     f"got {forward_mode!r}")


def _address(x: Any) -> int:
    framework = framework_of(x)
    if framework == "torch":
        return x.data_ptr()
    if framework == "cupy":
        return x.data.ptr
    return x.__array_interface__["data"][0]


def _geometry(x: Any) -> Any:
    """What a bound Builder depends on: address, element type, length, stride."""
    if x is None:
        return None
    return (_address(x), str(x.dtype), tuple(x.shape), tuple(x.strides) if framework_of(x) != "torch" else x.stride())


class BackendMetadata:
    """SGLang's NSAMetadata / DSAMetadata fields by name, over specmeta's buffers."""

    def __init__(self, mode: str, sets: Metadata, fields: dict) -> None:
        self.mode = mode
        self.specmeta = sets  # the specmeta.Metadata the call writes (SPEC names)
        self.__dict__.update(fields)

    def check(self) -> None:
        """Reads the status of the last call (a sync) and raises on any fault bit."""
        self.specmeta.check()

    def __repr__(self) -> str:
        names = ", ".join(k for k in self.__dict__ if k not in ("mode", "specmeta"))
        return f"BackendMetadata(mode={self.mode}, fields=[{names}])"


class _Launcher:
    """Bound Builders, one per batch size and input geometry: a replay whose inputs sit where the
    last one's did (a graph runner's static buffers) only launches."""

    def __init__(self) -> None:
        self._builders: dict = {}

    def launch(self, mode: str, out: Sequence[Metadata], bs: int, seq_lens: Any, req_pool_indices: Any,
               accept_lens: Any, settings: dict) -> None:
        seq = seq_lens[:bs]
        rpi = req_pool_indices[:bs]
        accept = accept_lens[:bs] if mode == "draft_extend" else None
        key = (mode, bs, tuple(id(m) for m in out), _geometry(seq), _geometry(rpi), _geometry(accept))
        builder = self._builders.get(key)
        if builder is None:
            # Destination sets are fixed per bs; a new key only comes with new input buffers.
            builder = Builder(mode, out=list(out), seq_lens=seq, req_pool_indices=rpi, accept_lens=accept,
                              **settings)
            self._builders[key] = builder
        builder()


class SparseAttnMetadataBackend:
    """The metadata path of SGLang's NSA/DSA backend on specmeta (see the module docstring).

    req_to_token: SGLang's `req_to_token_pool.req_to_token` ([pool, max_context_len], int32).
    page_size: the KV page size (`real_page_size`); index_topk: `nsa_index_topk`;
    speculative_num_draft_tokens: N (0 without speculative decoding); prefix: "nsa" or "dsa";
    with_token_to_batch_idx: also fill `token_to_batch_idx` (row -> request), which SGLang's
    graph path leaves None.
    """

    def __init__(
        self,
        *,
        req_to_token: Any,
        page_size: int,
        index_topk: int,
        speculative_num_draft_tokens: int = 0,
        prefix: str = "nsa",
        with_token_to_batch_idx: bool = False,
    ) -> None:
        if framework_of(req_to_token) is None or len(req_to_token.shape) != 2:
            raise TypeError(f"req_to_token: expected a 2-D torch, NumPy or CuPy array, got {type(req_to_token)}")
        self.req_to_token = req_to_token
        self.real_page_size = page_size
        self.index_topk = index_topk
        self.speculative_num_draft_tokens = speculative_num_draft_tokens
        self.prefix = prefix
        self.names = field_names(prefix)
        self.with_token_to_batch_idx = with_token_to_batch_idx
        self.max_context_len = int(req_to_token.shape[1])
        self.decode_cuda_graph_metadata: dict = {}
        self.forward_metadata: Optional[BackendMetadata] = None
        self._launcher = _Launcher()
        self._page_table = None

    # -- what one call writes

    def _outputs(self, mode: str) -> list:
        wanted = ["cache_seqlens", "cu_seqlens_k", "sparse_seqlens", "sparse_cu_seqlens_k", "page_table_1", "status"]
        if mode != "decode":
            wanted.append("seqlens_expanded")  # decode's is cache_seqlens itself
        if self.real_page_size > 1:
            wanted.append("real_page_table")  # page size 1: real_page_table is page_table_1
        if self.with_token_to_batch_idx:
            wanted.append("row_to_req")
        return wanted

    def _settings(self, mode: str, full_width: bool = False) -> dict:
        n = self.speculative_num_draft_tokens
        uses_n = mode in _ROW_MODES and n > 0
        return dict(req_to_token=self.req_to_token, num_draft_tokens=n if uses_n else None, topk=self.index_topk,
                    page_size=self.real_page_size, full_width=full_width)

    def _fields(self, mode: str, meta: Metadata, rows: int, max_seq_len_k: int, extend_seq_lens: list) -> dict:
        like = self.req_to_token
        fields = {self.names[name]: getattr(meta, name) for name in self._outputs(mode)}
        p = self.prefix
        if mode == "decode":
            fields[f"{p}_seqlens_expanded"] = meta.cache_seqlens
        if self.real_page_size == 1:
            fields["real_page_table"] = meta.page_table_1
        fields.setdefault("token_to_batch_idx", None)
        fields.update({
            "page_size": self.real_page_size,
            "max_seq_len_q": 1,
            "max_seq_len_k": max_seq_len_k,
            f"{p}_cu_seqlens_q": new_int32(like, "arange", rows + 1),
            f"{p}_extend_seq_lens_list": extend_seq_lens,
            f"{p}_max_seqlen_q": 1,
        })
        return fields

    def _rows(self, mode: str, bs: int) -> int:
        if mode != "decode" and self.speculative_num_draft_tokens < 1:
            raise ValueError(f"speculative_num_draft_tokens: expected >= 1 for {mode}, "
                             f"got {self.speculative_num_draft_tokens}")
        return bs if mode == "decode" else bs * self.speculative_num_draft_tokens

    # -- CUDA-graph path

    def init_cuda_graph_state(self, max_bs: int, max_num_tokens: int) -> None:
        """One page-table buffer that every batch size's metadata slices, as SGLang allocates."""
        del max_bs
        self._page_table = _zeros((max_num_tokens, self.max_context_len), self.req_to_token)
        if self.real_page_size > 1:
            pages = -(-self.max_context_len // self.real_page_size)
            self._real_page_table = _zeros((max_num_tokens, pages), self.req_to_token)

    def graph_metadata(self, bs: int, forward_mode: Any) -> BackendMetadata:
        """The buffers of batch size `bs` (allocated on first use); no launch."""
        mode = specmeta_mode(forward_mode)
        held = self.decode_cuda_graph_metadata.get(bs)
        if held is not None:
            if held.mode != mode:
                raise ValueError(f"forward_mode: expected {held.mode} (captured for bs={bs}), got {mode}")
            return held
        if self._page_table is None:
            raise RuntimeError("init_cuda_graph_state: expected to be called before the first capture")
        rows = self._rows(mode, bs)
        if rows > self._page_table.shape[0]:
            raise ValueError(f"num_tokens: expected at most max_num_tokens = {self._page_table.shape[0]} rows, "
                             f"got {rows} (bs={bs}, mode {mode})")
        wanted = [name for name in self._outputs(mode) if name not in ("page_table_1", "real_page_table")]
        meta = Metadata.empty(bs=bs, capacity=rows, width=self.max_context_len, page_size=self.real_page_size,
                              outputs=wanted, like=self.req_to_token)
        meta.page_table_1 = self._page_table[:rows]
        if self.real_page_size > 1:
            meta.real_page_table = self._real_page_table[:rows]
        fields = self._fields(mode, meta, rows, self.max_context_len, [1] * rows)
        fields["cu_seqlens_q"] = fields[f"{self.prefix}_cu_seqlens_q"]  # one sequence per query row
        held = BackendMetadata(mode, meta, fields)
        self.decode_cuda_graph_metadata[bs] = held
        return held

    def init_forward_metadata_capture_cuda_graph(self, bs: int, num_tokens: int, req_pool_indices: Any,
                                                 seq_lens: Any, encoder_lens: Any, forward_mode: Any,
                                                 spec_info: Any) -> None:
        del num_tokens, encoder_lens
        held = self.graph_metadata(bs, forward_mode)
        self._launch_into([held], bs, req_pool_indices, seq_lens, spec_info)
        self.forward_metadata = held

    def init_forward_metadata_replay_cuda_graph(self, bs: int, req_pool_indices: Any, seq_lens: Any,
                                                seq_lens_sum: Any, encoder_lens: Any, forward_mode: Any,
                                                spec_info: Any, seq_lens_cpu: Any = None,
                                                out_cache_loc: Any = None) -> None:
        """One launch into the captured buffers; reads nothing on the host."""
        del seq_lens_sum, encoder_lens, seq_lens_cpu, out_cache_loc
        held = self.graph_metadata(bs, forward_mode)
        self._launch_into([held], bs, req_pool_indices, seq_lens, spec_info)
        self.forward_metadata = held

    def _launch_into(self, held: Sequence[BackendMetadata], bs: int, req_pool_indices: Any, seq_lens: Any,
                     spec_info: Any) -> None:
        mode = held[0].mode
        accept = spec_info.accept_length if mode == "draft_extend" else None
        self._launcher.launch(mode, [h.specmeta for h in held], bs, seq_lens, req_pool_indices, accept,
                              self._settings(mode))

    # -- eager path

    def init_forward_metadata(self, forward_batch: Any) -> None:
        """Fresh buffers sized as SGLang's eager path sizes them (page tables max_seqlen_k wide,
        every column of every row written, as SGLang's slice copies them), one launch."""
        mode = specmeta_mode(forward_batch.forward_mode)
        bs = int(forward_batch.batch_size)
        n = self.speculative_num_draft_tokens
        seq_lens_cpu = forward_batch.seq_lens_cpu
        longest = int(max(seq_lens_cpu[:bs].tolist(), default=0))
        max_seqlen_k = longest + (n if mode == "target_verify" else 0)
        if mode == "decode":
            extend_seq_lens = [1] * bs
        elif mode == "draft_extend":
            extend_seq_lens = [int(v) for v in forward_batch.extend_seq_lens_cpu]
        else:
            extend_seq_lens = [n] * bs
        rows = sum(extend_seq_lens)
        width = min(max_seqlen_k, self.max_context_len)
        meta = Metadata.empty(bs=bs, capacity=rows, width=width, page_size=self.real_page_size,
                              outputs=self._outputs(mode), like=self.req_to_token)
        accept = forward_batch.extend_seq_lens if mode == "draft_extend" else None
        build_metadata(mode, forward_batch.seq_lens[:bs], out=meta, req_pool_indices=forward_batch.req_pool_indices[:bs],
                       accept_lens=None if accept is None else accept[:bs], **self._settings(mode, full_width=True))
        fields = self._fields(mode, meta, rows, max_seqlen_k, extend_seq_lens)
        fields["cu_seqlens_q"] = fields[f"{self.prefix}_cu_seqlens_q"]
        self.forward_metadata = BackendMetadata(mode, meta, fields)

    def check(self) -> None:
        """Raises RuntimeError naming the fault bits of the last call (reads status: a sync)."""
        if self.forward_metadata is None:
            raise RuntimeError("check: no metadata built yet")
        self.forward_metadata.check()


class MultiStepSparseAttnMetadataBackend:
    """SGLang's multi-step draft backend (one sparse-attention backend per draft step, all in
    decode mode on the same batch): the replay fills every step's metadata with one launch,
    several destination sets (8 per launch at most)."""

    def __init__(self, *, speculative_num_steps: int, **backend_kwargs: Any) -> None:
        if speculative_num_steps < 1:
            raise ValueError(f"speculative_num_steps: expected >= 1, got {speculative_num_steps}")
        self.speculative_num_steps = speculative_num_steps
        self.attn_backends = [SparseAttnMetadataBackend(**backend_kwargs) for _ in range(speculative_num_steps)]

    def init_forward_metadata(self, forward_batch: Any) -> None:
        for backend in self.attn_backends[:-1]:  # as SGLang: the last step's backend is not used eagerly
            backend.init_forward_metadata(forward_batch)

    def init_cuda_graph_state(self, max_bs: int, max_num_tokens: int) -> None:
        for backend in self.attn_backends:
            backend.init_cuda_graph_state(max_bs, max_num_tokens)

    def init_forward_metadata_capture_cuda_graph(self, forward_batch: Any) -> None:
        self._launch(forward_batch, int(forward_batch.batch_size))

    def init_forward_metadata_replay_cuda_graph(self, forward_batch: Any, bs: int) -> None:
        self._launch(forward_batch, bs)

    def _launch(self, forward_batch: Any, bs: int) -> None:
        held = [backend.graph_metadata(bs, "decode") for backend in self.attn_backends]
        for start in range(0, len(held), MAX_DESTINATION_SETS):
            self.attn_backends[0]._launch_into(held[start:start + MAX_DESTINATION_SETS], bs,
                                               forward_batch.req_pool_indices, forward_batch.seq_lens, None)
        for backend, metadata in zip(self.attn_backends, held):
            backend.forward_metadata = metadata
