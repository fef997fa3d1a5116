"""Where experiments live: a local folder or a URI Ray understands (s3://, gs://, ...)."""

from __future__ import annotations

import os

import pyarrow.fs


def is_uri(path: str) -> bool:
    return "://" in path


def resolve(storage: str) -> str:
    """An absolute local path (Ray needs one) or the URI as given."""
    return storage if is_uri(storage) else os.path.abspath(os.path.expanduser(storage))


def join(*parts: str) -> str:
    return "/".join(p.rstrip("/") for p in parts)


def _fs(path: str) -> tuple[pyarrow.fs.FileSystem, str]:
    return pyarrow.fs.FileSystem.from_uri(path if is_uri(path) else os.path.abspath(path))


def exists(path: str) -> bool:
    fs, p = _fs(path)
    return fs.get_file_info(p).type != pyarrow.fs.FileType.NotFound


def write_text(path: str, text: str) -> None:
    """Write a small file, creating its folder; works the same for local paths and URIs."""
    fs, p = _fs(path)
    fs.create_dir(p.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(p) as out:
        out.write(text.encode())


def read_bytes(path: str) -> bytes:
    fs, p = _fs(path)
    with fs.open_input_stream(p) as src:
        return src.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode()


def check_writable(storage: str) -> str | None:
    """Why results cannot be written under `storage`, or None when they can."""
    probe = join(resolve(storage), ".raytune-app-write-test")
    try:
        write_text(probe, "ok")
        fs, p = _fs(probe)
        fs.delete_file(p)
    except Exception as exc:  # permission, missing bucket, read-only mount, ...
        return f"cannot write to {storage}: {exc}"
    return None


def list_dirs(path: str) -> list[str]:
    """Names of the folders directly under `path` (none if it does not exist)."""
    fs, p = _fs(path)
    infos = fs.get_file_info(pyarrow.fs.FileSelector(p, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pyarrow.fs.FileType.Directory)


def delete_dir(path: str) -> None:
    fs, p = _fs(path)
    fs.delete_dir(p)


def list_files(path: str) -> list[str]:
    """Names of the files directly under `path` (none if it does not exist)."""
    fs, p = _fs(path)
    infos = fs.get_file_info(pyarrow.fs.FileSelector(p, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pyarrow.fs.FileType.File)


def move(src: str, dst: str) -> None:
    """Rename a file or folder (on the same file system), creating the destination's folder."""
    fs, s = _fs(src)
    _, d = _fs(dst)
    fs.create_dir(d.rsplit("/", 1)[0], recursive=True)
    fs.move(s, d)


def write_atomic(path: str, text: str) -> None:
    """A file that is either the old one or the whole new one, even if the process is killed meanwhile."""
    if is_uri(path):
        write_text(path, text)  # object stores replace whole objects anyway
        return
    tmp = f"{path}.tmp"
    write_text(tmp, text)
    os.replace(tmp, path)
