// Tests of models/readout.hpp: filtered spike features, centring, the rectified linear
// readout trained by the three-factor rule, and the paired when/what readout.
// Expected numbers: closed forms (sums of exponentials in long double), hand arithmetic
// written next to each check, and fixed-seed statistical checks with stated critical values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/readout.hpp"
#include "sim/rng.hpp"

using namespace models::readout;

namespace {
// r(t) = sum_{t_s <= t} exp(-(t - t_s) dt / tau), in long double.
double filter_closed_form(const std::vector<sim::Step>& spikes, sim::Step t, double tau_ms,
                          double dt_ms) {
  long double r = 0.0L;
  for (sim::Step s : spikes)
    if (s <= t)
      r += std::exp(-static_cast<long double>(t - s) * dt_ms / static_cast<long double>(tau_ms));
  return static_cast<double>(r);
}
}  // namespace

TEST_CASE("log_uniform_taus: range, log-uniform shape, determinism") {
  const std::size_t n = 2000;
  sim::rng::Stream rng(42, sim::rng::make_stream(sim::rng::Purpose::heterogeneity, 0), 0);
  const auto tau = log_uniform_taus(n, 20.0, 1000.0, rng);
  REQUIRE(tau.size() == n);
  // u = log(tau/20) / log(50) must be uniform on [0, 1).
  std::vector<double> u(n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(tau[i] >= 20.0);
    CHECK(tau[i] < 1000.0 * (1 + 1e-12));
    u[i] = std::log(tau[i] / 20.0) / std::log(50.0);
  }
  std::sort(u.begin(), u.end());
  double mean = 0.0, ks = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    mean += u[i] / n;
    ks = std::max({ks, std::abs(u[i] - double(i) / n), std::abs(u[i] - double(i + 1) / n)});
  }
  // Mean of U(0,1): 0.5 with sd sqrt(1/12/n) = 0.00645; allow 4 sd.
  CHECK(std::abs(mean - 0.5) < 4 * std::sqrt(1.0 / 12.0 / n));
  // Kolmogorov-Smirnov: 1 % critical value 1.63 / sqrt(n) (asymptotic).
  CHECK(ks < 1.63 / std::sqrt(double(n)));
  // Same stream key -> same draws.
  sim::rng::Stream again(42, sim::rng::make_stream(sim::rng::Purpose::heterogeneity, 0), 0);
  CHECK(log_uniform_taus(n, 20.0, 1000.0, again) == tau);
}

TEST_CASE("Filtered features equal the closed-form exponential filter of a known spike train") {
  // Neuron 0: tau 20 ms, spikes at 5, 7, 7 (two in one step), 100, 1000.
  // Neuron 1: tau 500 ms, one spike at 3. dt = 0.5 ms.
  const double dt = 0.5;
  const std::vector<sim::Step> s0 = {5, 7, 7, 100, 1000}, s1 = {3};
  FilteredFeatures every_step({20.0, 500.0}, dt, 1.0);
  FilteredFeatures sparse({20.0, 500.0}, dt, 1.0);
  std::vector<double> x(3);
  for (sim::Step t = 0; t <= 1500; ++t) {
    for (sim::Step s : s0)
      if (s == t) {
        every_step.on_spike(0, t);
        sparse.on_spike(0, t);
      }
    if (t == 3) {
      every_step.on_spike(1, t);
      sparse.on_spike(1, t);
    }
    every_step.features(t, x);  // read (and decay) every step: the n = 1 factor path
    const double want0 = filter_closed_form(s0, t, 20.0, dt);
    const double want1 = filter_closed_form(s1, t, 500.0, dt);
    CHECK(x[0] == doctest::Approx(want0).epsilon(1e-12));
    CHECK(x[1] == doctest::Approx(want1).epsilon(1e-12));
    CHECK(x[2] == 1.0);  // bias
    if (t == 99 || t == 999 || t == 1500) {  // long gaps: the std::exp path
      CHECK(sparse.filtered(0, t) == doctest::Approx(want0).epsilon(1e-14));
      CHECK(sparse.filtered(1, t) == doctest::Approx(want1).epsilon(1e-14));
    }
  }
}

TEST_CASE("Features are centred on the mean pre-cue filtered activity, plus a bias") {
  // dt = 1 ms, tau = 20 ms; spikes at 5 and 7 (twice). Baseline samples at steps 8 and 9:
  //   r(8) = e^{-3/20} + 2 e^{-1/20},  r(9) = e^{-4/20} + 2 e^{-2/20},  b = (r(8) + r(9)) / 2.
  // At step 10: x_0 = r(10) - b with r(10) = e^{-5/20} + 2 e^{-3/20}; x_1 = bias = 0.5.
  FilteredFeatures f({20.0}, 1.0, 0.5);
  f.on_spike(0, 5);
  f.on_spike(0, 7);
  f.on_spike(0, 7);
  f.add_baseline_sample(8);
  f.add_baseline_sample(9);
  f.update_baseline();
  const double b = (std::exp(-0.15) + 2 * std::exp(-0.05) + std::exp(-0.2) + 2 * std::exp(-0.1)) / 2;
  CHECK(f.baseline()[0] == doctest::Approx(b).epsilon(1e-15));
  std::vector<double> x(2);
  f.features(10, x);
  CHECK(x[0] == doctest::Approx(std::exp(-0.25) + 2 * std::exp(-0.15) - b).epsilon(1e-14));
  CHECK(x[1] == 0.5);
  f.clear_baseline();
  f.features(10, x);
  CHECK(x[0] == doctest::Approx(std::exp(-0.25) + 2 * std::exp(-0.15)).epsilon(1e-15));
}

TEST_CASE("Linear readout, online: hand-computed three-factor updates with rectification") {
  // eta = eta0 / E||x||^2 = 0.1 / 4 = 0.025 (E||x||^2 given).
  LinearReadout r(3, ReadoutParams{.eta0 = 0.1, .feature_power = 4.0});
  CHECK(r.eta() == 0.025);
  const std::vector<double> x1 = {1, 2, 0.5}, x2 = {-1, 0.5, 2}, x3 = {-10, 0, 0};
  // Sample 1: y = 0, M = (1 - 0) * 2 = 2, w = 0.025 * 2 * x1 = (0.05, 0.1, 0.025).
  CHECK(r.learn(x1, 1.0, 2.0) == 2.0);
  CHECK(r.weights()[0] == doctest::Approx(0.05).epsilon(1e-15));
  CHECK(r.weights()[1] == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(r.weights()[2] == doctest::Approx(0.025).epsilon(1e-15));
  // Sample 2: w.x2 = -0.05 + 0.05 + 0.05 = 0.05 = y; M = (0.5 - 0.05) * 1 = 0.45;
  // w += 0.025 * 0.45 * x2 = (-0.01125, 0.005625, 0.0225) -> (0.03875, 0.105625, 0.0475).
  CHECK(r.learn(x2, 0.5, 1.0) == doctest::Approx(0.45).epsilon(1e-14));
  CHECK(r.weights()[0] == doctest::Approx(0.03875).epsilon(1e-14));
  CHECK(r.weights()[1] == doctest::Approx(0.105625).epsilon(1e-14));
  CHECK(r.weights()[2] == doctest::Approx(0.0475).epsilon(1e-14));
  // Sample 3: w.x3 = -0.3875 < 0, so y = max(0, .) = 0. Target 0: M = 0, no change.
  CHECK(r.output(x3) == 0.0);
  CHECK(r.drive(x3) == doctest::Approx(-0.3875).epsilon(1e-14));
  CHECK(r.learn(x3, 0.0, 1.0) == 0.0);
  CHECK(r.weights()[0] == doctest::Approx(0.03875).epsilon(1e-14));
  // Target 0.2 while silent: M = 0.2 (no ReLU derivative), w_0 += 0.025 * 0.2 * -10 = -0.05.
  CHECK(r.learn(x3, 0.2, 1.0) == doctest::Approx(0.2).epsilon(1e-15));
  CHECK(r.weights()[0] == doctest::Approx(-0.01125).epsilon(1e-13));
  // Gate 0: nothing learns whatever the error.
  CHECK(r.learn(x1, 5.0, 0.0) == 0.0);
  CHECK(r.weights()[0] == doctest::Approx(-0.01125).epsilon(1e-13));
}

TEST_CASE("Linear readout: running E||x||^2 when no feature power is given") {
  LinearReadout r(3, ReadoutParams{.eta0 = 0.1});
  CHECK(r.eta() == 0.0);
  const std::vector<double> x1 = {1, 2, 0.5}, x2 = {-1, 0.5, 3};
  // ||x1||^2 = 5.25: first sample uses eta = 0.1 / 5.25, M = 2 -> w = (0.2 / 5.25) x1.
  r.learn(x1, 1.0, 2.0);
  CHECK(r.weights()[1] == doctest::Approx(0.2 / 5.25 * 2.0).epsilon(1e-15));
  r.learn(x2, 0.0, 0.0);  // gate 0: no learning, but the power still counts
  // ||x2||^2 = 1 + 0.25 + 9 = 10.25; mean = (5.25 + 10.25) / 2 = 7.75.
  CHECK(r.feature_power() == doctest::Approx(7.75).epsilon(1e-15));
  CHECK(r.eta() == doctest::Approx(0.1 / 7.75).epsilon(1e-15));
}

TEST_CASE("Linear readout, consolidation: frozen during the trial, then eta * sum M x") {
  LinearReadout r(3, ReadoutParams{.eta0 = 0.1, .feature_power = 4.0,
                                   .mode = models::plasticity::LearningMode::consolidation});
  const std::vector<double> x1 = {1, 2, 0.5}, x2 = {-1, 0.5, 2};
  // Weights stay 0, so y = 0 for both samples: M1 = 1 * 2 = 2, M2 = 0.5 * 1 = 0.5.
  r.learn(x1, 1.0, 2.0);
  r.learn(x2, 0.5, 1.0);
  CHECK(r.weights()[0] == 0.0);
  // acc = 2 x1 + 0.5 x2 = (1.5, 4.25, 2); w = 0.025 acc = (0.0375, 0.10625, 0.05).
  r.consolidate();
  CHECK(r.weights()[0] == doctest::Approx(0.0375).epsilon(1e-15));
  CHECK(r.weights()[1] == doctest::Approx(0.10625).epsilon(1e-15));
  CHECK(r.weights()[2] == doctest::Approx(0.05).epsilon(1e-15));
  CHECK(r.accumulated()[1] == 0.0);
}

TEST_CASE("Normalised LMS converges to a linear teacher (eta0 = 0.5, features of any scale)") {
  // Noise-free targets d = w* . x; with eta = eta0 / E||x||^2 and eta0 < 2 the mean update is
  // stable (readout.hpp). Features scaled by 100 to show the normalisation at work.
  const std::vector<double> w_star = {0.3, -0.2, 0.5, 0.1, -0.4, 0.05};
  LinearReadout r(6, ReadoutParams{.eta0 = 0.5, .rectify = false});
  sim::rng::Stream rng(7, sim::rng::make_stream(sim::rng::Purpose::analysis, 1), 0);
  std::vector<double> x(6);
  for (int n = 0; n < 4000; ++n) {
    for (int i = 0; i < 5; ++i) x[i] = 100.0 * rng.normal();
    x[5] = 100.0;  // bias
    double d = 0;
    for (int i = 0; i < 6; ++i) d += w_star[i] * x[i];
    r.learn(x, d, 1.0);
  }
  for (int i = 0; i < 6; ++i) CHECK(r.weights()[i] == doctest::Approx(w_star[i]).epsilon(1e-6));
}

TEST_CASE("Diagonal preconditioning: hand-computed per-feature rates (Eq. R2)") {
  LinearReadout r(2, ReadoutParams{.eta0 = 0.1, .precondition = Preconditioning::diagonal,
                                   .precondition_floor = 0.1});
  CHECK(r.rates()[0] == 0.0);  // nothing observed yet
  // Sample x = (1, 2): v = (1, 4), vbar = 5/2, floor = 0.1 * 5/2 = 1/4.
  // D = (1 / (1 + 1/4), 1 / (4 + 1/4)) = (4/5, 4/17); S = 4/5 * 1 + 4/17 * 4 = 148/85;
  // eta = 0.1 D / S = (0.1 * 68/148, 0.1 * 20/148). y = 0, M = (1 - 0) * 1 = 1,
  // w = eta * M * x = (6.8/148, 4/148).
  const std::vector<double> x1 = {1, 2};
  CHECK(r.learn(x1, 1.0, 1.0) == 1.0);
  CHECK(r.rates()[0] == doctest::Approx(0.1 * 68.0 / 148.0).epsilon(1e-14));
  CHECK(r.rates()[1] == doctest::Approx(0.1 * 20.0 / 148.0).epsilon(1e-14));
  CHECK(r.weights()[0] == doctest::Approx(6.8 / 148.0).epsilon(1e-14));
  CHECK(r.weights()[1] == doctest::Approx(4.0 / 148.0).epsilon(1e-14));
  // Sample x = (3, 0), target 0.5, gate 2: v = (10/2, 4/2) = (5, 2), vbar = 7/2, floor 0.35;
  // D = (1/5.35, 1/2.35), S = 5/5.35 + 2/2.35. y = 3 * 6.8/148 = 20.4/148;
  // M = (0.5 - 20.4/148) * 2; w_0 += eta_0 * M * 3, w_1 unchanged (x_1 = 0).
  const std::vector<double> x2 = {3, 0};
  const double s2 = 5.0 / 5.35 + 2.0 / 2.35, eta0_2 = 0.1 / 5.35 / s2;
  const double m2 = (0.5 - 20.4 / 148.0) * 2.0;
  CHECK(r.learn(x2, 0.5, 2.0) == doctest::Approx(m2).epsilon(1e-14));
  CHECK(r.weights()[0] == doctest::Approx(6.8 / 148.0 + eta0_2 * m2 * 3.0).epsilon(1e-14));
  CHECK(r.weights()[1] == doctest::Approx(4.0 / 148.0).epsilon(1e-14));
  // The rates sum to eta0 / S * sum D_i, and sum_i eta_i v_i = eta0 (the normalisation).
  const auto eta = r.rates();
  CHECK(eta[0] * 5.0 + eta[1] * 2.0 == doctest::Approx(0.1).epsilon(1e-14));
  // A floor <= 0 and a given feature power are refused.
  CHECK_THROWS_AS(LinearReadout(2, ReadoutParams{.precondition = Preconditioning::diagonal,
                                                 .precondition_floor = 0.0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(LinearReadout(2, ReadoutParams{.feature_power = 1.0,
                                                 .precondition = Preconditioning::diagonal}),
                  std::invalid_argument);
}

TEST_CASE("Diagonal preconditioning: a huge floor gives Eq. R1; consolidation uses the rates") {
  // With floor -> infinity every D_i is 1 / (floor vbar), so eta_i = eta0 / sum_j v_j =
  // eta0 / E||x||^2: the plain normalised rule with a running power, sample for sample.
  LinearReadout plain(4, ReadoutParams{.eta0 = 0.3});
  LinearReadout pre(4, ReadoutParams{.eta0 = 0.3, .precondition = Preconditioning::diagonal,
                                     .precondition_floor = 1e12});
  sim::rng::Stream rng(3, sim::rng::make_stream(sim::rng::Purpose::analysis, 2), 0);
  std::vector<double> x(4);
  for (int n = 0; n < 200; ++n) {
    for (int i = 0; i < 4; ++i) x[i] = (i + 1) * rng.normal();
    const double d = rng.uniform();
    plain.learn(x, d, 1.0);
    pre.learn(x, d, 1.0);
  }
  for (int i = 0; i < 4; ++i)
    CHECK(pre.weights()[i] == doctest::Approx(plain.weights()[i]).epsilon(1e-9));
  // Consolidation: w = eta_i * sum(M x_i) at the end of the trial, eta_i from the samples'
  // powers. Samples (2, 0) and (0, 1), y = 0, targets 1 and 1, gates 1:
  // sum M x = (2, 1); v = (2, 0.5), vbar = 1.25, floor = 0.125; D = (1/2.125, 1/0.625);
  // S = 2/2.125 + 0.5/0.625.
  LinearReadout c(2, ReadoutParams{.eta0 = 0.2,
                                   .mode = models::plasticity::LearningMode::consolidation,
                                   .precondition = Preconditioning::diagonal});
  c.learn(std::vector<double>{2, 0}, 1.0, 1.0);
  c.learn(std::vector<double>{0, 1}, 1.0, 1.0);
  CHECK(c.weights()[0] == 0.0);
  c.consolidate();
  const double s = 2.0 / 2.125 + 0.5 / 0.625;
  CHECK(c.weights()[0] == doctest::Approx(0.2 / 2.125 / s * 2.0).epsilon(1e-14));
  CHECK(c.weights()[1] == doctest::Approx(0.2 / 0.625 / s * 1.0).epsilon(1e-14));
}

TEST_CASE("Diagonal preconditioning learns features of unequal scale where Eq. R1 lags") {
  // Teacher d = w* . x with features of standard deviation 1, 3, 10, 30 and a bias. Plain
  // normalised LMS moves along feature i at a rate about eta0 v_i / sum_j v_j per sample:
  // 1.5 / 1011 for the unit feature, so after 1000 samples exp(-1.5) ~ 0.22 of its initial
  // error is left. Eq. R2 (floor 0.1: floor * vbar = 20.2) gives it
  // eta0 D_i / S = 1.5 / 21.2 / 2.21 ~ 0.032 per sample; all weights end within 1e-4
  // (relative) of w*, the plain rule's unit and bias weights more than 0.1 away.
  // Both at eta0 = 1.5, inside the bound 2 of both rules.
  const std::vector<double> w_star = {0.3, -0.2, 0.05, 0.01, 0.4};
  const std::vector<double> scale = {1, 3, 10, 30};
  LinearReadout plain(5, ReadoutParams{.eta0 = 1.5, .rectify = false});
  LinearReadout pre(5, ReadoutParams{.eta0 = 1.5, .rectify = false,
                                     .precondition = Preconditioning::diagonal});
  sim::rng::Stream rng(11, sim::rng::make_stream(sim::rng::Purpose::analysis, 3), 0);
  std::vector<double> x(5);
  for (int n = 0; n < 1000; ++n) {
    for (int i = 0; i < 4; ++i) x[i] = scale[i] * rng.normal();
    x[4] = 1.0;
    double d = 0;
    for (int i = 0; i < 5; ++i) d += w_star[i] * x[i];
    plain.learn(x, d, 1.0);
    pre.learn(x, d, 1.0);
  }
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(pre.weights()[i] == doctest::Approx(w_star[i]).epsilon(1e-4));
  }
  CHECK(std::abs(plain.weights()[0] - w_star[0]) > 0.1 * std::abs(w_star[0]));
  CHECK(std::abs(plain.weights()[4] - w_star[4]) > 0.1 * std::abs(w_star[4]));
}

TEST_CASE("When/what readout: when learns online, what only at the end of the trial") {
  WhenWhatReadout ww(3, WhenWhatParams{
                            .when = {.eta0 = 0.1, .feature_power = 4.0},
                            .what = {.eta0 = 0.1,
                                     .feature_power = 4.0,
                                     .mode = models::plasticity::LearningMode::consolidation}});
  const std::vector<double> x1 = {1, 2, 0.5};
  const auto m = ww.learn(x1, 1.0, 0.5, 2.0);
  CHECK(m.when == 2.0);  // (1 - 0) * 2
  CHECK(m.what == 1.0);  // (0.5 - 0) * 2
  CHECK(ww.when().weights()[1] == doctest::Approx(0.1).epsilon(1e-15));  // 0.025 * 2 * 2
  CHECK(ww.what().weights()[1] == 0.0);
  CHECK(ww.predict(x1).what == 0.0);
  ww.end_trial();
  CHECK(ww.what().weights()[1] == doctest::Approx(0.05).epsilon(1e-15));  // 0.025 * 1 * 2
  // when: w = 0.05 x1, so w.x1 = 0.05 * 5.25 = 0.2625.
  CHECK(ww.predict(x1).when == doctest::Approx(0.2625).epsilon(1e-14));
}
