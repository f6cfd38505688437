"""The commit a benchmark's results name: HEAD's short hash, and whether the checked-out files differ from it.

A copy of a working tree may carry an older .git (the lent GPU machines get the tree, not always its history),
so a bare HEAD would name code that did not run; the suffix says so instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"
DIRTY_SUFFIX = " plus uncommitted changes"


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10,
                          check=True).stdout.strip()


def source_commit(directory: Path | str | None = None) -> str:
    """HEAD of the checkout holding `directory` (default: this file's), with DIRTY_SUFFIX when a tracked file
    differs from it, or UNKNOWN when there is no git or no checkout."""
    directory = Path(directory) if directory is not None else Path(__file__).resolve().parent
    try:
        head = _git(directory, "rev-parse", "--short", "HEAD")
        dirty = _git(directory, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return head + (DIRTY_SUFFIX if dirty else "") if head else UNKNOWN
