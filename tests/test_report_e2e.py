"""`report`, `best --export` and `evaluate` on experiments made by real `tune` runs on the shared Ray."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from browser import Page
from conftest import ENV, histories, run_cli, start_cli, write_experiment
from synthetic import asha_like

SPACE = {"lr": {"loguniform": [3e-3, 1e-1]}, "hidden_size": {"choice": [16, 64]},
         "activation": {"choice": ["relu", "tanh"]}}


def make_data(path: Path) -> dict[str, np.ndarray]:
    """Explicit train/val/test splits of raw features far from standardised (offsets, scales), string labels."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 6)) * np.array([1, 10, 100, 0.1, 5, 1]) + np.array([0, 50, -300, 2, 0, 7])
    score = X[:, 0] + (X[:, 1] - 50) / 10 - (X[:, 2] + 300) / 100 + rng.normal(scale=0.5, size=700)
    y = np.where(score < -0.8, "low", np.where(score < 0.8, "mid", "high"))
    splits = {"X_train": X[:400], "y_train": y[:400], "X_val": X[400:550], "y_val": y[400:550],
              "X_test": X[550:], "y_test": y[550:]}
    np.savez(path, **splits)
    return splits


@pytest.fixture(scope="module")
def runs(ray_address, tmp_path_factory):
    """Two small experiments on the same data, run side by side: ASHA + HyperOpt, and FIFO + random search."""
    tmp = tmp_path_factory.mktemp("report")
    splits = make_data(tmp / "data.npz")
    asha = write_experiment(tmp / "cmp_asha.yaml", name="cmp_asha", num_samples=4, max_epochs=3, max_concurrent=1,
                            data={"dataset": "data.npz"}, search={"name": "hyperopt", "n_initial_points": 2},
                            space=SPACE)
    rand = write_experiment(tmp / "cmp_random.yaml", name="cmp_random", num_samples=3, max_epochs=2, max_concurrent=1,
                            data={"dataset": "data.npz"}, scheduler="fifo", search="random", space=SPACE)
    procs = [start_cli("tune", spec, "--storage", tmp / "runs", "--address", ray_address, "--seed", "1",
                       log=tmp / f"{spec.stem}.log") for spec in (asha, rand)]
    for proc, spec in zip(procs, (asha, rand)):
        assert proc.wait(timeout=240) == 0, (tmp / f"{spec.stem}.log").read_text()[-3000:]
    return {"tmp": tmp, "asha": tmp / "runs" / "cmp_asha", "random": tmp / "runs" / "cmp_random",
            "splits": splits}


def summary_of(exp: Path) -> dict:
    return json.loads((exp / "summary.json").read_text())


def statuses(exp: Path) -> dict[str, str]:
    with (exp / "trials.csv").open() as f:
        return {r["trial_id"]: r["status"] for r in csv.DictReader(f)}


def check_rows(rows: list[dict], exp: Path, name: str) -> None:
    """Each row's numbers against Ray's own result.json, its status against trials.csv."""
    hist, status = histories(exp), statuses(exp)
    mine = [r for r in rows if r["experiment"] == name]
    assert sorted(r["trial_id"] for r in mine) == sorted(hist)
    for r in mine:
        h = hist[r["trial_id"]]
        assert int(r["epochs"]) == len(h) == h[-1]["epoch"]
        assert float(r["best_val_accuracy"]) == pytest.approx(max(x["val_accuracy"] for x in h))
        assert float(r["last_val_accuracy"]) == pytest.approx(h[-1]["val_accuracy"])
        assert r["status"] == status[r["trial_id"]]
        assert float(r["config/lr"]) == pytest.approx(h[0]["config"]["lr"])
        assert str(r["config/activation"]) == h[0]["config"]["activation"]
        assert int(float(r["config/hidden_size"])) == h[0]["config"]["hidden_size"]


def test_json_report_of_one_experiment(runs):
    exp = runs["asha"]
    out = run_cli("report", exp, "--format", "json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    summary = summary_of(exp)
    (info,) = report["experiments"]
    assert (info["name"], info["metric"], info["mode"], info["num_trials"]) == ("cmp_asha", "val_accuracy", "max", 4)
    assert info["trials_by_status"] == summary["trials_by_status"]
    assert info["best"] == {"trial_id": summary["best"]["trial_id"], "val_accuracy": summary["best"]["val_accuracy"],
                            "test_accuracy": summary["best"]["test_accuracy"]}
    rows = report["trials"]
    check_rows(rows, exp, "cmp_asha")
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    best = [r["best_val_accuracy"] for r in rows]
    assert best == sorted(best, reverse=True)  # mode max: best first
    assert best[0] == pytest.approx(summary["best"]["val_accuracy"])
    assert rows[0]["trial_id"] == summary["best"]["trial_id"]  # the same best trial as the headline's


def test_csv_report_ranks_two_experiments_together(runs):
    out = run_cli("report", runs["asha"], runs["random"], "--format", "csv")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 7 and {r["experiment"] for r in rows} == {"cmp_asha", "cmp_random"}
    check_rows(rows, runs["asha"], "cmp_asha")
    check_rows(rows, runs["random"], "cmp_random")
    assert [int(r["rank"]) for r in rows] == list(range(1, 8))
    best = [float(r["best_val_accuracy"]) for r in rows]
    assert best == sorted(best, reverse=True)


def test_table_and_markdown_show_the_values(runs):
    hist = {**histories(runs["asha"]), **histories(runs["random"])}
    for fmt in ("table", "markdown"):
        out = run_cli("report", runs["asha"], runs["random"], "--format", fmt)
        assert out.returncode == 0, out.stderr[-3000:]
        lines = out.stdout.splitlines()
        heads, body = lines[:lines.index("")], lines[lines.index("") + 1:]
        summary = summary_of(runs["asha"])
        assert any(f"test_accuracy = {summary['best']['test_accuracy']:.4g}" in line for line in heads)
        for trial_id, h in hist.items():
            (line,) = [x for x in body if trial_id in x]
            best, lr = max(x["val_accuracy"] for x in h), h[0]["config"]["lr"]
            assert f"{best:.4g}" in line and f"{lr:.4g}" in line and h[0]["config"]["activation"] in line
        if fmt == "markdown":
            table = [x for x in body if x.startswith("|")]
            assert re.fullmatch(r"\| (-+:? \| )+-+:? \|", table[1]) and len(table) == 2 + len(hist)
            assert table[0].startswith("| experiment | rank | trial_id | status | epochs | best_val_accuracy |")


def test_top_sort_and_bad_input(runs, tmp_path):
    out = run_cli("report", runs["asha"], runs["random"], "--format", "json", "--top", "2", "--sort", "val_loss")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)["trials"]
    hist = {**histories(runs["asha"]), **histories(runs["random"])}
    assert len(rows) == 4 and sorted(r["experiment"] for r in rows) == ["cmp_asha"] * 2 + ["cmp_random"] * 2
    losses = [r["best_val_loss"] for r in rows]
    assert losses == sorted(losses)  # a loss: lowest first
    for r in rows:
        assert r["best_val_loss"] == pytest.approx(min(x["val_loss"] for x in hist[r["trial_id"]]))
    for exp in ("asha", "random"):  # the 2 lowest of each experiment
        lowest = sorted(min(x["val_loss"] for x in histories(runs[exp])[t]) for t in histories(runs[exp]))[:2]
        assert sorted(r["best_val_loss"] for r in rows if r["experiment"] == f"cmp_{exp}") == pytest.approx(lowest)

    bad = run_cli("report", runs["asha"], tmp_path, "--sort", "val_los")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        f"{tmp_path}: not a raytune-app experiment folder (no raytune_app_spec.json)")
    bad = run_cli("report", runs["asha"], "--sort", "val_los")
    assert bad.returncode == 2 and "--sort: 'val_los' is not a metric" in bad.stderr and "'val_loss'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_finished_trials_end_their_hparams_session(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import metadata as hp_metadata

    for trial_dir in sorted(runs["asha"].glob("trial_*")):
        acc = EventAccumulator(str(trial_dir))
        acc.Reload()
        content = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)
        end = hp_metadata.parse_session_end_info_plugin_data(content[hp_metadata.SESSION_END_INFO_TAG])
        assert end.status == api_pb2.STATUS_SUCCESS and end.end_time_secs > 0  # completed or stopped early


# per plot: its kind and the experiments it is drawn for ("all": one figure for every experiment)
PLOT_KINDS = ("learning-curves", "parallel-coordinates", "slices")
HOVER = """(() => {
    const gd = document.querySelector(`figure[data-kind="learning-curves"][data-experiment="${NAME}"] .js-plotly-plot`);
    Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 0}]);
    return [gd.data[0].name, gd.querySelector('.hoverlayer').textContent];
})()"""


def test_html_report_renders_offline_in_headless_chromium(runs, tmp_path):
    """Two real experiments and a synthetic 40-trial one (enough for importance; early-stopped, failed and
    time-budget trials) in one page, opened with the network off."""
    synthetic = asha_like(tmp_path / "synthetic", 40)
    page = tmp_path / "report.html"
    out = run_cli("report", runs["asha"], runs["random"], synthetic, "--html", page)
    assert out.returncode == 0, out.stderr[-3000:]
    text = page.read_text()
    assert "<script" in text and not re.search(r"<script[^>]*\bsrc=", text)  # plotly.js inline, no CDN

    names = ["cmp_asha", "cmp_random", "synthetic"]
    with Page(page.as_uri()) as browser:
        plots = browser.evaluate("[...document.querySelectorAll('figure.plot')].map(f => "
                                 "[f.dataset.kind, f.dataset.experiment, f.querySelectorAll('.main-svg').length])")
        # every plot drawn by plotly.js (its SVG layers exist), and every plot there
        assert all(layers >= 2 for _, _, layers in plots), plots
        kinds = {(kind, name) for kind, name, _ in plots}
        assert ("best-so-far", ", ".join(names)) in kinds
        assert {(k, n) for k in PLOT_KINDS for n in names} <= kinds
        assert ("importance", "synthetic") in kinds  # 4 and 3 trials are too few: a note says so instead
        assert text.count("Not enough to estimate importance") == 2
        # hovering the best trial's curve names it and shows its config and value
        best = summary_of(synthetic)["best"]
        name, hover = browser.evaluate(HOVER.replace("${NAME}", "synthetic"))
        assert name.startswith(best["trial_id"]) and f"trial {best['trial_id']}" in hover
        assert f"lr = {best['config']['lr']:.4g}" in hover and f"{best['val_accuracy']:.4g}" in hover
        # early-stopped, failed and time-budget trials are marked in the legend of their curves
        legend = browser.evaluate("[...document.querySelectorAll('figure[data-experiment=synthetic] .legendtext')]"
                                  ".map(t => t.textContent)")
        for label in ("stopped early by the scheduler", "failed", "cut by the time budget"):
            assert any(entry.startswith(label) for entry in legend), legend
        # the ranked table: the same best trial first as the summaries (ranked together: one metric)
        first = browser.evaluate("[...document.querySelectorAll('table.ranking tbody tr')]"
                                 ".map(r => [r.cells[0].textContent, r.cells[2].textContent])")
        assert len(first) == 4 + 3 + 40
        for exp in (runs["asha"], runs["random"], synthetic):
            rows = [tid for name, tid in first if name == exp.name]
            assert rows[0] == summary_of(exp)["best"]["trial_id"]
        assert browser.requests == [page.as_uri()] and browser.failed == []  # offline, and it needed nothing
        assert browser.errors() == []


EXPORTED_USE = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from raytune_app.trial.models import Hyperparams, build_model

    folder, data = sys.argv[1], np.load(sys.argv[2])
    cfg = json.load(open(f"{folder}/config.json"))
    model = build_model(cfg["model"], Hyperparams.from_config(cfg["config"]), tuple(cfg["input_shape"]),
                        cfg["outputs"])
    model.load_state_dict(torch.load(f"{folder}/model.pt", weights_only=True))
    model.eval()
    X = data["X_test"].astype(np.float64).reshape(len(data["X_test"]), -1)
    mean, std = np.array(cfg["standardisation"]["mean"]), np.array(cfg["standardisation"]["std"])
    x = ((X - mean) / std).reshape(len(X), *cfg["input_shape"]).astype(np.float32)
    with torch.no_grad():
        predicted = np.array(cfg["classes"])[model(torch.from_numpy(x)).argmax(1).numpy()]
    print(json.dumps({"accuracy": float((predicted == data["y_test"]).mean()),
                      "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("ray", "raytune_app"))}))
""")


def test_exported_model_reproduces_the_test_score_in_a_fresh_process(runs):
    exp, folder = runs["asha"], runs["tmp"] / "export"
    out = run_cli("best", exp, "--export", folder)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = summary_of(exp)
    assert f"Best trial {summary['best']['trial_id']}" in out.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.pt", "scores.json"]
    scores = json.loads((folder / "scores.json").read_text())
    assert scores["val_accuracy"] == summary["best"]["val_accuracy"]
    assert scores["test_accuracy"] == summary["best"]["test_accuracy"]
    config = json.loads((folder / "config.json").read_text())
    assert (config["model"], config["task"], config["input_shape"], config["outputs"]) == (
        "mlp", "classification", [6], 3)
    assert sorted(config["classes"]) == ["high", "low", "mid"]
    assert config["config"] == histories(exp)[summary["best"]["trial_id"]][0]["config"]
    assert config["standardisation"]["mean"] == pytest.approx(runs["splits"]["X_train"].mean(axis=0))

    used = subprocess.run([sys.executable, "-c", EXPORTED_USE, str(folder), str(runs["tmp"] / "data.npz")],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert used.returncode == 0, used.stderr[-3000:]
    result = json.loads(used.stdout)
    assert result["accuracy"] == pytest.approx(summary["best"]["test_accuracy"], abs=1e-9)
    assert not any(m.split(".")[0] == "ray" for m in result["modules"])  # torch + numpy + our models only

    again = run_cli("best", exp, "--export", folder)
    assert again.returncode == 2 and f"{folder} already holds model.pt" in again.stderr


def test_evaluate_scores_new_data_like_the_test_split(runs):
    splits, tmp = runs["splits"], runs["tmp"]
    np.savez(tmp / "new.npz", X=splits["X_test"], y=splits["y_test"])
    out = run_cli("evaluate", runs["asha"], "--data", tmp / "new.npz")
    assert out.returncode == 0, out.stderr[-3000:]
    value = float(re.search(r"^accuracy = ([0-9.]+) on 150 rows", out.stdout, re.M).group(1))
    assert value == pytest.approx(summary_of(runs["asha"])["best"]["test_accuracy"], abs=5e-5)
    # the same rows as a .csv with the label column
    header = ",".join([f"f{i}" for i in range(6)] + ["label"])
    rows = [",".join([*map(repr, x.tolist()), label]) for x, label in zip(splits["X_test"], splits["y_test"])]
    (tmp / "new.csv").write_text("\n".join([header, *rows]) + "\n")
    out_csv = run_cli("evaluate", runs["asha"], "--data", tmp / "new.csv")
    assert out_csv.returncode == 0 and out_csv.stdout.split(" on ")[0] == out.stdout.split(" on ")[0]
    np.savez(tmp / "narrow.npz", X=splits["X_test"][:, :4], y=splits["y_test"])
    bad = run_cli("evaluate", runs["asha"], "--data", tmp / "narrow.npz")
    assert bad.returncode == 2 and "rows have 4 features; the model takes 6" in bad.stderr
