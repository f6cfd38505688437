"""Boundary checks for arrays: dtype, rank, device, contiguity, writability.

Reads (pointer, element type, length, device) off torch tensors, NumPy arrays
and CuPy arrays without importing any of them, and without DLPack: a torch
tensor's ``__dlpack__`` costs microseconds, more than a kernel launch.
Sizes, relations between arguments and aliasing are checked by the C++ core.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from . import _specmeta

HOST = _specmeta.HOST_DEVICE  # `device` of arrays in host memory
INT32 = _specmeta.INT32
INT64 = _specmeta.INT64

_TYPE_NAMES = {INT32: "int32", INT64: "int64"}


class ArrayInfo(NamedTuple):
    ptr: int
    itype: int  # INT32 or INT64
    size: int
    device: int  # HOST, or the CUDA device ordinal
    framework: str  # "torch", "numpy" or "cupy"


def array_info(ptr: int, itype: int, size: int, device: int, framework: str) -> ArrayInfo:
    # Half the cost of ArrayInfo(...), whose generated __new__ is Python code.
    return _new_tuple(ArrayInfo, (ptr, itype, size, device, framework))


_info = array_info


_new_tuple = tuple.__new__


_CODES = {"int32": INT32, "int64": INT64}
_dtype_codes: dict = {}  # dtype object (torch, NumPy, CuPy) -> INT32/INT64/None; a dict hit is ~40 ns


def _dtype_code(name: str, dtype: Any, allowed: tuple[int, ...]) -> int:
    code = _dtype_codes.get(dtype, -1)
    if code == -1:
        code = _dtype_codes[dtype] = _CODES.get(str(dtype).removeprefix("torch."))
    if code not in allowed:
        expected = " or ".join(_TYPE_NAMES[c] for c in allowed)
        raise TypeError(f"{name}: expected dtype {expected}, got {str(dtype).removeprefix('torch.')}")
    return code


def _check_rank_and_stride(name: str, shape: tuple, unit_stride: bool) -> int:
    if len(shape) != 1:
        raise ValueError(f"{name}: expected a 1-D array, got {len(shape)}-D with shape {tuple(shape)}")
    if not unit_stride and shape[0] > 1:
        raise ValueError(f"{name}: expected a contiguous array, got a strided view")
    return int(shape[0])


def _describe_torch(name: str, x: Any, allowed: tuple[int, ...], writable: bool) -> ArrayInfo:
    # Only C-level tensor methods on the way through: this runs on every eager call.
    code = _dtype_code(name, x.dtype, allowed)
    if x.dim() != 1 or not x.is_contiguous():
        _check_rank_and_stride(name, tuple(x.shape), x.is_contiguous())
    if writable and x.requires_grad:
        raise ValueError(f"{name}: expected a tensor that does not require grad, got requires_grad=True")
    device = x.get_device()
    if device < 0:
        if not x.is_cpu:
            raise ValueError(f"{name}: expected a CPU or CUDA tensor, got device {x.device}")
        device = HOST
    elif not x.is_cuda:  # another accelerator's device index is no CUDA ordinal
        raise ValueError(f"{name}: expected a CPU or CUDA tensor, got device {x.device}")
    return _info(x.data_ptr(), code, x.numel(), device, "torch")


def _describe_numpy(name: str, x: Any, allowed: tuple[int, ...], writable: bool) -> ArrayInfo:
    code = _dtype_code(name, x.dtype, allowed)
    size = _check_rank_and_stride(name, x.shape, x.flags.c_contiguous)
    if writable and not x.flags.writeable:
        raise ValueError(f"{name}: expected a writable array, got a read-only one")
    # Through the buffer protocol: x.ctypes.data costs over a microsecond.
    return _info(_specmeta.buffer_address(x), code, size, HOST, "numpy")


def _describe_cupy(name: str, x: Any, allowed: tuple[int, ...], writable: bool) -> ArrayInfo:
    del writable  # CuPy arrays are always writable
    code = _dtype_code(name, x.dtype, allowed)
    size = _check_rank_and_stride(name, x.shape, x.flags.c_contiguous)
    return _info(x.data.ptr, code, size, x.device.id, "cupy")


def framework_of(x: Any) -> str | None:
    """'torch', 'numpy', 'cupy' or None, without importing any of them."""
    cls = type(x)
    framework = _FRAMEWORK_OF_TYPE.get(cls, "")
    if framework == "":
        framework = _FRAMEWORK_OF_TYPE[cls] = _classify(cls)
    return framework


def _classify(cls: type) -> str | None:
    module = cls.__module__.split(".", 1)[0]
    if module == "torch" and "torch" in sys.modules and issubclass(cls, sys.modules["torch"].Tensor):
        global _torch_tensor_type, _torch_int32, _torch_int64
        torch = sys.modules["torch"]
        _torch_tensor_type, _torch_int32, _torch_int64 = torch.Tensor, torch.int32, torch.int64
        return "torch"
    if module in ("numpy", "cupy") and cls.__name__ == "ndarray":
        return module
    return None


_FRAMEWORK_OF_TYPE: dict[type, str | None] = {}
_DESCRIBERS = {"torch": _describe_torch, "numpy": _describe_numpy, "cupy": _describe_cupy}


def describe(name: str, x: Any, *, allowed: tuple[int, ...] = (INT32, INT64), writable: bool = False) -> ArrayInfo:
    """Checks one array argument and returns what the C++ core needs of it."""
    framework = framework_of(x)
    if framework is None:
        raise TypeError(
            f"{name}: expected a torch.Tensor, numpy.ndarray or cupy.ndarray, got {type(x).__module__}.{type(x).__name__}"
        )
    return _DESCRIBERS[framework](name, x, allowed, writable)


def cuda_output_fields(x: Any, device: int) -> tuple[int, int] | None:
    """(pointer, length) of a writable contiguous 1-D int32 torch tensor on
    CUDA device `device`, read with the fewest tensor calls; None for anything
    else (the caller then runs the full checks of `describe`, which raise the
    error or accept the less common cases: NumPy, CuPy, CPU tensors,
    subclasses). The build_metadata path calls this once per output, on every
    eager call."""
    # No requires_grad test: torch refuses it on integer tensors. A stride of
    # (1,) is 1-D and contiguous (a one-element tensor with another stride
    # takes the full path).
    if (
        type(x) is _torch_tensor_type
        and x.dtype is _torch_int32
        and x.stride() == _UNIT_STRIDE
        and x.get_device() == device
        and device >= 0
        and x.is_cuda  # another accelerator's device index is no CUDA ordinal
    ):
        return (x.data_ptr(), x.numel())
    return None


_UNIT_STRIDE = (1,)


def torch_cuda_input(x: Any) -> ArrayInfo | None:
    """describe()'s result for a contiguous 1-D int32 or int64 torch tensor on
    a CUDA device, with the fewest tensor calls; None for anything else (then
    describe() decides). The first array of an eager call fixes the device."""
    if type(x) is not _torch_tensor_type:
        return None
    dtype = x.dtype
    code = INT32 if dtype is _torch_int32 else INT64 if dtype is _torch_int64 else None
    device = x.get_device()
    if code is not None and device >= 0 and x.is_cuda and x.dim() == 1 and x.is_contiguous():
        return _new_tuple(ArrayInfo, (x.data_ptr(), code, x.numel(), device, "torch"))
    return None


def cuda_table_fields(x: Any, device: int) -> tuple[int, int, int, int] | None:
    """(pointer, rows, columns, row stride) of a writable non-empty int32
    torch table on CUDA device `device` whose rows are contiguous; None for
    anything else (then `describe_table` decides), as cuda_output_fields."""
    if type(x) is not _torch_tensor_type or x.dtype is not _torch_int32 or x.dim() != 2:
        return None
    rows, cols = x.shape
    row_stride, col_stride = x.stride()
    if (
        rows > 1
        and cols > 1
        and col_stride == 1
        and row_stride >= cols
        and x.get_device() == device
        and device >= 0
        and x.is_cuda
    ):
        return (x.data_ptr(), rows, cols, row_stride)
    return None


# Set when the first torch tensor is classified: exact-type checks cost less
# than isinstance and exclude subclasses, which take the full path.
_torch_tensor_type: Any = None
_torch_int32: Any = None
_torch_int64: Any = None


def same_device(name: str, info: ArrayInfo, reference_name: str, reference: ArrayInfo) -> None:
    if info.device != reference.device:
        raise ValueError(
            f"{name}: expected an array on the device of {reference_name} ({device_name(reference.device)}), "
            f"got one on {device_name(info.device)}"
        )


def device_name(device: int) -> str:
    return "cpu" if device == HOST else f"cuda:{device}"


def new_int32(like: Any, make: str, *args: Any) -> Any:
    """The framework's `make` ("zeros", "empty" or "arange") of int32 elements, in the framework and
    on the device of `like`: torch, CuPy, or NumPy (also when `like` is None)."""
    framework = None if like is None else framework_of(like)
    if framework == "torch":
        torch = sys.modules["torch"]
        return getattr(torch, make)(*args, dtype=torch.int32, device=like.device)
    if framework == "cupy":
        cupy = sys.modules["cupy"]
        with like.device:
            return getattr(cupy, make)(*args, dtype=cupy.int32)
    numpy = sys.modules.get("numpy") or __import__("numpy")
    return getattr(numpy, make)(*args, dtype=numpy.int32)


class TableInfo(NamedTuple):
    ptr: int
    rows: int
    cols: int
    row_stride: int  # elements
    device: int
    framework: str


def describe_table(name: str, x: Any, *, writable: bool = False) -> TableInfo:
    """Checks a 2-D int32 table (req_to_token, a page table): rows may be
    padded (row stride >= columns), each row must be contiguous."""
    framework = framework_of(x)
    if framework is None:
        raise TypeError(
            f"{name}: expected a torch.Tensor, numpy.ndarray or cupy.ndarray, got {type(x).__module__}.{type(x).__name__}"
        )
    _dtype_code(name, x.dtype, (INT32,))
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array, got {len(shape)}-D with shape {shape}")
    rows, cols = int(shape[0]), int(shape[1])
    if framework == "torch":
        strides = tuple(x.stride())
        if writable and x.requires_grad:
            raise ValueError(f"{name}: expected a tensor that does not require grad, got requires_grad=True")
        device = x.get_device()
        if not (x.is_cuda if device >= 0 else x.is_cpu):
            raise ValueError(f"{name}: expected a CPU or CUDA tensor, got device {x.device}")
        device = HOST if device < 0 else device
        ptr = x.data_ptr()
    else:
        strides = tuple(s // x.itemsize for s in x.strides)
        if framework == "numpy":
            if writable and not x.flags.writeable:
                raise ValueError(f"{name}: expected a writable array, got a read-only one")
            device, ptr = HOST, x.__array_interface__["data"][0]
        else:
            device, ptr = x.device.id, x.data.ptr
    # Strides of a dimension of extent 0 or 1 mean nothing (NumPy may report 0).
    if rows * cols == 0:
        return TableInfo(ptr, rows, cols, cols, device, framework)
    row_stride = strides[0] if rows > 1 else cols
    if (cols > 1 and strides[1] != 1) or row_stride < cols:
        raise ValueError(
            f"{name}: expected rows of contiguous elements (strides (>= {cols}, 1)), got strides {strides}"
        )
    return TableInfo(ptr, rows, cols, row_stride, device, framework)
