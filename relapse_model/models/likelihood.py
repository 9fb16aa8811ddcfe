"""Pointwise log-likelihoods of the cure and competing-risk survival models.

Written from each cause's log hazard and cumulative hazard, so one function serves events and
censored rows alike; every row contributes its own term (LOO needs them all). The functions take
``xp`` = ``numpy`` or ``pytensor.tensor`` so the sampler and the tests use the same formulas.

Notation (row i): ``eta_cure`` is the log-odds of cure, pi = logistic(eta_cure); cured patients
never relapse. Relapse hazard of the non-cured: h_R, H_R; death-in-remission hazard: h_D, H_D.

- relapse at t:          log(1 - pi) + log h_R - H_R - H_D
- death without relapse: log(pi + (1 - pi) exp(-H_R)) + log h_D - H_D
- censored:              log(pi + (1 - pi) exp(-H_R)) - H_D
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt


def _softplus(x, xp):
    return np.logaddexp(0.0, x) if xp is np else pt.softplus(x)


def logaddexp(a, b, xp=np):
    """log(e^a + e^b) = max + log1p(e^-|a - b|); with pytensor written out, so it fuses into one
    elementwise kernel (``pt.logaddexp`` is an OpFromGraph run from Python) and its gradient at
    a tie is 1/2 each."""
    if xp is np:
        return np.logaddexp(a, b)
    d = a - b
    return xp.where(d > 0, a, b) + xp.log1p(xp.exp(xp.where(d > 0, -d, d)))


def log_cure_and_not(eta_cure, xp=np):
    """(log pi, log(1 - pi)) for pi = logistic(eta_cure), stable for large |eta|."""
    return -_softplus(-eta_cure, xp), -_softplus(eta_cure, xp)


def log_relapse_free(eta_cure, cum_hazard, xp=np):
    """log P(no relapse by t) = log(pi + (1 - pi) exp(-H)); with ``eta_cure=None`` simply -H."""
    if eta_cure is None:
        return -cum_hazard
    log_pi, log_not = log_cure_and_not(eta_cure, xp)
    return logaddexp(log_pi, log_not - cum_hazard, xp)


def cure_survival_loglik(event, log_hazard, cum_hazard, eta_cure=None, xp=np):
    """Single-event mixture cure model (or plain survival when ``eta_cure`` is None).

    Parameters
    ----------
    event : array of {0, 1}
    log_hazard, cum_hazard : arrays
        Of the non-cured, at each row's time, covariates included.
    eta_cure : array or None
        Log-odds of cure; ``None`` for no cure fraction.
    """
    if eta_cure is None:
        return event * log_hazard - cum_hazard
    return event * log_hazard + cure_mixture(event, eta_cure, cum_hazard, xp)


def competing_risks_loglik(cause, log_h_relapse, cum_h_relapse, log_h_death, cum_h_death,
                           eta_cure=None, xp=np):
    """Cause-specific hazards of relapse (with optional cure) and of death without relapse.

    Parameters
    ----------
    cause : array of {0, 1, 2}
        0 censored, 1 relapse / refractory, 2 death without relapse.
    """
    is_relapse = cause == 1 if xp is np else pt.eq(cause, 1)
    is_death = cause == 2 if xp is np else pt.eq(cause, 2)
    if eta_cure is None:
        relapse = -cum_h_relapse
    else:
        relapse = cure_mixture(is_relapse, eta_cure, cum_h_relapse, xp)
    return (relapse + xp.where(is_relapse, log_h_relapse, 0.0)
            + xp.where(is_death, log_h_death, 0.0) - cum_h_death)


def cure_mixture(relapsed, eta_cure, cum_hazard, xp=np):
    """log(1 - pi) - H where ``relapsed``, else log(pi + (1 - pi) exp(-H)).

    With ``xp=pytensor.tensor`` this is the compiled Op of :mod:`relapse_model.models.cure_mixture`,
    which evaluates the term and its gradient in one loop; the NumPy form here defines it.
    """
    if xp is np:
        relapsed = np.asarray(relapsed, dtype=bool)
        return np.where(relapsed, log_cure_and_not(eta_cure)[1] - cum_hazard,
                        log_relapse_free(eta_cure, cum_hazard))
    from relapse_model.models.cure_mixture import cure_mixture_term
    return cure_mixture_term(relapsed, eta_cure, cum_hazard)
