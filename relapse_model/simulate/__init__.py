"""Virtual trials: mechanics (accrual, allocation, dropout, data cuts), vectorised analyses
(log-rank, Cox, RMST, Bayesian approximation), group-sequential boundaries."""
