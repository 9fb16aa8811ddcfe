# Fit benchmarks/stan/relapse_default.stan with rstan and write a JSON summary.
#
#   Rscript benchmarks/stan/fit_stan.R DATA.json OUT.json SEED [CHAINS WARMUP DRAWS CACHE_DIR]
#
# DATA.json is written by benchmarks/bench_stan.py from the Design the PyMC model uses.
# Samples CHAINS (default 4) chains of WARMUP (1000) warm-up and DRAWS (1000) kept iterations with
# adapt_delta 0.95 (the target_accept of relapse-model's fit), 2 chains in parallel, and writes:
# the Stan and rstan versions; compile and sampling seconds (wall clock, sampling = warm-up +
# draws of all chains, as PyMC's sampling_time); each chain's warm-up and sampling seconds from
# Stan's own timers (clock(), so CPU seconds of that chain); divergences; and, for
# every parameter and transformed parameter (lp__ left out), posterior mean, SD, bulk ESS and
# R-hat. Bulk ESS is rstan::ess_bulk (rank-normalised split-chain bulk ESS of Vehtari et al.
# 2021, the definition of ArviZ's ess(method="bulk")); R-hat is rstan::Rhat (the same paper).
# With CACHE_DIR the compiled model is kept there, keyed by the program's MD5, so a second run
# skips the C++ compile (reported as compile_cached).
#
# Needs R with rstan and jsonlite (Debian: sudo apt-get install r-cran-rstan r-cran-jsonlite).

suppressPackageStartupMessages({
  library(rstan)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3) {
  stop("usage: Rscript fit_stan.R DATA.json OUT.json SEED [CHAINS WARMUP DRAWS CACHE_DIR]")
}
data_path <- args[1]
out_path <- args[2]
seed <- as.integer(args[3])
chains <- if (length(args) >= 4) as.integer(args[4]) else 4L
warmup <- if (length(args) >= 5) as.integer(args[5]) else 1000L
draws <- if (length(args) >= 6) as.integer(args[6]) else 1000L
cache_dir <- if (length(args) >= 7) args[7] else ""

script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])))
stan_file <- file.path(script_dir, "relapse_default.stan")

# DATA.json is {"data": {...}, "array_fields": [...]}: jsonlite turns a one-element array into a
# scalar, but Stan's array and vector declarations need arrays, so those fields are restored
raw <- read_json(data_path, simplifyVector = TRUE)
data <- raw$data
for (name in raw$array_fields) {
  if (is.null(dim(data[[name]]))) data[[name]] <- array(data[[name]], dim = length(data[[name]]))
}

t0 <- proc.time()[["elapsed"]]
cached <- FALSE
model <- NULL
if (nzchar(cache_dir)) {
  dir.create(cache_dir, showWarnings = FALSE, recursive = TRUE)
  key <- unname(tools::md5sum(stan_file))
  rds <- file.path(cache_dir, paste0("relapse_default-", key, "-rstan", packageVersion("rstan"), ".rds"))
  if (file.exists(rds)) {
    model <- readRDS(rds)
    cached <- TRUE
  }
}
if (is.null(model)) {
  # Debian's r-cran-bh is an empty shell over libboost-dev (no BH/include), which rstan 2.21
  # looks for and stops without ("Boost not found"; eddelbuettel/bh#94): point it at the system
  # Boost headers instead
  boost <- if (!nzchar(system.file("include", package = "BH")) && dir.exists("/usr/include/boost")) "/usr/include"
  model <- stan_model(stan_file, model_name = "relapse_default", boost_lib = boost)
  if (nzchar(cache_dir)) saveRDS(model, rds)
}
compile_seconds <- proc.time()[["elapsed"]] - t0

t1 <- proc.time()[["elapsed"]]
fit <- sampling(model, data = data, chains = chains, iter = warmup + draws, warmup = warmup,
                seed = seed, cores = min(chains, 2L), refresh = 0,
                control = list(adapt_delta = 0.95))
sampling_seconds <- proc.time()[["elapsed"]] - t1

arr <- as.array(fit)   # iterations x chains x parameters (kept draws only)
pars <- setdiff(dimnames(arr)[[3]], "lp__")
summary <- lapply(pars, function(p) {
  x <- arr[, , p, drop = FALSE]
  sims <- matrix(x, ncol = dim(arr)[2])
  list(mean = mean(sims), sd = sd(as.vector(sims)), ess_bulk = ess_bulk(sims), rhat = Rhat(sims))
})
names(summary) <- pars
ess <- vapply(summary, function(s) s$ess_bulk, numeric(1))
rhat <- vapply(summary, function(s) s$rhat, numeric(1))
elapsed <- get_elapsed_time(fit)
sampler_params <- get_sampler_params(fit, inc_warmup = FALSE)

out <- list(
  stan_version = stan_version(),
  rstan_version = as.character(packageVersion("rstan")),
  r_version = R.version.string,
  chains = chains, warmup = warmup, draws = draws, seed = seed, adapt_delta = 0.95,
  compile_seconds = compile_seconds, compile_cached = cached,
  sampling_seconds = sampling_seconds,
  chain_warmup_seconds = unname(elapsed[, "warmup"]),
  chain_sample_seconds = unname(elapsed[, "sample"]),
  divergences = sum(vapply(sampler_params, function(s) sum(s[, "divergent__"]), numeric(1))),
  leapfrog_per_draw = mean(unlist(lapply(sampler_params, function(s) s[, "n_leapfrog__"]))),
  ess_method = "rstan::ess_bulk (rank-normalised split-chain bulk ESS, Vehtari et al. 2021)",
  min_ess_bulk = min(ess), max_rhat = max(rhat),
  summary = summary
)
write_json(out, out_path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
