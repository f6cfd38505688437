"""Which kernels of two cubins have the same machine code. A kernel whose code is byte-identical to one a device
run timed and tested runs as that one did, so a change can be traced to the kernels it touches without a GPU.

Compile each tree's translation unit for one architecture, then compare, e.g.:

    nvcc -Iinclude -O3 -DNDEBUG -arch=sm_90 -cubin -std=c++17 -x cu src/cuda/expand_cuda.cu -o new.cubin
    python3 bench/probes/cubin_kernels.py old.cubin new.cubin

Each kernel's .text section is compared by name, the anonymous namespace's per-file hash left out (it follows
the source file's path). A line per kernel: "same", how many bytes differ (a parameter read at another offset
changes a few; new code, thousands), "only in" one cubin, or "renamed" where a kernel found in one cubin alone
has the code of one found in the other alone.
"""

from __future__ import annotations

import re
import struct
import sys

ELF_MAGIC = b"\x7fELF"
ELF_CLASS_64 = 2
ANON_NAMESPACE = re.compile(r"_GLOBAL__N__\w+?_cu_[0-9a-f]{8}")


def text_sections(path: str) -> dict[str, bytes]:
    """{kernel's normalized section name: its code} of a 64-bit little-endian ELF (a cubin)."""
    data = open(path, "rb").read()
    if data[:4] != ELF_MAGIC or data[4] != ELF_CLASS_64:
        raise SystemExit(f"{path}: expected a 64-bit ELF (a cubin), got another file")
    section_table, = struct.unpack_from("<Q", data, 0x28)
    entry_size, count, names_index = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, section_table + i * entry_size) for i in range(count)]
    names_offset = headers[names_index][4]
    sections = {}
    for name_at, _, _, _, offset, size in headers:
        start = names_offset + name_at
        name = data[start:data.index(b"\0", start)].decode()
        if name.startswith(".text."):
            sections[ANON_NAMESPACE.sub("(anonymous)", name[len(".text."):])] = data[offset:offset + size]
    return sections


def compare(old: dict[str, bytes], new: dict[str, bytes]) -> list[str]:
    # A kernel renamed (a template parameter added, say) is matched by its code, in name order.
    unmatched_old: dict[bytes, list[str]] = {}
    for name in sorted(set(old) - set(new)):
        unmatched_old.setdefault(old[name], []).append(name)
    renamed_from = {}
    for name in sorted(set(new) - set(old)):
        if unmatched_old.get(new[name]):
            renamed_from[name] = unmatched_old[new[name]].pop(0)
    gone = set(renamed_from.values())
    lines = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if name in renamed_from:
            lines.append(f"renamed, same code ({len(b)} bytes): {renamed_from[name]} -> {name}")
        elif name in gone:
            continue  # reported under its new name
        elif a is None or b is None:
            lines.append(f"only in {'new' if a is None else 'old'}: {name}")
        elif a == b:
            lines.append(f"same ({len(a)} bytes): {name}")
        else:
            differing = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
            lines.append(f"{differing} bytes differ ({len(a)} -> {len(b)}): {name}")
    return lines


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(compare(text_sections(argv[0]), text_sections(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
