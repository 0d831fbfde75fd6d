#include "experiments/sparsey/episodic.hpp"

#include <algorithm>
#include <set>
#include <span>
#include <stdexcept>

namespace experiments::sparsey {

namespace ms = models::sparsey;
using sim::rng::make_stream;
using sim::rng::Purpose;
using sim::rng::Stream;

EpisodicMetrics run_episodic(const EpisodicConfig& cfg, const PatternSet& all) {
  if (cfg.num_seeds == 0) throw std::invalid_argument("run_episodic: num_seeds must be >= 1");
  EpisodicMetrics m;
  std::vector<uint32_t> kept;  // indices into `all`
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].size() >= std::max<uint32_t>(1, cfg.min_active))
      kept.push_back(static_cast<uint32_t>(i));
    else
      ++m.skipped;
  }
  m.patterns = kept.size();
  if (kept.empty()) return m;
  ms::Params params = cfg.field;
  params.num_inputs_U = all.num_bits;
  const uint32_t Q = params.num_cms_Q;
  const double n = double(kept.size());
  std::set<std::vector<uint32_t>> unique_patterns;
  for (size_t j = 0; j < kept.size(); ++j) {
    const auto x = all[kept[j]];
    m.mean_active += double(x.size());  // a sum here, divided below
    unique_patterns.emplace(x.begin(), x.end());
    if (j > 0) {
      const auto y = all[kept[j - 1]];
      std::vector<uint32_t> both;
      std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
      m.mean_input_overlap += double(both.size()) / double(x.size());
    }
  }
  m.mean_active /= n;
  m.mean_input_overlap /= std::max(1.0, n - 1);
  m.distinct_patterns = double(unique_patterns.size()) / n;

  struct SeedResult {
    // Sums over patterns (divided by their number at the end, so that e.g. 40 recalls out
    // of 40 give exactly 1).
    double exact = 0, cm = 0, exact_noisy = 0, cm_noisy = 0, G_learning = 0, G_stored = 0,
           G_noisy = 0, distinct = 0;
    Presentations records;
  };
  std::vector<SeedResult> seeds(cfg.num_seeds);
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, cfg.threads))
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    SeedResult& r = seeds[s];
    const uint64_t seed = sim::rng::derive_seed(cfg.seed, 5, s);
    Stream noise(seed, make_stream(Purpose::stimulus, 1), 0);
    Stream choice(seed, make_stream(Purpose::model, 0), 0);
    ms::Workspace work;
    ms::Field field = ms::make_field(params);
    auto keep = [&](Phase phase, uint32_t item, size_t active, const ms::Selection& sel) {
      if (cfg.record) r.records.push_back({s, phase, item, int64_t(active), sel.G, sel.eta, sel.code});
    };
    std::vector<ms::Code> codes;
    for (const uint32_t i : kept) {
      const ms::Selection sel = ms::learn(field, {.U = all[i]}, choice, work);
      keep(Phase::learn, i, all[i].size(), sel);
      r.G_learning += sel.G;
      codes.push_back(sel.code);
    }
    // Recognition of stored pattern j from input u: exact and per-CM overlap with the code
    // it was stored under, and the familiarity G.
    auto recall = [&](Phase phase, size_t j, std::span<const uint32_t> u, double& exact,
                      double& cm, double& G) {
      const ms::Selection sel = ms::select_code(field, {.U = u}, ms::Mode::recognise, choice, work);
      keep(phase, kept[j], u.size(), sel);
      const uint32_t ov = ms::code_overlap(sel.code, codes[j]);
      exact += ov == Q ? 1.0 : 0.0;
      cm += double(ov) / Q;
      G += sel.G;
    };
    for (size_t j = 0; j < kept.size(); ++j) {
      const auto x = all[kept[j]];
      recall(Phase::recall, j, x, r.exact, r.cm, r.G_stored);
      const std::vector<uint32_t> noisy = perturb(x, all.num_bits, cfg.noise_fraction, noise);
      recall(Phase::recall_noisy, j, noisy, r.exact_noisy, r.cm_noisy, r.G_noisy);
    }
    r.distinct = double(std::set<ms::Code>(codes.begin(), codes.end()).size());
  }
  const double S = cfg.num_seeds;  // means over patterns, then over seeds
  std::vector<Presentations> records;
  for (SeedResult& r : seeds) {
    m.exact_recall += r.exact / n / S;
    m.cm_recall += r.cm / n / S;
    m.exact_recall_noisy += r.exact_noisy / n / S;
    m.cm_recall_noisy += r.cm_noisy / n / S;
    m.G_learning += r.G_learning / n / S;
    m.G_stored += r.G_stored / n / S;
    m.G_noisy += r.G_noisy / n / S;
    m.distinct_codes += r.distinct / n / S;
    records.push_back(std::move(r.records));
  }
  concatenate(m.presentations, records);
  return m;
}

}  // namespace experiments::sparsey
