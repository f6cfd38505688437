"""bench/source_commit.py: the commit benchmark results name, in throwaway git repositories."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from source_commit import DIRTY_SUFFIX, UNKNOWN, source_commit  # noqa: E402
from throwaway_git import commit_everything, git  # noqa: E402


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "kernel.cu").write_text("first\n")
    commit_everything(tmp_path, "first")
    return tmp_path


def test_a_clean_checkout_is_named_by_its_head(repo):
    assert source_commit(repo) == git(repo, "rev-parse", "--short", "HEAD")


def test_a_tracked_file_changed_since_head_is_said(repo):
    head = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "kernel.cu").write_text("second\n")
    assert source_commit(repo) == head + DIRTY_SUFFIX


def test_untracked_files_do_not_count(repo):
    (repo / "results.json").write_text("{}\n")
    assert source_commit(repo) == git(repo, "rev-parse", "--short", "HEAD")


def test_a_tree_copied_over_an_older_history_is_said(repo):
    # What a lent GPU machine may see: the newest files, the .git of an earlier commit.
    old = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "kernel.cu").write_text("second\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "reset", "-q", "--soft", old)
    assert source_commit(repo) == old + DIRTY_SUFFIX


def test_a_directory_outside_any_checkout_is_unknown(tmp_path):
    assert source_commit(tmp_path) == UNKNOWN
