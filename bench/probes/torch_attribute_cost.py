"""Host cost of single torch tensor calls on a CUDA tensor, in ns per call: what reading an
array's geometry costs, attribute by attribute (experiments/host-path.md, J1).

    python3 bench/probes/torch_attribute_cost.py
"""

import torch
from host_timing import per_call_us


def per_call_ns(fn):
    return per_call_us(fn, n=20000, reps=7, warmup=2000) * 1e3


def main():
    x = torch.zeros(256, dtype=torch.int32, device="cuda")
    table = torch.zeros(64, 8192, dtype=torch.int32, device="cuda")
    calls = {
        "empty lambda": lambda: None,
        "type(x) is torch.Tensor": lambda: type(x) is torch.Tensor,
        "x.dtype": lambda: x.dtype,
        "x.stride()": lambda: x.stride(),
        "x.stride(0)": lambda: x.stride(0),
        "x.is_contiguous()": lambda: x.is_contiguous(),
        "x.dim()": lambda: x.dim(),
        "x.ndim": lambda: x.ndim,
        "x.get_device()": lambda: x.get_device(),
        "x.is_cuda": lambda: x.is_cuda,
        "x.device": lambda: x.device,
        "x.data_ptr()": lambda: x.data_ptr(),
        "x.numel()": lambda: x.numel(),
        "len(x)": lambda: len(x),
        "x.shape": lambda: x.shape,
        "x.size()": lambda: x.size(),
        "x.nbytes": lambda: x.nbytes,
        "x._version": lambda: x._version,
        "x.requires_grad": lambda: x.requires_grad,
        "torch.Tensor.data_ptr(x)": lambda: torch.Tensor.data_ptr(x),
        "table.shape": lambda: table.shape,
        "table.stride()": lambda: table.stride(),
        "x.__cuda_array_interface__": lambda: x.__cuda_array_interface__,
        "torch._C._cuda_getCurrentRawStream(0)": lambda: torch._C._cuda_getCurrentRawStream(0),
        "x.add_(1) (a stock launch)": lambda: x.add_(1),
    }
    print(f"| torch call ({torch.cuda.get_device_name()}) | ns per call |\n|---|---|")
    for name, fn in calls.items():
        print(f"| {name} | {per_call_ns(fn):.0f} |")


if __name__ == "__main__":
    main()
