"""The run record: what made an output, down to the source commit of a development install."""

import json
import subprocess
from pathlib import Path

import pytest

from temseg.record import source_commit, write_record

ROOT = Path(__file__).resolve().parents[1]


def test_a_record_names_the_command_folder_versions_and_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = json.loads(write_record(tmp_path, seed=3, config={"a": 1}).read_text())
    assert record["seed"] == 3 and record["config"] == {"a": 1}
    assert record["cwd"] == str(tmp_path) and record["versions"]["temseg"]
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no source commit to record")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert record["temseg_source"]["commit"] == head == source_commit()["commit"]
    assert isinstance(record["temseg_source"]["dirty"], bool)


def test_no_git_no_source(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert source_commit() is None
