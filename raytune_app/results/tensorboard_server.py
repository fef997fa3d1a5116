"""TensorBoard's own server over an experiment folder (or a folder of several), in this process; `raytune-app
tensorboard` serves it until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from raytune_app.errors import InputError
from raytune_app.spec.names import SPEC_FILE


def check_logdir(path: str) -> Path:
    """The folder to serve: an experiment folder, or a folder whose subfolders are experiments."""
    from raytune_app.results.reader import is_experiment

    folder = Path(path).expanduser().resolve()
    if folder.is_dir() and (is_experiment(str(folder)) or any(
            is_experiment(str(child)) for child in folder.iterdir() if child.is_dir())):
        return folder
    raise InputError([f"{path}: not a raytune-app experiment folder (no {SPEC_FILE}) "
                      f"nor a folder of experiments"])


def start(logdir: Path, host: str, port: int, reload_interval: float):
    """Start TensorBoard in this process (its server runs in a thread); return (TensorBoard, URL)."""
    from tensorboard import program

    board = program.TensorBoard()
    # one Python process, no data-server child: a live view of small event files needs no more
    board.configure(argv=["", "--logdir", str(logdir), "--host", host, "--port", str(port),
                          "--reload_interval", str(reload_interval), "--load_fast", "false"])
    try:
        url = board.launch()
    except program.TensorBoardServerException as exc:  # port in use, host not resolvable, ...
        raise InputError([f"--host/--port: {host}:{port}: {exc.msg}"]) from None
    return board, url
