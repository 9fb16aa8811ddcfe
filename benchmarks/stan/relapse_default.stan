// The default RelapseModel() of relapse-model, written in Stan (rstan 2.21 syntax, Debian bookworm).
//
// Competing risks after first relapse: cause-specific Weibull hazards of second relapse (with a
// mixture cure fraction acting on it) and of death without relapse; covariate effects on all
// three; cytogenetic class effects nested in risk groups plus study effects on the cure logit.
// Every coefficient is non-centred (beta = mu + sigma * z, z ~ normal(0, 1)) as in
// relapse_model/models/build.py, and every parameter and transformed parameter is named as the
// PyMC model names its free variable or deterministic, so benchmarks/bench_stan.py compares them
// by name and tests/test_bench_stan.py checks that the two programs declare the same variables.
// The prior parameters are data, exported from priors/default.toml by bench_stan.py, so the
// priors cannot drift apart; only their families (normal, half-normal) are written here.
//
// Likelihood of row i (pi = inv_logit(eta_cure); h, H = hazard and cumulative hazard):
//   relapse:               log(1 - pi) + log h_R - H_R - H_D
//   death without relapse: log(pi + (1 - pi) exp(-H_R)) + log h_D - H_D
//   censored:              log(pi + (1 - pi) exp(-H_R)) - H_D
data {
  int<lower=1> N;                                // patients
  int<lower=1> P;                                // columns of X (all of them act on cure)
  matrix[N, P] X;
  int<lower=0> P_relapse;
  int<lower=1, upper=P> relapse_cols[P_relapse];  // columns of X acting on the relapse hazard
  int<lower=0> P_death;
  int<lower=1, upper=P> death_cols[P_death];      // columns of X acting on the death hazard
  int<lower=1> C;                                // cytogenetic classes
  int<lower=1, upper=4> class_group[C];          // 1 intermediate (reference, mean 0), 2 favourable, 3 adverse, 4 unknown
  int<lower=1, upper=C> class_index[N];
  int<lower=2> S;                                // studies (the PyMC model has study effects only when S > 1)
  int<lower=1, upper=S> study_index[N];
  vector<lower=0>[N] time;                       // months; already floored at 1e-3 by the Design
  int<lower=0, upper=2> cause[N];                // 0 censored, 1 relapse / refractory, 2 death without relapse
  // priors: mean and sd of each normal, sd of each half-normal
  real cure_intercept_mu;
  real<lower=0> cure_intercept_sigma;
  vector[P] cure_beta_mu;
  vector<lower=0>[P] cure_beta_sigma;
  vector[3] cure_group_mu;
  vector<lower=0>[3] cure_group_sigma;
  real<lower=0> cure_class_sd_sigma;
  real<lower=0> cure_study_sd_sigma;
  vector[P_relapse] relapse_beta_mu;
  vector<lower=0>[P_relapse] relapse_beta_sigma;
  real relapse_log_shape_mu;
  real<lower=0> relapse_log_shape_sigma;
  real relapse_log_scale_mu;
  real<lower=0> relapse_log_scale_sigma;
  vector[P_death] death_beta_mu;
  vector<lower=0>[P_death] death_beta_sigma;
  real death_log_shape_mu;
  real<lower=0> death_log_shape_sigma;
  real death_log_scale_mu;
  real<lower=0> death_log_scale_sigma;
}
transformed data {
  vector[N] log_t = log(time);
  matrix[N, P_relapse] X_relapse = X[, relapse_cols];
  matrix[N, P_death] X_death = X[, death_cols];
}
parameters {
  vector[P_relapse] relapse_beta_z;
  real cure_intercept_z;
  vector[P] cure_beta_z;
  vector[3] cure_group_z;
  real<lower=0> cure_class_sd;
  vector[C] cure_class_z;
  real<lower=0> cure_study_sd;
  vector[S] cure_study_z;
  real relapse_log_shape_z;
  real relapse_log_scale_z;
  vector[P_death] death_beta_z;
  real death_log_shape_z;
  real death_log_scale_z;
}
transformed parameters {
  vector[P_relapse] relapse_beta = relapse_beta_mu + relapse_beta_sigma .* relapse_beta_z;
  real cure_intercept = cure_intercept_mu + cure_intercept_sigma * cure_intercept_z;
  vector[P] cure_beta = cure_beta_mu + cure_beta_sigma .* cure_beta_z;
  vector[3] cure_group = cure_group_mu + cure_group_sigma .* cure_group_z;
  vector[C] cure_class = append_row(rep_vector(0, 1), cure_group)[class_group] + cure_class_sd * cure_class_z;
  vector[S] cure_study = cure_study_sd * cure_study_z;
  real relapse_log_shape = relapse_log_shape_mu + relapse_log_shape_sigma * relapse_log_shape_z;
  real relapse_log_scale = relapse_log_scale_mu + relapse_log_scale_sigma * relapse_log_scale_z;
  vector[P_death] death_beta = death_beta_mu + death_beta_sigma .* death_beta_z;
  real death_log_shape = death_log_shape_mu + death_log_shape_sigma * death_log_shape_z;
  real death_log_scale = death_log_scale_mu + death_log_scale_sigma * death_log_scale_z;
}
model {
  vector[N] eta_cure = cure_intercept + X * cure_beta + cure_class[class_index] + cure_study[study_index];
  vector[N] eta_relapse = X_relapse * relapse_beta;
  vector[N] eta_death = X_death * death_beta;
  // Weibull: log h = log k - log lambda + (k - 1)(log t - log lambda), H = exp(k (log t - log lambda))
  vector[N] log_h_relapse = relapse_log_shape - relapse_log_scale
                            + (exp(relapse_log_shape) - 1) * (log_t - relapse_log_scale) + eta_relapse;
  vector[N] cum_h_relapse = exp(exp(relapse_log_shape) * (log_t - relapse_log_scale) + eta_relapse);
  vector[N] log_h_death = death_log_shape - death_log_scale
                          + (exp(death_log_shape) - 1) * (log_t - death_log_scale) + eta_death;
  vector[N] cum_h_death = exp(exp(death_log_shape) * (log_t - death_log_scale) + eta_death);

  // priors: standard normal z of every non-centred coefficient; half-normal scales (<lower=0>)
  relapse_beta_z ~ std_normal();
  cure_intercept_z ~ std_normal();
  cure_beta_z ~ std_normal();
  cure_group_z ~ std_normal();
  cure_class_sd ~ normal(0, cure_class_sd_sigma);
  cure_class_z ~ std_normal();
  cure_study_sd ~ normal(0, cure_study_sd_sigma);
  cure_study_z ~ std_normal();
  relapse_log_shape_z ~ std_normal();
  relapse_log_scale_z ~ std_normal();
  death_beta_z ~ std_normal();
  death_log_shape_z ~ std_normal();
  death_log_scale_z ~ std_normal();

  for (i in 1:N) {
    real log_not_cured = log1m_inv_logit(eta_cure[i]);
    if (cause[i] == 1) {
      target += log_not_cured + log_h_relapse[i] - cum_h_relapse[i];
    } else {
      target += log_sum_exp(log_inv_logit(eta_cure[i]), log_not_cured - cum_h_relapse[i]);
      if (cause[i] == 2)
        target += log_h_death[i];
    }
    target += -cum_h_death[i];
  }
}
