"""Temporary stores beside a dataset: removed only when nothing can still be writing them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from temseg.config import load_config
from temseg.simulate import dataset
from temseg.simulate.config import SimulateConfig
from temseg.simulate.dataset import _LOCK_NAME, _host_tag, clean_stale_stores

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "configs" / "simulate_small.yaml"


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _store(parent: Path, *, pid: int, host: str | None = None, lock: bool = True,
           suffix: str = "k2j4x9qa") -> Path:
    """A temporary store as simulate_dataset names it, holding a dataset's files."""
    store = parent / f".sim.zarr.{_host_tag() if host is None else host}-{pid}.{suffix}"
    store.mkdir()
    (store / "zarr.json").write_text("{}")
    (store / "images").mkdir()
    if lock:
        (store / _LOCK_NAME).touch()
    return store


def _flock(path: Path) -> int:
    fcntl = pytest.importorskip("fcntl")
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_host_tag_tells_apart_names_alike_in_their_first_24_characters(monkeypatch):
    tags = []
    for node in ("compute-partition-name-node01", "compute-partition-name-node02"):
        monkeypatch.setattr(dataset.platform, "node", lambda node=node: node)
        tags.append(_host_tag())
    assert tags[0] != tags[1]
    assert all(len(tag) == 12 and int(tag, 16) >= 0 for tag in tags)


def test_a_locked_store_is_kept_though_its_process_looks_dead_here(tmp_path):
    """Another node or container of this host name writes it: its PID means nothing here,
    its lock does; once the lock is free (its writer died) the store goes."""
    store = _store(tmp_path, pid=_dead_pid())
    fd = _flock(store / _LOCK_NAME)
    try:
        removed, kept = clean_stale_stores(tmp_path / "sim.zarr")
    finally:
        os.close(fd)
    assert removed == [] and kept == [(store, "its writer holds its lock and may still be "
                                             "writing it")]
    assert clean_stale_stores(tmp_path / "sim.zarr") == ([store], [])
    assert not store.exists()


def test_a_store_locked_by_another_process_is_kept(tmp_path):
    pytest.importorskip("fcntl")
    store = _store(tmp_path, pid=_dead_pid())
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n", str(store / _LOCK_NAME)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        removed, kept = clean_stale_stores(tmp_path / "sim.zarr")
        assert removed == [] and [p for p, _ in kept] == [store] and "lock" in kept[0][1]
    finally:
        holder.communicate("", timeout=30)
    assert clean_stale_stores(tmp_path / "sim.zarr") == ([store], [])


def test_stores_kept_for_their_files_their_host_or_their_process(tmp_path):
    """Extra user files, another host's tag, a running process, a PID that cannot be one:
    all kept, none deleted, and a store with no lock file goes by its process alone."""
    dead = _dead_pid()
    extra = _store(tmp_path, pid=dead)
    (extra / "notes.txt").write_text("my own")
    other = _store(tmp_path, pid=dead, host="0" * 12 if _host_tag() != "0" * 12 else "1" * 12,
                   suffix="o5")
    running = _store(tmp_path, pid=os.getppid())
    huge = _store(tmp_path, pid=10**30)  # os.kill raises OverflowError
    no_lock = _store(tmp_path, pid=dead, lock=False, suffix="n7")  # older store or a system without flock
    removed, kept = clean_stale_stores(tmp_path / "sim.zarr")
    assert removed == [no_lock] and not no_lock.exists()
    why = {path: reason for path, reason in kept}
    assert set(why) == {extra, other, running, huge}
    assert why[extra] == "holds files a dataset does not"
    assert why[other].startswith("made on another host")
    assert why[running].startswith(f"process {os.getppid()} is running")
    assert why[huge].startswith(f"process {10**30} is running (or cannot be checked)")
    assert (extra / "notes.txt").read_text() == "my own"
    assert all(path.exists() for path in why)


def test_the_writer_holds_its_lock_and_leaves_no_lock_file(tmp_path, monkeypatch):
    """While simulate_dataset writes, a cleaner that takes its PID for dead (another PID
    namespace) still keeps its store; the dataset moved into place holds no lock file."""
    pytest.importorskip("fcntl")
    out = tmp_path / "sim.zarr"
    run_local = dataset._run_local
    seen = []

    def checking(config, folder, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(dataset, "_pid_alive", lambda pid: False)
            seen.append(clean_stale_stores(out))
        return run_local(config, folder, *args, **kwargs)

    monkeypatch.setattr(dataset, "_run_local", checking)
    config = load_config(SimulateConfig, SMALL, size=56, n_structures=1, images_per_structure=1)
    dataset.simulate_dataset(config, out, scheduler="synchronous")
    ((removed, kept),) = seen
    assert removed == [] and len(kept) == 1 and "holds its lock" in kept[0][1]
    assert not (out / _LOCK_NAME).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.zarr"]
