#include "experiments/sparsey/sequences.hpp"

#include "experiments/sparsey/inputs.hpp"

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
  ms::Workspace work;
  uint32_t point_index = 0;
  for (const uint32_t count : cfg.sequence_counts) {
    for (const uint32_t length : cfg.lengths) {
      SequencePoint pt{.sequences = count, .length = length};
      for (uint32_t s = 0; s < cfg.num_seeds; ++s) {
        const uint64_t seed = sim::rng::derive_seed(cfg.seed, 3, uint64_t{point_index} * 1000 + s);
        Stream stimulus(seed, make_stream(Purpose::stimulus, 0), 0);
        Stream choice(seed, make_stream(Purpose::model, 0), 0);
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
            const ms::Code next =
                ms::select_code(field, {.H = from_stored}, ms::Mode::recognise, choice, work).code;
            const uint32_t ov = ms::code_overlap(next, codes[q][t]);
            exact += ov == Q ? 1 : 0;
            cm += double(ov) / Q;
            const std::vector<uint32_t> from_replayed = ms::code_cells(replayed, K);
            replayed = ms::select_code(field, {.H = from_replayed}, ms::Mode::recognise, choice,
                                       work)
                           .code;
            const bool right = replayed == codes[q][t];
            replay_steps += right ? 1 : 0;
            all_right = all_right && right;
          }
          replay_sequences += all_right ? 1 : 0;
        }
        const double transitions = double(count) * (length > 0 ? length - 1 : 0);
        const double seeds = cfg.num_seeds;
        if (transitions > 0) {
          pt.next_code_exact += exact / transitions / seeds;
          pt.next_code_cm += cm / transitions / seeds;
          pt.replay_step_exact += replay_steps / transitions / seeds;
          pt.G_learning += G_learning / transitions / seeds;
        }
        pt.replay_sequence_exact += replay_sequences / count / seeds;
      }
      m.points.push_back(pt);
      ++point_index;
    }
  }
  return m;
}

}  // namespace experiments::sparsey
