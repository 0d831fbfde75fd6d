// The Sparsey Code Selection Algorithm, step by step and as a whole.
// Expected numbers come from the closed forms of the CSA (Rinkus 2014 Table 1, Rinkus 2017;
// written out again here, independently of models/sparsey.cpp), from hand calculation
// (shown in the comments), from the worked values in shared/research/sparsey_prototype.md
// (marked [P]), or from binomial/chi-square bounds stated where used.
#include <doctest/doctest.h>

#include "models/sparsey.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace ms = models::sparsey;
using sim::rng::Stream;

namespace {

ms::Params small_params(uint32_t Q, uint32_t K, uint32_t inputs) {
  ms::Params p;
  p.num_cms_Q = Q;
  p.cells_per_cm_K = K;
  p.num_inputs_U = inputs;
  return p;
}

// sigma(x) = 1 / (1 + e^-x), written out for the reference values below.
double sigma(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST_CASE("step 1: input sums count active afferents with weight 1") {
  // 3 input units x 4 cells; hand-set weights (rows = input units).
  const std::vector<uint8_t> w = {1, 0, 1, 0,   // unit 0
                                  1, 1, 0, 0,   // unit 1
                                  0, 1, 1, 1};  // unit 2
  std::vector<uint16_t> sums(4);
  const std::vector<uint32_t> active = {0, 2};
  ms::input_sums(w, 4, active, sums);
  // By hand: cell 0: 1+0, cell 1: 0+1, cell 2: 1+1, cell 3: 0+1.
  CHECK(sums == std::vector<uint16_t>{1, 1, 2, 1});
  const std::vector<uint32_t> all = {0, 1, 2};
  ms::input_sums(w, 4, all, sums);
  CHECK(sums == std::vector<uint16_t>{2, 2, 2, 1});
  const std::vector<uint32_t> bad = {3};
  CHECK_THROWS_AS(ms::input_sums(w, 4, bad, sums), std::out_of_range);
}

TEST_CASE("step 1 matches a naive double loop on random weights") {
  Stream s(7, 1, 0);
  const uint32_t rows = 50, cells = 37;
  std::vector<uint8_t> w(rows * cells);
  for (auto& x : w) x = s.uniform() < 0.3 ? 1 : 0;
  std::vector<uint32_t> active;
  for (uint32_t j = 0; j < rows; ++j)
    if (s.uniform() < 0.4) active.push_back(j);
  std::vector<uint16_t> sums(cells);
  ms::input_sums(w, cells, active, sums);
  for (uint32_t i = 0; i < cells; ++i) {
    int expected = 0;
    for (const uint32_t j : active) expected += w[j * cells + i];
    CHECK(sums[i] == expected);
  }
}

TEST_CASE("steps 2-4: normalisation, local support, familiarity") {
  CHECK(ms::normalise(3, 4, 1.0) == 0.75);
  CHECK(ms::normalise(6, 4, 2.0) == 0.75);  // sum of weights 6 = 3 active at w_max 2
  CHECK(ms::normalise(0, 0, 1.0) == 0.0);
  ms::Params p;
  p.lambda_U = 2;
  p.lambda_H = 1;
  p.lambda_D = 3;
  // 0.5^2 * 0.25^1 * 1^3 = 0.0625 (hand).
  CHECK(ms::local_support(0.5, 0.25, 1.0, p) == doctest::Approx(0.0625).epsilon(1e-15));
  // Q = 2, K = 3: CM maxima 0.9 and 0.5, mean 0.7 (hand).
  const std::vector<double> V = {0.2, 0.9, 0.1, 0.5, 0.5, 0.0};
  CHECK(ms::familiarity(V, 2, 3) == doctest::Approx(0.7).epsilon(1e-15));
}

TEST_CASE("step 5: eta values of the prototype notes") {
  ms::Params p = small_params(5, 8, 16);  // K = 8, chi = 100, G- = 0.1, gamma = 2 (defaults)
  // eta(1) = 1 + K chi ((1 - 0.1)/0.9)^2 = 1 + 800 = 801 ([P] §2: 801).
  CHECK(ms::expansion_eta(1.0, p) == doctest::Approx(801.0).epsilon(1e-12));
  // eta(0.55) = 1 + 800 (0.45/0.9)^2 = 1 + 800/4 = 201 ([P] §2: 201).
  CHECK(ms::expansion_eta(0.55, p) == doctest::Approx(201.0).epsilon(1e-12));
  // At or below G- the input is novel: eta = 1 exactly.
  CHECK(ms::expansion_eta(0.1, p) == 1.0);
  CHECK(ms::expansion_eta(0.0, p) == 1.0);
  p.gamma = 1;  // linear: 1 + 800 * 0.5 = 401
  CHECK(ms::expansion_eta(0.55, p) == doctest::Approx(401.0).epsilon(1e-12));
}

TEST_CASE("steps 6-7: worked rho values for lambda = 28, phi = 0.5, K = 8, G = 1") {
  ms::Params p = small_params(1, 8, 16);
  p.sigmoid_lambda = 28;
  p.sigmoid_phi = 0.5;
  const double eta = ms::expansion_eta(1.0, p);  // 801, checked above
  const std::vector<double> V = {1.0, 0.5, 0, 0, 0, 0, 0, 0};
  std::vector<double> rho(8);
  ms::choice_rho(V, eta, p, rho);
  // Independent evaluation: mu(1) = 801 sigma(14); mu(0.5) = 801/2; mu(0) = max(801
  // sigma(-14), 1) = 1 because 801 * 8.3e-7 < 1.
  const double mu1 = 801.0 * sigma(28 * 0.5), mu_half = 801.0 / 2, mu0 = 1.0;
  const double total = mu1 + mu_half + 6 * mu0;
  CHECK(rho[0] == doctest::Approx(mu1 / total).epsilon(1e-12));
  CHECK(rho[1] == doctest::Approx(mu_half / total).epsilon(1e-12));
  for (int i = 2; i < 8; ++i) CHECK(rho[i] == doctest::Approx(mu0 / total).epsilon(1e-12));
  // The rounded values quoted in [P] §1: [0.6634, 0.3317, 0.0008 x 6].
  CHECK(std::abs(rho[0] - 0.6634) < 5e-5);
  CHECK(std::abs(rho[1] - 0.3317) < 5e-5);
  CHECK(std::abs(rho[2] - 0.0008) < 5e-5);
}

TEST_CASE("step 6: the optional full-match cutoff gives mu = eta at V >= 0.999") {
  ms::Params p;
  p.sigmoid_lambda = 4;
  p.sigmoid_phi = 0.5;
  const double eta = 801;
  // Without the cutoff: eta sigma(4 * 0.5) = 801 * 0.8808 < eta.
  CHECK(ms::relative_mu(1.0, eta, p) == doctest::Approx(801.0 * sigma(2.0)).epsilon(1e-12));
  p.full_match_cutoff = true;
  CHECK(ms::relative_mu(1.0, eta, p) == eta);
  CHECK(ms::relative_mu(0.999, eta, p) == eta);
  CHECK(ms::relative_mu(0.99, eta, p) == doctest::Approx(801.0 * sigma(4 * 0.49)).epsilon(1e-12));
}

TEST_CASE("rho is exactly uniform whenever G <= G-") {
  // eta = 1 there, so mu = max(sigma, 1) = 1 for every cell and rho = 1/K exactly
  // ([P] §2 measured max |rho - 1/K| = 0 over 1000 V vectors and 5 (lambda, phi) settings).
  Stream s(11, 1, 0);
  const double settings[][2] = {{28, 0.5}, {10, 0.7}, {4, 0.7}, {100, 0.1}, {1, 0.0}};
  for (const auto& lp : settings) {
    ms::Params p = small_params(4, 20, 10);
    p.sigmoid_lambda = lp[0];
    p.sigmoid_phi = lp[1];
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<double> V(20);
      for (auto& v : V) v = s.uniform();
      const double G = p.G_minus * s.uniform();  // any G in [0, G-]
      std::vector<double> rho(20);
      ms::choice_rho(V, ms::expansion_eta(G, p), p, rho);
      for (const double r : rho) REQUIRE(r == 1.0 / 20);
    }
  }
}

TEST_CASE("step 8: sampling follows the weights (chi-square) and argmax breaks ties at random") {
  Stream s(3, 1, 0);
  const std::vector<double> weights = {1, 2, 3, 4};
  std::vector<int> counts(4, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[ms::sample_winner(weights, s)];
  double chi2 = 0;
  for (int i = 0; i < 4; ++i) {
    const double expected = n * weights[i] / 10.0;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  CHECK(chi2 < 16.27);  // chi-square, 3 degrees of freedom, upper 0.1 % point

  // A zero weight is never drawn.
  const std::vector<double> with_zero = {0, 1, 0, 1};
  for (int i = 0; i < 1000; ++i) {
    const uint32_t w = ms::sample_winner(with_zero, s);
    REQUIRE((w == 1 || w == 3));
  }

  // Ties at the maximum: indices 1, 3, 4 only, each with probability 1/3.
  const std::vector<double> V = {0.5, 1.0, 0.2, 1.0, 1.0};
  std::map<uint32_t, int> picks;
  const int m = 3000;
  for (int i = 0; i < m; ++i) ++picks[ms::argmax_winner(V, s)];
  CHECK(picks.size() == 3);
  for (const uint32_t i : {1u, 3u, 4u}) {
    // Binomial(3000, 1/3): mean 1000, sd 25.8; 5 sd either side.
    CHECK(picks[i] > 1000 - 129);
    CHECK(picks[i] < 1000 + 129);
  }
  // A unique maximum is returned without any draw from the stream.
  Stream a(5, 1, 0), b(5, 1, 0);
  const std::vector<double> unique = {0.1, 0.7, 0.3};
  CHECK(ms::argmax_winner(unique, a) == 1);
  CHECK(a.next_u32() == b.next_u32());
}

// A tiny reference CSA written straight from the equations (no tables, no workspace), used
// to check select_code with all three sources and exponents != 1.
ms::Selection reference_select(const ms::Field& f, const ms::Afferents& in, ms::Mode mode,
                               Stream& stream) {
  const ms::Params& p = f.params;
  const uint32_t Q = p.num_cms_Q, K = p.cells_per_cm_K, C = Q * K;
  auto norm = [&](const std::vector<uint8_t>& w, std::span<const uint32_t> active, uint32_t i) {
    double u = 0;
    for (const uint32_t j : active) u += w[j * C + i];
    return u / static_cast<double>(active.size());
  };
  std::vector<double> V(C);
  for (uint32_t i = 0; i < C; ++i) {
    const double U = in.U.empty() ? 1.0 : norm(f.w_U, in.U, i);
    const double H = in.H.empty() ? 1.0 : norm(f.w_H, in.H, i);
    const double D = in.D.empty() ? 1.0 : norm(f.w_D, in.D, i);
    V[i] = std::pow(U, p.lambda_U) * std::pow(H, p.lambda_H) * std::pow(D, p.lambda_D);
  }
  ms::Selection s;
  double G = 0;
  for (uint32_t q = 0; q < Q; ++q) {
    double best = 0;
    for (uint32_t k = 0; k < K; ++k) best = std::max(best, V[q * K + k]);
    G += best / Q;
  }
  s.G = G;
  const double x = std::max(0.0, (G - p.G_minus) / (1 - p.G_minus));
  const double eta = 1 + K * p.chi * std::pow(x, p.gamma);
  for (uint32_t q = 0; q < Q; ++q) {
    if (mode == ms::Mode::recognise) {
      s.code.push_back(ms::argmax_winner(std::span<const double>(V).subspan(q * K, K), stream));
      continue;
    }
    std::vector<double> mu(K);
    for (uint32_t k = 0; k < K; ++k)
      mu[k] = std::max(eta * sigma(p.sigmoid_lambda * (V[q * K + k] - p.sigmoid_phi)), 1.0);
    s.code.push_back(ms::sample_winner(mu, stream));
  }
  return s;
}

TEST_CASE("select_code equals a reference CSA with U, H and D sources") {
  ms::Params p = small_params(6, 5, 40);
  p.num_inputs_D = 12;
  p.horizontal = true;
  p.lambda_U = 2;
  p.lambda_H = 0.5;
  p.lambda_D = 3;
  p.sigmoid_lambda = 10;
  p.sigmoid_phi = 0.4;
  p.G_minus = 0.05;
  ms::Field f = ms::make_field(p);
  Stream fill(1, 1, 0);
  // Random weights at 40 % density so every source carries graded values.
  for (auto* w : {&f.w_U, &f.w_H, &f.w_D})
    for (auto& x : *w) x = fill.uniform() < 0.4 ? 1 : 0;
  int compared = 0;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint32_t> U, H, D;
    for (uint32_t j = 0; j < 40; ++j)
      if (fill.uniform() < 0.2) U.push_back(j);
    for (uint32_t j = 0; j < 30; ++j)
      if (fill.uniform() < 0.2) H.push_back(j);
    for (uint32_t j = 0; j < 12; ++j)
      if (fill.uniform() < 0.3) D.push_back(j);
    if (U.empty()) U.push_back(0);
    const ms::Afferents in{.U = U, .H = H, .D = D};
    for (const ms::Mode mode : {ms::Mode::learn, ms::Mode::recognise}) {
      Stream a(99, 2, trial), b(99, 2, trial);
      const ms::Selection got = ms::select_code(f, in, mode, a);
      const ms::Selection want = reference_select(f, in, mode, b);
      CHECK(got.G == doctest::Approx(want.G).epsilon(1e-12));
      CHECK(got.code == want.code);
      ++compared;
    }
  }
  CHECK(compared == 100);
}

TEST_CASE("store latches exactly the active x winner weights to 1") {
  ms::Params p = small_params(3, 4, 10);
  ms::Field f = ms::make_field(p);
  const std::vector<uint32_t> x = {2, 5, 7};
  const ms::Code code = {1, 3, 0};
  ms::store(f, {.U = x}, code);
  int ones = 0;
  for (uint32_t j = 0; j < 10; ++j)
    for (uint32_t c = 0; c < 12; ++c) {
      const bool active = j == 2 || j == 5 || j == 7;
      const bool winner = c == 1 || c == 4 + 3 || c == 8 + 0;
      CHECK(f.w_U[j * 12 + c] == ((active && winner) ? 1 : 0));
      ones += f.w_U[j * 12 + c];
    }
  CHECK(ones == 9);  // |x| Q
  ms::store(f, {.U = x}, code);  // storing again changes nothing (binary latch)
  int again = 0;
  for (const uint8_t w : f.w_U) again += w;
  CHECK(again == 9);
}

TEST_CASE("fixture of [P] §2: four disjoint inputs, Q = 5, K = 8") {
  // 16 inputs, four disjoint 3-bit inputs; defaults otherwise. Exact invariants per seed,
  // pooled overlap against the chance rate 1/K.
  ms::Params p = small_params(5, 8, 16);
  const std::vector<std::vector<uint32_t>> inputs = {{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9, 10, 11}};
  const std::vector<uint32_t> novel = {12, 13, 14};
  const int seeds = 300;
  int matches = 0, comparisons = 0;
  for (int s = 0; s < seeds; ++s) {
    ms::Field f = ms::make_field(p);
    Stream stream(static_cast<uint64_t>(s), 5, 0);
    ms::Workspace work;
    std::vector<ms::Code> codes;
    for (const auto& x : inputs) {
      const ms::Selection sel = ms::learn(f, {.U = x}, stream, work);
      REQUIRE(sel.G == 0.0);    // disjoint from everything stored: U = 0 everywhere
      REQUIRE(sel.eta == 1.0);  // so the choice is uniform
      codes.push_back(sel.code);
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ms::Selection r = ms::select_code(f, {.U = inputs[i]}, ms::Mode::recognise, stream);
      REQUIRE(r.G == 1.0);  // re-presentation: U = 1 on the stored code in every CM
      REQUIRE(r.code == codes[i]);
    }
    REQUIRE(ms::select_code(f, {.U = novel}, ms::Mode::recognise, stream).G == 0.0);
    for (size_t i = 0; i < codes.size(); ++i)
      for (size_t j = i + 1; j < codes.size(); ++j) {
        matches += static_cast<int>(ms::code_overlap(codes[i], codes[j]));
        comparisons += 5;
      }
  }
  // Uniform independent choices: each CM comparison matches with probability 1/K = 1/8,
  // pairwise independent, so matches ~ Binomial(9000, 1/8): mean 1125, sd 31.4; 5 sd.
  CHECK(comparisons == 9000);
  CHECK(matches > 1125 - 157);
  CHECK(matches < 1125 + 157);
}

TEST_CASE("low load: 50 random 5 % inputs in a 20x20 field are recognised exactly") {
  // [P] §2: exact argmax retrieval 100 % up to 100 stored items, 20x20, lambda_U = 1. At 100
  // a wrong cell occasionally also reaches U = 1 (about 1 item in 200 here), so this exact
  // test stays at half that load, where a full receptive field by chance is negligible.
  ms::Params p = ms::similarity_preset();
  ms::Field f = ms::make_field(p);
  Stream stim(21, 8, 0), choice(21, 9, 0);
  ms::Workspace work;
  std::vector<std::vector<uint32_t>> items;
  std::vector<ms::Code> codes;
  for (int i = 0; i < 50; ++i) {
    std::vector<uint32_t> pool(1000);
    for (uint32_t j = 0; j < 1000; ++j) pool[j] = j;
    for (uint32_t j = 0; j < 50; ++j) std::swap(pool[j], pool[j + stim.below(1000 - j)]);
    pool.resize(50);
    items.push_back(pool);
    codes.push_back(ms::learn(f, {.U = items.back()}, choice, work).code);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const ms::Selection r = ms::select_code(f, {.U = items[i]}, ms::Mode::recognise, choice, work);
    CHECK(r.G == 1.0);
    CHECK(r.code == codes[i]);
  }
}

TEST_CASE("same seed, same codes; another seed, other codes") {
  auto run = [](uint64_t seed) {
    ms::Field f = ms::make_field(ms::similarity_preset());
    Stream stream(seed, 1, 0);
    std::vector<ms::Code> out;
    for (uint32_t i = 0; i < 20; ++i) {
      std::vector<uint32_t> x;
      for (uint32_t j = 0; j < 50; ++j) x.push_back((i * 37 + j * 19) % 1000);
      std::sort(x.begin(), x.end());
      x.erase(std::unique(x.begin(), x.end()), x.end());
      ms::Workspace w;
      out.push_back(ms::learn(f, {.U = x}, stream, w).code);
    }
    return out;
  };
  CHECK(run(4) == run(4));
  CHECK(run(4) != run(5));
}

TEST_CASE("bad parameters and inputs are rejected") {
  ms::Params p;
  p.G_minus = 1.0;
  CHECK_THROWS_AS(ms::make_field(p), std::invalid_argument);
  p = ms::Params{};
  p.num_cms_Q = 0;
  CHECK_THROWS_AS(ms::make_field(p), std::invalid_argument);
  ms::Field f = ms::make_field(ms::Params{});
  Stream s(1, 1, 0);
  const std::vector<uint32_t> too_big = {1000};
  CHECK_THROWS_AS(ms::select_code(f, {.U = too_big}, ms::Mode::learn, s), std::out_of_range);
  CHECK_THROWS_AS(ms::select_code(f, {}, ms::Mode::learn, s), std::invalid_argument);
  const std::vector<uint32_t> h = {0};
  CHECK_THROWS_AS(ms::select_code(f, {.H = h}, ms::Mode::learn, s), std::invalid_argument);
}
