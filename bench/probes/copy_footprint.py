"""Device-to-device copy bandwidth by size and by footprint (diagnosis: what a copy reaches
where the suite's largest page-table cells run, against the 256 MiB copy the suite takes as
its reference).

Two kinds of copies, each timed with CUDA events around back-to-back calls (median of
REPEATS rounds):
- contiguous: cudaMemcpyAsync of B bytes;
- table: cudaMemcpy2DAsync of the first `live` columns of each of `rows` rows of a table
  `width` int32 columns wide into another such table: the page table's access pattern
  (one row per request, its live prefix), whose footprint is the whole of both tables.

    python3 bench/probes/copy_footprint.py
"""
import statistics

import cupy
import torch

MIB = 1 << 20
REPEATS = 15
CALLS = 5
CONTIGUOUS_MIB = (16, 64, 256, 512, 1024, 2048)
# (rows, width, live columns): the suite's cells of one row per request (decode), contexts
# averaging half the width.
TABLES = ((1024, 4096, 2048), (256, 131072, 65536), (1024, 131072, 65536), (64, 1048576, 524288),
          (256, 1048576, 524288))
D2D = cupy.cuda.runtime.memcpyDeviceToDevice


def per_call_us(fn):
    stream = torch.cuda.current_stream()
    for _ in range(3):
        fn(stream.cuda_stream)
    torch.cuda.synchronize()
    samples = []
    for _ in range(REPEATS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(CALLS):
            fn(stream.cuda_stream)
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e3 / CALLS)
    return statistics.median(samples)


def main():
    print(f"# Copy bandwidth by size and footprint ({torch.cuda.get_device_name()})\n")
    print("| copy | bytes moved (read + write) | footprint | us per call | GB/s |\n|---|---|---|---|---|")
    for mib in CONTIGUOUS_MIB:
        n = mib * MIB
        src = torch.empty(n, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        us = per_call_us(lambda s: cupy.cuda.runtime.memcpyAsync(dst.data_ptr(), src.data_ptr(), n, D2D, s))
        print(f"| contiguous {mib} MiB | {2 * n / 1e6:.0f} MB | {2 * n / 1e6:.0f} MB | {us:.2f} | {2 * n / us / 1e3:.0f} |")
        del src, dst
    for rows, width, live in TABLES:
        src = torch.empty((rows, width), dtype=torch.int32, device="cuda")
        dst = torch.empty_like(src)
        pitch, nbytes = width * 4, live * 4
        us = per_call_us(lambda s: cupy.cuda.runtime.memcpy2DAsync(
            dst.data_ptr(), pitch, src.data_ptr(), pitch, nbytes, rows, D2D, s))
        moved = 2 * rows * nbytes
        print(f"| table {rows} x {width}, {live} live | {moved / 1e6:.0f} MB | {2 * rows * pitch / 1e6:.0f} MB | "
              f"{us:.2f} | {moved / us / 1e3:.0f} |")
        del src, dst
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
