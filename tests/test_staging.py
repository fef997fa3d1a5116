"""Runs of one experiment name started together on one machine are spaced out, so that Ray stages them in
folders of their own (run/staging.py)."""

from __future__ import annotations

import json
import time
import uuid

from raytune_app.run.staging import GAP_S, space_out_start


def test_same_named_starts_on_one_machine_are_spaced_out():
    name = f"spaced-{uuid.uuid4().hex}"
    started = time.time()
    assert space_out_start(name) == 0.0
    space_out_start(name)
    assert time.time() - started >= GAP_S
    assert space_out_start(f"other-{uuid.uuid4().hex}") == 0.0  # other names do not wait


def test_the_shared_record_keeps_only_recent_starts(tmp_path, monkeypatch):
    record = tmp_path / "starts.json"
    monkeypatch.setattr("raytune_app.run.staging.STARTS", record)
    record.write_text(json.dumps({"old": time.time() - 60, "recent": time.time(), "broken": "x"}))
    assert space_out_start("new") == 0.0
    assert sorted(json.loads(record.read_text())) == ["new", "recent"]
    record.write_text("not json")  # a damaged record never stops a run
    assert space_out_start("new") == 0.0 and list(json.loads(record.read_text())) == ["new"]
