#pragma once
// Sequence memory with horizontal (H) weights (Rinkus 2014, Front. Comput. Neurosci.
// 8:160, CSA steps 1-3 with H; Rinkus 2010): each item's code is chosen from its bottom-up
// input U and the previous code through H, and storing latches H from the previous code's
// Q cells to the new code's. The first item of a sequence has no H input.
//
// Recall is replay through H alone (no U input): the code of step t+1 is the recognition
// (argmax V = H^lambda_H, random ties) from the code of step t.
//   one-step: from the *stored* code of step t (teacher forced);
//   free replay: from the stored first code, each step from the previous *replayed* code.
//
// Items are random SDRs: fresh for every position (alphabet_size = 0), or drawn from an
// alphabet of alphabet_size SDRs, so that items recur in different contexts (their codes
// then differ with context: the H factor is 0 in a novel context, G = 0, a fresh code).
// With an alphabet, sequences that start with the same item share their first code (no H
// input, G = 1), so H-only replay cannot tell them apart: that loss is by construction.
//
// Default settings: similarity_preset() with horizontal weights and lambda_U = 10, 1,000
// bits, 50 active. Why lambda_U = 10: with lambda_U = 1 a 20x20 field's U input saturates
// after ~100-200 random items (novel G 0.7 at 100, [P] §2), so new items re-use old cells and
// replay fails from that alone (measured: 10 sequences of 20 items, 92 % of steps); with
// lambda_U = 10 novel G stays ~0 and what is left is the capacity of H itself. That capacity:
// each transition latches Q^2 of the (QK)^2 H weights, so after T transitions a fraction
// ~1 - exp(-T/K^2) is set, and a wrong cell wins a tie at H = 1 only when all Q cells of the
// current code reach it; replay is exact up to T ~ K^2 = 400 transitions at K = 20 and
// breaks down soon after (measured: 50 x 5 exact, 50 x 10 at 70 %, 50 x 20 at 0 %).
//
// Use lambda_U = 1 (similarity_preset() as is) to see the interaction with U saturation.
#include "experiments/sparsey/record.hpp"
#include "models/sparsey.hpp"

#include <cstdint>
#include <vector>

namespace experiments::sparsey {

struct SequenceConfig {
  models::sparsey::Params field = [] {
    models::sparsey::Params p = models::sparsey::similarity_preset();
    p.horizontal = true;
    p.lambda_U = 10.0;
    return p;
  }();  // num_inputs_U := num_bits; horizontal is forced on
  uint32_t num_bits = 1000;
  uint32_t active_bits = 50;
  std::vector<uint32_t> sequence_counts = {10, 50, 100};
  std::vector<uint32_t> lengths = {5, 10, 20};
  uint32_t alphabet_size = 0;
  uint32_t num_seeds = 2;
  uint64_t seed = 1;
  int threads = 1;  // (point, seed) runs in parallel; results do not depend on it
  // Keep a Presentation per code selection: seed_index = point index x num_seeds + seed;
  // learning (phase learn), one-step prediction (next) and free replay (replay) with
  // item = sequence index and label = position t in the sequence.
  bool record = false;
};

struct SequencePoint {
  uint32_t sequences = 0;
  uint32_t length = 0;
  double next_code_exact = 0;   // fraction of transitions whose predicted code is exact
  double next_code_cm = 0;      // fraction of CMs correct over all transitions
  double replay_step_exact = 0; // free replay: fraction of steps t >= 1 exactly right
  double replay_sequence_exact = 0;  // free replay: fraction of whole sequences exact
  double G_learning = 0;        // mean learning-time G (steps t >= 1)
};

struct SequenceMetrics {
  std::vector<SequencePoint> points;  // sequence_counts x lengths, counts outer
  Presentations presentations;        // filled when SequenceConfig::record
};

SequenceMetrics run_sequences(const SequenceConfig& config);

}  // namespace experiments::sparsey
