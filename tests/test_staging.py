"""Runs of one experiment name started together on one machine are spaced out, so that Ray stages them in
folders of their own (run/staging.py); the record of starts is each user's own, in a private folder
(user_state.py)."""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
import uuid

import pytest

from raytune_app.errors import RunFailed
from raytune_app.run.staging import GAP_S, space_out_start, starts_file
from raytune_app.user_state import private_dir


@pytest.fixture
def temp(tmp_path, monkeypatch):
    """A temp dir of this test's own, without a runtime dir: private folders go under it."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_same_named_starts_on_one_machine_are_spaced_out(temp):
    name = f"spaced-{uuid.uuid4().hex}"
    started = time.time()
    assert space_out_start(name) == 0.0
    space_out_start(name)
    assert time.time() - started >= GAP_S
    assert space_out_start(f"other-{uuid.uuid4().hex}") == 0.0  # other names do not wait


def test_the_record_keeps_only_recent_starts(temp):
    record = starts_file()
    record.write_text(json.dumps({"old": time.time() - 60, "recent": time.time(), "broken": "x"}))
    assert space_out_start("new") == 0.0
    assert sorted(json.loads(record.read_text())) == ["new", "recent"]
    record.write_text("not json")  # a damaged record never stops a run
    assert space_out_start("new") == 0.0 and list(json.loads(record.read_text())) == ["new"]


def test_the_record_of_starts_is_in_a_folder_private_to_its_user(temp, monkeypatch):
    space_out_start("x")
    record = starts_file()
    assert record.exists() and record.parent.parent == temp
    folder = os.lstat(record.parent)
    assert folder.st_uid == os.getuid() and stat.S_IMODE(folder.st_mode) == 0o700
    monkeypatch.setattr(os, "getuid", lambda: 4242)  # another user of the machine: a folder of their own (which
    with pytest.raises(RunFailed, match=f"{temp}/raytune-app-4242: .* belongs to uid \\d+, not to you \\(uid 4242\\)"):  # this test's
        private_dir()  # real user creates, so it is refused as not 4242's)


def test_the_runtime_dir_is_used_when_there_is_one(temp, monkeypatch):
    runtime = temp / "run-user"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert starts_file().parent == runtime / "raytune-app"


@pytest.mark.parametrize("planted", ["other user", "open to all", "link"])
def test_a_planted_or_open_folder_is_never_used_and_the_run_starts_anyway(temp, monkeypatch, caplog, planted):
    """Another user may create the folder first, or one that is open to all, or a link to elsewhere: it is
    refused (the record is not read nor written there) and the run starts without spacing, with a warning."""
    elsewhere = temp / "elsewhere"
    elsewhere.mkdir()
    user = os.getuid() + 1 if planted == "other user" else os.getuid()  # then this test plays another user
    monkeypatch.setattr(os, "getuid", lambda: user)
    folder = temp / f"raytune-app-{user}"
    if planted == "link":
        folder.symlink_to(elsewhere)
    else:
        folder.mkdir(mode=0o700)
        if planted == "open to all":
            folder.chmod(0o777)
    with pytest.raises(RunFailed, match="private folder"):
        private_dir()
    with caplog.at_level(logging.WARNING):
        assert space_out_start("x") == 0.0
    assert "private folder" in caplog.text
    assert not list(folder.iterdir()) and not list(elsewhere.iterdir())
