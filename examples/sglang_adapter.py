"""How an SGLang sparse-attention backend swaps its metadata path for specmeta.

In SGLang (python/sglang/srt/layers/attention/nsa_backend.py, or dsa_backend.py with
prefix="dsa") a backend subclass puts `SpecmetaMetadataMixin` first in its bases; the mixin
overrides only the metadata methods, everything else (forward, indexer, FlashMLA and DeepGEMM
schedules computed from these tensors) stays SGLang's:

    class SpecmetaNSABackend(SpecmetaMetadataMixin, NativeSparseAttnBackend):
        pass

    # and for the multi-step draft backend, one launch for every step:
    multi = MultiStepSparseAttnMetadataBackend(speculative_num_steps=..., req_to_token=..., ...)

SGLang cannot be installed here, so `main()` runs the mixin on a stand-in that has the
attributes SGLang's backend sets in __init__, driven as SGLang's CUDA-graph runner drives it:
capture per batch size, then per step write the batch into the static buffers, call the replay
method (one specmeta launch, nothing read on the host) and replay the captured graph.

    python3 examples/sglang_adapter.py        # CUDA when visible, else the CPU (no graph)
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from specmeta.integrations.sglang import SparseAttnMetadataBackend


class SpecmetaMetadataMixin:
    """The metadata methods of an NSA/DSA backend, on specmeta. Reads the attributes SGLang's
    backend sets in __init__: req_to_token, real_page_size, nsa_index_topk (or dsa_index_topk),
    speculative_num_draft_tokens."""

    metadata_prefix = "nsa"

    def _specmeta(self) -> SparseAttnMetadataBackend:
        adapter = getattr(self, "_specmeta_adapter", None)
        if adapter is None:
            topk = getattr(self, f"{self.metadata_prefix}_index_topk")
            adapter = self._specmeta_adapter = SparseAttnMetadataBackend(
                req_to_token=self.req_to_token, page_size=self.real_page_size, index_topk=topk,
                speculative_num_draft_tokens=self.speculative_num_draft_tokens or 0, prefix=self.metadata_prefix)
        return adapter

    def init_cuda_graph_state(self, max_bs, max_num_tokens):
        self._specmeta().init_cuda_graph_state(max_bs, max_num_tokens)
        self.decode_cuda_graph_metadata = self._specmeta().decode_cuda_graph_metadata

    def init_forward_metadata_capture_cuda_graph(self, *args, **kwargs):
        self._specmeta().init_forward_metadata_capture_cuda_graph(*args, **kwargs)
        self.forward_metadata = self._specmeta().forward_metadata

    def init_forward_metadata_replay_cuda_graph(self, *args, **kwargs):
        self._specmeta().init_forward_metadata_replay_cuda_graph(*args, **kwargs)
        self.forward_metadata = self._specmeta().forward_metadata

    def init_forward_metadata(self, forward_batch):
        self._specmeta().init_forward_metadata(forward_batch)
        self.forward_metadata = self._specmeta().forward_metadata


class StandInBackend:
    """What SGLang's NativeSparseAttnBackend.__init__ leaves that the mixin reads."""

    def __init__(self, req_to_token, page_size, topk, num_draft_tokens):
        self.req_to_token = req_to_token
        self.real_page_size = page_size
        self.nsa_index_topk = topk
        self.speculative_num_draft_tokens = num_draft_tokens
        self.forward_metadata = None


class SpecmetaBackend(SpecmetaMetadataMixin, StandInBackend):
    pass


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pool, context_len, page_size, topk, n, max_bs = 64, 4096, 64, 2048, 4, 16
    req_to_token = torch.randint(0, 1 << 24, (pool, context_len), dtype=torch.int32, device=device)
    backend = SpecmetaBackend(req_to_token, page_size, topk, n)
    backend.init_cuda_graph_state(max_bs, max_bs * n)

    # The runner's static inputs; target_verify graphs for bs = 8.
    seq_lens = torch.ones(max_bs, dtype=torch.int64, device=device)
    req_pool_indices = torch.zeros(max_bs, dtype=torch.int64, device=device)
    bs = 8
    backend.init_forward_metadata_capture_cuda_graph(bs, bs * n, req_pool_indices[:bs], seq_lens[:bs], None,
                                                     "target_verify", None)
    meta = backend.forward_metadata
    total = torch.zeros(1, dtype=torch.int64, device=device)

    def forward():  # stands for the model: a kernel reading the metadata
        total.copy_(meta.nsa_cache_seqlens_int32.to(torch.int64).sum().reshape(1))

    graph = None
    if device == "cuda":
        forward()  # warm-up before capture, as torch.cuda.graph asks
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            forward()

    for step in range(3):
        real_bs = 6  # the rest of the graph's batch is padding, as SGLang's runner pads it
        seq_lens[:bs].fill_(1)
        seq_lens[:real_bs].copy_(torch.randint(100, 4000, (real_bs,)))
        req_pool_indices[:real_bs].copy_(torch.randperm(pool)[:real_bs])
        backend.init_forward_metadata_replay_cuda_graph(bs, req_pool_indices, seq_lens, None, None,
                                                        "target_verify", None, None)
        graph.replay() if graph is not None else forward()
        kv = seq_lens[:bs].cpu() + n
        expanded = (kv[:, None] - n + 1 + torch.arange(n)[None, :]).reshape(-1)
        assert int(total.item()) == int(expanded.clamp(max=topk).sum()), "metadata disagrees with SGLang's formula"
        print(f"step {step}: {real_bs} requests, sum of clipped row lengths {int(total.item())}, "
              f"nsa_cu_seqlens_k[-1] = {int(meta.nsa_cu_seqlens_k[-1])}")
    backend._specmeta().check()

    # Eager passes (no graph): fresh buffers sized to the batch, one launch.
    batch = SimpleNamespace(batch_size=3, forward_mode="decode", seq_lens=seq_lens[:3], seq_lens_cpu=seq_lens[:3].cpu(),
                            req_pool_indices=req_pool_indices[:3])
    backend.init_forward_metadata(batch)
    print("eager decode:", backend.forward_metadata)


if __name__ == "__main__":
    main()
