#pragma once
// Similarity preservation ("similar inputs -> similar codes", SISC; Rinkus 2017,
// arXiv 1710.07829 §2), measured with protocol P1 of the prototype notes
// (shared/research/sparsey_prototype.md §3):
//   per seed: a fresh field stores a reference X0 (learning mode); then each of
//   num_probes probes, sharing k = round(linspace(0, |X0|, num_probes)) bits with X0,
//   gets a learning-mode (sampled) code that is *not* stored; the code overlap is the
//   number of CMs where the probe's winner equals X0's.
// Reported: Spearman's rho between k and code overlap per seed (and their mean and min),
// the seed-averaged overlap curve, the curve the CSA's own equations predict, and their
// agreement.
//
// Default settings: similarity_preset() (Q = K = 20, lambda = 10, phi = 0.7, lambda_U = 1),
// 1,000 input bits with 50 active, 100 probes, 10 seeds ([P] §5: mean Spearman 0.927,
// min 0.905). Any other Params may be given, e.g. digits_preset() to show the tension of
// [P] §6 (lambda_U = 30 leaves only a 100 % overlap re-using the code).
#include "experiments/sparsey/record.hpp"
#include "models/sparsey.hpp"

#include <cstdint>
#include <vector>

namespace experiments::sparsey {

struct SimilarityConfig {
  models::sparsey::Params field = models::sparsey::similarity_preset();  // num_inputs_U := num_bits
  uint32_t num_bits = 1000;
  uint32_t active_bits = 50;
  uint32_t num_probes = 100;
  uint32_t num_seeds = 10;
  uint64_t seed = 1;
  // Seeds run in parallel on this many OpenMP threads; results do not depend on it.
  int threads = 1;
  // Keep a Presentation per code selection: per seed, the reference (phase learn, item 0,
  // label = active_bits) then each probe (phase probe, item = probe index, label = shared bits).
  bool record = false;
};

struct SimilarityMetrics {
  std::vector<uint32_t> shared_bits;    // k per probe, same for every seed
  std::vector<double> input_overlap;    // k / active_bits
  std::vector<double> spearman_per_seed;
  double spearman_mean = 0;
  double spearman_min = 0;
  std::vector<double> mean_code_overlap;      // per probe, fraction of Q, mean over seeds
  std::vector<double> analytic_code_overlap;  // per probe, fraction of Q (see .cpp)
  double spearman_of_mean_curve = 0;
  // Agreement of the mean curve with the analytic one. Each probe's pooled overlap count is
  // Binomial(Q seeds, a) under the analytic model, so z = (mean - a) / SE with
  // SE = sqrt(max(a (1 - a), 1 / n) / n), n = Q seeds (the floor keeps z finite as a -> 0, 1).
  double max_abs_deviation = 0;
  double rms_deviation = 0;
  double max_abs_z = 0;
  double fraction_within_3_se = 0;
  // Learning-time familiarity of the probes, mean over seeds (G = (k/|X0|)^lambda_U).
  std::vector<double> mean_G;
  Presentations presentations;  // filled when SimilarityConfig::record
};

SimilarityMetrics run_similarity(const SimilarityConfig& config);

// The analytic expected code overlap (fraction of Q) for a probe with input overlap p on a
// field that stores only X0 (derivation in the .cpp).
double analytic_overlap_fraction(double p, const models::sparsey::Params& field);

}  // namespace experiments::sparsey
