"""Trial specification files (TOML): arms, allocation, accrual, dropout, analyses, interims.

Every problem is reported with the file and the key, e.g.
``trial.toml: key 'sample_size': Input should be greater than 0``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from relapse_model.cohort.schema import COLUMN
from relapse_model.common.strict import StrictModel
from relapse_model.common.toml import read_toml
from relapse_model.errors import InputError, Issue
from relapse_model.simulate.agents import Condition, available_agents

#: Largest sample size of one virtual trial (a larger one would not fit in memory in blocks).
MAX_SAMPLE_SIZE = 100_000


class Arm(StrictModel):
    """Base regimen (the standard of care the model was fitted on) plus or minus agents."""

    name: str
    add: list[str] = []
    remove: list[str] = []


class Accrual(StrictModel):
    """Patients per month: one rate, or piecewise ``rates`` changing at ``breaks`` (months)."""

    rate: float | None = Field(default=None, gt=0)
    rates: list[float] | None = None
    breaks: list[float] = []

    @model_validator(mode="after")
    def _one(self) -> Accrual:
        if (self.rate is None) == (self.rates is None):
            raise ValueError("give either 'rate' or 'rates' (with 'breaks')")
        if self.rates is not None and len(self.breaks) != len(self.rates) - 1:
            raise ValueError("'breaks' needs one fewer value than 'rates'")
        if self.rates is not None and (any(r < 0 for r in self.rates) or self.rates[-1] <= 0):
            raise ValueError("rates must be >= 0 and the last one > 0")
        return self

    @property
    def as_rates(self) -> tuple[list[float], list[float]]:
        return ([self.rate] if self.rate is not None else list(self.rates or [])), list(self.breaks)

    def months_to_enrol(self, n: int) -> float:
        """Months until ``n`` patients are expected to have enrolled at these rates."""
        rates, breaks = self.as_rates
        start, enrolled = 0.0, 0.0
        for rate, end in zip(rates, [*breaks, float("inf")]):
            if rate > 0 and enrolled + rate * (end - start) >= n:
                return start + (n - enrolled) / rate
            enrolled += rate * (end - start)
            start = end
        return float("inf")


class Dropout(StrictModel):
    rate: float = Field(default=0.0, ge=0, description="per month, exponential")


#: Trial endpoints: time-to-event ones (analysed by log-rank, Cox, RMST or a Bayesian rule on
#: the Cox estimate) and binary ones observed at the re-induction assessment (two proportions).
TIME_TO_EVENT_ENDPOINTS = ("efs", "os", "relapse")
BINARY_ENDPOINTS = ("response", "mrd_negative_response")
Endpoint = Literal["efs", "os", "relapse", "response", "mrd_negative_response"]


#: Piece boundaries (months) of the piecewise-exponential analysis of time-to-event borrowing.
DEFAULT_BORROWING_EDGES = (0.0, 3.0, 6.0, 12.0, 24.0, 60.0)


class Borrowing(StrictModel):
    """``[analysis.borrowing]``: the control arm's analysis prior borrowed from the fitted model.

    Response endpoints: the model's posterior of the standard-care response rate in the trial's
    eligible population is approximated by a mixture of ``components`` Beta distributions and
    robustified: ``weight`` on it, ``1 - weight`` on the vague Beta(``vague``).

    Time-to-event endpoints: the analysis is a piecewise-exponential proportional-hazards model
    on the pieces between ``edges`` (months; follow-up after the last edge is not used); the
    model's posterior of the standard-care hazard of each piece in the eligible population is
    approximated by a mixture of ``components`` products of Gammas and robustified with a vague
    component that has the same mean hazards and ``vague_events`` prior events in all.

    ``weight = 0`` is no borrowing: the vague prior alone.
    """

    weight: float = Field(ge=0, le=1)
    vague: tuple[float, float] = (1.0, 1.0)
    components: int = Field(default=2, ge=1, le=4)
    edges: tuple[float, ...] = DEFAULT_BORROWING_EDGES
    vague_events: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _vague(self) -> Borrowing:
        if min(self.vague) <= 0:
            raise ValueError(f"vague = {list(self.vague)}: both Beta parameters must be > 0")
        e = self.edges
        if len(e) < 2 or e[0] != 0 or any(b <= a for a, b in zip(e, e[1:])) or not np.isfinite(e[-1]):
            raise ValueError(f"edges = {list(e)}: piece boundaries must start at 0, increase and end at a finite "
                             "horizon (months)")
        return self


class Analysis(StrictModel):
    """When the (final) analysis happens and how it is judged.

    Time-to-event endpoints: ``timing = "events"`` or ``"calendar"``, ``primary`` one of
    logrank, cox, rmst, bayes. Binary endpoints: ``timing = "assessed"`` (the final look when
    every patient has had the response assessment; interim looks at fractions of them) and
    ``primary`` "proportions" (two-proportion z; Cochran-Mantel-Haenszel when randomisation is
    stratified) or "bayes" (posterior probability that the experimental rate is higher, uniform
    priors, at least ``bayes_threshold``).
    """

    timing: Literal["events", "calendar", "assessed"] = "events"
    events: int | None = Field(default=None, gt=0)
    months: float | None = Field(default=None, gt=0)
    max_months: float = Field(default=240.0, gt=0)
    alpha: float = Field(default=0.025, gt=0, lt=0.5, description="one-sided")
    primary: Literal["logrank", "cox", "rmst", "bayes", "proportions"] = "logrank"
    rmst_tau: float = Field(default=24.0, gt=0)
    bayes_prior_sd: float = Field(default=float("inf"), gt=0, allow_inf_nan=True)   # inf: flat prior
    bayes_threshold: float = Field(default=0.975, gt=0.5, lt=1)
    #: choose ``bayes_threshold`` by simulation under no effect, so that the rule's type-I error
    #: is ``alpha`` (the stated threshold is then ignored)
    calibrate: bool = False
    borrowing: Borrowing | None = None
    #: estimates reported for every trial at the final look besides the primary test
    estimates: list[Literal["cox", "rmst"]] = ["cox", "rmst"]

    @model_validator(mode="after")
    def _timing(self) -> Analysis:
        if self.timing == "events" and self.events is None:
            raise ValueError("timing = 'events' needs 'events'")
        if self.timing == "calendar" and self.months is None:
            raise ValueError("timing = 'calendar' needs 'months'")
        if self.calibrate and self.primary != "bayes":
            raise ValueError("calibrate = true chooses the threshold of a Bayesian rule: it needs primary = 'bayes'")
        if self.timing == "assessed" and self.events is not None:
            raise ValueError("timing = 'assessed' looks when patients are assessed: leave out 'events'")
        return self


class Interim(StrictModel):
    """Looks at fractions of the final events (timing = 'events') or of the final calendar time."""

    fractions: list[float]
    spending: Literal["obf", "pocock"] = "obf"
    futility: list[float] | None = None

    @model_validator(mode="after")
    def _fractions(self) -> Interim:
        f = self.fractions
        if not f or any(b <= a for a, b in zip(f, f[1:])) or f[0] <= 0 or f[-1] != 1.0:
            raise ValueError("fractions must increase within (0, 1] and end at 1")
        if self.futility is not None and len(self.futility) != len(f) - 1:
            raise ValueError("give one futility bound per interim look (not for the final one)")
        return self


class Generated(StrictModel):
    """Virtual patients drawn from a covariate specification instead of an existing cohort:
    the covariate distributions of a reference-cohort spec (``cohorts/NAME.toml``), with
    ``parameters`` overriding any of them (e.g. ``p_flt3_itd``, ``cytogenetics_probs``,
    ``diagnosis_to_relapse_median_months``), ``n`` patients from ``seed``."""

    spec: str = "cog_like"
    n: int = Field(default=5000, gt=0)
    seed: int = 0
    parameters: dict[str, Any] = {}


class PopulationSpec(StrictModel):
    """Virtual patients: resampled from a cohort (the fitted one unless ``cohort`` names another,
    or a generated one), optionally restricted to the eligible (a patient is eligible when any
    condition holds)."""

    #: a bundled name or a file; None (the default): the cohort the model was fitted to
    cohort: str | None = None
    generate: Generated | None = None
    eligible: list[Condition] = []
    #: the current standard of care's response log odds minus the model's (pathway model): a
    #: drift between the fitted (historical) and the current control, to see type-I inflation
    #: of borrowing; 0 = the model is right
    drift_response_log_or: float = 0.0
    #: the current standard of care's log hazard ratio of relapse and of death without relapse
    #: against the model's (cure and response unchanged): a drift for time-to-event borrowing
    drift_log_hr: float = 0.0


class TrialSpec(StrictModel):
    """A two-arm virtual trial: control first, experimental second.

    ``endpoint`` is the primary endpoint: "efs" (the only one of the one-step models), "os",
    "relapse" (relapse or refractory disease, death censored) or the binary "response" (CR2 /
    CRi at the re-induction assessment) and "mrd_negative_response" (an MRD-negative response),
    which need a pathway fit. With ``stratify`` the randomisation is stratified and so is the
    test (stratified log-rank or Cox; Cochran-Mantel-Haenszel for a binary endpoint).
    """

    kind: Literal["two_arm"] = "two_arm"
    name: str
    title: str = ""
    endpoint: Endpoint = "efs"
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    sample_size: int = Field(gt=1, le=MAX_SAMPLE_SIZE)
    allocation: tuple[int, int] = (1, 1)
    randomisation: Literal["blocks", "simple"] = "blocks"
    stratify: str | None = None
    population: PopulationSpec = PopulationSpec()
    accrual: Accrual
    dropout: Dropout = Dropout()
    analysis: Analysis
    interim: Interim | None = None
    arms: list[Arm] = Field(min_length=2, max_length=2)
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _check(self) -> TrialSpec:
        if any(a <= 0 for a in self.allocation):
            raise ValueError("allocation must be two positive integers, e.g. [1, 1] or [1, 2]")
        known = available_agents()
        for arm in self.arms:
            for agent in arm.add + arm.remove:
                if agent not in known:
                    raise ValueError(f"unknown agent '{agent}' in arm '{arm.name}' (available: {', '.join(known)})")
        if self.stratify is not None and self.stratify not in COLUMN and self.stratify not in ("early_relapse", "risk_group"):
            raise ValueError(f"stratify: unknown cohort column '{self.stratify}'")
        self._check_endpoint()
        if self.stratify is not None and self.analysis.primary == "rmst" and self.endpoint in TIME_TO_EVENT_ENDPOINTS:
            raise ValueError(f"analysis.primary = 'rmst' has no stratified form here: with stratify = "
                             f"'{self.stratify}' use 'logrank' (stratified log-rank), 'cox' or 'bayes' (stratified Cox)")
        if self.stratify is not None and self.analysis.borrowing is not None and not self.binary:
            raise ValueError(f"analysis.borrowing on endpoint '{self.endpoint}' uses an unstratified piecewise-"
                             f"exponential analysis: leave out stratify = '{self.stratify}' or the borrowing")
        if self.analysis.events is not None and self.analysis.events > self.sample_size:
            raise ValueError("analysis.events cannot exceed sample_size")
        accrual = self.accrual.months_to_enrol(self.sample_size)
        if self.analysis.max_months <= accrual:
            raise ValueError(f"analysis.max_months ({self.analysis.max_months:g}) ends before accrual of "
                             f"{self.sample_size} patients is complete (about {accrual:.1f} months at the accrual rate)")
        return self

    def _check_endpoint(self) -> None:
        check_endpoint_analysis(self.endpoint, self.analysis)

    @property
    def binary(self) -> bool:
        """True for an endpoint read at the response assessment."""
        return self.endpoint in BINARY_ENDPOINTS

    @property
    def agents(self) -> list[str]:
        seen: list[str] = []
        for arm in self.arms:
            for a in arm.add + arm.remove:
                if a not in seen:
                    seen.append(a)
        return seen


def check_endpoint_analysis(endpoint: str, a: Analysis) -> None:
    """The analysis must suit the endpoint (ValueError naming the keys otherwise)."""
    if endpoint in BINARY_ENDPOINTS:
        if a.timing != "assessed":
            raise ValueError(f"endpoint '{endpoint}' is read at the response assessment: use "
                             "analysis.timing = 'assessed'")
        if a.primary not in ("proportions", "bayes"):
            raise ValueError(f"analysis.primary = '{a.primary}' is for time-to-event endpoints: endpoint "
                             f"'{endpoint}' takes 'proportions' or 'bayes'")
        if a.borrowing is not None and a.primary != "bayes":
            raise ValueError("analysis.borrowing gives the control arm a prior: it needs primary = 'bayes'")
        if a.borrowing is not None and (a.borrowing.edges != DEFAULT_BORROWING_EDGES or a.borrowing.vague_events != 1):
            raise ValueError(f"analysis.borrowing.edges and vague_events are for time-to-event endpoints; endpoint "
                             f"'{endpoint}' takes vague (a Beta prior)")
        if np.isfinite(a.bayes_prior_sd):
            raise ValueError("analysis.bayes_prior_sd (a prior on the log hazard ratio) does not apply to "
                             f"endpoint '{endpoint}': its Bayesian rule uses uniform priors on both rates")
        return
    if a.timing == "assessed":
        raise ValueError(f"analysis.timing = 'assessed' is for response endpoints: endpoint "
                         f"'{endpoint}' takes 'events' or 'calendar'")
    if a.primary == "proportions":
        raise ValueError(f"analysis.primary = 'proportions' is for response endpoints, not '{endpoint}'")
    if a.borrowing is not None:
        if a.primary != "bayes":
            raise ValueError("analysis.borrowing gives the control arm a prior: it needs primary = 'bayes'")
        if tuple(a.borrowing.vague) != (1.0, 1.0):      # a default left as it is cannot be told from unset
            raise ValueError(f"analysis.borrowing.vague is the Beta prior of a response rate; endpoint '{endpoint}' "
                             "takes vague_events (the vague component's prior events)")


class MultiArmSpec(StrictModel):
    """k >= 2 experimental arms against a shared control (``kind = "multi_arm"``; control first).

    Each experimental arm is compared with the control on the patients of the two arms:
    two-proportion z for a response endpoint, log-rank for a time-to-event one. At each interim
    look (``interim.fractions``) an arm whose z is below that look's ``interim.futility`` bound
    is dropped: it enrols no more patients and cannot be declared. At the final look an arm is
    declared better than control when its z reaches the critical value that keeps the
    family-wise error at ``analysis.alpha`` under the global null: Dunnett's (equal allocation
    to the experimental arms), Bonferroni's, or none (each comparison at alpha). With
    ``efficacy_stopping`` an arm whose z reaches the look's efficacy bound is declared better
    at that interim and stops enrolling; the bounds (O'Brien-Fleming, Pocock or triangular
    shape) generalise the critical value to every look (Magirr, Jaki & Whitehead 2012), with
    the futility bounds non-binding.
    """

    kind: Literal["multi_arm"]
    name: str
    title: str = ""
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    endpoint: Endpoint = "response"
    sample_size: int = Field(gt=2, le=MAX_SAMPLE_SIZE)
    allocation: list[int] | None = None
    population: PopulationSpec = PopulationSpec()
    accrual: Accrual
    dropout: Dropout = Dropout()
    analysis: Analysis
    interim: Interim | None = None
    multiplicity: Literal["dunnett", "bonferroni", "none"] = "dunnett"
    #: stop an arm for efficacy at interim looks, with boundaries of this shape that keep the
    #: family-wise error at alpha (generalised Dunnett; "none": only the final look declares)
    efficacy_stopping: Literal["none", "obf", "pocock", "triangular"] = "none"
    arms: list[Arm] = Field(min_length=3)
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _check(self) -> MultiArmSpec:
        ratio = self.ratio
        if len(ratio) != len(self.arms) or min(ratio) < 1:
            raise ValueError(f"allocation needs one positive integer per arm ({len(self.arms)}), got {ratio}")
        if self.multiplicity == "dunnett" and len(set(ratio[1:])) > 1:
            raise ValueError("multiplicity = 'dunnett' needs the same allocation to every experimental arm: use "
                             "'bonferroni' for unequal allocation")
        if self.analysis.primary not in ("proportions", "logrank"):
            raise ValueError(f"analysis.primary = '{self.analysis.primary}': a multi-arm trial takes 'proportions' "
                             "(response endpoints) or 'logrank' (time-to-event endpoints)")
        check_endpoint_analysis(self.endpoint, self.analysis)
        if self.interim is not None and self.interim.futility is None and self.efficacy_stopping == "none":
            raise ValueError("interim looks of a multi-arm trial drop arms for futility or stop them for efficacy: "
                             "give interim.futility or efficacy_stopping")
        if self.efficacy_stopping != "none" and self.interim is None:
            raise ValueError(f"efficacy_stopping = '{self.efficacy_stopping}' stops arms at interim looks: give "
                             "interim.fractions")
        known = available_agents()
        for arm in self.arms:
            for agent in arm.add + arm.remove:
                if agent not in known:
                    raise ValueError(f"unknown agent '{agent}' in arm '{arm.name}' (available: {', '.join(known)})")
        accrual = self.accrual.months_to_enrol(self.sample_size)
        if self.analysis.max_months <= accrual:
            raise ValueError(f"analysis.max_months ({self.analysis.max_months:g}) ends before accrual of "
                             f"{self.sample_size} patients is complete (about {accrual:.1f} months)")
        return self

    @property
    def ratio(self) -> list[int]:
        return list(self.allocation) if self.allocation is not None else [1] * len(self.arms)

    @property
    def binary(self) -> bool:
        return self.endpoint in BINARY_ENDPOINTS

    @property
    def agents(self) -> list[str]:
        return list(dict.fromkeys(a for arm in self.arms for a in arm.add + arm.remove))


class SingleArmDesign(StrictModel):
    """``[design]`` of a single-arm trial with a response endpoint.

    ``method``: "simon" (two-stage, optimal or minimax: ``simon_kind``), "bop2" (posterior-
    probability futility boundaries calibrated to ``alpha`` at ``looks``), "predictive" (Lee &
    Liu's search for the smallest maximum size up to ``n``) or "exact" (one analysis of ``n``
    patients, exact binomial test). ``p0`` is the response rate of no interest, a number or
    "model": the fitted model's posterior mean response rate with standard re-induction in the
    trial's eligible population; the target is ``p1`` or ``p0 + delta``.
    """

    method: Literal["simon", "bop2", "predictive", "exact"] = "simon"
    p0: float | Literal["model"]
    p1: float | None = None
    delta: float | None = Field(default=None, gt=0, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1)
    simon_kind: Literal["optimal", "minimax"] = "optimal"
    n: int | None = Field(default=None, gt=1, le=1000)
    looks: list[int] | None = None

    @model_validator(mode="after")
    def _rates(self) -> SingleArmDesign:
        if isinstance(self.p0, float) and not 0 < self.p0 < 1:
            raise ValueError(f"p0 = {self.p0:g} must be inside (0, 1) (or \"model\")")
        if (self.p1 is None) == (self.delta is None):
            raise ValueError("give the target as exactly one of 'p1' or 'delta' (p1 = p0 + delta)")
        if self.p1 is not None:
            if not 0 < self.p1 < 1:
                raise ValueError(f"p1 = {self.p1:g} must be inside (0, 1)")
            if isinstance(self.p0, float) and self.p1 <= self.p0:
                raise ValueError(f"p1 = {self.p1:g} must be above p0 = {self.p0:g}")
        if self.method in ("bop2", "exact", "predictive") and self.n is None and not self.looks:
            raise ValueError(f"method '{self.method}' needs the maximum sample size 'n'")
        if self.looks is not None:
            if self.method != "bop2":
                raise ValueError("'looks' applies to method 'bop2' only")
            if any(b <= a for a, b in zip(self.looks, self.looks[1:])) or self.looks[0] < 1:
                raise ValueError("looks must be increasing patient counts >= 1")
            if self.n is not None and self.looks[-1] != self.n:
                raise ValueError(f"the last look ({self.looks[-1]}) must equal n = {self.n}")
        return self


class SingleArmSpec(StrictModel):
    """A single-arm phase 2 trial (``kind = "single_arm"``) with a response endpoint: every
    patient gets the ``arm`` (standard re-induction plus or minus agents)."""

    kind: Literal["single_arm"]
    name: str
    title: str = ""
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    endpoint: Literal["response", "mrd_negative_response"] = "response"
    population: PopulationSpec = PopulationSpec()
    accrual: Accrual
    dropout: Dropout = Dropout()
    arm: Arm
    design: SingleArmDesign
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _check(self) -> SingleArmSpec:
        known = available_agents()
        for agent in self.arm.add + self.arm.remove:
            if agent not in known:
                raise ValueError(f"unknown agent '{agent}' in arm '{self.arm.name}' (available: {', '.join(known)})")
        return self

    @property
    def agents(self) -> list[str]:
        return list(dict.fromkeys(self.arm.add + self.arm.remove))

    @property
    def binary(self) -> bool:
        return True


class Subtrial(StrictModel):
    """One ``[[subtrials]]`` entry of a master protocol: who is routed to it (``eligible``:
    conditions any of which selects a patient, or "rest": everyone no other subtrial takes) and
    its own trial (``trial``: a single-arm or two-arm spec without population or accrual, which
    come from the protocol)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    eligible: list[Condition] | Literal["rest"]
    trial: Annotated[TrialSpec | SingleArmSpec, Field(discriminator="kind")]


class MasterProtocolSpec(StrictModel):
    """A master protocol (``kind = "master_protocol"``): patients screened from ``population``
    at ``screening_rate`` per month are routed by genotype to ``subtrials``, each with its own
    design and analysis; a patient eligible for several goes to the first listed
    (``routing = "first"``) or to one of them at random (``"random"``); without a rule,
    overlapping eligibility is an error. Each subtrial accrues at the screening rate times the
    share of the population routed to it."""

    kind: Literal["master_protocol"]
    name: str
    title: str = ""
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    population: PopulationSpec = PopulationSpec()
    screening_rate: float = Field(gt=0, description="patients screened per month")
    routing: Literal["first", "random"] | None = None
    subtrials: list[Subtrial] = Field(min_length=1)
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _check(self) -> MasterProtocolSpec:
        names = [s.name for s in self.subtrials]
        if len(set(names)) < len(names):
            raise ValueError(f"subtrial names must differ: {', '.join(names)}")
        rest = [i for i, s in enumerate(self.subtrials) if s.eligible == "rest"]
        if rest and rest != [len(self.subtrials) - 1]:
            raise ValueError("only the last subtrial may take eligible = \"rest\"")
        return self

    @property
    def agents(self) -> list[str]:
        return list(dict.fromkeys(a for s in self.subtrials for a in s.trial.agents))


def _subtrial_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """A master protocol's subtrial trials get a placeholder accrual (set from the routing at
    simulation) and no population of their own."""
    raw = copy.deepcopy(raw)
    for sub in raw.get("subtrials", []) if isinstance(raw.get("subtrials"), list) else []:
        trial = sub.get("trial") if isinstance(sub, dict) else None
        if isinstance(trial, dict):
            if "population" in trial or "accrual" in trial:
                raise InputError.single("subtrial", f"subtrial '{sub.get('name')}': leave out 'population' and "
                                        "'accrual' (they come from the protocol's population and screening_rate)")
            trial.setdefault("name", sub.get("name", "subtrial"))
            trial.setdefault("kind", "two_arm")
            trial["accrual"] = {"rate": float(raw.get("screening_rate", 1.0))}
    return raw


class ProgrammeSpec(StrictModel):
    """A phase 2 trial followed, after a go decision, by a randomised phase 3 trial
    (``kind = "programme"``): ``phase2`` a single-arm or two-arm spec (usually a response
    endpoint), ``phase3`` a two-arm spec (usually EFS). Each simulated programme uses one
    posterior draw and one draw of the agents' effects for both phases, so the assurance of the
    programme is the probability that phase 2 says go and phase 3 then succeeds."""

    kind: Literal["programme"]
    name: str
    title: str = ""
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    phase2: Annotated[TrialSpec | SingleArmSpec, Field(discriminator="kind")]
    phase3: TrialSpec
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _same_agents(self) -> ProgrammeSpec:
        if set(self.phase2.agents) != set(self.phase3.agents):
            raise ValueError(f"phase2 tests {', '.join(self.phase2.agents) or 'no agent'} but phase3 "
                             f"{', '.join(self.phase3.agents) or 'no agent'}: a programme takes the same agents "
                             "to phase 3")
        return self

    @property
    def agents(self) -> list[str]:
        return list(self.phase3.agents)


def _phase_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for phase in ("phase2", "phase3"):
        if isinstance(raw.get(phase), dict):
            raw[phase].setdefault("name", f"{raw.get('name', 'programme')}_{phase}")
            raw[phase].setdefault("kind", "two_arm")
    return raw


AnySpec = TrialSpec | SingleArmSpec | MultiArmSpec | MasterProtocolSpec | ProgrammeSpec


def parse_spec(raw: dict[str, Any], source: str) -> AnySpec:
    """Validate a spec dict, and every point of its ``[sweep]`` grid; InputError names the
    source and every bad key (for a sweep point, the point's values). ``kind = "single_arm"``
    makes a :class:`SingleArmSpec`, ``"master_protocol"`` a :class:`MasterProtocolSpec`,
    anything else a two-arm :class:`TrialSpec`."""
    kinds = {"single_arm": SingleArmSpec, "master_protocol": MasterProtocolSpec, "multi_arm": MultiArmSpec,
             "programme": ProgrammeSpec}
    if raw.get("kind") == "programme":
        raw = _phase_defaults(raw)
    try:
        if raw.get("kind") == "master_protocol":
            try:
                raw = _subtrial_defaults(raw)
            except InputError as exc:
                raise InputError.single(source, exc.issues[0].message) from None
        spec = kinds.get(raw.get("kind"), TrialSpec).model_validate(raw)
    except ValidationError as exc:
        raise InputError.from_validation(source, exc) from None
    if spec.sweep:
        _check_sweep(spec, source)
    return spec


def _check_sweep(spec: AnySpec, source: str) -> None:
    """Every grid point must be a valid spec: checked before any point runs."""
    import itertools

    keys = list(spec.sweep)
    issues = []
    for combo in itertools.product(*(spec.sweep[k] for k in keys)):
        point = dict(zip(keys, combo))
        try:
            with_overrides(spec, point, f"{source}: sweep point")
        except InputError as exc:
            issues += exc.issues
        except (KeyError, IndexError, TypeError) as exc:
            issues.append(Issue(source, None, None, f"sweep point {point}: no such key in the spec ({exc})"))
    if issues:
        raise InputError(issues)


def load_trial_spec(path: str | Path) -> AnySpec:
    """Read and validate a trial specification file."""
    return parse_spec(read_toml(Path(path)), str(path))


def with_overrides(spec: AnySpec, overrides: dict[str, Any], source: str = "sweep") -> AnySpec:
    """A copy with dotted-key overrides (``"sample_size"``, ``"accrual.rate"``, ``"arms.1.add"``)."""
    raw = copy.deepcopy(spec.model_dump(by_alias=True, exclude_none=True))
    raw.pop("sweep", None)
    for sub in raw.get("subtrials", []) if raw.get("kind") == "master_protocol" else []:
        sub["trial"].pop("population", None)        # set by the protocol, as when the file was read
        sub["trial"].pop("accrual", None)
    for key, value in overrides.items():
        node: Any = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_spec(raw, f"{source} {overrides}")
