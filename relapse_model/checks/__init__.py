"""Model checking: convergence, posterior-predictive checks (also of the pathway model's state occupation),
accuracy and calibration, LOO, SBC."""
