"""Reading TOML files with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from relapse_model.errors import InputError


def read_text_file(path: str | Path) -> str:
    """A text file's content; a missing file, a folder or a non-UTF-8 byte is an InputError naming
    the file (and the line)."""
    path = Path(path)
    if path.is_dir():
        raise InputError.single(str(path), "is a folder; give the file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.single(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError.single(str(path), f"line {line}: byte 0x{exc.object[exc.start]:02x} is not UTF-8 text "
                                "(save the file as UTF-8)") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is an InputError naming it."""
    path = Path(path)
    try:
        return tomllib.loads(read_text_file(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(str(path), f"malformed TOML: {exc}") from None
