"""Saved fits: a content hash over everything a fit is loaded from, checked on load.

The hash covers every variable and coordinate of the ``posterior``, ``sample_stats`` and
``log_likelihood`` groups (names, dimensions and values) and every attribute of the file except
the hash itself, so an edited draw, a flipped byte, an edited attribute or a removed variable is
refused in one line instead of moving predictions silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

from relapse_model.errors import InputError

GROUPS = ("posterior", "sample_stats", "log_likelihood")
HASH_KEY = "content_hash"


def _values_bytes(values: np.ndarray) -> bytes:
    if values.dtype.kind in "OUS":        # strings come back from NetCDF as another dtype
        return "\x1f".join(str(v) for v in values.ravel()).encode()
    kind = {"b": np.uint8, "i": np.int64, "u": np.uint64, "f": np.float64}.get(values.dtype.kind)
    return np.ascontiguousarray(values.astype(kind) if kind else values).tobytes()


def content_hash(tree: xr.DataTree) -> str:
    """SHA-256 of the fit's groups and attributes (independent of the file's encoding)."""
    h = hashlib.sha256()
    for group in GROUPS:
        if group not in tree.children:
            continue
        ds = tree[group].to_dataset()
        for name in sorted(map(str, ds.variables)):
            var = ds[name]
            h.update(f"{group}/{name}{var.dims}{var.shape}".encode())
            h.update(_values_bytes(np.asarray(var.values)))
    for key in sorted(k for k in tree.attrs if k != HASH_KEY):
        h.update(f"{key}={tree.attrs[key]}".encode())
    return h.hexdigest()


def stamp(tree: xr.DataTree) -> None:
    """Store the content hash in the tree's attributes (just before writing)."""
    tree.attrs[HASH_KEY] = content_hash(tree)


def verify(tree: xr.DataTree, path: Path) -> None:
    """Refuse a fit that lacks a group, does not match its content hash, or holds non-finite draws."""
    missing = [g for g in GROUPS if g not in tree.children]
    if missing:
        raise InputError.single(str(path), f"not a complete fit: group(s) {', '.join(missing)} missing: refit the model")
    if HASH_KEY not in tree.attrs:
        raise InputError.single(str(path), "not a relapse-model fit (content hash missing): refit the model")
    if content_hash(tree) != tree.attrs[HASH_KEY]:
        raise InputError.single(str(path), "fit content does not match its hash (file altered or damaged?): "
                                "refit the model")
    for name, var in tree["posterior"].to_dataset().data_vars.items():
        if not np.all(np.isfinite(var.values)):
            raise InputError.single(str(path), f"posterior variable '{name}' holds non-finite draws: refit the model")
