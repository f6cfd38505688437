"""The CUDA stream a call runs on, as a raw cudaStream_t integer.

nanobind does not see PyTorch's or CuPy's current stream, so this layer
passes it explicitly; the C++ core never falls back to the legacy default
stream on its own.
"""

from __future__ import annotations

import sys
from typing import Any

from ._arrays import HOST


_raw_torch_stream = None


def _torch_current_stream(device: int) -> int:
    # torch._C._cuda_getCurrentRawStream gives the value of
    # torch.cuda.current_stream(device).cuda_stream without building a Stream
    # object (about a microsecond per call); looked up once.
    global _raw_torch_stream
    if _raw_torch_stream is None:
        torch = sys.modules["torch"]
        _raw_torch_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None) or (
            lambda d: torch.cuda.current_stream(d).cuda_stream
        )
    return _raw_torch_stream(device)


def resolve_stream(stream: Any, framework: str, device: int) -> int:
    if device == HOST:
        if stream is not None:
            raise ValueError(f"stream: expected None for arrays in host memory, got {stream!r}")
        return 0
    if stream is None:
        if framework == "torch":
            return _torch_current_stream(device)
        return sys.modules["cupy"].cuda.get_current_stream().ptr
    if isinstance(stream, int) and not isinstance(stream, bool):
        return stream
    for attribute in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
        handle = getattr(stream, attribute, None)
        if isinstance(handle, int):
            return handle
    raise TypeError(
        f"stream: expected None, an int cudaStream_t, a torch.cuda.Stream or a cupy.cuda.Stream, "
        f"got {type(stream).__name__}"
    )
