"""Contract of raytune_app/ray_compat/local_ray.py with the installed Ray: which cluster `ray.init()` without an
address joins. A failure here names the Ray version that changed it. (The end-to-end side, a real
`ray start --head` joined by `tune` without --address, is tests/test_local_ray_e2e.py.)"""

from __future__ import annotations

import ray

from raytune_app.ray_compat.local_ray import address_ray_init_would_join

CHANGED = (f"Ray {ray.__version__}: ray.init() no longer finds a running cluster as "
           "raytune_app/ray_compat/local_ray.py relies on; update that module for this Ray")


def test_without_a_cluster_ray_init_would_start_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert address_ray_init_would_join() is None, CHANGED


def test_the_address_file_ray_start_writes_in_rays_temp_dir_is_joined(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    from ray._private.utils import write_ray_address  # what `ray start --head` calls (ray/scripts/scripts.py)

    (tmp_path / "ray").mkdir()  # `ray start` makes its temp dir first
    write_ray_address("10.0.0.1:6390")  # in its default temp dir: RAY_TMPDIR/ray
    assert (tmp_path / "ray" / "ray_current_cluster").read_text().strip() == "10.0.0.1:6390", CHANGED
    assert address_ray_init_would_join() == "10.0.0.1:6390", CHANGED


def test_ray_address_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6391")  # (not a loopback address: Ray would name this node's IP)
    assert address_ray_init_would_join() == "10.0.0.1:6391", CHANGED
