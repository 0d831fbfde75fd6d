#pragma once
// Digit classification by code overlap (Rinkus 2017, arXiv 1710.07829, and the protocol of
// the prototype notes shared/research/sparsey_prototype.md §4):
//   data: the 1,797 8x8 digits; train pool = the first pool_size images, test = the rest;
//   for n examples per class (n = 0: the whole pool) draw n per class at random from the
//   pool; store them in one pass, in random order (single-trial learning mode);
//   classify each test image by "vote": its recognition code's mean overlap with each
//   class's stored codes (= a per-cell class count read-out), argmax over classes
//   (exact ties: the lowest class).
// Two controls on the *same* encoding and the *same* drawn examples:
//   1-NN Hamming on the encoded inputs (ties: the first in training order);
//   a random-code field: the same field with chi = 0, so eta = 1 and every learning-time
//   choice is uniform (this shows how much of the accuracy the CSA's familiarity-driven
//   code choice contributes; [P] §4 ablation: none, at the digits setting).
//
// Default settings: digits_preset() (Q = 40, K = 100, lambda_U = 30, lambda = 28, phi = 0.9)
// on the patch2 encoding ([P] §4: 0.857 at 50/class, 1-NN 0.851). Running it with
// similarity_preset() shows the other side of the tension of [P] §6 (dense overlapping
// inputs drive G -> 1 and "hub" cells capture the codes).
#include "experiments/sparsey/inputs.hpp"
#include "experiments/sparsey/record.hpp"
#include "models/sparsey.hpp"

#include <cstdint>
#include <vector>

namespace experiments::sparsey {

enum class DigitsEncoding { patch2, thr8 };

struct DigitsConfig {
  models::sparsey::Params field = models::sparsey::digits_preset();  // num_inputs_U := encoding bits
  DigitsEncoding encoding = DigitsEncoding::patch2;
  std::vector<uint32_t> per_class = {5, 20, 50, 0};  // 0 = the whole pool
  uint32_t pool_size = 1000;
  uint32_t draws = 5;      // random draws of the examples for each n > 0
  uint32_t draws_all = 3;  // training orders / CSA seeds for the whole pool
  bool controls = true;    // also run 1-NN and the random-code field
  uint64_t seed = 1;
  int threads = 1;  // the draws of a point run in parallel; results do not depend on it
  // Keep a Presentation per code selection of the Sparsey field (not of the random-code
  // control): seed_index = running draw number over all points, phase learn for the stored
  // examples and test for the test set, item = the image's index in the data, label = its class.
  bool record = false;
};

struct DigitsPoint {
  uint32_t per_class = 0;  // 0 = the whole pool
  double train_examples = 0;
  std::vector<double> sparsey_accuracy = {}, nn_accuracy = {}, random_code_accuracy = {};  // per draw
  double sparsey_mean = 0, sparsey_sd = 0;
  double nn_mean = 0, nn_sd = 0;
  double random_code_mean = 0, random_code_sd = 0;
  // Mean wall time per draw (storing + classifying the whole test set), seconds.
  double sparsey_seconds = 0, nn_seconds = 0, random_code_seconds = 0;
  double G_learning = 0;            // mean learning-time G of the Sparsey field
  double distinct_code_fraction = 0;  // distinct stored codes / stored items
};

struct DigitsMetrics {
  uint32_t num_bits = 0;
  size_t test_size = 0;
  std::vector<DigitsPoint> points;
  Presentations presentations;  // filled when DigitsConfig::record
};

DigitsMetrics run_digits(const DigitsConfig& config, const Digits& data);

PatternSet encode_digits(const Digits& data, DigitsEncoding encoding);

// The two classifiers on given train/test patterns (labels 0..9), also used by the tests.
struct VoteResult {
  double accuracy = 0;
  double G_learning = 0;
  double distinct_code_fraction = 0;
};
VoteResult vote_classifier(const models::sparsey::Params& field, const PatternSet& train,
                           std::span<const uint8_t> train_labels, const PatternSet& test,
                           std::span<const uint8_t> test_labels, uint64_t seed,
                           Presentations* records = nullptr);
// (records: when given, one Presentation per selection is appended, with item = the index
// within `train` (phase learn) or `test` (phase test), label = the class, seed_index 0.)
double nn_hamming_accuracy(const PatternSet& train, std::span<const uint8_t> train_labels,
                           const PatternSet& test, std::span<const uint8_t> test_labels);

}  // namespace experiments::sparsey
