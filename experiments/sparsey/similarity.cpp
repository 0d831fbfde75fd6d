#include "experiments/sparsey/similarity.hpp"

#include "experiments/sparsey/inputs.hpp"
#include "experiments/sparsey/stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace experiments::sparsey {

namespace ms = models::sparsey;

// Derivation of the analytic curve (protocol P1, fresh field, only X0 stored).
// Storing X0 latches w = 1 from X0's |X0| active bits to the Q cells of its code c0 and
// nothing else. A probe sharing k of X0's bits (p = k/|X0|) therefore has:
//   U = p on each cell of c0 and U = 0 on every other cell (step 2), so
//   V1 = p^lambda_U on c0's cells and V0 = 0 elsewhere (step 3);
//   every CM's maximum is V1, so G = p^lambda_U (= p for lambda_U = 1) (step 4);
//   eta = eta(G) (step 5); mu1 = mu(V1, eta), mu0 = mu(0, eta) (step 6);
//   in each CM, c0's cell wins with rho1 = mu1 / (mu1 + (K - 1) mu0) (step 7).
// The Q CMs draw independently (step 8), so the code overlap with c0 is Binomial(Q, rho1)
// and E[overlap]/Q = rho1. At p = 0, eta = 1 and rho1 = 1/K (chance).
double analytic_overlap_fraction(double p, const ms::Params& f) {
  const double V1 = std::pow(p, f.lambda_U);
  const double eta = ms::expansion_eta(V1, f);
  const double mu1 = ms::relative_mu(V1, eta, f);
  const double mu0 = ms::relative_mu(0.0, eta, f);
  return mu1 / (mu1 + (f.cells_per_cm_K - 1) * mu0);
}

SimilarityMetrics run_similarity(const SimilarityConfig& cfg) {
  ms::Params params = cfg.field;
  params.num_inputs_U = cfg.num_bits;
  const uint32_t Q = params.num_cms_Q;
  if (cfg.num_seeds == 0) throw std::invalid_argument("run_similarity: num_seeds must be >= 1");
  SimilarityMetrics m;
  m.mean_code_overlap.assign(cfg.num_probes, 0.0);
  m.mean_G.assign(cfg.num_probes, 0.0);
  // Each seed is independent (its own field and streams keyed by the seed index); results
  // are combined afterwards in seed order, so the sums do not depend on the thread count.
  struct SeedResult {
    std::vector<uint32_t> shared;
    std::vector<double> overlap, G;
    double spearman = 0;
    Presentations records;
  };
  std::vector<SeedResult> seeds(cfg.num_seeds);
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, cfg.threads))
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    SeedResult& r = seeds[s];
    ms::Workspace work;
    const uint64_t seed = sim::rng::derive_seed(cfg.seed, 1, s);
    sim::rng::Stream stimulus(seed, sim::rng::make_stream(sim::rng::Purpose::stimulus, 0), 0);
    sim::rng::Stream choice(seed, sim::rng::make_stream(sim::rng::Purpose::model, 0), 0);
    const OverlapFamily fam =
        overlap_family(cfg.num_bits, cfg.active_bits, cfg.num_probes, stimulus);
    r.shared = fam.shared;
    ms::Field field = ms::make_field(params);
    const ms::Selection ref = ms::learn(field, {.U = fam.reference}, choice, work);
    const ms::Code& c0 = ref.code;
    if (cfg.record)
      r.records.push_back({s, Phase::learn, 0, cfg.active_bits, ref.G, ref.eta, c0});
    std::vector<double> k(cfg.num_probes);
    r.overlap.resize(cfg.num_probes);
    r.G.resize(cfg.num_probes);
    for (uint32_t i = 0; i < cfg.num_probes; ++i) {
      const ms::Selection sel =
          ms::select_code(field, {.U = fam.probes[i]}, ms::Mode::learn, choice, work);
      k[i] = fam.shared[i];
      r.overlap[i] = ms::code_overlap(sel.code, c0);
      r.G[i] = sel.G;
      if (cfg.record)
        r.records.push_back({s, Phase::probe, i, fam.shared[i], sel.G, sel.eta, sel.code});
    }
    r.spearman = spearman(k, r.overlap);
  }
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    const SeedResult& r = seeds[s];
    if (s == 0) m.shared_bits = r.shared;
    for (uint32_t i = 0; i < cfg.num_probes; ++i) {
      m.mean_code_overlap[i] += r.overlap[i] / Q / cfg.num_seeds;
      m.mean_G[i] += r.G[i] / cfg.num_seeds;
    }
    m.spearman_per_seed.push_back(r.spearman);
    m.presentations.insert(m.presentations.end(), r.records.begin(), r.records.end());
  }
  m.spearman_mean = mean(m.spearman_per_seed);
  m.spearman_min = *std::min_element(m.spearman_per_seed.begin(), m.spearman_per_seed.end());

  const double n = double(Q) * cfg.num_seeds;
  double ss = 0;
  uint32_t within = 0;
  std::vector<double> k_all;
  for (uint32_t i = 0; i < cfg.num_probes; ++i) {
    const double p = double(m.shared_bits[i]) / cfg.active_bits;
    m.input_overlap.push_back(p);
    k_all.push_back(m.shared_bits[i]);
    const double a = analytic_overlap_fraction(p, params);
    m.analytic_code_overlap.push_back(a);
    const double dev = m.mean_code_overlap[i] - a;
    const double se = std::sqrt(std::max(a * (1 - a), 1.0 / n) / n);
    m.max_abs_deviation = std::max(m.max_abs_deviation, std::abs(dev));
    m.max_abs_z = std::max(m.max_abs_z, std::abs(dev) / se);
    within += std::abs(dev) <= 3 * se ? 1u : 0u;
    ss += dev * dev;
  }
  m.rms_deviation = std::sqrt(ss / cfg.num_probes);
  m.fraction_within_3_se = double(within) / cfg.num_probes;
  m.spearman_of_mean_curve = spearman(k_all, m.mean_code_overlap);
  return m;
}

}  // namespace experiments::sparsey
