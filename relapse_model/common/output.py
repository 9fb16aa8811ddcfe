"""Writing outputs safely: never destroy, never half-write, one writer at a time.

- :class:`OutputLock`: a lock file beside the target, created exclusively; a second writer gets
  one clear line naming the process holding it (a lock left by a killed process is taken over).
- :func:`atomic_file`: write to a temporary file beside the target, move it into place only
  when complete (``os.replace`` is atomic on one file system).
- :func:`check_output_folder` and :func:`publish_folder`: a folder output (a report) is built in
  a temporary folder beside the target and moved in at the end. The package only ever deletes
  files its own marker says it wrote there; a folder that is neither empty nor a previous
  output of the same kind is refused unless ``force``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from relapse_model.errors import InputError

#: The file in an output folder listing what the package wrote there.
MARKER = ".relapse-model-output.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """Exclusive lock on an output path (``<target>.lock`` beside it), as a context manager."""

    def __init__(self, target: str | Path):
        self.target = Path(target)
        self.path = self.target.with_name(self.target.name + ".lock")

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and _pid_alive(holder):
                    raise InputError.single(str(self.target), f"another relapse-model process (pid {holder}) is "
                                            f"writing this output; wait for it to finish, or delete {self.path} "
                                            "if that process is gone") from None
                self.path.unlink(missing_ok=True)      # left by a process that was killed
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return self
        raise InputError.single(str(self.target), f"could not lock this output ({self.path})")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def check_output_file(target: str | Path) -> Path:
    """An output file's path, refused when it names a folder."""
    target = Path(target).expanduser()
    if target.is_dir():
        raise InputError.single(str(target), "is a folder; give a file name for this output")
    return target


@contextlib.contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only if the block
    completes (a failure leaves what was there before)."""
    target = check_output_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


#: Files a report wrote before reports carried a marker (its manifest lists the rest).
_LEGACY_REPORT_FILES = ("report.html", "provenance.json", "manifest.json")


def _marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _legacy_report_marker(folder)


def _legacy_report_marker(folder: Path) -> dict | None:
    """A report folder written before markers: its manifest, page and NetCDF data are its own."""
    if not all((folder / name).is_file() for name in _LEGACY_REPORT_FILES):
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data = [p.relative_to(folder).as_posix() for p in (folder / "data").glob("*.nc")]
    return {"kind": "report", "files": [*_LEGACY_REPORT_FILES, *manifest, *data]}


def check_output_folder(target: str | Path, kind: str, *, force: bool = False) -> Path:
    """Refuse ``target`` unless it is absent, empty, a previous ``kind`` output, or ``force``."""
    target = Path(target).expanduser()
    if target.exists() and not target.is_dir():
        raise InputError.single(str(target), "is a file; give a folder for this output")
    if target.is_dir() and any(target.iterdir()) and not force:
        marker = _marker(target)
        if marker is None or marker.get("kind") != kind:
            raise InputError.single(str(target), f"folder is not empty and is not a previous {kind} output; "
                                    "choose another folder, or pass --force to write into it (files the "
                                    "package did not write there are kept)")
    return target


@contextlib.contextmanager
def staging_folder(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``target`` (removed afterwards, whatever happens)."""
    staging = target.with_name(f".{target.name}.{os.getpid()}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_folder(staging: Path, target: Path, kind: str) -> list[Path]:
    """Move every file of ``staging`` into ``target``, after deleting only the files a previous
    output of the package listed in its marker; return the files now in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    old = _marker(target) or {}
    for rel in old.get("files", []):
        (target / rel).unlink(missing_ok=True)
    for rel in sorted({str(Path(r).parent) for r in old.get("files", [])}, key=len, reverse=True):
        with contextlib.suppress(OSError):      # a folder that still holds the user's files stays
            (target / rel).rmdir()
    files = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    for rel in files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, target / rel)
    (target / MARKER).write_text(json.dumps({"kind": kind, "files": [r.as_posix() for r in files]}, indent=1) + "\n",
                                 encoding="utf-8")
    return [target / rel for rel in files]
