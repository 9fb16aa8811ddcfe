"""The class-in-risk-group hierarchy and the names of the model's posterior variables, written once.

Cytogenetic classes are nested in risk groups: class effect = its group's mean (0 for the
intermediate reference group) + ``class_sd * z_class``, over every class, so a rare or absent
class borrows strength from its group; studies get ``study_sd * z_study``. The same
:func:`class_effects` serves the PyMC model (PyTensor), prior draws and the effect table (NumPy)
and the benchmark's textbook model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relapse_model.cohort.vocabulary import CYTOGENETICS, RISK_GROUP_OF

#: Risk groups with their own mean effect; "intermediate" is the reference.
EFFECT_GROUPS = ("favourable", "adverse", "unknown")
GROUPS = ("intermediate",) + EFFECT_GROUPS
#: For each class of ``CYTOGENETICS``, the index of its risk group in ``GROUPS``.
CLASS_GROUP_INDEX = np.array([GROUPS.index(RISK_GROUP_OF[c]) for c in CYTOGENETICS])
#: Prior keys of the hierarchy within a section of a priors file.
GROUP_PRIOR_KEYS = tuple(f"risk_group.{g}" for g in EFFECT_GROUPS)
CLASS_SD_KEY, STUDY_SD_KEY = "class_sd", "study_sd"
#: The cure model's intercept (log odds of cure of the reference patient).
CURE_INTERCEPT = "cure_intercept"


def class_effects(group_means, class_sd, class_z, xp=np):
    """Effects of every cytogenetic class.

    Parameters
    ----------
    group_means : (..., 3) array
        Means of the favourable, adverse and unknown groups (intermediate is 0).
    class_sd : (...) array
    class_z : (..., n_classes) array
        Standard-normal deviations of the classes.
    xp : numpy or pytensor.tensor
    """
    zero = xp.zeros_like(group_means[..., :1])
    centre = xp.concatenate([zero, group_means], axis=-1)[..., CLASS_GROUP_INDEX]
    return centre + xp.expand_dims(class_sd, -1) * class_z


def intercept_and_study_z(mu, sigma, study_sd, level_z, intercept_u, deviation_z, xp=np):
    """(intercept, study z) of an intercept ~ N(mu, sigma) with study effects ``study_sd * z``,
    z ~ N(0, 1) for each of K studies, from coordinates the data do not correlate.

    The data see only the studies' own levels, intercept + study_sd * z_k, so the intercept and
    the mean of z trade off along a ridge that narrows as study_sd grows (with two studies, the
    most of the fit's divergences started there). The sampler instead draws ``level_z`` (the mean level,
    intercept + study_sd * mean(z), standardised), ``intercept_u`` (the intercept given that level,
    standardised) and ``deviation_z`` (z minus its mean: a zero-sum normal); all three standard.
    The map back is linear and gives exactly intercept ~ N(mu, sigma^2) independent of z ~ N(0, I):
    with v = sigma^2 + study_sd^2 / K,

        intercept = mu + (sigma^2 level_z + sigma study_sd intercept_u / sqrt(K)) / sqrt(v)
        mean(z)   = (study_sd level_z / sqrt(K) - sigma intercept_u) / sqrt(K v)

    Parameters
    ----------
    mu, sigma : float
        The intercept's normal prior.
    study_sd : scalar
    level_z, intercept_u : scalars
    deviation_z : (K,) array summing to 0
    xp : numpy or pytensor.tensor
    """
    k = deviation_z.shape[-1]
    v = sigma ** 2 + study_sd ** 2 / k
    intercept = mu + (sigma ** 2 * level_z + sigma * study_sd * intercept_u / np.sqrt(k)) / xp.sqrt(v)
    mean_z = (study_sd * level_z / np.sqrt(k) - sigma * intercept_u) / xp.sqrt(k * v)
    return intercept, xp.expand_dims(mean_z, -1) + deviation_z


@dataclass(frozen=True)
class Names:
    """Posterior variable and dimension names of one section (``cure``, ``relapse``, ``death``)."""

    section: str

    @property
    def beta(self) -> str:
        return f"{self.section}_beta"

    @property
    def covariate_dim(self) -> str:
        return f"{self.section}_covariate"

    @property
    def log_shape(self) -> str:
        return f"{self.section}_log_shape"

    @property
    def log_scale(self) -> str:
        return f"{self.section}_log_scale"

    @property
    def log_rate(self) -> str:
        return f"{self.section}_log_rate"

    @property
    def rate_z(self) -> str:
        return f"{self.section}_rate_z"

    @property
    def rw_sd(self) -> str:
        return f"{self.section}_rw_sd"

    @property
    def group(self) -> str:
        return f"{self.section}_group"

    @property
    def class_sd(self) -> str:
        return f"{self.section}_class_sd"

    @property
    def class_z(self) -> str:
        return f"{self.section}_class_z"

    @property
    def class_effect(self) -> str:
        return f"{self.section}_class"

    @property
    def study_sd(self) -> str:
        return f"{self.section}_study_sd"

    @property
    def study_z(self) -> str:
        return f"{self.section}_study_z"

    @property
    def study_effect(self) -> str:
        return f"{self.section}_study"

    @property
    def level_z(self) -> str:
        return f"{self.section}_level_z"

    @property
    def study_deviation_z(self) -> str:
        return f"{self.section}_study_deviation_z"
