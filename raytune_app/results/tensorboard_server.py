"""`raytune-app tensorboard`: TensorBoard's own server over an experiment folder (or a folder of several)."""

from __future__ import annotations

import signal
import time
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


def serve(path: str, host: str, port: int, reload_interval: float) -> int:
    """Serve until Ctrl-C (or SIGTERM); exit code 0."""
    logdir = check_logdir(path)
    _, url = start(logdir, host, port, reload_interval)
    print(f"TensorBoard at {url} serving {logdir}: scalars per trial, every trial in the HParams tab. "
          f"Ctrl-C to stop.", flush=True)
    # Ctrl-C stops it even when it was started from a script that ignores SIGINT (a background job of a
    # non-interactive shell: Python then installs no handler of its own); SIGTERM stops it the same way
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("TensorBoard stopped.", flush=True)
    return 0
