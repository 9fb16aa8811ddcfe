"""Model checking: convergence, posterior-predictive checks, accuracy and calibration, LOO, SBC."""
