"""What raytune-app sends to every node of a cluster (cluster/runtime_env.py), without a cluster: the files Ray
will pack, their size against Ray's limit, and the secrets that never go. The end-to-end check, from inside
trials on other nodes, is in test_local_cluster_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from raytune_app.cluster.runtime_env import shipment
from raytune_app.errors import InputError


def write(folder: Path, *names: str, size: int = 1) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"0" * size)


SECRETS = [".env", ".env.production", "prod.env", ".envrc", ".netrc", ".git-credentials", ".pypirc", ".npmrc",
           ".pgpass", "id_rsa", "id_ed25519", "id_rsa.pem", "server.key", "cert.p12", "keystore.jks", "key.pfx",
           ".aws/credentials", ".aws/config", ".ssh/id_rsa", ".ssh/config", ".kube/config", ".gnupg/pubring.kbx",
           ".docker/config.json", ".config/gcloud/credentials.db", "credentials.json", "client_secret_123.json",
           "service-account-prod.json", "secrets.yaml", "secrets.toml", "terraform.tfstate", "kaggle.json",
           ".vault-token", ".s3cfg"]
LOOKALIKES = ["keys.py", "environment.py", "env_setup.py", "netrc_notes.txt", "tokenizer.json", "secrets_util.py",
              "credentials.py", "id_rsa.pub", "ssh/known_hosts.txt", "config.json", "models/key_points.py"]


def test_secrets_at_any_depth_stay_behind_and_everything_else_goes(tmp_path):
    nested = [f"deep/er/{name}" for name in SECRETS]
    write(tmp_path, "net.py", *SECRETS, *nested, *LOOKALIKES)
    (tmp_path / ".rayignore").write_text("!.env\n!id_rsa\n")  # cannot bring them back
    sent = shipment(tmp_path, str(tmp_path / "runs"), "e.yaml")
    files = {p.as_posix() for p in sent.files}
    assert files == {"net.py", ".rayignore", *LOOKALIKES}
    assert sorted(p.as_posix() for p in sent.secrets) == sorted(SECRETS + nested)
    assert sent.size == len(files) - 1 + len("!.env\n!id_rsa\n")
    assert set(sent.runtime_env["excludes"]) >= {".env", ".ssh/", "*.pem"}


def test_the_count_is_what_ray_packs_with_nested_ignore_files(tmp_path):
    """A big file that a nested .gitignore lists, and one a nested .rayignore lists, are not sent, so they
    count neither towards the files nor the size nor the limit."""
    write(tmp_path, "net.py", "sub/code.py")
    write(tmp_path, "sub/cache/big.bin", "sub/deeper/data.bin", size=4096)
    (tmp_path / "sub" / ".gitignore").write_text("cache/\n")
    (tmp_path / "sub" / "deeper").mkdir(exist_ok=True)
    (tmp_path / "sub" / "deeper" / ".rayignore").write_text("*.bin\n")
    sent = shipment(tmp_path, str(tmp_path / "runs"), "e.yaml", limit=1024)
    assert [p.as_posix() for p in sent.files] == ["net.py", "sub/.gitignore", "sub/code.py", "sub/deeper/.rayignore"]
    assert sent.size == 2 + len("cache/\n") + len("*.bin\n")


def test_the_code_folder_is_refused_over_rays_package_limit(tmp_path):
    write(tmp_path, "net.py")
    write(tmp_path, "runs/big.bin", ".git/objects/big.bin", "out/big.bin", size=4096)
    (tmp_path / ".rayignore").write_text("out/\n")
    sent = shipment(tmp_path, str(tmp_path / "runs"), "e.yaml", limit=1024)  # only net.py and .rayignore count
    assert sent.runtime_env["working_dir"] == str(tmp_path)
    assert [p.as_posix() for p in sent.files] == [".rayignore", "net.py"]
    write(tmp_path, "data.bin", size=4096)
    with pytest.raises(InputError) as err:
        shipment(tmp_path, str(tmp_path / "runs"), "e.yaml", limit=1024)
    assert str(err.value).startswith(f"e.yaml: the experiment's folder {tmp_path} holds 0.0 MiB of files")
    assert "over Ray's package limit" in str(err.value)


def test_a_results_folder_inside_is_left_out_whatever_its_name(tmp_path):
    """Its path is a path, not a pattern: `[1]` is those three characters, not a class matching `1`."""
    write(tmp_path, "net.py", "out[1]/res/r.json", "out1/res/kept.py")
    sent = shipment(tmp_path, str(tmp_path / "out[1]" / "res"), "e.yaml")
    assert [p.as_posix() for p in sent.files] == ["net.py", "out1/res/kept.py"]
