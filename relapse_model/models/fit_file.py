"""Saved fits: a content hash over everything a fit is loaded from, checked on load.

The hash covers every variable and coordinate of the ``posterior``, ``sample_stats`` and
``log_likelihood`` groups (names, dimensions and values) and every attribute of the file except
the hash itself, so an edited draw, a flipped byte, an edited attribute or a removed variable is
refused in one line instead of moving predictions silently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from relapse_model import __version__
from relapse_model.cohort.cohort import Cohort
from relapse_model.errors import InputError
from relapse_model.models.design import Standardisation
from relapse_model.models.spec import ModelSpec, SamplerSpec, parse_model_spec, parse_sampler_spec, spec_json
from relapse_model.priors.spec import PriorSet, load_priors, parse_priors

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


# --- provenance: what a fit was made from, and the checks on load ----------------------------

#: Attributes every saved fit carries (besides the content hash).
PROVENANCE_KEYS = ("fit_hash", "model_spec", "sampler_spec", "priors_text", "relapse_model_version", "data_hash")


def sha256(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def cohort_hash(cohort: Cohort) -> str:
    """Hash of the validated data (independent of file format and column order of extras)."""
    frame = cohort.data.drop(columns=cohort.extra_columns)
    return sha256(frame.to_csv(index=False, lineterminator="\n"))


def fit_hash(attrs: dict) -> str:
    """Hash of what determines a fit: package version, model specification, priors and data."""
    return sha256("\n".join(str(attrs[k]) for k in ("relapse_model_version", "model_spec", "priors_hash",
                                                     "data_hash")))


def stamp_provenance(tree: xr.DataTree, *, spec: ModelSpec, sampler: SamplerSpec, priors: PriorSet,
                     data_hash: str, standardisation: Standardisation, studies: tuple[str, ...],
                     classes: tuple[str, ...] = (), cohort_source: str = "") -> None:
    """Record in ``tree.attrs`` what the fit was made from (read back by :func:`read_fit`);
    ``classes`` are the cytogenetic classes the fitted cohort had, ``cohort_source`` where it was
    read from (the default population of virtual trials)."""
    attrs = tree.attrs
    attrs.update({
        "relapse_model_version": __version__,
        "model_spec": spec_json(spec),
        "sampler_spec": spec_json(sampler),
        "priors_text": priors.text,
        "priors_path": priors.path,
        "priors_hash": sha256(priors.text),
        "data_hash": data_hash,
        "standardisation": json.dumps(asdict(standardisation), sort_keys=True),
        "studies": json.dumps(list(studies)),
        "fitted_classes": json.dumps(list(classes)),
        "cohort_source": str(cohort_source),
    })
    attrs["fit_hash"] = fit_hash(attrs)


def write_fit(tree: xr.DataTree, path: str | Path) -> Path:
    """Write a fit as NetCDF with its content hash."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp(tree)
    tree.to_netcdf(path, engine="h5netcdf")
    return path


@dataclass(frozen=True)
class SavedFit:
    """A fit read back and checked: its tree and what it was made from."""

    tree: xr.DataTree
    priors: PriorSet
    spec: ModelSpec
    sampler: SamplerSpec
    standardisation: Standardisation
    studies: tuple[str, ...]
    data_hash: str
    classes: tuple[str, ...] | None = None      # None: a fit saved before classes were recorded


def read_fit(path: str | Path, *, cohort: Cohort | None = None, priors: str | Path | PriorSet | None = None) -> SavedFit:
    """Read a saved fit and refuse it when it does not match.

    The file's content hash must match, no posterior draw may be NaN or infinite, the package
    version must be this one, and a ``cohort`` or ``priors`` passed here must be the ones the fit
    was made with. Every refusal is one :class:`InputError` line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError.single(str(path), "fit file not found")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
        raise InputError.single(str(path), f"not a readable fit file ({type(exc).__name__})") from None
    verify(tree, path)
    attrs = tree.attrs
    if any(k not in attrs for k in PROVENANCE_KEYS):
        raise InputError.single(str(path), "not a relapse-model fit (provenance attributes missing)")
    if attrs["relapse_model_version"] != __version__:
        raise InputError.single(str(path), f"fit made with relapse-model {attrs['relapse_model_version']}, "
                                f"this is {__version__}: refit the model")
    if fit_hash(attrs) != attrs["fit_hash"] or sha256(attrs["priors_text"]) != attrs["priors_hash"]:
        raise InputError.single(str(path), "fit hash does not match its content (file altered?): refit the model")
    source = attrs.get("priors_path", str(path))
    prior_set = parse_priors(attrs["priors_text"], source, default_name=Path(source).stem)
    if priors is not None:
        given = priors if isinstance(priors, PriorSet) else load_priors(priors)
        if sha256(given.text) != attrs["priors_hash"]:
            raise InputError.single(str(getattr(given, "path", priors)), "these priors differ from "
                                    "the ones the fit was made with: refit, or load without priors=")
    if cohort is not None and cohort_hash(cohort) != attrs["data_hash"]:
        raise InputError.single(cohort.source, "this cohort differs from the one the fit was made "
                                "with: refit, or load without cohort=")
    return SavedFit(tree, prior_set, parse_model_spec(attrs["model_spec"], f"{path}: model_spec"),
                    parse_sampler_spec(attrs["sampler_spec"], f"{path}: sampler_spec"),
                    Standardisation(**json.loads(attrs["standardisation"])), tuple(json.loads(attrs["studies"])),
                    attrs["data_hash"],
                    tuple(json.loads(attrs["fitted_classes"])) if "fitted_classes" in attrs else None)
