// The Sparsey experiment functions: similarity preservation (protocol P1), capacity,
// sequences, digits, and the benchmark. Bars come from shared/research/sparsey_prototype.md
// ([P]) §5 ("recommended targets"), from closed forms written out here, or from hand
// calculation; each is named where used. Everything runs on fixed seeds.
#include <doctest/doctest.h>

#include "experiments/sparsey/bench.hpp"
#include "experiments/sparsey/capacity.hpp"
#include "experiments/sparsey/digits.hpp"
#include "experiments/sparsey/sequences.hpp"
#include "experiments/sparsey/similarity.hpp"
#include "experiments/sparsey/stats.hpp"

#include <cmath>
#include <vector>

using namespace experiments::sparsey;
namespace ms = models::sparsey;

TEST_CASE("Spearman's rho on hand-computed examples") {
  // No ties: d = rank differences (-1, 1, -1, 1, 0), sum d^2 = 4,
  // rho = 1 - 6 * 4 / (5 (25 - 1)) = 0.8.
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {2, 1, 4, 3, 5};
  CHECK(spearman(x, y) == doctest::Approx(0.8).epsilon(1e-14));
  // Ties: ranks of (1, 2, 2, 3) are (1, 2.5, 2.5, 4); Pearson of ranks against (1, 2, 3, 4)
  // = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  const std::vector<double> xt = {1, 2, 2, 3}, yt = {1, 2, 3, 4};
  CHECK(spearman(xt, yt) == doctest::Approx(3.0 / std::sqrt(10.0)).epsilon(1e-14));
  CHECK(average_ranks(xt) == std::vector<double>{1, 2.5, 2.5, 4});
}

TEST_CASE("the analytic overlap curve, evaluated independently at p = 0, 0.5, 1") {
  const ms::Params p = ms::similarity_preset();  // K = 20, chi = 100, G- = 0.1, gamma 2, lambda 10, phi 0.7
  auto sig = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  // p = 0: G = 0 <= G-, eta = 1, every mu = 1: chance 1/K.
  CHECK(analytic_overlap_fraction(0.0, p) == doctest::Approx(1.0 / 20).epsilon(1e-14));
  // p = 0.5: G = 0.5, eta = 1 + 2000 (0.4/0.9)^2; mu1 = eta sigma(10 (0.5 - 0.7)),
  // mu0 = max(eta sigma(-7), 1) = 1 (eta sigma(-7) = 0.36).
  const double eta = 1 + 2000 * std::pow(0.4 / 0.9, 2);
  const double mu1 = eta * sig(-2.0);
  CHECK(eta * sig(-7.0) < 1.0);
  CHECK(analytic_overlap_fraction(0.5, p) == doctest::Approx(mu1 / (mu1 + 19)).epsilon(1e-12));
  // p = 1: eta = 2001, mu1 = 2001 sigma(3), mu0 = max(2001 sigma(-7), 1) = 1.82.
  const double mu1_full = 2001 * sig(3.0), mu0_full = 2001 * sig(-7.0);
  CHECK(analytic_overlap_fraction(1.0, p) ==
        doctest::Approx(mu1_full / (mu1_full + 19 * mu0_full)).epsilon(1e-12));
  CHECK(analytic_overlap_fraction(1.0, p) >= 0.95);  // [P] §5: >= 0.95 Q at 100 % overlap
}

TEST_CASE("similarity preservation, P1, similarity settings: Spearman and the analytic curve") {
  const SimilarityConfig cfg;  // Q = K = 20, lambda 10, phi 0.7, 1000 bits / 50 active, 100 probes, 10 seeds
  const SimilarityMetrics m = run_similarity(cfg);
  REQUIRE(m.spearman_per_seed.size() == 10);
  // [P] §5: per-set Spearman >= 0.9 at Q >= 20, lambda = 10, phi = 0.7 (measured there: mean
  // 0.927, min 0.905). We require the mean >= 0.9 and every seed >= 0.85.
  CHECK(m.spearman_mean >= 0.90);
  CHECK(m.spearman_min >= 0.85);
  // The seed-averaged curve follows the analytic one within sampling error: under the
  // analytic model each probe's pooled count is Binomial(200, a); with 100 probes, expect
  // about 0.3 outside 3 SE, so >= 95 % within 3 SE, and no probe beyond 4.5 SE.
  CHECK(m.fraction_within_3_se >= 0.95);
  CHECK(m.max_abs_z < 4.5);
  // Endpoints ([P] §5): ~Q/K at 0 %, >= 0.95 Q at 100 %.
  CHECK(m.mean_code_overlap.front() < 0.05 + 4 * std::sqrt(0.05 * 0.95 / 200));
  CHECK(m.mean_code_overlap.back() >= 0.95);
  // Learning-time G equals the input overlap (lambda_U = 1, only X0 stored): G = k/50.
  for (size_t i = 0; i < m.mean_G.size(); ++i)
    CHECK(m.mean_G[i] == doctest::Approx(m.shared_bits[i] / 50.0).epsilon(1e-12));
}

TEST_CASE("similarity under the digits settings: only a full overlap re-uses the code") {
  // [P] §3, "conflict with target 3": lambda_U = 10-30 gives P1 Spearman 0.10 / 0.05.
  SimilarityConfig cfg;
  cfg.field = ms::digits_preset();
  const SimilarityMetrics m = run_similarity(cfg);
  CHECK(m.spearman_mean < 0.3);
  CHECK(m.mean_code_overlap.back() >= 0.95);  // 100 %: G = 1, the code is reinstated
}

TEST_CASE("capacity at low load: exact recall, G = 1 for stored, G rising for novel") {
  CapacityConfig cfg;
  cfg.stored_counts = {10, 50, 100};
  cfg.num_seeds = 2;
  const CapacityMetrics m = run_capacity(cfg);
  REQUIRE(m.points.size() == 3);
  for (const CapacityPoint& p : m.points) {
    CHECK(p.G_stored == doctest::Approx(1.0).epsilon(1e-12));  // weights only grow
    CHECK(p.distinct_codes == 1.0);
  }
  // [P] §2 measured 100 % exact argmax retrieval up to 100 items at 20x20 (one setting).
  // At 100 items a wrong cell occasionally reaches U = 1 as well and wins the random tie
  // (here 1 of 200 items over the two seeds), so 100 is held to 95 % exact, 99 % of CMs.
  CHECK(m.points[0].exact_recall == 1.0);
  CHECK(m.points[1].exact_recall == 1.0);
  CHECK(m.points[2].exact_recall >= 0.95);
  CHECK(m.points[2].cm_recall >= 0.99);
  // Receptive fields fill: novel G grows with load ([P] §2: 0.13 / 0.29 / 0.70).
  CHECK(m.points[0].G_novel < m.points[1].G_novel);
  CHECK(m.points[1].G_novel < m.points[2].G_novel);
}

TEST_CASE("capacity breaks down past the field's load ([P] §2: 0 % exact at 500 items)") {
  CapacityConfig cfg;
  cfg.stored_counts = {500};
  cfg.num_seeds = 1;
  const CapacityMetrics m = run_capacity(cfg);
  CHECK(m.points[0].exact_recall < 0.05);
  CHECK(m.points[0].G_novel > 0.9);
}

TEST_CASE("sequences: replay through H is exact at low load and fails past K^2 transitions") {
  SequenceConfig cfg;  // Q = K = 20, lambda_U = 10
  cfg.sequence_counts = {10, 100};
  cfg.lengths = {5, 20};
  const SequenceMetrics m = run_sequences(cfg);
  REQUIRE(m.points.size() == 4);
  // 10 x 5: 40 transitions << K^2 = 400.
  CHECK(m.points[0].next_code_exact == 1.0);
  CHECK(m.points[0].replay_sequence_exact == 1.0);
  // 10 x 20: 190 transitions.
  CHECK(m.points[1].replay_step_exact == 1.0);
  // 100 x 20: 1900 transitions, H is nearly saturated (1 - exp(-1900/400) = 0.99).
  CHECK(m.points[3].next_code_exact < 0.1);
}

TEST_CASE("1-NN Hamming on a hand-made set") {
  PatternSet train, test;
  train.num_bits = test.num_bits = 8;
  train.add(std::vector<uint32_t>{0, 1});
  train.add(std::vector<uint32_t>{4, 5});
  train.add(std::vector<uint32_t>{0, 4});  // equidistant to {0, 5}: ties keep the first
  const std::vector<uint8_t> train_labels = {1, 2, 3};
  test.add(std::vector<uint32_t>{0, 1, 2});  // distances 1, 5, 3 -> label 1
  test.add(std::vector<uint32_t>{5});        // distances 3, 1, 3 -> label 2
  test.add(std::vector<uint32_t>{0, 5});     // distances 2, 2, 2 -> first: label 1
  CHECK(nn_hamming_accuracy(train, train_labels, test, std::vector<uint8_t>{1, 2, 1}) == 1.0);
  CHECK(nn_hamming_accuracy(train, train_labels, test, std::vector<uint8_t>{1, 2, 3}) ==
        doctest::Approx(2.0 / 3));
}

TEST_CASE("digits, patch2, 40x100, first-1000/rest split: floors and 1-NN margins") {
  const Digits data = load_digits(default_digits_path());
  DigitsConfig cfg;  // digits_preset, patch2, 5/20/50/all, 5 draws (3 for all)
  const DigitsMetrics m = run_digits(cfg, data);
  REQUIRE(m.points.size() == 4);
  CHECK(m.num_bits == 784);
  CHECK(m.test_size == 797);
  // [P] §5: absolute floors at 40x100: >= 0.70 (5/class), >= 0.78 (20), >= 0.83 (50);
  // vote accuracy >= 1-NN Hamming - 3 points for n <= 50/class, - 8 points with the pool.
  const double floors[] = {0.70, 0.78, 0.83};
  for (int i = 0; i < 3; ++i) {
    const DigitsPoint& p = m.points[i];
    CHECK(p.train_examples == 10.0 * cfg.per_class[i]);
    CHECK(p.sparsey_accuracy.size() == 5);
    CHECK(p.sparsey_mean >= floors[i]);
    CHECK(p.sparsey_mean >= p.nn_mean - 0.03);
  }
  CHECK(m.points[3].train_examples == 1000.0);
  CHECK(m.points[3].sparsey_mean >= m.points[3].nn_mean - 0.08);
  // The random-code control (chi = 0) is a real classifier too (far above chance 0.1):
  // the ensemble of random partitions carries the accuracy ([P] §4 ablation).
  for (const DigitsPoint& p : m.points) CHECK(p.random_code_mean > 0.6);
}

TEST_CASE("digits under the similarity settings collapse ([P] §4: default params near chance)") {
  const Digits data = load_digits(default_digits_path());
  DigitsConfig cfg;
  cfg.field = ms::similarity_preset();  // 20x20, lambda_U = 1: dense inputs drive G -> 1
  cfg.per_class = {50};
  cfg.draws = 2;
  cfg.controls = false;
  const DigitsMetrics m = run_digits(cfg, data);
  CHECK(m.points[0].G_learning > 0.8);
  CHECK(m.points[0].sparsey_mean < 0.6);
}

TEST_CASE("benchmark returns positive rates and recognises everything it stored") {
  BenchConfig cfg;
  cfg.num_codes = 200;
  const BenchResult r = codes_per_second(cfg);
  CHECK(r.learn_codes_per_second > 0);
  CHECK(r.recognise_codes_per_second > 0);
  CHECK(r.mean_G_recognise == doctest::Approx(1.0).epsilon(1e-12));
}
