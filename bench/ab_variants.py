"""A/B runs of the CUDA kernels: variant builds of the C++ benchmarks, and their comparison.

    python3 bench/ab_variants.py build [--build-dir build/cpp] NAME=SOURCE ...
    python3 bench/ab_variants.py compare DIR NAME,NAME,... [--large]

build: SOURCE is TREE (src/ and include/ as checked out), HEAD (as committed) or a patch, applied
to the checked-out files. A lent GPU machine gets the working tree with an older .git, so there
HEAD names older kernels than TREE. For each variant, the files are copied to BUILD/var/NAME/tree
and the patch is applied there, every variant's before anything compiles (a patch that does not apply
stops the run at once). The library's CUDA translation units are then recompiled from
that tree with the build's own compile commands, swapped into a copy of libspecmeta_core.a, and
specmeta_bench_metadata and specmeta_bench_graph are relinked as BUILD/var/NAME/metadata and
BUILD/var/NAME/graph. The build directory must be configured and built first
(cmake -DSPECMETA_BENCH=ON). Variants then run on the same machine in one session, in turn, each
writing NAME[-large]-rK.json with specmeta_bench_metadata --json (K the round).

compare: for each variant, the best us_median of each case over its rounds. It prints a Markdown
table with each variant's ratio to the first, where above 1 means faster than the first.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

# The translation units of libspecmeta_core that hold CUDA kernels, and the binaries relinked.
CUDA_UNITS = ("expand_cuda", "expansion_only")
BINARIES = ("metadata", "graph")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _commands(build_dir: str) -> tuple[dict, dict]:
    targets = [f"bench/specmeta_bench_{b}" for b in BINARIES]
    lines = subprocess.run(["ninja", "-C", build_dir, "-t", "commands", *targets], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    compiles = {}
    for unit in CUDA_UNITS:
        line = next(c for c in lines if f"-o CMakeFiles/specmeta_core.dir/src/cuda/{unit}.cu.o" in c)
        compiles[unit] = re.sub(r"-MD -MT \S+ -MF \S+ ", "", line)  # no dependency files for variants
    links = {b: next(c for c in lines if f"-o bench/specmeta_bench_{b}" in c) for b in BINARIES}
    return compiles, links


SOURCES = ("TREE", "HEAD")  # besides a patch file


def _export_tree(source: str, tree: str) -> None:
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    if source == "HEAD":
        archive = subprocess.run(["git", "-C", ROOT, "archive", "HEAD", "src", "include"], capture_output=True,
                                 check=True)
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        return
    for directory in ("src", "include"):
        shutil.copytree(os.path.join(ROOT, directory), os.path.join(tree, directory),
                        ignore=shutil.ignore_patterns("__pycache__"))
    if source != "TREE":
        patch = os.path.abspath(source)
        result = subprocess.run(["git", "apply", "--unsafe-paths", f"--directory={os.path.relpath(tree, ROOT)}", patch],
                                cwd=ROOT, capture_output=True, text=True)
        if result.returncode:
            raise PatchError(result.stderr.strip() or f"git apply exited with {result.returncode}")


class PatchError(Exception):
    """A variant's patch does not apply to the checked-out src/ and include/."""


def _tree(build_dir: str, name: str) -> str:
    return os.path.abspath(os.path.join(build_dir, "var", name, "tree"))


def build_variant(build_dir: str, compiles: dict, links: dict, name: str) -> tuple[bool, str]:
    """(whether it built, what to print) for variant `name`, whose tree main() exported."""
    var = os.path.join("var", name)  # relative to the build directory, where the commands run
    tree = _tree(build_dir, name)
    shutil.copy(os.path.join(build_dir, "libspecmeta_core.a"), os.path.join(build_dir, var, "lib.a"))
    for unit, command in compiles.items():
        command = re.sub(rf"-c \S+{unit}\.cu -o \S+", f"-c {tree}/src/cuda/{unit}.cu -o {var}/{unit}.cu.o", command)
        command = command.replace(f"-I{ROOT}/include", f"-I{tree}/include")
        result = subprocess.run(command, shell=True, cwd=build_dir, capture_output=True, text=True)
        if result.returncode:
            return False, f"{name}: compile of {unit} failed\n{result.stderr[-2000:]}"
        subprocess.run(["ar", "r", f"{var}/lib.a", f"{var}/{unit}.cu.o"], cwd=build_dir, check=True,
                       capture_output=True)
    subprocess.run(["ranlib", f"{var}/lib.a"], cwd=build_dir, check=True)
    for binary, command in links.items():
        command = command.replace(" libspecmeta_core.a ", f" {var}/lib.a ")
        command = command.replace(f"-o bench/specmeta_bench_{binary}", f"-o {var}/{binary}")
        result = subprocess.run(command, shell=True, cwd=build_dir, capture_output=True, text=True)
        if result.returncode:
            return False, f"{name}: link of {binary} failed\n{result.stderr[-2000:]}"
    return True, f"{name}: {', '.join(os.path.join(build_dir, var, b) for b in BINARIES)}"


class VariantRuns(NamedTuple):
    best: dict  # case id -> the best us_median over the rounds
    live: dict  # case id -> live bytes
    rounds: int
    verified: bool  # every case of every round had its outputs verified


def best_times(directory: str, name: str, large: bool) -> VariantRuns:
    """One variant's runs (NAME[-large]-rK.json in `directory`), each case at its best round."""
    best: dict = {}
    live: dict = {}
    verified = True
    files = sorted(glob.glob(os.path.join(directory, f"{name}{'-large' if large else ''}-r*.json")))
    for path in files:
        with open(path) as f:
            for case in json.load(f)["cases"]:
                best[case["id"]] = min(best.get(case["id"], float("inf")), case["us_median"])
                live[case["id"]] = case["live_bytes"]
                verified = verified and case.get("verified") is True
    return VariantRuns(best, live, len(files), verified)


def compare_table(directory: str, names: list[str], large: bool) -> str:
    runs = [best_times(directory, name, large) for name in names]
    missing = [name for name, run in zip(names, runs) if run.rounds == 0]
    if missing:
        raise FileNotFoundError(f"no {', '.join(missing)}{'-large' if large else ''}-r*.json in {directory}")
    base, live = runs[0].best, runs[0].live
    header = ["case", "live MB", *(f"{n} us" for n in names), *(f"{names[0]}/{n}" for n in names[1:])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for case, base_us in base.items():
        times = [run.best.get(case) for run in runs]
        if any(t is None for t in times):
            continue  # a case some variant did not run
        cells = [case, f"{live[case] / 1e6:.3f}", *(f"{t:.2f}" for t in times),
                 *(f"{base_us / t:.3f}" for t in times[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    rounds = ", ".join(f"{name} {run.rounds}" for name, run in zip(names, runs))
    footer = f"\n\nRounds per variant: {rounds} (best us_median of each case over them).\n"
    unverified = [name for name, run in zip(names, runs) if not run.verified]
    if unverified:
        footer += f"Outputs not verified (--no-verify) in: {', '.join(unverified)}.\n"
    return "\n".join(lines) + footer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="variant builds of the C++ benchmarks")
    build.add_argument("--build-dir", default="build/cpp")
    build.add_argument("variants", nargs="+", metavar="NAME=SOURCE")
    compare = sub.add_parser("compare", help="a Markdown table of the variants' times")
    compare.add_argument("directory")
    compare.add_argument("names", help="comma-separated, the baseline first")
    compare.add_argument("--large", action="store_true", help="the --large runs")
    args = parser.parse_args(argv)
    if args.command == "compare":
        try:
            print(compare_table(args.directory, args.names.split(","), args.large))
        except FileNotFoundError as e:
            parser.error(str(e))
        return 0
    variants = []
    for spec in args.variants:
        name, _, source = spec.partition("=")
        if not name or not source:
            parser.error(f"variant: expected NAME=SOURCE, got {spec!r}")
        if source not in SOURCES and not os.path.isfile(source):
            parser.error(f"variant {name}: expected TREE, HEAD or a patch file, got {source!r}")
        variants.append((name, source))
    # Every tree first, so a patch that does not apply stops the run before anything compiles (on a lent GPU
    # machine, a failed variant found after the others' builds costs their device time).
    for name, source in variants:
        try:
            _export_tree(source, _tree(args.build_dir, name))
        except PatchError as e:
            parser.error(f"variant {name}: {source} does not apply to the checked-out src/ and include/: {e}")
    compiles, links = _commands(args.build_dir)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda v: build_variant(args.build_dir, compiles, links, v[0]), variants))
    for _, message in results:
        print(message)
    return 0 if all(built for built, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
