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
  ms::Workspace work;
  for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
    const uint64_t seed = sim::rng::derive_seed(cfg.seed, 2, s);
    Stream stimulus(seed, make_stream(Purpose::stimulus, 0), 0);
    Stream noise(seed, make_stream(Purpose::stimulus, 1), 0);
    Stream choice(seed, make_stream(Purpose::model, 0), 0);
    const PatternSet items = random_sdrs(max_stored, cfg.num_bits, cfg.active_bits, stimulus);
    const PatternSet novel = random_sdrs(cfg.num_novel, cfg.num_bits, cfg.active_bits, stimulus);
    ms::Field field = ms::make_field(params);
    std::vector<ms::Code> codes;
    uint32_t stored = 0;
    for (size_t c = 0; c < cfg.stored_counts.size(); ++c) {
      CapacityPoint& pt = m.points[c];
      double G_learning = 0;
      const uint32_t block_start = stored;
      for (; stored < cfg.stored_counts[c]; ++stored) {
        const ms::Selection sel = ms::learn(field, {.U = items[stored]}, choice, work);
        codes.push_back(sel.code);
        G_learning += sel.G;
      }
      const double block = std::max<uint32_t>(1, stored - block_start);
      double exact = 0, cm = 0, exact_noisy = 0, cm_noisy = 0, G_stored = 0, G_novel = 0;
      for (uint32_t i = 0; i < stored; ++i) {
        const ms::Selection r = ms::select_code(field, {.U = items[i]}, ms::Mode::recognise,
                                                choice, work);
        const uint32_t ov = ms::code_overlap(r.code, codes[i]);
        exact += ov == Q ? 1 : 0;
        cm += double(ov) / Q;
        G_stored += r.G;
        const std::vector<uint32_t> noisy =
            perturb(items[i], cfg.num_bits, cfg.noise_fraction, noise);
        const ms::Selection rn =
            ms::select_code(field, {.U = noisy}, ms::Mode::recognise, choice, work);
        const uint32_t ovn = ms::code_overlap(rn.code, codes[i]);
        exact_noisy += ovn == Q ? 1 : 0;
        cm_noisy += double(ovn) / Q;
      }
      for (uint32_t i = 0; i < novel.size(); ++i)
        G_novel += ms::select_code(field, {.U = novel[i]}, ms::Mode::recognise, choice, work).G;
      const std::set<ms::Code> unique(codes.begin(), codes.end());
      const double n = std::max<uint32_t>(1, stored), seeds = cfg.num_seeds;
      pt.stored = stored;
      pt.exact_recall += exact / n / seeds;
      pt.cm_recall += cm / n / seeds;
      pt.exact_recall_noisy += exact_noisy / n / seeds;
      pt.cm_recall_noisy += cm_noisy / n / seeds;
      pt.G_stored += G_stored / n / seeds;
      pt.G_novel += G_novel / std::max<uint32_t>(1, cfg.num_novel) / seeds;
      pt.G_learning += G_learning / block / seeds;
      pt.distinct_codes += double(unique.size()) / n / seeds;
    }
  }
  return m;
}

}  // namespace experiments::sparsey
