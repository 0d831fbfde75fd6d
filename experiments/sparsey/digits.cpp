#include "experiments/sparsey/digits.hpp"

#include "experiments/sparsey/stats.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <set>
#include <stdexcept>

namespace experiments::sparsey {

namespace ms = models::sparsey;
using sim::rng::make_stream;
using sim::rng::Purpose;
using sim::rng::Stream;

PatternSet encode_digits(const Digits& data, DigitsEncoding encoding) {
  return encoding == DigitsEncoding::patch2 ? patch2_encoding(data)
                                            : rows_as_patterns(threshold_encoding(data));
}

VoteResult vote_classifier(const ms::Params& field_params, const PatternSet& train,
                           std::span<const uint8_t> train_labels, const PatternSet& test,
                           std::span<const uint8_t> test_labels, uint64_t seed,
                           Presentations* records) {
  ms::Params params = field_params;
  params.num_inputs_U = train.num_bits;
  const uint32_t Q = params.num_cms_Q, K = params.cells_per_cm_K, C = params.num_cells();
  constexpr uint32_t classes = 10;
  ms::Field field = ms::make_field(params);
  Stream choice(seed, make_stream(Purpose::model, 0), 0);
  ms::Workspace work;
  // counts[c * C + cell]: how many stored items of class c use the cell.
  std::vector<uint32_t> counts(size_t{classes} * C, 0);
  std::vector<double> per_class(classes, 0);
  std::set<ms::Code> unique;
  VoteResult r;
  for (size_t i = 0; i < train.size(); ++i) {
    const ms::Selection sel = ms::learn(field, {.U = train[i]}, choice, work);
    r.G_learning += sel.G / static_cast<double>(train.size());
    const uint8_t label = train_labels[i];
    if (records) records->push_back({0, Phase::learn, int64_t(i), label, sel.G, sel.eta, sel.code});
    if (label >= classes) throw std::invalid_argument("vote_classifier: label > 9");
    per_class[label] += 1;
    for (uint32_t q = 0; q < Q; ++q) ++counts[size_t{label} * C + ms::cell_index(q, sel.code[q], K)];
    unique.insert(sel.code);
  }
  r.distinct_code_fraction = double(unique.size()) / std::max<size_t>(1, train.size());
  size_t correct = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    const ms::Selection sel =
        ms::select_code(field, {.U = test[i]}, ms::Mode::recognise, choice, work);
    const ms::Code& code = sel.code;
    if (records)
      records->push_back({0, Phase::test, int64_t(i), test_labels[i], sel.G, sel.eta, sel.code});
    uint32_t best = 0;
    double best_score = -1;
    for (uint32_t c = 0; c < classes; ++c) {
      if (per_class[c] == 0) continue;
      double total = 0;
      for (uint32_t q = 0; q < Q; ++q) total += counts[size_t{c} * C + ms::cell_index(q, code[q], K)];
      const double score = total / per_class[c];  // mean code overlap with class c
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    correct += best == test_labels[i] ? 1 : 0;
  }
  r.accuracy = double(correct) / std::max<size_t>(1, test.size());
  return r;
}

namespace {

std::vector<uint64_t> dense_bits(const PatternSet& set, size_t i, size_t words) {
  std::vector<uint64_t> bits(words, 0);
  for (const uint32_t j : set[i]) bits[j / 64] |= uint64_t{1} << (j % 64);
  return bits;
}

}  // namespace

double nn_hamming_accuracy(const PatternSet& train, std::span<const uint8_t> train_labels,
                           const PatternSet& test, std::span<const uint8_t> test_labels) {
  const size_t words = (size_t{train.num_bits} + 63) / 64;
  std::vector<uint64_t> train_bits;
  train_bits.reserve(train.size() * words);
  for (size_t i = 0; i < train.size(); ++i) {
    const auto b = dense_bits(train, i, words);
    train_bits.insert(train_bits.end(), b.begin(), b.end());
  }
  size_t correct = 0;
  for (size_t t = 0; t < test.size(); ++t) {
    const auto x = dense_bits(test, t, words);
    size_t best = 0;
    int best_distance = 1 << 30;
    for (size_t i = 0; i < train.size(); ++i) {
      int d = 0;
      for (size_t w = 0; w < words; ++w) d += std::popcount(x[w] ^ train_bits[i * words + w]);
      if (d < best_distance) {  // strict: ties keep the first in training order
        best_distance = d;
        best = i;
      }
    }
    correct += !train.size() ? 0 : (train_labels[best] == test_labels[t] ? 1 : 0);
  }
  return double(correct) / std::max<size_t>(1, test.size());
}

DigitsMetrics run_digits(const DigitsConfig& cfg, const Digits& data) {
  if (cfg.pool_size == 0 || cfg.pool_size >= data.count)
    throw std::invalid_argument("run_digits: pool_size must be in [1, number of images)");
  const PatternSet encoded = encode_digits(data, cfg.encoding);
  DigitsMetrics m;
  m.num_bits = encoded.num_bits;
  PatternSet test;
  test.num_bits = encoded.num_bits;
  std::vector<uint8_t> test_labels;
  for (size_t i = cfg.pool_size; i < data.count; ++i) {
    test.add(encoded[i]);
    test_labels.push_back(data.labels[i]);
  }
  m.test_size = test.size();
  std::vector<std::vector<uint32_t>> pool_by_class(10);
  for (uint32_t i = 0; i < cfg.pool_size; ++i) pool_by_class.at(data.labels[i]).push_back(i);

  ms::Params random_code = cfg.field;
  random_code.chi = 0;  // eta = 1: uniform choice in every CM, whatever G is
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };

  struct DrawResult {
    double train_examples = 0, sparsey = 0, nn = 0, random_code = 0;
    double sparsey_s = 0, nn_s = 0, random_code_s = 0, G_learning = 0, distinct = 0;
    Presentations records;
  };
  uint32_t record_index = 0;
  for (size_t pi = 0; pi < cfg.per_class.size(); ++pi) {
    const uint32_t n = cfg.per_class[pi];
    DigitsPoint pt{.per_class = n};
    const uint32_t draws = n == 0 ? cfg.draws_all : cfg.draws;
    std::vector<DrawResult> results(draws);
    // Draws are independent (examples and CSA streams keyed by point and draw); combined
    // below in draw order, so the results do not depend on the thread count.
#pragma omp parallel for schedule(dynamic) num_threads(std::max(1, cfg.threads))
    for (uint32_t d = 0; d < draws; ++d) {
      DrawResult& res = results[d];
      const uint64_t seed = sim::rng::derive_seed(cfg.seed, 4, uint64_t{pi} * 1000 + d);
      Stream sampling(seed, make_stream(Purpose::stimulus, 0), 0);
      std::vector<uint32_t> chosen;
      for (const auto& members : pool_by_class) {
        std::vector<uint32_t> pool = members;
        const size_t take = n == 0 ? pool.size() : std::min<size_t>(n, pool.size());
        for (size_t i = 0; i < take; ++i)
          std::swap(pool[i], pool[i + sampling.below(pool.size() - i)]);
        chosen.insert(chosen.end(), pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(take));
      }
      for (size_t i = chosen.size(); i > 1; --i)  // one pass in random order
        std::swap(chosen[i - 1], chosen[sampling.below(i)]);
      PatternSet train;
      train.num_bits = encoded.num_bits;
      std::vector<uint8_t> train_labels;
      for (const uint32_t i : chosen) {
        train.add(encoded[i]);
        train_labels.push_back(data.labels[i]);
      }
      res.train_examples = double(train.size()) / draws;

      auto t0 = clock::now();
      const VoteResult sp = vote_classifier(cfg.field, train, train_labels, test, test_labels,
                                            seed, cfg.record ? &res.records : nullptr);
      auto t1 = clock::now();
      for (Presentation& p : res.records) {  // indices within train/test -> indices in the data
        p.seed_index = record_index + d;
        p.item = p.phase == Phase::learn ? int64_t{chosen[size_t(p.item)]}
                                         : int64_t(cfg.pool_size) + p.item;
      }
      res.sparsey = sp.accuracy;
      res.sparsey_s = seconds(t0, t1) / draws;
      res.G_learning = sp.G_learning / draws;
      res.distinct = sp.distinct_code_fraction / draws;
      if (cfg.controls) {
        t0 = clock::now();
        res.nn = nn_hamming_accuracy(train, train_labels, test, test_labels);
        t1 = clock::now();
        res.nn_s = seconds(t0, t1) / draws;
        const VoteResult rc =
            vote_classifier(random_code, train, train_labels, test, test_labels, seed);
        auto t2 = clock::now();
        res.random_code = rc.accuracy;
        res.random_code_s = seconds(t1, t2) / draws;
      }
    }
    std::vector<Presentations> records;
    for (DrawResult& res : results) {
      pt.train_examples += res.train_examples;
      pt.sparsey_accuracy.push_back(res.sparsey);
      pt.sparsey_seconds += res.sparsey_s;
      pt.G_learning += res.G_learning;
      pt.distinct_code_fraction += res.distinct;
      if (cfg.controls) {
        pt.nn_accuracy.push_back(res.nn);
        pt.nn_seconds += res.nn_s;
        pt.random_code_accuracy.push_back(res.random_code);
        pt.random_code_seconds += res.random_code_s;
      }
      records.push_back(std::move(res.records));
    }
    concatenate(m.presentations, records);
    record_index += draws;
    pt.sparsey_mean = mean(pt.sparsey_accuracy);
    pt.sparsey_sd = sample_sd(pt.sparsey_accuracy);
    if (cfg.controls) {
      pt.nn_mean = mean(pt.nn_accuracy);
      pt.nn_sd = sample_sd(pt.nn_accuracy);
      pt.random_code_mean = mean(pt.random_code_accuracy);
      pt.random_code_sd = sample_sd(pt.random_code_accuracy);
    }
    m.points.push_back(std::move(pt));
  }
  return m;
}

}  // namespace experiments::sparsey
