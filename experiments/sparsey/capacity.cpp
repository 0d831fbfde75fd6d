#include "experiments/sparsey/capacity.hpp"

#include "experiments/sparsey/inputs.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace experiments::sparsey {

namespace ms = models::sparsey;
using sim::rng::make_stream;
using sim::rng::Purpose;
using sim::rng::Stream;

CapacityMetrics run_capacity(const CapacityConfig& cfg) {
  if (!std::is_sorted(cfg.stored_counts.begin(), cfg.stored_counts.end()))
    throw std::invalid_argument("run_capacity: stored_counts must be ascending");
  ms::Params params = cfg.field;
  params.num_inputs_U = cfg.num_bits;
  const uint32_t Q = params.num_cms_Q;
  const uint32_t max_stored = cfg.stored_counts.empty() ? 0 : cfg.stored_counts.back();
  CapacityMetrics m;
  m.points.resize(cfg.stored_counts.size());
  // Seeds are independent; each fills its own slot, combined in seed order below (so the
  // sums do not depend on the thread count).
  std::vector<std::vector<CapacityPoint>> per_seed(cfg.num_seeds,
                                                   std::vector<CapacityPoint>(cfg.stored_counts.size()));
  std::vector<Presentations> records(cfg.num_seeds);
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, cfg.threads))
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    ms::Workspace work;
    const uint64_t seed = sim::rng::derive_seed(cfg.seed, 2, s);
    Stream stimulus(seed, make_stream(Purpose::stimulus, 0), 0);
    Stream noise(seed, make_stream(Purpose::stimulus, 1), 0);
    Stream choice(seed, make_stream(Purpose::model, 0), 0);
    const PatternSet items = random_sdrs(max_stored, cfg.num_bits, cfg.active_bits, stimulus);
    const PatternSet novel = random_sdrs(cfg.num_novel, cfg.num_bits, cfg.active_bits, stimulus);
    ms::Field field = ms::make_field(params);
    std::vector<ms::Code> codes;
    Presentations& rec = records[s];
    auto keep = [&](Phase phase, uint32_t item, uint32_t load, const ms::Selection& sel) {
      if (cfg.record) rec.push_back({s, phase, item, load, sel.G, sel.eta, sel.code});
    };
    uint32_t stored = 0;
    for (size_t c = 0; c < cfg.stored_counts.size(); ++c) {
      CapacityPoint& pt = per_seed[s][c];
      const uint32_t load = cfg.stored_counts[c];
      double G_learning = 0;
      const uint32_t block_start = stored;
      for (; stored < load; ++stored) {
        const ms::Selection sel = ms::learn(field, {.U = items[stored]}, choice, work);
        keep(Phase::learn, stored, load, sel);
        codes.push_back(sel.code);
        G_learning += sel.G;
      }
      const double block = std::max<uint32_t>(1, stored - block_start);
      double exact = 0, cm = 0, exact_noisy = 0, cm_noisy = 0, G_stored = 0, G_novel = 0;
      for (uint32_t i = 0; i < stored; ++i) {
        const ms::Selection r = ms::select_code(field, {.U = items[i]}, ms::Mode::recognise,
                                                choice, work);
        keep(Phase::recall, i, load, r);
        const uint32_t ov = ms::code_overlap(r.code, codes[i]);
        exact += ov == Q ? 1 : 0;
        cm += double(ov) / Q;
        G_stored += r.G;
        const std::vector<uint32_t> noisy =
            perturb(items[i], cfg.num_bits, cfg.noise_fraction, noise);
        const ms::Selection rn =
            ms::select_code(field, {.U = noisy}, ms::Mode::recognise, choice, work);
        keep(Phase::recall_noisy, i, load, rn);
        const uint32_t ovn = ms::code_overlap(rn.code, codes[i]);
        exact_noisy += ovn == Q ? 1 : 0;
        cm_noisy += double(ovn) / Q;
      }
      for (uint32_t i = 0; i < novel.size(); ++i) {
        const ms::Selection r =
            ms::select_code(field, {.U = novel[i]}, ms::Mode::recognise, choice, work);
        keep(Phase::novel, i, load, r);
        G_novel += r.G;
      }
      const std::set<ms::Code> unique(codes.begin(), codes.end());
      const double n = std::max<uint32_t>(1, stored), seeds = cfg.num_seeds;
      pt.stored = stored;
      pt.exact_recall = exact / n / seeds;
      pt.cm_recall = cm / n / seeds;
      pt.exact_recall_noisy = exact_noisy / n / seeds;
      pt.cm_recall_noisy = cm_noisy / n / seeds;
      pt.G_stored = G_stored / n / seeds;
      pt.G_novel = G_novel / std::max<uint32_t>(1, cfg.num_novel) / seeds;
      pt.G_learning = G_learning / block / seeds;
      pt.distinct_codes = double(unique.size()) / n / seeds;
    }
  }
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    for (size_t c = 0; c < cfg.stored_counts.size(); ++c) {
      const CapacityPoint& q = per_seed[s][c];
      CapacityPoint& pt = m.points[c];
      pt.stored = q.stored;
      pt.exact_recall += q.exact_recall;
      pt.cm_recall += q.cm_recall;
      pt.exact_recall_noisy += q.exact_recall_noisy;
      pt.cm_recall_noisy += q.cm_recall_noisy;
      pt.G_stored += q.G_stored;
      pt.G_novel += q.G_novel;
      pt.G_learning += q.G_learning;
      pt.distinct_codes += q.distinct_codes;
    }
  }
  concatenate(m.presentations, records);
  return m;
}

}  // namespace experiments::sparsey
