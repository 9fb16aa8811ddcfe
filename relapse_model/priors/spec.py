"""Prior specification files (``priors/*.toml``): read, validate, and turn into PyMC variables.

A file has sections ``cure`` (log-odds of cure), ``relapse`` (relapse hazard of the non-cured:
baseline and log hazard ratios) and ``death`` (hazard of death without relapse). Every entry
names its distribution and parameters, the scale it is on, and its source: the paper, the figure
used and how it was converted.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relapse_model.errors import InputError, Issue

#: Covariates a prior may name (columns of the design matrix).
COVARIATES = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd", "lsc17_z", "plsc6_z",
              "stemness_missing", "mrd_positive", "mrd_unknown", "cr2")
RISK_GROUPS = ("favourable", "adverse", "unknown")   # "intermediate" is the reference (0)
STRUCTURAL = {
    "cure": ("intercept", "class_sd", "study_sd", "default_effect"),
    "relapse": ("weibull_log_shape", "weibull_log_scale", "piecewise_log_rate", "piecewise_rw_sd",
                "class_sd", "study_sd", "default_effect"),
    "death": ("weibull_log_shape", "weibull_log_scale", "piecewise_log_rate", "piecewise_rw_sd",
              "default_effect"),
}
SECTIONS = tuple(STRUCTURAL)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "normal": ("mu", "sigma"),
    "student_t": ("nu", "mu", "sigma"),
    "halfnormal": ("sigma",),
    "lognormal": ("mu", "sigma"),
}
_ENTRY_KEYS = {"dist", "scale", "source"}


@dataclass(frozen=True)
class Prior:
    """One prior: distribution, parameters, scale and source."""

    key: str
    dist: str
    params: dict[str, float]
    scale: str
    source: str

    @property
    def location(self) -> float:
        """Centre used to draw the prior beside the posterior (0 for half-normal)."""
        return float(self.params.get("mu", 0.0))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws from the prior with NumPy (prior-predictive checks, tables)."""
        p = self.params
        if self.dist == "normal":
            return rng.normal(p["mu"], p["sigma"], size)
        if self.dist == "student_t":
            return p["mu"] + p["sigma"] * rng.standard_t(p["nu"], size)
        if self.dist == "halfnormal":
            return np.abs(rng.normal(0.0, p["sigma"], size))
        return rng.lognormal(p["mu"], p["sigma"], size)

    def quantiles(self, q: tuple[float, ...] = (0.025, 0.5, 0.975)) -> np.ndarray:
        """Exact quantiles of the prior."""
        from scipy import stats
        p = self.params
        dist = {"normal": lambda: stats.norm(p["mu"], p["sigma"]),
                "student_t": lambda: stats.t(p["nu"], p["mu"], p["sigma"]),
                "halfnormal": lambda: stats.halfnorm(0.0, p["sigma"]),
                "lognormal": lambda: stats.lognorm(p["sigma"], scale=np.exp(p["mu"]))}[self.dist]()
        return dist.ppf(np.asarray(q))


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
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.single(source, "file not found") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(source, f"malformed TOML: {exc}") from None

    issues: list[Issue] = []
    meta = raw.pop("meta", {})
    entries: dict[tuple[str, str], Prior] = {}
    for section, body in raw.items():
        if section not in SECTIONS:
            issues.append(_issue(source, section, f"unknown section (allowed: meta, {', '.join(SECTIONS)})"))
            continue
        if not isinstance(body, dict):
            issues.append(_issue(source, section, "must be a table"))
            continue
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
    if issues:
        raise InputError(issues)
    return PriorSet(source, str(meta.get("name", path.stem)), str(meta.get("description", "")),
                    entries, text)


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
            if p in ("sigma", "nu") and value <= 0:
                issues.append(_issue(source, full, f"parameter {p} must be > 0, got {value}"))
                continue
            params[p] = float(value)
    if len(params) == len(needed) and not missing:
        entries[(section, key)] = Prior(full, dist, params, str(entry.get("scale", "")),
                                        str(entry.get("source", "")))
