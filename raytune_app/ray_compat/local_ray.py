"""The Ray cluster that `ray.init()` without an address would join: one started on this machine by
`ray start --head` (its address file in Ray's temp dir), or the one RAY_ADDRESS names.

Why: a local run starts Ray with settings that only a new Ray takes (`object_store_memory`); given to
`ray.init()` while such a cluster runs, Ray raises "When connecting to an existing cluster,
object_store_memory must not be provided". raytune-app must know, before choosing the arguments, whether
`ray.init()` would join rather than start. Public alternatives checked (Ray 2.60): `ray.init(address="auto")`
also joins any other Ray process found on the machine (another user's, or one started with its own
`--temp-dir`), and fails when there is none; RAY_ADDRESS is public but `ray start` does not set it; Ray has
no public function for the address file `ray start` writes. So this asks Ray's own function that `ray.init`
calls with its `address` argument (`ray._private.services.canonicalize_bootstrap_address`), which gives
exactly `ray.init()`'s answer. Checked by tests/test_ray_compat_local_ray.py.
"""

from __future__ import annotations


def address_ray_init_would_join() -> str | None:
    """HOST:PORT of the cluster `ray.init()` (no address) would join, or None when it would start one."""
    import ray

    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError as exc:
        raise RuntimeError(f"Ray {ray.__version__}: {exc}; raytune_app/ray_compat/local_ray.py needs updating "
                           "for this Ray") from None
    return canonicalize_bootstrap_address(None)
