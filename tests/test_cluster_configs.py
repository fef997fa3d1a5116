"""The cluster/ folder: `ray up` configs pass Ray's own validation, the KubeRay RayJob has what KubeRay needs,
no file holds credentials, and every tuning command there joins the cluster and writes to shared storage.

Offline: no cloud credentials, no network, no Ray cluster. `prepare_config` only reads the provider's
defaults.yaml from the installed Ray and merges it (for the `local` provider it also fills in the single node
type); the cloud calls of `ray up` (key pairs, IAM, subnets, AMI and instance-type lookups) happen later, in
the providers' bootstrap, which these tests do not call.
"""

from __future__ import annotations

import copy
import re
import socket
from pathlib import Path

import pytest
import yaml

from conftest import REPO

CLUSTER = REPO / "cluster"
CLUSTER_FILES = sorted(p for p in CLUSTER.rglob("*") if p.is_file())
YAML_FILES = sorted(CLUSTER.glob("*.yaml"))
KUBERAY = CLUSTER / "kuberay-rayjob.yaml"
RAY_UP_FILES = [p for p in YAML_FILES if p != KUBERAY]


def _load(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.fixture
def offline(monkeypatch):
    """No network and no cloud credentials: any attempt to connect fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


def test_the_expected_files_are_there():
    names = {p.name for p in CLUSTER_FILES}
    assert {"aws.yaml", "gcp.yaml", "onprem.yaml", "kuberay-rayjob.yaml", "README.md"} <= names
    assert {p.name for p in RAY_UP_FILES} >= {"aws.yaml", "gcp.yaml", "onprem.yaml"}


# --- `ray up` configs: Ray's own preparation and validation -------------------------------------------------


@pytest.mark.parametrize("path", RAY_UP_FILES, ids=lambda p: p.name)
def test_ray_up_config_passes_rays_validation(path, offline):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _load(path)
    assert "apiVersion" not in config, "a Kubernetes manifest among the ray up configs"
    original = copy.deepcopy(config)
    prepared = prepare_config(config)  # merges the provider's defaults.yaml, as `ray up` does first
    validate_config(prepared)  # Ray's ray-schema.json, then head_node_type and min/max_workers checks
    assert config == original, "prepare_config must not change the loaded file"
    assert prepared["cluster_name"].startswith("raytune-app")
    assert prepared["head_node_type"] in prepared["available_node_types"]


def _node_types(path: Path) -> tuple[dict, dict]:
    from ray.autoscaler._private.util import prepare_config

    prepared = prepare_config(_load(path))
    types = prepared["available_node_types"]
    head = types[prepared["head_node_type"]]
    workers = {name: t for name, t in types.items() if name != prepared["head_node_type"]}
    return head, workers


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_cloud_clusters_autoscale_from_a_cpu_head_to_cpu_and_gpu_workers(name, offline):
    head, workers = _node_types(CLUSTER / name)
    assert head["resources"].get("GPU", 0) == 0, "the head node type must be CPU-only"
    assert head["resources"].get("CPU", 0) > 0, "raytune-app needs a node with CPUs up when it starts"
    gpu = [t for t in workers.values() if t["resources"].get("GPU", 0) >= 1]
    cpu = [t for t in workers.values() if t["resources"].get("GPU", 0) == 0 and t["resources"].get("CPU", 0) > 0]
    assert gpu and cpu, "a CPU worker type and a GPU worker type"
    for t in workers.values():
        assert t["min_workers"] == 0 and t["max_workers"] > 0
    node = gpu[0]["node_config"]
    if name == "aws.yaml":
        assert node["InstanceType"].startswith(("g", "p"))
    else:
        assert node["guestAccelerators"][0]["acceleratorCount"] >= 1
        assert node["scheduling"]["onHostMaintenance"] == "TERMINATE"


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_cloud_clusters_offer_a_multi_gpu_worker_type_for_data_parallel_trials(name, offline):
    from raytune_app.cluster.ray_session import capacity

    _, workers = _node_types(CLUSTER / name)
    multi = [t for t in workers.values() if t["resources"].get("GPU", 0) >= 2]
    assert multi and all(t["min_workers"] == 0 for t in multi), "a multi-GPU worker type, scaled to zero"
    gpus = multi[0]["resources"]["GPU"]
    if name == "gcp.yaml":
        assert multi[0]["node_config"]["guestAccelerators"][0]["acceleratorCount"] == gpus
    # a trial of one worker per GPU of such a node fits on one of them
    assert capacity([multi[0]["resources"]], 1, 1, name, workers=int(gpus)) == 1


@pytest.mark.parametrize("path", RAY_UP_FILES, ids=lambda p: p.name)
def test_ray_up_config_installs_the_project_and_keeps_the_dashboard_local(path):
    config = _load(path)
    # file_mounts copy the repository (paths relative to its root, where `ray up` runs) to ~/raytune-app, and
    # Ray's auth token (test_every_config_turns_on_token_authentication)
    mounts = {remote: local for remote, local in config["file_mounts"].items() if remote != TOKEN_FILE}
    assert mounts and all(remote.startswith("~/raytune-app") for remote in mounts)
    for local in mounts.values():
        assert (REPO / local).exists(), f"file_mounts source {local} is not in the repository"
    assert any((REPO / local).resolve() == (REPO / "raytune_app").resolve() for local in mounts.values())
    assert any((REPO / local).resolve() == (REPO / "pyproject.toml").resolve() for local in mounts.values())
    setup = "\n".join(config["setup_commands"])
    assert "torch>=2.2" in setup and "pip install -q -e ~/raytune-app" in setup
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = " ".join(config[key])
        assert "--dashboard-host=127.0.0.1" in start, key
        assert "0.0.0.0" not in start, key


def test_ray_is_pinned_to_one_version_everywhere():
    versions = set()
    for path in CLUSTER_FILES:
        text = path.read_text()
        versions |= set(re.findall(r"ray\[[a-z,]+\]==([0-9][0-9a-z.]*)", text))
        versions |= set(re.findall(r"rayproject/ray:([0-9][0-9a-z.]*[0-9])", text))
    spec = _load(KUBERAY)["spec"]["rayClusterSpec"]
    versions.add(spec["rayVersion"])
    assert len(versions) == 1, f"ray versions differ across cluster/: {sorted(versions)}"


# --- Ray's token authentication: on in every config ----------------------------------------------------------

TOKEN_FILE = "~/.ray/auth_token"  # where `ray get-auth-token --generate` writes the token, and Ray reads it


def _bashrc_auth_mode(commands: list[str], home: Path) -> str:
    """RAY_AUTH_MODE in a shell on a node after the config's commands that write ~/.bashrc ran there (in an
    empty home): Ray's command runner sources ~/.bashrc before every command, `ray start` included."""
    import subprocess

    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    for command in commands:
        if ".bashrc" in command:
            subprocess.run(["bash", "-c", command], env=env, check=True, capture_output=True, timeout=30)
    done = subprocess.run(["bash", "-c", 'source ~/.bashrc 2>/dev/null; printf %s "$RAY_AUTH_MODE"'], env=env,
                          capture_output=True, text=True, timeout=30)
    return done.stdout


def token_auth_problems(config: dict, home: Path) -> list[str]:
    """Why a config would start a Ray cluster without token authentication (none: it is on)."""
    problems = [f"sets RAY_AUTH_MODE={mode}" for text in _strings(config)
                for mode in re.findall(r"RAY_AUTH_MODE=['\"]?(\w*)", text) if mode != "token"]
    if config.get("kind") == "RayJob":
        if config["spec"]["rayClusterSpec"].get("authOptions", {}).get("mode") != "token":
            problems.append("rayClusterSpec.authOptions.mode is not token")
        return problems
    if config.get("file_mounts", {}).get(TOKEN_FILE) != TOKEN_FILE:
        problems.append(f"file_mounts does not copy your {TOKEN_FILE} to the nodes' {TOKEN_FILE}")
    commands = [c for key in ("initialization_commands", "setup_commands", "head_setup_commands",
                              "worker_setup_commands") for c in config.get(key) or []]
    if _bashrc_auth_mode(commands, home) != "token":
        problems.append("the nodes' shells (and so `ray start`) do not get RAY_AUTH_MODE=token")
    return problems


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_every_config_turns_on_token_authentication(path, tmp_path):
    assert token_auth_problems(_load(path), tmp_path / "home") == []


def test_the_token_check_catches_a_config_without_it(tmp_path):
    for path in RAY_UP_FILES:
        config = _load(path)
        config["file_mounts"].pop(TOKEN_FILE)
        config["setup_commands"] = [c for c in config["setup_commands"] if "RAY_AUTH_MODE" not in c]
        assert len(token_auth_problems(config, tmp_path / path.name)) == 2, path.name
        config = _load(path)
        config["head_start_ray_commands"][-1] = "RAY_AUTH_MODE=disabled " + config["head_start_ray_commands"][-1]
        assert token_auth_problems(config, tmp_path / f"{path.name}-2") == ["sets RAY_AUTH_MODE=disabled"]
    job = _load(KUBERAY)
    job["spec"]["rayClusterSpec"].pop("authOptions")
    assert token_auth_problems(job, tmp_path) == ["rayClusterSpec.authOptions.mode is not token"]


def test_the_walkthrough_says_how_the_token_is_provided():
    text = (CLUSTER / "README.md").read_text()
    for step in ("ray get-auth-token --generate", "export RAY_AUTH_MODE=token", TOKEN_FILE, "RAY_AUTH_TOKEN",
                 "authOptions"):
        assert step in text, step


# --- the KubeRay RayJob ---------------------------------------------------------------------------------------


def test_kuberay_rayjob_has_what_kuberay_needs():
    job = _load(KUBERAY)
    assert job["apiVersion"] == "ray.io/v1"
    assert job["kind"] == "RayJob"
    assert job["metadata"]["name"]
    spec = job["spec"]
    assert "raytune-app tune" in spec["entrypoint"] and "--address auto" in spec["entrypoint"]
    assert spec["shutdownAfterJobFinishes"] is True
    if "runtimeEnvYAML" in spec:
        assert isinstance(yaml.safe_load(spec["runtimeEnvYAML"]), dict)
    cluster = spec["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    groups = [head] + cluster["workerGroupSpecs"]
    for group in groups:
        containers = group["template"]["spec"]["containers"]
        assert containers and all(c.get("image") for c in containers)
        # every pod mounts the volume the entrypoint's --storage points to
        mounted = {m["mountPath"] for c in containers for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in group["template"]["spec"].get("volumes", [])}
        assert {m["name"] for c in containers for m in c.get("volumeMounts", [])} <= volumes
        storage = re.search(r"--storage[ =](\S+)", spec["entrypoint"]).group(1)
        if storage.startswith("/"):
            assert any(storage == m or storage.startswith(m.rstrip("/") + "/") for m in mounted)
    assert cluster["workerGroupSpecs"]
    for group in cluster["workerGroupSpecs"]:
        assert group["groupName"]
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    assert any("nvidia.com/gpu" in c.get("resources", {}).get("limits", {})
               for g in cluster["workerGroupSpecs"] for c in g["template"]["spec"]["containers"])


# --- no credentials -------------------------------------------------------------------------------------------

CREDENTIAL_PATTERNS = {
    "AWS access key id": re.compile(r"AKIA[0-9A-Z]{16}"),
    "aws_secret_access_key": re.compile(r"aws_secret_access_key", re.IGNORECASE),
    "private_key": re.compile(r"private_key", re.IGNORECASE),
    "PEM block": re.compile(r"-----BEGIN [A-Z ]*-----"),
    "12-digit account id": re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])"),
}


def credential_findings(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, rx in CREDENTIAL_PATTERNS.items() for m in rx.finditer(text)]


def test_the_credential_patterns_catch_credentials():
    samples = ["AKIA" + "ABCDEFGHIJKLMNOP", "aws_secret_" + "access_key = x", '"private' + '_key": "x"',
               "-----BEGIN RSA PRIVATE" + " KEY-----", "arn:aws:iam::" + "123456789012" + ":role/x"]
    for sample in samples:
        assert credential_findings(sample), sample
    assert not credential_findings("s3://YOUR-BUCKET/raytune-runs arn:aws:iam::*:role/ray-autoscaler-v1")


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name)
def test_no_credentials_in_cluster_files(path):
    assert credential_findings(path.read_text()) == []


# --- tuning commands: --address auto and shared --storage -----------------------------------------------------

COMMAND = re.compile(r"raytune-app\s+(tune|resume)\b[^\n]*")


def _join_continuations(text: str) -> str:
    return re.sub(r"\\\n\s*", " ", text)


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def commands_in(path: Path) -> list[str]:
    """`raytune-app tune|resume ...` commands: in Markdown the fenced code blocks, in YAML the comments and
    every string value (so a folded `entrypoint: >-` counts as one line)."""
    text = path.read_text()
    if path.suffix == ".md":
        chunks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    elif path.suffix in (".yaml", ".yml"):
        chunks = [line.strip().lstrip("#") for line in text.splitlines() if line.strip().startswith("#")]
        chunks += list(_strings(yaml.safe_load(text)))
    else:
        chunks = [text]
    return [m.group(0).strip() for chunk in chunks for m in COMMAND.finditer(_join_continuations(chunk))]


def _is_shared_storage(location: str) -> bool:
    """A URI (s3://, gs://, ...) or an absolute path (a shared mount); not ./runs, runs, ~/..."""
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://\S+", location)) or location.startswith("/")


def command_problems(command: str) -> list[str]:
    problems = []
    address = re.search(r"--address[ =](\S+)", command)
    if not address or address.group(1) != "auto":
        problems.append("no --address auto")
    if re.match(r"raytune-app\s+tune\b", command):
        storage = re.search(r"--storage[ =](\S+)", command)
        if not storage:
            problems.append("no --storage")
        elif not _is_shared_storage(storage.group(1).strip("'\"")):
            problems.append(f"--storage {storage.group(1)} is a node-local relative path")
    else:
        path = re.match(r"raytune-app\s+resume\s+(\S+)", command)
        if not path or not _is_shared_storage(path.group(1).strip("'\"")):
            problems.append("resume of a node-local relative path")
    return problems


def test_the_command_check_catches_bad_commands():
    assert command_problems("raytune-app tune x.yaml --address auto --storage s3://b/r") == []
    assert command_problems("raytune-app tune x.yaml --address auto --storage /mnt/raytune-runs") == []
    assert command_problems("raytune-app resume gs://b/r/mlp --address auto") == []
    assert command_problems("raytune-app tune x.yaml --storage s3://b/r")
    assert command_problems("raytune-app tune x.yaml --address 10.0.0.1:6379 --storage s3://b/r")
    assert command_problems("raytune-app tune x.yaml --address auto")
    assert command_problems("raytune-app tune x.yaml --address auto --storage ./runs")
    assert command_problems("raytune-app tune x.yaml --address auto --storage runs")
    assert command_problems("raytune-app tune x.yaml --address auto --storage ~/runs")
    assert command_problems("raytune-app resume runs/mlp --address auto")


def test_every_tuning_command_joins_the_cluster_and_writes_to_shared_storage():
    found = {path.name: commands_in(path) for path in CLUSTER_FILES}
    # the walkthrough and the RayJob do run raytune-app: the check below is not vacuous
    assert found["README.md"] and found["kuberay-rayjob.yaml"]
    bad = [f"{name}: {cmd}: {', '.join(command_problems(cmd))}"
           for name, cmds in found.items() for cmd in cmds if command_problems(cmd)]
    assert bad == []


def test_every_tuning_command_parses_with_the_real_cli():
    import shlex

    from raytune_app.cli.main import build_parser

    parser = build_parser()
    commands = [cmd for path in CLUSTER_FILES for cmd in commands_in(path)]
    for cmd in commands:
        args = parser.parse_args(shlex.split(cmd)[1:])  # argparse exits (SystemExit) on an unknown flag
        assert args.address == "auto"
