#pragma once
// Episodic capacity: how recall and novelty detection degrade with the number M of stored
// patterns (Rinkus 2017, arXiv 1710.07829 §2-3; the load table of the prototype notes
// shared/research/sparsey_prototype.md §2).
//
// Per seed, one field learns random SDRs one after another (single trial, learning mode).
// At each checkpoint M in stored_counts, with the first M patterns stored:
//   - exact recall: recognition (argmax V, random ties) of each stored pattern returns its
//     stored code in every CM; CM recall is the fraction of CMs that match;
//   - noisy recall: the same with noise_fraction of each pattern's active bits moved to
//     inactive units;
//   - G of stored patterns (1 at any load: weights only grow), G of novel random patterns
//     (rises with load as receptive fields fill), and the mean learning-time G of the block
//     stored since the previous checkpoint.
//
// Default settings: similarity_preset() with 1,000 bits, 50 active ([P] §2 table: at 20x20,
// lambda_U = 1 recall is exact up to ~100 stored and breaks down at 200-500).
#include "experiments/sparsey/record.hpp"
#include "models/sparsey.hpp"

#include <cstdint>
#include <vector>

namespace experiments::sparsey {

struct CapacityConfig {
  models::sparsey::Params field = models::sparsey::similarity_preset();  // num_inputs_U := num_bits
  uint32_t num_bits = 1000;
  uint32_t active_bits = 50;
  std::vector<uint32_t> stored_counts = {10, 50, 100, 200, 500, 1000};  // ascending
  double noise_fraction = 0.2;
  uint32_t num_novel = 100;
  uint32_t num_seeds = 3;
  uint64_t seed = 1;
  int threads = 1;  // seeds run in parallel; results do not depend on it
  // Keep a Presentation per code selection: per seed and checkpoint, the block learned
  // (phase learn), then recall, recall_noisy of every stored item and the novel probes
  // (phase novel); item = the pattern's index, label = the checkpoint's load M.
  bool record = false;
};

struct CapacityPoint {
  uint32_t stored = 0;
  double exact_recall = 0;        // fraction of stored patterns recalled in all Q CMs
  double cm_recall = 0;           // fraction of CMs recalled
  double exact_recall_noisy = 0;
  double cm_recall_noisy = 0;
  double G_stored = 0;            // mean G on re-presentation
  double G_novel = 0;             // mean G of novel random patterns
  double G_learning = 0;          // mean learning-time G of the latest block
  double distinct_codes = 0;      // fraction of stored codes that are unique
};

struct CapacityMetrics {
  std::vector<CapacityPoint> points;  // one per stored_counts entry, averaged over seeds
  Presentations presentations;        // filled when CapacityConfig::record
};

CapacityMetrics run_capacity(const CapacityConfig& config);

}  // namespace experiments::sparsey
