"""specmeta: attention metadata for speculative decoding, built in one launch.

CPU arrays (NumPy, CPU torch tensors) run the CPU backend; CUDA arrays (torch,
CuPy) run the CUDA backend. Both give bit-identical results.
"""

from ._expand import NO_MAX_QO, expand, expand_seqlens
from ._metadata import MAX_DESTINATION_SETS, MODES, OUTPUTS, Builder, Metadata, build_metadata
from ._specmeta import HAS_CUDA, cuda_available
from ._status import STATUS_BITS, describe_status

__all__ = [
    "Builder",
    "Metadata",
    "build_metadata",
    "expand",
    "expand_seqlens",
    "cuda_available",
    "describe_status",
    "HAS_CUDA",
    "MAX_DESTINATION_SETS",
    "MODES",
    "NO_MAX_QO",
    "OUTPUTS",
    "STATUS_BITS",
]
__version__ = "0.1.0"
