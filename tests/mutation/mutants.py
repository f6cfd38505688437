"""Mutation check of the validation rules that docs/reliability.md section 4
listed as unnoticed: each mutant disables one check, and the test written for
it must then fail (or crash). Each mutant's test must also pass on the
unmutated copy.

    python3 tests/mutation/mutants.py [--scratch DIR] [--only ID,...] [--kinds cpp,binding,python]

The repository is copied to a scratch folder (nothing here is modified), and
per mutant one file is edited, the affected part rebuilt and the test run:

- cpp: the GoogleTest binary of a CPU-only build (-DSPECMETA_CUDA=OFF);
- binding: the nanobind module, built CPU-only with CMake, plus the package's
  Python files, imported through PYTHONPATH;
- python: the package's Python files next to the installed `_specmeta` module.

Mutants marked torch need torch (the GPU machine has it); without it they are
reported as not run, not as survivors. Prints one line per mutant and exits
non-zero when a mutant survives or a test fails without its mutant.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "build-*", "__pycache__", ".pytest_cache")


@dataclass(frozen=True)
class Mutant:
    ident: str  # docs/reliability.md section 4 item (a, b: several checks of one item)
    kind: str  # cpp | binding | python
    path: str  # relative to the repository root
    old: str  # must occur exactly once
    new: str
    test: str  # gtest filter (cpp) or pytest node ids separated by spaces
    needs_torch: bool = False


MUTANTS = [
    Mutant("1", "cpp", "src/common/validate.cpp", "if (needed > 0 && span.data == nullptr) {", "if (false) {",
           "*NullData_*"),
    Mutant("2", "cpp", "src/common/validate.cpp",
           'if (Status s = expect_range(name + " columns", cols, 0, detail::kInt32Max); !s.ok()) return s;', "",
           "*ReqToTokenCols*"),
    Mutant("3", "cpp", "src/common/validate.cpp", "if (rows > 1 && row_stride > (kMaxElements - cols) / (rows - 1)) {",
           "if (false) {", "*ExtentAboveInt64*"),
    Mutant("4", "cpp", "src/common/validate.cpp", "if (rows > 0 && cols > 0 && data == nullptr) {",
           "if (data == nullptr && false) {",  # still reads `data`: -Werror=unused-parameter
           "*NullData_page_table_1:*NullData_real_page_table:*ReqToTokenNullDataEmptyBatch"),
    Mutant("5", "cpp", "src/common/validate.cpp", "    if (t.data == nullptr) return {};\n", "    return {};\n",
           "*UnwantedWithBuffer_*"),
    Mutant("6", "cpp", "src/common/validate.cpp",
           'if (Status s = expect_range("req_to_token rows", t.rows, 0, INT64_MAX / 4); !s.ok()) return s;', "",
           "*ReqToTokenRowsNegative"),
    Mutant("7", "cpp", "src/common/validate.cpp",
           'if (Status s = expect_range("kv_offset", a.kv_offset, 0, int32_max); !s.ok()) return s;', "",
           "*KvOffset*"),
    Mutant("8", "cpp", "src/common/validate.cpp",
           'if (Status s = expect_range("width", a.width, 0, int32_max); !s.ok()) return s;', "",
           "*WidthNegative*:*WidthAboveInt32*"),
    Mutant("9", "cpp", "src/common/validate.cpp",
           "if (Status s = check_set(a, a.extra_out[i], i + 1); !s.ok()) return s;", "", "*Set1*"),
    Mutant("10", "cpp", "src/common/modes.cpp",
           "if (static_cast<int32_t>(m.mode) < 0 || static_cast<int32_t>(m.mode) > static_cast<int32_t>(Mode::kExtend)) {",
           "if (false) {", "*ModeCode_*"),
    Mutant("11", "binding", "bindings/specmeta_ext.cpp", "if (bs < 0 || qo_size < bs || (bs > 0 && qo_ptr == 0)) {",
           "if (false) {", "test_binding_errors.py::test_count_rows_host_rejects_bad_arguments"),
    Mutant("12a", "binding", "bindings/specmeta_ext.cpp", "if (sets < 1) throw", "if (false) throw",
           "test_binding_errors.py::test_plan_rejects_zero_destination_sets"),
    Mutant("12b", "binding", "bindings/specmeta_ext.cpp", "if (at != d.size()) throw", "if (false) throw",
           "test_binding_errors.py::test_plan_rejects_extra_fields"),
    Mutant("14a", "python", "python/specmeta/_arrays.py",
           "        if not x.is_cpu:\n            raise ValueError(f\"{name}: expected a CPU or CUDA tensor",
           "        if False:\n            raise ValueError(f\"{name}: expected a CPU or CUDA tensor",
           "test_metadata_errors.py::test_torch_tensor_on_the_meta_device", needs_torch=True),
    Mutant("14b", "python", "python/specmeta/_arrays.py", "if not (x.is_cuda if device >= 0 else x.is_cpu):",
           "if False:", "test_metadata_errors.py::test_torch_tensor_on_the_meta_device", needs_torch=True),
    Mutant("15", "python", "python/specmeta/_arrays.py", "if info.device != reference.device:", "if False:",
           "test_errors.py::test_arrays_on_different_devices"),
    Mutant("16a", "python", "python/specmeta/_expand.py", "    raise ValueError(\n        \"capacity: required",
           "    return 0\n    raise ValueError(\n        \"capacity: required",
           "test_errors.py::test_capacity_required_for_a_cuda_qo_array"),
    Mutant("16b", "python", "python/specmeta/_stream.py", "    raise TypeError(\n        f\"stream: expected None",
           "    return 0\n    raise TypeError(\n        f\"stream: expected None",
           "test_errors.py::test_stream_of_an_unknown_type_for_cuda_arrays"),
    Mutant("17", "python", "python/specmeta/_metadata.py", "if isinstance(outputs, str):", "if False:",
           "test_metadata_errors.py::test_metadata_empty_outputs_a_string"),
    Mutant("18", "python", "python/specmeta/_metadata.py", "if self.status is None:", "if False:",
           "test_metadata_errors.py::test_metadata_check_without_status"),
    Mutant("19", "python", "python/specmeta/_metadata.py", "if like is not None and framework is None:", "if False:",
           "test_metadata_errors.py::test_metadata_empty_like_not_an_array"),
    Mutant("20", "python", "python/specmeta/_metadata.py", "    if first is None:\n", "    if False:\n",
           "test_metadata_errors.py::test_out_list_with_a_non_metadata_first"),
]


def run(cmd: list, log: Path, env: dict | None = None) -> int:
    with open(log, "a") as f:
        f.write("$ " + " ".join(map(str, cmd)) + "\n")
        f.flush()
        return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode


class Scratch:
    def __init__(self, folder: Path, python: str):
        self.src = folder / "src"
        self.log = folder / "mutants.log"
        self.python = python
        if self.src.exists():
            shutil.rmtree(self.src)
        shutil.copytree(ROOT, self.src, ignore=COPY_IGNORE)
        self.log.write_text("")
        self.gtest = self.src / "build/cpp/tests/cpp/specmeta_tests"
        self.site = folder / "site"
        self.ext_build = self.src / "build/ext"
        self.configured: set = set()

    # -- building
    def build_cpp(self) -> bool:
        if "cpp" not in self.configured:
            cfg = ["cmake", "-S", self.src, "-B", self.src / "build/cpp", "-G", "Ninja", "-DSPECMETA_TESTS=ON",
                   "-DSPECMETA_CUDA=OFF"]
            if run(cfg, self.log):
                return False
            self.configured.add("cpp")
        return run(["cmake", "--build", self.src / "build/cpp", "--target", "specmeta_tests", "-j", "2"], self.log) == 0

    def build_binding(self) -> bool:
        if "binding" not in self.configured:
            nanobind = subprocess.run([self.python, "-m", "nanobind", "--cmake_dir"], capture_output=True, text=True)
            cfg = ["cmake", "-S", self.src, "-B", self.ext_build, "-G", "Ninja", "-DSKBUILD=ON", "-DSPECMETA_CUDA=OFF",
                   f"-Dnanobind_DIR={nanobind.stdout.strip()}", f"-DPython_EXECUTABLE={self.python}",
                   "-DCMAKE_BUILD_TYPE=Release"]
            if nanobind.returncode or run(cfg, self.log):
                return False
            self.configured.add("binding")
        if run(["cmake", "--build", self.ext_build, "--target", "_specmeta", "-j", "2"], self.log):
            return False
        return self.install_package(next(self.ext_build.glob("_specmeta*.so")))

    def install_package(self, module: Path) -> bool:
        """The package's Python files (from the scratch copy) next to `module`, under self.site."""
        target = self.site / "specmeta"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.src / "python/specmeta", target)
        shutil.copy2(module, target / module.name)
        return True

    def installed_module(self) -> Path:
        found = subprocess.run([self.python, "-c", "import specmeta._specmeta as m; print(m.__file__)"],
                               capture_output=True, text=True, cwd=tempfile.gettempdir())
        return Path(found.stdout.strip())

    # -- testing
    def test(self, m: Mutant) -> int:
        if m.kind == "cpp":
            return run([self.gtest, "--gtest_brief=1", f"--gtest_filter={m.test}"], self.log)
        env = dict(os.environ, PYTHONPATH=str(self.site))
        tests = [str(self.src / "tests/python" / t) for t in m.test.split()]
        return run([self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], self.log, env)

    def build(self, kind: str) -> bool:
        if kind == "cpp":
            return self.build_cpp()
        if kind == "binding":
            return self.build_binding()
        return self.install_package(self.installed_module())


def mutate(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    count = text.count(old)
    if count != 1:
        raise SystemExit(f"{path}: the mutant's text occurs {count} times, expected once: {old!r}")
    path.write_text(text.replace(old, new))
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "specmeta-mutants")
    parser.add_argument("--only", default="", help="comma-separated mutant ids (default: all)")
    parser.add_argument("--kinds", default="cpp,binding,python")
    parser.add_argument("--python", default=sys.executable, help="interpreter with specmeta installed")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    kinds = args.kinds.split(",")
    has_torch = subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode == 0
    chosen = [m for m in MUTANTS if (not only or m.ident in only) and m.kind in kinds]
    args.scratch.mkdir(parents=True, exist_ok=True)
    scratch = Scratch(args.scratch, args.python)
    print(f"scratch copy: {scratch.src}; log: {scratch.log}")
    bad = 0
    for kind in kinds:
        group = [m for m in chosen if m.kind == kind]
        runnable = [m for m in group if has_torch or not m.needs_torch]
        for m in group:
            if m not in runnable:
                print(f"{m.ident:>4} {m.kind:8} not run (needs torch)  {m.path}: {m.old.strip()[:60]!r}")
        if not runnable:
            continue
        if not scratch.build(kind):
            print(f"{kind}: the unmutated build failed; see {scratch.log}")
            return 2
        for m in runnable:  # each test passes without its mutant
            if scratch.test(m) != 0:
                print(f"{m.ident:>4} {m.kind:8} BASELINE FAILS  {m.test}")
                bad += 1
        for m in runnable:
            path = scratch.src / m.path
            original = mutate(path, m.old, m.new)
            try:
                built = scratch.build(kind)
                rc = scratch.test(m) if built else None
            finally:
                path.write_text(original)
            if rc is None:
                verdict = "build failed"
                bad += 1
            elif rc == 0:
                verdict = "SURVIVED"
                bad += 1
            else:
                verdict = f"killed (rc {rc}{', crash' if rc < 0 else ''})"
            print(f"{m.ident:>4} {m.kind:8} {verdict:24} {m.path}: {m.old.strip()[:60]!r} -> {m.test}", flush=True)
        scratch.build(kind)  # leave the scratch build unmutated
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
