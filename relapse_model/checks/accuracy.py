"""Predictive accuracy on held-out patients, computed by scikit-survival.

The metrics are scikit-survival's own; this module only fixes their orientation (risk scores
are higher-is-worse), keeps their input requirements from dropping patients unseen, and makes
stratified cross-validation folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sksurv.metrics import (concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc,
                            integrated_brier_score)
from sksurv.util import Surv


@dataclass(frozen=True)
class Accuracy:
    """Accuracy of one set of test-patient predictions.

    Attributes
    ----------
    harrell_c : float
        Harrell's concordance index (``concordance_index_censored``).
    uno_c : float
        Uno's IPCW concordance index (``concordance_index_ipcw``) truncated at ``tau``.
    tau : float
        Truncation time of Uno's C: the largest evaluation time used.
    times : ndarray
        Evaluation times used (those from the first test event to before the last test time).
    auc : ndarray
        Cumulative/dynamic AUC at ``times`` (``cumulative_dynamic_auc``).
    mean_auc : float
        scikit-survival's mean AUC over ``times`` (weighted by the change in survival).
    integrated_brier : float
        Integrated Brier score over ``times`` (``integrated_brier_score``); needs two times.
    times_dropped : ndarray
        Requested times outside that range, not evaluated.
    n_test : int
        Number of test patients, all of them used.
    n_test_beyond_train : int
        Test patients followed beyond the largest training time, censored there.
    """

    harrell_c: float
    uno_c: float
    tau: float
    times: np.ndarray
    auc: np.ndarray
    mean_auc: float
    integrated_brier: float
    times_dropped: np.ndarray
    n_test: int
    n_test_beyond_train: int

    def as_dict(self) -> dict[str, object]:
        """Plain dictionary (arrays as lists), e.g. for JSON reports."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}


def _fields(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names = y.dtype.names
    if names is None or len(names) != 2:
        raise ValueError("expected a scikit-survival structured array with fields (event, time)")
    return y[names[0]].astype(bool), y[names[1]].astype(float)


def censor_at_train_range(train_y: np.ndarray, test_y: np.ndarray) -> tuple[np.ndarray, int]:
    """Test outcomes administratively censored at the largest training time.

    The censoring distribution used by the IPCW metrics is estimated on the training data and
    is undefined after its largest time. Test patients followed longer are kept, but their
    follow-up is cut there: time = largest training time and event = False if the event came
    later. Returns the new array and how many patients were cut.
    """
    _, train_time = _fields(train_y)
    event, time = _fields(test_y)
    limit = float(train_time.max())
    beyond = time > limit
    y = Surv.from_arrays(event=event & ~beyond, time=np.minimum(time, limit), name_event="event", name_time="time")
    return y, int(beyond.sum())


def accuracy_metrics(train_y: np.ndarray, test_y: np.ndarray, risk: np.ndarray, survival_at: np.ndarray,
                     times: np.ndarray) -> Accuracy:
    """Harrell's and Uno's C, time-dependent AUC and integrated Brier score of test predictions.

    Parameters
    ----------
    train_y, test_y : structured array
        scikit-survival outcomes ``(event, time)``; the training data give the censoring
        distribution for the IPCW metrics.
    risk : array (n_test,)
        Higher-is-worse risk score of each test patient (Harrell's and Uno's C).
    survival_at : array (n_test, len(times))
        Predicted probability of being event-free at each of ``times`` (Brier score; the AUC at
        time t uses the predicted risk by t, ``1 - survival_at[:, t]``, so a model whose
        ranking changes with the horizon, such as a cure mixture, is scored on its own
        prediction at each horizon).
    times : array
        Evaluation times (months).

    Returns
    -------
    Accuracy

    Notes
    -----
    scikit-survival needs every test time within the training follow-up and every evaluation
    time within the test follow-up. No patient is dropped: test patients followed beyond the
    largest training time are censored there (:func:`censor_at_train_range`; counted in
    ``n_test_beyond_train``). Evaluation times outside ``[min test time, max test time)`` are
    dropped, with their ``survival_at`` columns, and listed in ``times_dropped``; the
    integrated Brier score needs at least two remaining times. Uno's C is truncated at the
    largest remaining time ``tau``.
    """
    risk = np.asarray(risk, dtype=float)
    survival_at = np.asarray(survival_at, dtype=float)
    times = np.asarray(times, dtype=float)
    n_test = len(test_y)
    if risk.shape != (n_test,):
        raise ValueError(f"risk needs shape ({n_test},), got {risk.shape}")
    if survival_at.shape != (n_test, times.size):
        raise ValueError(f"survival_at needs shape ({n_test}, {times.size}), got {survival_at.shape}")
    if np.any(np.diff(times) <= 0):
        raise ValueError("times must be strictly increasing")
    test_y, n_beyond = censor_at_train_range(train_y, test_y)
    event, time = _fields(test_y)
    # before the first test event the AUC has no cases (0/0); after the last time sksurv refuses
    first_event = time[event].min() if event.any() else np.inf
    keep = (times >= first_event) & (times < time.max())
    if not keep.any():
        raise ValueError(f"no evaluation time inside [first test event, last test time) = [{first_event}, {time.max()})")
    used, dropped = times[keep], times[~keep]
    surv = survival_at[:, keep]
    tau = float(used.max())
    harrell = concordance_index_censored(event, time, risk)[0]
    uno = concordance_index_ipcw(train_y, test_y, risk, tau=tau)[0]
    auc, mean_auc = cumulative_dynamic_auc(train_y, test_y, 1.0 - surv, used)
    ibs = integrated_brier_score(train_y, test_y, surv, used) if used.size >= 2 else float("nan")
    return Accuracy(float(harrell), float(uno), tau, used, np.asarray(auc, dtype=float), float(mean_auc),
                    float(ibs), dropped, n_test, n_beyond)


def kfold_indices(strata: np.ndarray, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified ``k``-fold split: ``[(train_index, test_index), ...]``.

    Parameters
    ----------
    strata : array (n,)
        Label to stratify on: the event indicator, or the cause (0 censored, 1 relapse, 2 death
        without relapse) to balance both competing events. Each fold gets each label in
        proportion (scikit-learn's ``StratifiedKFold``, shuffled).
    k : int
        Number of folds (at least 2; every label needs at least ``k`` patients).
    seed : int
        The same seed gives the same folds.
    """
    labels = np.asarray(strata)
    if labels.ndim != 1:
        raise ValueError("strata must be one-dimensional")
    counts = np.unique(labels, return_counts=True)[1]
    if k < 2 or counts.min() < k:
        raise ValueError(f"k = {k} folds need k >= 2 and at least k patients of every label "
                         f"(smallest label has {counts.min()})")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(train), np.sort(test)) for train, test in splitter.split(np.zeros((labels.size, 1)), labels)]
