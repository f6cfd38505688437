"""Diagnosis probe (not the library): why does the suite's reference copy lose a fifth of its rate within a run?

In one suite run (bench/results/nvidia-h100-2026-11-27-rowgroups/, I2) the 256 MiB device-to-device copy ran at
3.01 TB/s at the start and a copy of the same size at 2.40 TB/s at the end; bench_metadata's 512 MiB copy runs at
2.43 in its own process. This probe times copies of 64, 256 and 512 MiB (in CUDA graphs, read + write counted)
in one process, with the suite's own measurement (suite_timing.copy_bandwidth_gbps), in phases:
  fresh:            the first thing the process does;
  after allocating: 8 GiB more allocated and written, kept;
  after freeing:    those 8 GiB freed and returned to the driver (torch.cuda.empty_cache);
  after load:       LOAD_S seconds of back-to-back 1 GiB copies (power and temperature);
  after idle:       IDLE_S seconds without work;
  after fragmenting: 4 GiB as 2 MiB allocations, every other one freed and returned to the driver (do
                    scattered physical pages slow a large copy?).
Each phase also records the SM and memory clocks, power, temperatures and throttle reasons (nvidia-smi). If
the allocation phase is the slow one and freeing restores the rate, the process's mapped memory is the cause
(as it may be for the small graphs' slow state, bench/probes/stream_state.cu); if only the load phase is, power.
Found (J0, H100, bench/results/nvidia-h100-2026-11-27-copysizes/): no phase moves the rate. 64 MiB 2.87-2.92 TB/s,
256 MiB 3.00-3.01, 512 MiB 2.43 in every phase, with the clocks at 1980 / 2619 MHz and no throttle reason. The
"drift" was the size: the end-of-run copies had other sizes than the start's 256 MiB, and a copy node in a graph
runs at 2.2-2.4 TB/s at most sizes (bench/probes/copy_sizes.cu).

    python3 bench/probes/copy_drift.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import suite_timing as st  # noqa: E402

SIZES_MIB = (64, 256, 512)
BUDGET_S = 0.3  # per copy size, as the suite's reference probe
EXTRA_GIB = 8
LOAD_S = 30.0
IDLE_S = 10.0
LOAD_BYTES = 1 << 30
FRAGMENT_BYTES = 2 << 20
FRAGMENTS = 2048
SMI_FIELDS = "clocks.sm,clocks.mem,power.draw,temperature.gpu,temperature.memory,clocks_throttle_reasons.active"


def smi():
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"nvidia-smi unavailable: {e}"


def phase(name, clock, rows):
    rows.append([name] + [f"{st.copy_bandwidth_gbps(clock, mib << 20, BUDGET_S) / 1e3:.2f}" for mib in SIZES_MIB]
                + [smi()])


def main():
    rows = []
    clock = st.Clock(torch, True)
    phase("fresh", clock, rows)
    extra = [torch.ones(1 << 30, dtype=torch.uint8, device="cuda") for _ in range(EXTRA_GIB)]
    phase(f"after allocating {EXTRA_GIB} GiB", clock, rows)
    del extra
    torch.cuda.empty_cache()
    phase(f"after freeing the {EXTRA_GIB} GiB", clock, rows)
    src = torch.empty(LOAD_BYTES, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    end = time.perf_counter() + LOAD_S
    while time.perf_counter() < end:
        for _ in range(50):
            dst.copy_(src)
        torch.cuda.synchronize()
    phase(f"after {LOAD_S:.0f} s of 1 GiB copies", clock, rows)
    time.sleep(IDLE_S)
    phase(f"after {IDLE_S:.0f} s idle", clock, rows)
    pieces = [torch.empty(FRAGMENT_BYTES, dtype=torch.uint8, device="cuda") for _ in range(FRAGMENTS)]
    del pieces[::2]
    torch.cuda.empty_cache()
    phase(f"after fragmenting {FRAGMENTS} x {FRAGMENT_BYTES >> 20} MiB", clock, rows)
    print(f"# Device-to-device copy rate by phase ({torch.cuda.get_device_name()}): TB/s read + write, "
          f"suite_timing.copy_bandwidth_gbps with {BUDGET_S} s per size\n")
    print("| phase | " + " | ".join(f"{mib} MiB" for mib in SIZES_MIB) + f" | {SMI_FIELDS} |")
    print("|---|" + "---|" * (len(SIZES_MIB) + 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
