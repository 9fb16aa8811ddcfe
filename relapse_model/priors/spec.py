"""Prior specification files (``priors/*.toml``): read, validate, and turn into PyMC variables.

A file has sections ``cure`` (log-odds of cure), ``relapse`` (relapse hazard of the non-cured:
baseline and log hazard ratios) and ``death`` (hazard of death without relapse), or the sections of
the multi-state pathway model (:data:`PATHWAY_STRUCTURAL`, ``priors/pathway.toml``). Every entry
names its distribution and parameters, the scale it is on, and its source: the paper, the figure
used and how it was converted.
"""

from __future__ import annotations

import math

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relapse_model.common.toml import read_text_file
from relapse_model.errors import InputError, Issue

#: Covariates a prior may name (columns of the design matrix).
COVARIATES = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd", "lsc17_z", "plsc6_z",
              "stemness_missing", "mrd_positive", "mrd_unknown", "cr2")
RISK_GROUPS = ("favourable", "adverse", "unknown")   # "intermediate" is the reference (0)
_WEIBULL = ("weibull_log_shape", "weibull_log_scale")
#: Sections of the multi-state pathway model (``priors/pathway.toml``; models/pathway/build.py).
PATHWAY_STRUCTURAL = {
    "refractory": ("intercept", "class_sd", "study_sd", "default_effect"),
    "early_death": ("intercept", "default_effect"),
    "mrd": ("positive_log_odds", "unknown_log_odds"),
    "remission_cure": ("intercept", "class_sd", "study_sd", "default_effect"),
    "remission_relapse": _WEIBULL,
    "remission_death": _WEIBULL,
    "transplant": _WEIBULL,
    "transplant_cure": ("shift", "log_months_to_transplant"),
    "transplant_relapse": ("log_hazard_ratio",),
    "transplant_death": _WEIBULL,
    "refractory_death": _WEIBULL + ("second_relapse",),
    "refractory_transplant": _WEIBULL,
}
STRUCTURAL = {
    "cure": ("intercept", "class_sd", "study_sd", "default_effect"),
    "relapse": ("weibull_log_shape", "weibull_log_scale", "piecewise_log_rate", "piecewise_rw_sd",
                "class_sd", "study_sd", "default_effect"),
    "death": ("weibull_log_shape", "weibull_log_scale", "piecewise_log_rate", "piecewise_rw_sd",
              "default_effect"),
    **PATHWAY_STRUCTURAL,
}
SECTIONS = tuple(STRUCTURAL)
_ENTRY_KEYS = {"dist", "scale", "source"}


@dataclass(frozen=True)
class Family:
    """A distribution family: its parameters, NumPy sampler, SciPy distribution and PyMC variable.

    ``non_centred`` families (normal, Student-t) enter the PyMC model as ``mu + sigma * z`` with a
    standard ``z`` (a ``{name}_z`` variable), which samples cleanly when the data say little.
    """

    params: tuple[str, ...]
    sample: Callable[[np.random.Generator, dict[str, float], int], np.ndarray]
    scipy: Callable[[dict[str, float]], Any]
    non_centred: bool = False


def _stats():
    from scipy import stats
    return stats


FAMILIES: dict[str, Family] = {
    "normal": Family(("mu", "sigma"), lambda rng, p, n: rng.normal(p["mu"], p["sigma"], n),
                     lambda p: _stats().norm(p["mu"], p["sigma"]), non_centred=True),
    "student_t": Family(("nu", "mu", "sigma"), lambda rng, p, n: p["mu"] + p["sigma"] * rng.standard_t(p["nu"], n),
                        lambda p: _stats().t(p["nu"], p["mu"], p["sigma"]), non_centred=True),
    "halfnormal": Family(("sigma",), lambda rng, p, n: np.abs(rng.normal(0.0, p["sigma"], n)),
                         lambda p: _stats().halfnorm(0.0, p["sigma"])),
    "lognormal": Family(("mu", "sigma"), lambda rng, p, n: rng.lognormal(p["mu"], p["sigma"], n),
                        lambda p: _stats().lognorm(p["sigma"], scale=np.exp(p["mu"]))),
}
#: Parameter names of each distribution a priors file may name.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {name: f.params for name, f in FAMILIES.items()}


@dataclass(frozen=True)
class Prior:
    """One prior: distribution, parameters, scale and source.

    The one place a prior's distribution is interpreted: :meth:`sample` (NumPy),
    :meth:`quantiles` (SciPy, exact) and :meth:`variable` (the PyMC variable).
    """

    key: str
    dist: str
    params: dict[str, float]
    scale: str
    source: str

    @property
    def family(self) -> Family:
        return FAMILIES[self.dist]

    @property
    def location(self) -> float:
        """Centre used to draw the prior beside the posterior (0 for half-normal)."""
        return float(self.params.get("mu", 0.0))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws from the prior with NumPy (prior-predictive checks, tables)."""
        return self.family.sample(rng, self.params, size)

    def quantiles(self, q: tuple[float, ...] = (0.025, 0.5, 0.975)) -> np.ndarray:
        """Exact quantiles of the prior."""
        return self.family.scipy(self.params).ppf(np.asarray(q))

    def variable(self, name: str):
        """The PyMC variable ``name`` with this prior (inside a model context); non-centred
        families add a standard ``{name}_z`` and make ``name`` deterministic."""
        import pymc as pm

        p = self.params
        if self.dist == "halfnormal":
            return pm.HalfNormal(name, sigma=p["sigma"])
        if self.dist == "lognormal":
            return pm.LogNormal(name, mu=p["mu"], sigma=p["sigma"])
        z = pm.Normal(f"{name}_z", 0.0, 1.0) if self.dist == "normal" else \
            pm.StudentT(f"{name}_z", nu=p["nu"], mu=0.0, sigma=1.0)
        return pm.Deterministic(name, p["mu"] + p["sigma"] * z)


def vector_variable(name: str, priors: list[Prior], dim: str):
    """A non-centred vector of coefficients (``name = mu + sigma * {name}_z`` along ``dim``); the
    priors must all be normal or all Student-t."""
    import pymc as pm

    dists = {p.dist for p in priors}
    if len(dists) > 1 or not all(FAMILIES[d].non_centred for d in dists):
        keys = ", ".join(p.key for p in priors)
        raise InputError.single(priors[0].key.split(".")[0], f"coefficients {keys} must all be "
                                "'normal' or all 'student_t' (non-centred vector)")
    mu = np.array([p.params["mu"] for p in priors])
    sigma = np.array([p.params["sigma"] for p in priors])
    if dists == {"normal"}:
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dim)
    else:
        z = pm.StudentT(f"{name}_z", nu=np.array([p.params["nu"] for p in priors]), mu=0.0, sigma=1.0, dims=dim)
    return pm.Deterministic(name, mu + sigma * z, dims=dim)


@dataclass(frozen=True)
class PriorSet:
    """All priors of one file, looked up as ``priors["cure", "early_relapse"]``."""

    path: str
    name: str
    description: str
    entries: dict[tuple[str, str], Prior]
    text: str

    def __getitem__(self, key: tuple[str, str]) -> Prior:
        if key not in self.entries and key[1] not in COVARIATES and key[1] not in STRUCTURAL.get(key[0], ()) \
                and not key[1].startswith("risk_group.") and (key[0], "default_effect") in self.entries:
            # a covariate outside the cohort schema (e.g. another data set): the section's default
            return self.entries[(key[0], "default_effect")]
        try:
            return self.entries[key]
        except KeyError:
            raise InputError.single(self.path, f"key '{key[0]}.{key[1]}': no prior given "
                                               "(the chosen model needs it)") from None

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.entries

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections this file gives priors for, in file order."""
        return tuple(dict.fromkeys(section for section, _ in self.entries))

    def table(self) -> list[dict[str, Any]]:
        """Every prior as a row: section, key, distribution, parameters, scale, source."""
        return [{"section": s, "key": k, "dist": p.dist,
                 "params": ", ".join(f"{n}={v:g}" for n, v in p.params.items()),
                 "scale": p.scale, "source": p.source} for (s, k), p in self.entries.items()]


def load_priors(path: str | Path) -> PriorSet:
    """Read and validate a priors file.

    Raises
    ------
    InputError
        Malformed TOML, unknown section, covariate or distribution, missing parameter or source;
        each problem names the file and the key.
    """
    path = Path(path)
    return parse_priors(read_text_file(path), str(path), default_name=path.stem)


def parse_priors(text: str, source: str, *, default_name: str = "priors") -> PriorSet:
    """Validate the text of a priors file (also the copy a saved fit carries); errors name
    ``source`` and the key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(source, f"malformed TOML: {exc}") from None
    issues: list[Issue] = []
    meta = raw.pop("meta", {})
    if not isinstance(meta, dict):
        raise InputError.single(source, f"key 'meta': must be a table (name, description), got {meta!r}")
    entries: dict[tuple[str, str], Prior] = {}
    for section, body in raw.items():
        if section not in SECTIONS:
            issues.append(_issue(source, section, f"unknown section (allowed: meta, {', '.join(SECTIONS)})"))
        elif not isinstance(body, dict):
            issues.append(_issue(source, section, "must be a table"))
        else:
            _read_section(entries, issues, source, section, body)
    if issues:
        raise InputError(issues)
    return PriorSet(source, str(meta.get("name", default_name)), str(meta.get("description", "")),
                    entries, text)


def _read_section(entries: dict, issues: list[Issue], source: str, section: str, body: dict) -> None:
    for key, entry in body.items():
        if key == "risk_group" and isinstance(entry, dict) and "dist" not in entry:
            for group, sub in entry.items():
                full = f"{section}.risk_group.{group}"
                if group not in RISK_GROUPS:
                    issues.append(_issue(source, full, "unknown risk group (allowed: "
                                         f"{', '.join(RISK_GROUPS)}; 'intermediate' is the reference)"))
                    continue
                _add(entries, issues, source, section, f"risk_group.{group}", sub)
            continue
        if key not in COVARIATES and key not in STRUCTURAL[section]:
            issues.append(_issue(source, f"{section}.{key}", "unknown covariate or parameter (allowed: "
                                 f"{', '.join(COVARIATES + STRUCTURAL[section])})"))
            continue
        _add(entries, issues, source, section, key, entry)


def _issue(source: str, key: str, message: str) -> Issue:
    return Issue(source, None, None, f"key '{key}': {message}")


def _add(entries: dict, issues: list[Issue], source: str, section: str, key: str, entry: Any) -> None:
    full = f"{section}.{key}"
    if not isinstance(entry, dict):
        issues.append(_issue(source, full, "must be a table with dist, parameters, scale and source"))
        return
    dist = entry.get("dist")
    if dist not in DISTRIBUTIONS:
        issues.append(_issue(source, full, f"unknown distribution {dist!r} (allowed: {', '.join(DISTRIBUTIONS)})"))
        return
    needed = DISTRIBUTIONS[dist]
    extra = sorted(set(entry) - set(needed) - _ENTRY_KEYS)
    missing = [p for p in needed if p not in entry]
    if missing:
        issues.append(_issue(source, full, f"{dist} needs parameter(s) {', '.join(missing)}"))
    if extra:
        issues.append(_issue(source, full, f"unexpected field(s) {', '.join(extra)}"))
    if not str(entry.get("source", "")).strip():
        issues.append(_issue(source, full, "missing 'source' (cite the paper, figure and conversion)"))
    if not str(entry.get("scale", "")).strip():
        issues.append(_issue(source, full, "missing 'scale' (e.g. 'log hazard ratio', 'log odds of cure')"))
    params = {}
    for p in needed:
        if p in entry:
            value = entry[p]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                issues.append(_issue(source, full, f"parameter {p} must be a number, got {value!r}"))
                continue
            if not math.isfinite(value):
                issues.append(_issue(source, full, f"parameter {p} must be a finite number, got {value}"))
                continue
            if p in ("sigma", "nu") and value <= 0:
                issues.append(_issue(source, full, f"parameter {p} must be > 0, got {value}"))
                continue
            params[p] = float(value)
    if len(params) == len(needed) and not missing:
        entries[(section, key)] = Prior(full, dist, params, str(entry.get("scale", "")),
                                        str(entry.get("source", "")))
