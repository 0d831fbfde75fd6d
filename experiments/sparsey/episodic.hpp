#pragma once
// Episodic storage of given patterns — e.g. the binned spike patterns of a reservoir run
// (sources.hpp), or a matrix from an .npy / HDF5 file: every pattern is stored once
// (single-trial learning mode, in file order), then each is presented again
//   - as it was (recall: recognition, argmax V with random ties, should return its code), and
//   - with noise_fraction of its active units moved to inactive ones (recall_noisy).
// This treats reservoir states as episodes, Rinkus 2017 (arXiv 1710.07829) §2: one code per
// moment, retrievable from a partial or corrupted cue.
//
// Patterns with fewer than min_active active units (e.g. silent time bins) are left out: an
// empty input has no U factor at all, so its "code" would be a tie among every cell.
// Identical patterns are stored as separate episodes; the second gets G = 1 and, almost
// surely, the first one's code, and recall then scores against each one's own code.
//
// Default settings: similarity_preset() with lambda_U = 10: reservoir states of one run
// overlap far more than random SDRs do, and lambda_U = 10 keeps their learning-time G low
// enough that different states get different codes (the same reasoning as for sequences).
#include "experiments/sparsey/inputs.hpp"
#include "experiments/sparsey/record.hpp"
#include "models/sparsey.hpp"

#include <cstdint>

namespace experiments::sparsey {

struct EpisodicConfig {
  models::sparsey::Params field = [] {
    models::sparsey::Params p = models::sparsey::similarity_preset();
    p.lambda_U = 10.0;
    return p;
  }();  // num_inputs_U := the patterns' number of units
  double noise_fraction = 0.1;
  uint32_t min_active = 1;
  uint32_t num_seeds = 1;  // CSA seeds (the patterns are the same for every seed)
  uint64_t seed = 1;
  int threads = 1;  // seeds run in parallel; results do not depend on it
  // Keep a Presentation per selection: learn, recall, recall_noisy; item = the pattern's
  // index in the given set (a time bin for binned spikes), label = its number of active units.
  bool record = false;
};

struct EpisodicMetrics {
  uint64_t patterns = 0;          // stored (after leaving out the nearly empty ones)
  uint64_t skipped = 0;           // left out: fewer than min_active active units
  double mean_active = 0;         // mean active units per stored pattern
  double mean_input_overlap = 0;  // mean |x_i ∩ x_j| / |x_i| over consecutive stored patterns
  // Means over patterns and seeds:
  double exact_recall = 0, cm_recall = 0;
  double exact_recall_noisy = 0, cm_recall_noisy = 0;
  double G_learning = 0, G_stored = 0, G_noisy = 0;
  double distinct_codes = 0;     // distinct stored codes / stored patterns
  double distinct_patterns = 0;  // distinct stored patterns / stored patterns (the ceiling)
  Presentations presentations;
};

EpisodicMetrics run_episodic(const EpisodicConfig& config, const PatternSet& patterns);

}  // namespace experiments::sparsey
