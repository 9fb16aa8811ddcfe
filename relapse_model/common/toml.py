"""Reading TOML files with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from relapse_model.errors import InputError


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is an InputError naming it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.single(str(path), "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(str(path), f"malformed TOML: {exc}") from None
