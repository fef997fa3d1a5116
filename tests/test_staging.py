"""Runs of one experiment name started together on one machine are spaced out, so that Ray stages them in
folders of their own (run/staging.py)."""

from __future__ import annotations

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
