"""Which checkpoints stay once a run has ended: the best N by the metric, and the latest."""

from raytune_app.results.retention import surplus

CKPTS = [f"checkpoint_{i:06d}" for i in range(5)]


def test_the_best_n_and_the_latest_stay():
    scores = dict(zip(CKPTS, [0.5, 0.9, 0.7, 0.8, 0.6]))
    assert surplus(CKPTS, scores, keep=2, mode="max") == ["checkpoint_000000", "checkpoint_000002"]
    assert surplus(CKPTS, scores, keep=2, mode="min") == ["checkpoint_000001", "checkpoint_000002",
                                                          "checkpoint_000003"]


def test_ties_keep_the_newer_and_unscored_checkpoints_go_unless_latest():
    scores = {"checkpoint_000000": 0.9, "checkpoint_000001": 0.9}
    assert surplus(CKPTS, scores, keep=1, mode="max") == ["checkpoint_000000", "checkpoint_000002",
                                                          "checkpoint_000003"]
    assert surplus([], {}, keep=2, mode="max") == []
