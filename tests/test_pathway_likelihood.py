"""The path log-likelihood against hand computations, and NumPy against PyTensor."""

from __future__ import annotations

import math

import numpy as np
import pytensor.tensor as pt
from test_pathway_paths import cohort

from relapse_model.models.pathway.likelihood import (
    PathwayPredictors,
    Weibull,
    path_loglik,
    sojourns,
)
from relapse_model.models.pathway.paths import observed_paths

# (log shape, log scale) of each Weibull, and the other predictors, all made up
WB = {"relapse": (0.1, 2.0), "death": (-0.2, 4.0), "transplant": (0.6, 1.2), "transplant_death": (-0.5, 4.5),
      "rr_death": (0.05, 2.2), "rr_transplant": (0.3, 1.8)}
ETA_N, ETA_E, MRD_P, MRD_U, ETA_C, DELTA, GAMMA, THETA = -1.1, -2.5, -0.4, -0.9, -0.8, 1.3, 0.2, -0.6
A = 1.5                                          # default assessment

PATIENTS = (
    dict(died="yes", death_months=0.7, followup_months="", cr2=""),                           # early death
    dict(cr2="no", second_relapse="yes", second_relapse_months=1.4, died="yes", death_months=7.5,
         followup_months=""),                                                                 # refractory, died
    dict(mrd_status="positive", hsct_after_relapse="yes", hsct_after_relapse_months=4.0, second_relapse="yes",
         second_relapse_months=16.0, died="yes", death_months=22.0, followup_months=""),      # CR, HSCT, relapse, death
    dict(followup_months=30.0),                                                                # CR (MRD unknown), censored
    dict(cr2="", followup_months=0.9),                                                         # censored before assessment
    dict(mrd_status="negative", second_relapse="yes", second_relapse_months=6.0, hsct_after_relapse="yes",
         hsct_after_relapse_months=9.0, followup_months=20.0),                                # CR, relapse, salvage HSCT
    dict(mrd_status="negative", hsct_after_relapse="yes", hsct_after_relapse_months=3.5, died="yes",
         death_months=5.0, followup_months=""),                                               # CR, HSCT, died in remission
)


def log_h(key, t):
    k, lam = math.exp(WB[key][0]), math.exp(WB[key][1])
    return math.log(k / lam) + (k - 1) * math.log(t / lam)


def cum_h(key, t):
    k, lam = math.exp(WB[key][0]), math.exp(WB[key][1])
    return (t / lam) ** k


def logistic(x):
    return 1 / (1 + math.exp(-x))


def hand() -> list[float]:
    z = 1 + math.exp(ETA_N) + math.exp(ETA_E)
    p_r, p_n, p_e = 1 / z, math.exp(ETA_N) / z, math.exp(ETA_E) / z
    zm = 1 + math.exp(MRD_P) + math.exp(MRD_U)
    m_neg, m_pos, m_unk = 1 / zm, math.exp(MRD_P) / zm, math.exp(MRD_U) / zm
    pi = logistic(ETA_C)

    def rf(u):          # P(no relapse by u) in remission
        return pi + (1 - pi) * math.exp(-cum_h("relapse", u))

    def remission_to(u, how):   # sojourn in remission ending at u by transplant / censoring
        extra = log_h("transplant", u) if how == "transplant" else (log_h("death", u) if how == "death" else 0.0)
        return math.log(rf(u)) + extra - cum_h("death", u) - cum_h("transplant", u)

    out = [math.log(p_e)]
    w = 7.5 - A
    out.append(math.log(p_n) + log_h("rr_death", w) - cum_h("rr_death", w) - cum_h("rr_transplant", w))
    u_s, v, w = 4.0 - A, 16.0 - 4.0, 22.0 - 16.0
    pi_star = logistic(ETA_C + cum_h("relapse", u_s) + DELTA)
    post = (math.log(1 - pi_star) + log_h("relapse", v) + GAMMA - cum_h("relapse", v) * math.exp(GAMMA)
            - cum_h("transplant_death", v))
    rr = log_h("rr_death", w) + THETA - cum_h("rr_death", w) * math.exp(THETA)
    out.append(math.log(p_r) + math.log(m_pos) + remission_to(u_s, "transplant") + post + rr)
    out.append(math.log(p_r) + math.log(m_unk) + remission_to(30.0 - A, "censored"))
    out.append(math.log(1 - p_e * 0.9 / A))
    u, w, w_s = 6.0 - A, 20.0 - 6.0, 9.0 - 6.0
    relapse = math.log(1 - pi) + log_h("relapse", u) - cum_h("relapse", u) - cum_h("death", u) - cum_h("transplant", u)
    rr = -cum_h("rr_death", w) * math.exp(THETA) + log_h("rr_transplant", w_s) - cum_h("rr_transplant", w_s)
    out.append(math.log(p_r) + math.log(m_neg) + relapse + rr)
    u_s, v = 3.5 - A, 5.0 - 3.5
    pi_star = logistic(ETA_C + cum_h("relapse", u_s) + DELTA)
    s_post = pi_star + (1 - pi_star) * math.exp(-cum_h("relapse", v) * math.exp(GAMMA))
    post = math.log(s_post) + log_h("transplant_death", v) - cum_h("transplant_death", v)
    out.append(math.log(p_r) + math.log(m_neg) + remission_to(u_s, "transplant") + post)
    return out


def predictors(cast=float) -> PathwayPredictors:
    wb = {k: Weibull(cast(a), cast(b)) for k, (a, b) in WB.items()}
    return PathwayPredictors(cast(ETA_N), cast(ETA_E), (cast(MRD_P), cast(MRD_U)), cast(ETA_C), wb["relapse"],
                             wb["death"], wb["transplant"], cast(DELTA), cast(GAMMA), wb["transplant_death"],
                             wb["rr_death"], cast(THETA), wb["rr_transplant"])


def test_path_loglik_equals_the_hand_computation():
    so = sojourns(observed_paths(cohort(*PATIENTS)))
    np.testing.assert_allclose(path_loglik(so, predictors()), hand(), rtol=1e-10)


def test_numpy_and_pytensor_agree():
    so = sojourns(observed_paths(cohort(*PATIENTS)))
    tensor = path_loglik(so, predictors(lambda x: pt.as_tensor(np.float64(x))), xp=pt).eval()
    np.testing.assert_allclose(tensor, path_loglik(so, predictors()), rtol=1e-10)
