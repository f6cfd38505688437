"""Throwaway git repositories for the tests of the benchmark tools that read a checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS` with a fixed identity (no global config needed); its stripped stdout."""
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def commit_everything(repo: Path, message: str) -> None:
    """Makes `repo` a repository whose one commit holds every file now in it."""
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
