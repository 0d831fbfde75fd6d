#include "experiments/sparsey/sequences.hpp"

#include "experiments/sparsey/inputs.hpp"

#include <algorithm>

namespace experiments::sparsey {

namespace ms = models::sparsey;
using sim::rng::make_stream;
using sim::rng::Purpose;
using sim::rng::Stream;

SequenceMetrics run_sequences(const SequenceConfig& cfg) {
  ms::Params params = cfg.field;
  params.num_inputs_U = cfg.num_bits;
  params.horizontal = true;
  const uint32_t Q = params.num_cms_Q, K = params.cells_per_cm_K;
  SequenceMetrics m;
  struct Run {
    uint32_t point = 0, seed = 0, count = 0, length = 0;
    SequencePoint part;  // this seed's share of the point's means
    Presentations records;
  };
  std::vector<Run> runs;
  for (const uint32_t count : cfg.sequence_counts)
    for (const uint32_t length : cfg.lengths) {
      const uint32_t point = static_cast<uint32_t>(m.points.size());
      m.points.push_back({.sequences = count, .length = length});
      for (uint32_t s = 0; s < cfg.num_seeds; ++s) runs.push_back({point, s, count, length, {}, {}});
    }
  // Every (point, seed) run is independent (own field, streams keyed by point and seed);
  // the means are summed afterwards in run order, so they do not depend on the thread count.
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, cfg.threads))
  for (size_t r = 0; r < runs.size(); ++r) {
    Run& run = runs[r];
    const uint32_t count = run.count, length = run.length, s = run.seed;
    const uint32_t record_index = run.point * cfg.num_seeds + s;
    ms::Workspace work;
    const uint64_t seed = sim::rng::derive_seed(cfg.seed, 3, uint64_t{run.point} * 1000 + s);
    Stream stimulus(seed, make_stream(Purpose::stimulus, 0), 0);
    Stream choice(seed, make_stream(Purpose::model, 0), 0);
    auto keep = [&](Phase phase, uint32_t q, uint32_t t, const ms::Selection& sel) {
      if (cfg.record) run.records.push_back({record_index, phase, q, t, sel.G, sel.eta, sel.code});
    };
    const PatternSet alphabet =
        cfg.alphabet_size > 0
            ? random_sdrs(cfg.alphabet_size, cfg.num_bits, cfg.active_bits, stimulus)
            : PatternSet{};
    ms::Field field = ms::make_field(params);
    std::vector<std::vector<ms::Code>> codes(count);
    double G_learning = 0;
    for (uint32_t q = 0; q < count; ++q) {
      std::vector<uint32_t> previous;
      for (uint32_t t = 0; t < length; ++t) {
        std::vector<uint32_t> item;
        if (cfg.alphabet_size > 0) {
          const auto letter = alphabet[stimulus.below(cfg.alphabet_size)];
          item.assign(letter.begin(), letter.end());
        } else {
          item = random_sdr(cfg.num_bits, cfg.active_bits, stimulus);
        }
        const ms::Selection sel = ms::learn(field, {.U = item, .H = previous}, choice, work);
        keep(Phase::learn, q, t, sel);
        if (t > 0) G_learning += sel.G;
        codes[q].push_back(sel.code);
        previous = ms::code_cells(sel.code, K);
      }
    }
    double exact = 0, cm = 0, replay_steps = 0, replay_sequences = 0;
    for (uint32_t q = 0; q < count; ++q) {
      ms::Code replayed = codes[q][0];
      bool all_right = true;
      for (uint32_t t = 1; t < length; ++t) {
        const std::vector<uint32_t> from_stored = ms::code_cells(codes[q][t - 1], K);
        const ms::Selection next =
            ms::select_code(field, {.H = from_stored}, ms::Mode::recognise, choice, work);
        keep(Phase::next, q, t, next);
        const uint32_t ov = ms::code_overlap(next.code, codes[q][t]);
        exact += ov == Q ? 1 : 0;
        cm += double(ov) / Q;
        const std::vector<uint32_t> from_replayed = ms::code_cells(replayed, K);
        const ms::Selection rep =
            ms::select_code(field, {.H = from_replayed}, ms::Mode::recognise, choice, work);
        keep(Phase::replay, q, t, rep);
        replayed = rep.code;
        const bool right = replayed == codes[q][t];
        replay_steps += right ? 1 : 0;
        all_right = all_right && right;
      }
      replay_sequences += all_right ? 1 : 0;
    }
    const double transitions = double(count) * (length > 0 ? length - 1 : 0);
    const double seeds = cfg.num_seeds;
    SequencePoint& pt = run.part;
    if (transitions > 0) {
      pt.next_code_exact = exact / transitions / seeds;
      pt.next_code_cm = cm / transitions / seeds;
      pt.replay_step_exact = replay_steps / transitions / seeds;
      pt.G_learning = G_learning / transitions / seeds;
    }
    pt.replay_sequence_exact = replay_sequences / count / seeds;
  }
  std::vector<Presentations> records;
  for (Run& run : runs) {
    SequencePoint& pt = m.points[run.point];
    pt.next_code_exact += run.part.next_code_exact;
    pt.next_code_cm += run.part.next_code_cm;
    pt.replay_step_exact += run.part.replay_step_exact;
    pt.G_learning += run.part.G_learning;
    pt.replay_sequence_exact += run.part.replay_sequence_exact;
    records.push_back(std::move(run.records));
  }
  concatenate(m.presentations, records);
  return m;
}

}  // namespace experiments::sparsey
