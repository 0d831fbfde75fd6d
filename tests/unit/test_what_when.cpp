// The what/when paradigm's pieces: trial schedule (blocks, counts, jitter), the learning
// gate's timing in the paradigm, and the metric functions on synthetic data whose answers
// are known in closed form.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "experiments/registry.hpp"
#include "experiments/what_when/paradigm.hpp"
#include "experiments/what_when/what_when.hpp"
#include "models/force_rls.hpp"
#include "sim/rng.hpp"

namespace ww = experiments::what_when;

namespace {

std::vector<ww::Block> two_blocks() {
  ww::Block pre{.name = "pre", .trials_per_condition = 40,
                .conditions = {{.cue = 0, .outcome = 0, .latency_ms = 400, .probability = 1.0},
                               {.cue = 1, .outcome = 1, .latency_ms = 600, .probability = 0.3}}};
  ww::Block post{.name = "post", .trials_per_condition = 25,
                 .conditions = {{.cue = 0, .outcome = 0, .latency_ms = 600, .probability = 1.0},
                                {.cue = 1, .outcome = 1, .latency_ms = 600, .probability = 0.3},
                                {.cue = 2, .outcome = 1, .latency_ms = 200, .probability = 0.0}}};
  return {pre, post};
}

}  // namespace

TEST_CASE("schedule: exact counts per condition and block, blocks in order") {
  const auto blocks = two_blocks();
  const ww::Timing timing{.warmup_ms = 1500, .iti_ms = 400, .iti_jitter_ms = 500, .trial_ms = 1400};
  const auto trials = ww::make_schedule(blocks, timing, 1.0, 11);
  REQUIRE(trials.size() == 2 * 40 + 3 * 25);
  std::map<std::pair<uint32_t, uint32_t>, int> count;
  uint32_t last_block = 0;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    CHECK(t.index == i);
    CHECK(t.block >= last_block);  // blocks never interleave
    last_block = t.block;
    ++count[{t.block, t.condition}];
    const auto& c = blocks[t.block].conditions[t.condition];
    CHECK(t.cue == c.cue);
    CHECK(t.latency_ms == c.latency_ms);
    CHECK(t.probability == c.probability);
  }
  CHECK(count[{0, 0}] == 40);
  CHECK(count[{0, 1}] == 40);
  CHECK(count[{1, 0}] == 25);
  CHECK(count[{1, 1}] == 25);
  CHECK(count[{1, 2}] == 25);
  // p = 0 never occurs, p = 1 always does.
  for (const auto& t : trials) {
    if (t.probability == 0.0) CHECK_FALSE(t.occurred);
    if (t.probability == 1.0) CHECK(t.occurred);
  }
  // The order is shuffled: the first block does not start with 40 trials of condition 0.
  int run = 0;
  while (trials[static_cast<std::size_t>(run)].condition == trials[0].condition) ++run;
  CHECK(run < 40);
}

TEST_CASE("schedule: warm-up, interval and jitter, dt grid, determinism") {
  const auto blocks = two_blocks();
  const ww::Timing timing{.warmup_ms = 1500, .iti_ms = 400, .iti_jitter_ms = 500, .trial_ms = 1400};
  const double dt = 0.5;
  const auto trials = ww::make_schedule(blocks, timing, dt, 3);
  CHECK(trials[0].cue_ms >= 1500 + 400 - dt / 2);
  CHECK(trials[0].cue_ms <= 1500 + 400 + 500 + dt / 2);
  double gap_min = 1e9, gap_max = -1e9;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    CHECK(std::fmod(trials[i].cue_ms, dt) == 0.0);
    if (i == 0) continue;
    const double gap = trials[i].cue_ms - trials[i - 1].cue_ms - timing.trial_ms;
    // iti + U[0, jitter), rounded to the dt grid on both ends (at most dt/2 each).
    CHECK(gap >= timing.iti_ms - dt);
    CHECK(gap <= timing.iti_ms + timing.iti_jitter_ms + dt);
    gap_min = std::min(gap_min, gap);
    gap_max = std::max(gap_max, gap);
  }
  // 154 uniform jitters: all above 0.1 of the range has probability 0.9^154 < 1e-7.
  CHECK(gap_min < timing.iti_ms + 0.1 * timing.iti_jitter_ms);
  CHECK(gap_max > timing.iti_ms + 0.9 * timing.iti_jitter_ms);
  CHECK(ww::schedule_end_ms(trials, timing) == trials.back().cue_ms + 1400);

  const auto again = ww::make_schedule(blocks, timing, dt, 3);
  const auto other = ww::make_schedule(blocks, timing, dt, 4);
  bool same = true, differs = false;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    same = same && again[i].cue_ms == trials[i].cue_ms && again[i].condition == trials[i].condition &&
           again[i].occurred == trials[i].occurred;
    differs = differs || other[i].cue_ms != trials[i].cue_ms;
  }
  CHECK(same);
  CHECK(differs);
}

TEST_CASE("schedule: outcome frequency follows the probability") {
  ww::Block b{.name = "b", .trials_per_condition = 4000,
              .conditions = {{.cue = 0, .outcome = 0, .latency_ms = 300, .probability = 0.3}}};
  const auto trials = ww::make_schedule({b}, ww::Timing{}, 1.0, 5);
  double hits = 0;
  for (const auto& t : trials) hits += t.occurred ? 1 : 0;
  // Binomial(4000, 0.3): sd of the fraction = sqrt(0.3 * 0.7 / 4000) = 0.0072; 5 sd.
  CHECK(std::abs(hits / 4000.0 - 0.3) < 5 * 0.0072);
}

TEST_CASE("gate: open from the cue for exactly trial_ms, plain window gain 1") {
  const ww::Timing timing{.warmup_ms = 1500, .iti_ms = 400, .iti_jitter_ms = 500, .trial_ms = 1400};
  const auto trials = ww::make_schedule(two_blocks(), timing, 1.0, 9);
  models::plasticity::AttentionGate gate(ww::gate_params(0.0, 0.0), 1.0);
  for (std::size_t i : {std::size_t{0}, std::size_t{7}, trials.size() - 1}) {
    const auto& t = trials[i];
    ww::open_gate(gate, t, timing, 1.0);
    const auto cue = static_cast<sim::Step>(t.cue_ms);
    CHECK_FALSE(gate.is_open(cue - 1));
    CHECK(gate.is_open(cue));
    CHECK(gate.is_open(cue + 1399));
    CHECK_FALSE(gate.is_open(cue + 1400));
    CHECK(gate.update(cue + 10, 0.7) == 1.0);  // surprise off: base gain only
    CHECK(gate.update(cue + 1400, 0.7) == 0.0);
  }
}

TEST_CASE("timing band and peak timing on Gaussians") {
  // Band: [L - max(80, 0.1 L), L + max(30, 0.05 L)].
  CHECK(ww::timing_band(200).lo_ms == 120);
  CHECK(ww::timing_band(200).hi_ms == 230);
  CHECK(ww::timing_band(600).lo_ms == 520);
  CHECK(ww::timing_band(600).hi_ms == 630);
  CHECK(ww::timing_band(1000).lo_ms == 900);
  CHECK(ww::timing_band(1000).hi_ms == 1050);

  std::vector<double> t, narrow, broad, late;
  for (int k = 0; k <= 280; ++k) {
    const double ms = 5.0 * k;
    t.push_back(ms);
    narrow.push_back(std::exp(-0.5 * std::pow((ms - 380) / 50.0, 2)));
    broad.push_back(std::exp(-0.5 * std::pow((ms - 400) / 150.0, 2)));
    late.push_back(std::exp(-0.5 * std::pow((ms - 450) / 50.0, 2)));
  }
  const auto a = ww::peak_timing(t, narrow, 400);
  CHECK(a.peak_ms == 380);
  CHECK(a.in_band);
  // y(350) = exp(-0.5 (30/50)^2) = exp(-0.18) = 0.835 < 0.9.
  CHECK(a.at_rise_ms == doctest::Approx(std::exp(-0.18)));
  CHECK_FALSE(a.risen);
  const auto b = ww::peak_timing(t, broad, 400);
  // y(350) = exp(-0.5 (50/150)^2) = exp(-1/18) = 0.946 >= 0.9.
  CHECK(b.at_rise_ms == doctest::Approx(std::exp(-1.0 / 18)));
  CHECK(b.risen);
  CHECK(b.in_band);
  CHECK_FALSE(ww::peak_timing(t, late, 400).in_band);  // 450 > 400 + 30
}

TEST_CASE("pearson and slope") {
  CHECK(ww::pearson({1, 2, 3, 4}, {3, 5, 7, 9}) == doctest::Approx(1.0));
  CHECK(ww::slope({1, 2, 3, 4}, {3, 5, 7, 9}) == doctest::Approx(2.0));
  CHECK(ww::pearson({1, 2, 3}, {3, 2, 1}) == doctest::Approx(-1.0));
  // By hand: means 2 and 2; sxy = 1, sxx = 2, syy = 2 -> r = 1/2, slope = 1/2.
  CHECK(ww::pearson({1, 2, 3}, {1, 3, 2}) == doctest::Approx(0.5));
  CHECK(ww::slope({1, 2, 3}, {1, 3, 2}) == doctest::Approx(0.5));
}

TEST_CASE("trials to recover") {
  // Exponential recovery e = steady + J exp(-k / tau), no smoothing: the first k with
  // exp(-k / tau) <= 0.1 is ceil(tau ln 10) = ceil(23.03) = 24 for tau = 10.
  std::vector<double> e(10, 0.2);
  for (int k = 0; k < 100; ++k) e.push_back(0.2 + 1.5 * std::exp(-k / 10.0));
  CHECK(ww::trials_to_recover(e, 10, 0.2, 0.9, 1) == 24);
  // Step: three trials of error 1 after the change, then 0; steady 0, threshold 0.1.
  // 5-trial trailing means from the change: 1, 1, 1, 3/4, 3/5, 2/5, 1/5, 0 -> k = 7.
  std::vector<double> s = {5, 5, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  CHECK(ww::trials_to_recover(s, 2, 0.0, 0.9, 5) == 7);
  // Never recovers: -1; no excess: 0.
  CHECK(ww::trials_to_recover({0, 1, 1, 1}, 1, 0.0, 0.9, 1) == -1);
  CHECK(ww::trials_to_recover({0, 0.1, 0.1}, 1, 0.5, 0.9, 1) == 0);
}

TEST_CASE("trials below one criterion: the learner with the smaller jump is not held to a stricter level") {
  // Two exponential recoveries toward steady 0.2 with the same tau = 10 trials and jumps
  // 1.5 and 0.5. Own criterion (90 % of its own jump): ceil(10 ln 10) = 24 trials for both.
  // Common criterion steady + 0.1 * 1.5 = 0.35: the larger jump needs exp(-k/10) <= 0.1,
  // k = 24; the smaller needs 0.5 exp(-k/10) <= 0.15, k = ceil(10 ln(10/3)) = ceil(12.04) = 13.
  std::vector<double> big(10, 0.2), small(10, 0.2);
  for (int k = 0; k < 100; ++k) {
    big.push_back(0.2 + 1.5 * std::exp(-k / 10.0));
    small.push_back(0.2 + 0.5 * std::exp(-k / 10.0));
  }
  CHECK(ww::trials_to_recover(small, 10, 0.2, 0.9, 1) == 24);
  CHECK(ww::trials_below(big, 10, 0.35, 1) == 24);
  CHECK(ww::trials_below(small, 10, 0.35, 1) == 13);
  // trials_to_recover is trials_below at steady + 10 % of the series' own jump.
  CHECK(ww::trials_below(big, 10, 0.2 + 0.1 * 1.5, 1) == ww::trials_to_recover(big, 10, 0.2, 0.9, 1));
  // Smoothing: 5-trial trailing means of {1, 1, 1, 0, 0, ...} from the change are
  // 1, 1, 1, 3/4, 3/5, 2/5, 1/5, 0; the first <= 0.5 is at k = 5; never below -0.1: -1.
  std::vector<double> s = {5, 5, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  CHECK(ww::trials_below(s, 2, 0.5, 5) == 5);
  CHECK(ww::trials_below(s, 2, -0.1, 5) == -1);
  CHECK(ww::smoothed_since(s, 2, 5, 5) == doctest::Approx(0.75));
}

TEST_CASE("scored trials: the last ones of a block and cue; omission trials only on request") {
  const auto blocks = two_blocks();
  const auto trials = ww::make_schedule(blocks, ww::Timing{}, 1.0, 5);
  // Cue 1 in block 1 (p = 0.3, 25 trials): its last 10, latest first.
  const auto last = ww::scored_trials(trials, 1, 1, 10, false);
  REQUIRE(last.size() == 10);
  std::vector<std::size_t> all;  // every such trial, in order
  for (std::size_t i = 0; i < trials.size(); ++i)
    if (trials[i].block == 1 && trials[i].cue == 1) all.push_back(i);
  REQUIRE(all.size() == 25);
  CHECK(std::vector<std::size_t>(all.rbegin(), all.rbegin() + 10) == last);
  // Omission only: every returned trial has no outcome, and they are all such trials of the
  // block and cue (count larger than the block).
  const auto om = ww::scored_trials(trials, 1, 1, 1000, true);
  std::size_t omissions = 0;
  for (const auto& t : trials) omissions += (t.block == 1 && t.cue == 1 && !t.occurred) ? 1 : 0;
  CHECK(om.size() == omissions);
  CHECK(omissions > 0);
  for (std::size_t i : om) CHECK_FALSE(trials[i].occurred);
  // Cue 0 in block 1 has p = 1: no omission trials, nothing to score.
  CHECK(ww::scored_trials(trials, 1, 0, 1000, true).empty());
  CHECK(ww::scored_trials(trials, 1, 0, 1000, false).size() == 25);
}

TEST_CASE("probability code block: the last block that changes no probability") {
  auto blocks = two_blocks();  // post changes cue 0's latency only, adds cue 2
  CHECK(ww::probability_block(blocks) == 1);
  blocks[1].conditions[1].probability = 0.8;  // cue 1: 0.3 -> 0.8
  CHECK(ww::probability_block(blocks) == 0);
  blocks.push_back(blocks[1]);  // a third block repeating post's probabilities
  CHECK(ww::probability_block(blocks) == 2);
}

TEST_CASE("held-out bank: range on the snapshot's side of the change, scores by hand") {
  // 30 trials, change at 20, banks of 5.
  CHECK(ww::bank_range(3, 20, 30, 5) == std::pair<std::size_t, std::size_t>{3, 8});
  CHECK(ww::bank_range(17, 20, 30, 5) == std::pair<std::size_t, std::size_t>{17, 20});  // stops at the change
  CHECK(ww::bank_range(20, 20, 30, 5) == std::pair<std::size_t, std::size_t>{20, 25});
  CHECK(ww::bank_range(28, 20, 30, 5) == std::pair<std::size_t, std::size_t>{28, 30});
  // Two features (second = bias 1), three rows at t = 0, 50, 100 ms; L = 50, sigma = 50, p = 0.5.
  // Targets 0.5 exp(-1/2), 0.5, 0.5 exp(-1/2); w = (2, -1): y = 2 x0 - 1.
  const std::vector<double> w = {2.0, -1.0};
  const std::vector<float> x = {0.25f, 1.0f, 1.0f, 1.0f, 0.75f, 1.0f};  // y = -0.5, 1, 0.5
  const double g = 0.5 * std::exp(-0.5);
  auto b = ww::score_on_bank(w, x, 3, 50.0, 50.0, 0.5, 50.0, true);  // rectified: 0, 1, 0.5
  CHECK(b.n == 3);
  CHECK(b.sq_error == doctest::Approx(g * g + 0.25 + (0.5 - g) * (0.5 - g)));
  CHECK(b.n_window == 3);  // |t - L| <= sigma for all three
  CHECK(b.window_sum == doctest::Approx(1.5));
  b = ww::score_on_bank(w, x, 3, 50.0, 50.0, 0.5, 50.0, false);  // linear: -0.5, 1, 0.5
  CHECK(b.sq_error == doctest::Approx((0.5 + g) * (0.5 + g) + 0.25 + (0.5 - g) * (0.5 - g)));
  CHECK(b.window_sum == doctest::Approx(1.0));
  // A narrower window (sigma = 40: only t = 50) and the same outputs.
  b = ww::score_on_bank(w, x, 3, 50.0, 50.0, 0.5, 40.0, true);
  CHECK(b.n_window == 1);
  CHECK(b.window_sum == doctest::Approx(1.0));
}

TEST_CASE("trials to track a level change, both directions") {
  // Exponential approach v = after + (before - after) exp(-k / tau), no smoothing: 90 % of
  // the way is covered at the first k with exp(-k / tau) <= 0.1, ceil(tau ln 10) = 24 for
  // tau = 10, whether the level falls (0.8 -> 0.2) or rises (0.2 -> 0.8).
  for (auto [before, after] : {std::pair{0.8, 0.2}, std::pair{0.2, 0.8}}) {
    std::vector<double> v(10, before);
    for (int k = 0; k < 100; ++k) v.push_back(after + (before - after) * std::exp(-k / 10.0));
    CHECK(ww::trials_to_track(v, 10, before, after, 0.9, 1) == 24);
  }
  // Step from 0 to 1 three trials after the change; 5-trial trailing means from the change:
  // 0, 0, 0, 1/4, 2/5, 3/5, 4/5, 1 -> the first mean >= 0.9 is at k = 7.
  std::vector<double> s = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  CHECK(ww::trials_to_track(s, 2, 0.0, 1.0, 0.9, 5) == 7);
  // The same step downwards (1 -> 0) takes as long.
  for (double& x : s) x = 1.0 - x;
  CHECK(ww::trials_to_track(s, 2, 1.0, 0.0, 0.9, 5) == 7);
  // Never gets there: -1; no change of level: 0.
  CHECK(ww::trials_to_track({0, 0.5, 0.5, 0.5}, 1, 0.0, 1.0, 0.9, 1) == -1);
  CHECK(ww::trials_to_track({0.3, 0.3, 0.3}, 1, 0.3, 0.3, 0.9, 1) == 0);
}

TEST_CASE("angles and the permutation null") {
  CHECK(ww::angle_deg({1, 0}, {0, 1}) == doctest::Approx(90.0));
  CHECK(ww::angle_deg({1, 0}, {1, 1}) == doctest::Approx(45.0));
  CHECK(ww::angle_deg({1, 0}, {-2, 0}) == doctest::Approx(180.0));
  CHECK(ww::angle_deg({0, 0}, {1, 0}) == 90.0);
  CHECK(ww::quantile({0, 1, 2, 3, 4}, 0.25) == doctest::Approx(1.0));
  CHECK(ww::quantile({0, 1, 2, 3, 4}, 0.1) == doctest::Approx(0.4));
  // Independent zero-mean vectors of length n: cos is about N(0, 1/n), so the angle has
  // sd (180/pi)/sqrt(n) = 1.81 deg for n = 1000 and the 95 % interval is about 90 +- 3.55.
  const std::size_t n = 1000;
  std::vector<double> a(n), b(n);
  sim::rng::Stream s(1, 2, 3);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = s.normal();
    b[i] = s.normal() + 0.8 * a[i];  // correlated with a: angle well below 90
  }
  const auto null = ww::shuffled_angles(a, b, 400, 17);
  CHECK(ww::quantile(null, 0.025) == doctest::Approx(90 - 3.55).epsilon(0.02));
  CHECK(ww::quantile(null, 0.975) == doctest::Approx(90 + 3.55).epsilon(0.02));
  // cos -> 0.8 / sqrt(1.64) = 0.625, i.e. 51.3 deg; the cross term a.noise / n has sd
  // 1/sqrt(n) = 0.032, so cos has sd about 0.025 and the angle about 2 deg: 3 sd = 6 deg.
  CHECK(ww::angle_deg(a, b) == doctest::Approx(51.3).epsilon(6.0 / 51.3));
  CHECK(ww::angle_deg(a, b) < ww::quantile(null, 0.025));
}

TEST_CASE("cholesky solve and ridge") {
  // [[4, 2], [2, 3]] z = [2, 1]: inverse (1/8) [[3, -2], [-2, 4]] -> z = [1/2, 0].
  std::vector<double> a = {4, 2, 2, 3}, b = {2, 1};
  ww::cholesky_solve(a, b, 2, 1);
  CHECK(b[0] == doctest::Approx(0.5));
  CHECK(b[1] == doctest::Approx(0.0));
  // Ridge in one dimension: w = sum(x y) / (sum(x^2) + lambda).
  std::vector<float> x = {1, 2, 3};
  std::vector<double> y = {2, 3, 7};
  std::vector<double> g, c;
  ww::accumulate_gram(x, y, 1, 1, {0, 1, 2}, g, c);
  CHECK(g[0] == 14.0);
  CHECK(c[0] == 2 + 6 + 21);
  CHECK(ww::ridge(g, c, 1, 1, 1.0)[0] == doctest::Approx(29.0 / 15.0));
  // Exact linear data in 3 dimensions, 2 outputs, tiny lambda: recovers the weights; the
  // Gram matrix against a brute-force sum over a row subset.
  const std::size_t n = 50, p = 3, m = 2;
  const double w_true[3][2] = {{1.0, -2.0}, {0.5, 0.0}, {-1.5, 3.0}};
  std::vector<float> xs(n * p);
  std::vector<double> ys(n * m, 0.0);
  sim::rng::Stream s(4, 5, 6);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t i = 0; i < p; ++i) {
      xs[r * p + i] = static_cast<float>(s.normal());
      for (std::size_t k = 0; k < m; ++k) ys[r * m + k] += xs[r * p + i] * w_true[i][k];
    }
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < n; r += 2) rows.push_back(r);
  ww::accumulate_gram(xs, ys, p, m, rows, g, c);
  double g01 = 0;
  for (std::size_t r : rows) g01 += double(xs[r * p + 0]) * double(xs[r * p + 1]);
  CHECK(g[0 * p + 1] == doctest::Approx(g01));
  CHECK(g[1 * p + 0] == g[0 * p + 1]);
  const auto w = ww::ridge(g, c, p, m, 1e-9);
  for (std::size_t i = 0; i < p; ++i)
    for (std::size_t k = 0; k < m; ++k) CHECK(w[i * m + k] == doctest::Approx(w_true[i][k]).epsilon(1e-6));
}

TEST_CASE("clock decoder: exact where the features tell the time, no better than a constant where they do not") {
  // Synthetic trials of `per` sample times: features one-hot in the time index j (plus a
  // bias and N(0, 0.05^2) noise on every feature) for j < J; for j >= J every time shows the
  // same vector (one-hot at J), so no decoder can tell those times apart.
  const std::size_t per = 12, J = 6, n_trials = 60, p = per + 1;
  const double sample_ms = 20.0;
  sim::rng::Stream s(7, 8, 9);
  std::vector<float> x(n_trials * per * p);
  for (std::size_t tr = 0; tr < n_trials; ++tr)
    for (std::size_t j = 0; j < per; ++j) {
      float* row = &x[(tr * per + j) * p];
      for (std::size_t i = 0; i < p; ++i) row[i] = static_cast<float>(0.05 * s.normal());
      row[std::min(j, J)] += 1.0f;
      row[per] += 1.0f;  // bias
    }
  const auto c = ww::clock_decoder(x, n_trials, per, p, sample_ms, 40.0);
  REQUIRE(c.mae_ms.size() == per);
  CHECK(c.test_trials == n_trials / 3);
  for (std::size_t j = 0; j < per; ++j) {
    CHECK(c.t_ms[j] == doctest::Approx(j * sample_ms));
    // Chance: a uniform guess over the classes, sample_ms * sum_c |c - j| / per, by hand.
    double chance = 0;
    for (std::size_t k = 0; k < per; ++k) chance += std::abs(double(k) - double(j));
    CHECK(c.chance_mae_ms[j] == doctest::Approx(sample_ms * chance / per));
  }
  CHECK(c.chance_mae_ms[0] == doctest::Approx(sample_ms * 5.5));  // (0 + ... + 11) / 12
  for (std::size_t j = 0; j < J; ++j) CHECK(c.mae_ms[j] == 0.0);
  // Times J..per-1 look alike, so a prediction is the same guess for all of them: its mean
  // error over them is at least that of their median class (a constant c minimises
  // sum_j |c - j| at the median), here c = 8 or 9: (2 + 1 + 0 + 1 + 2 + 3) / 6 = 1.5 samples.
  double late = 0;
  for (std::size_t j = J; j < per; ++j) late += c.mae_ms[j];
  late /= static_cast<double>(per - J);
  CHECK(late >= 0.9 * 1.5 * sample_ms);
  CHECK(late < c.chance_mae_ms[J] * 2.0);  // and it still guesses among the late times
  CHECK_THROWS_AS(ww::clock_decoder(x, n_trials, per + 1, p, sample_ms, 40.0), std::invalid_argument);
}

TEST_CASE("clock decoder: each time's penalty is the validation minimum within its window") {
  // Noisy features whose signal fades with time since cue (amplitude 1 - 0.1 j on the
  // one-hot of j, N(0, 0.35^2) on every feature, 24 pure-noise features), so different
  // times prefer different penalties. The choice and the test error are recomputed here
  // from ridge, accumulate_gram and predict_class: per grid scale, a fit on the training
  // trials (index % 3 == 0), the mean |decoded - k| over the validation rows (% 3 == 1)
  // with |k - j| <= the window; the first scale with the lowest loss; a refit on train +
  // validation with that scale of the refit's own trace; the MAE on the test rows (% 3 == 2).
  const std::size_t per = 8, n_trials = 60, p = per + 1 + 24;
  const double sample_ms = 20.0, window_ms = 20.0;  // +-1 class
  sim::rng::Stream s(3, 1, 4);
  std::vector<float> x(n_trials * per * p);
  std::vector<double> y(n_trials * per * per, 0.0);
  for (std::size_t tr = 0; tr < n_trials; ++tr)
    for (std::size_t j = 0; j < per; ++j) {
      const std::size_t r = tr * per + j;
      for (std::size_t i = 0; i < p; ++i) x[r * p + i] = static_cast<float>(0.35 * s.normal());
      x[r * p + j] += static_cast<float>(1.0 - 0.1 * static_cast<double>(j));
      x[r * p + per] += 1.0f;
      y[r * per + j] = 1.0;
    }
  std::vector<std::size_t> train, val, test;
  for (std::size_t tr = 0; tr < n_trials; ++tr)
    for (std::size_t j = 0; j < per; ++j)
      (tr % 3 == 0 ? train : tr % 3 == 1 ? val : test).push_back(tr * per + j);
  std::vector<double> g, c, g2, c2;
  ww::accumulate_gram(x, y, p, per, train, g, c);
  auto trace = [&](const std::vector<double>& m) {
    double t = 0;
    for (std::size_t i = 0; i < p; ++i) t += m[i * p + i];
    return t / static_cast<double>(p);
  };
  const double grid[] = {1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0};
  std::vector<double> best(per, 1e300), scale(per, 0.0);
  for (double sc : grid) {
    const auto w = ww::ridge(g, c, p, per, sc * trace(g));
    std::vector<double> e(per, 0.0), n(per, 0.0);
    for (std::size_t r : val) {
      const double err = std::abs(double(ww::predict_class(x, r, w, p, per)) - double(r % per));
      for (std::size_t k = 0; k < per; ++k)
        if (std::abs(double(k) - double(r % per)) <= 1.0) e[k] += err, n[k] += 1;
    }
    for (std::size_t k = 0; k < per; ++k)
      if (e[k] / n[k] < best[k]) best[k] = e[k] / n[k], scale[k] = sc;
  }
  std::vector<std::size_t> all = train;
  all.insert(all.end(), val.begin(), val.end());
  ww::accumulate_gram(x, y, p, per, all, g2, c2);
  const auto got = ww::clock_decoder(x, n_trials, per, p, sample_ms, window_ms);
  for (std::size_t j = 0; j < per; ++j) {
    CHECK(got.ridge_scale[j] == scale[j]);
    const auto w = ww::ridge(g2, c2, p, per, scale[j] * trace(g2));
    double e = 0, n = 0;
    for (std::size_t r : test)
      if (r % per == j) e += std::abs(double(ww::predict_class(x, r, w, p, per)) - double(j)), n += 1;
    CHECK(got.mae_ms[j] == doctest::Approx(e / n * sample_ms));
  }
  // The check means something only if the choice differs across times.
  CHECK(*std::max_element(scale.begin(), scale.end()) > *std::min_element(scale.begin(), scale.end()));
  MESSAGE("chosen scales: " << scale[0] << " " << scale[per / 2] << " " << scale[per - 1]);
}

TEST_CASE("built-in configs validate; a condition naming an unknown cue is rejected at its key") {
  const experiments::Experiment* e = experiments::find("what_when");
  REQUIRE(e != nullptr);
  for (const auto& path : e->configs)
    CHECK_NOTHROW(e->validate(sim::load_config(std::string(SNNSIM_SOURCE_DIR) + "/" + path)));
  auto doc = sim::load_config(std::string(SNNSIM_SOURCE_DIR) + "/experiments/what_when_small.toml");
  // Replace the first condition's cue by a name that is not in paradigm.cues.
  auto* block = doc.root["block"].as_array()->get(0)->as_table();
  block->get("condition")->as_array()->get(0)->as_table()->insert_or_assign("cue", "Q");
  try {
    e->validate(doc);
    FAIL("expected an InputError");
  } catch (const sim::InputError& err) {
    CHECK(err.key.find("cue") != std::string::npos);
    CHECK(std::string(err.what()).find("Q") != std::string::npos);
  }
}

TEST_CASE("out-of-range readout, gate, clock and paradigm values are rejected at their own key") {
  // Each of these used to run: sigma 0 gave infinite errors, a negative gain flips the sign
  // of learning, clock.trials < 9 silently left the clock figures out, a negative eta0
  // failed inside the readout without naming a key, and a duration_ms other than 0 or the
  // schedule's length (775 s here) was replaced by that length without a word. eta0_when < 2
  // is the normalised LMS stability bound (models/readout.hpp, Eq. R1).
  const experiments::Experiment* e = experiments::find("what_when");
  REQUIRE(e != nullptr);
  struct Case {
    const char* table;
    const char* key;
    double value;
  };
  const Case cases[] = {{"readout", "target_sigma_ms", 0.0}, {"readout", "target_sigma_ms", -5.0},
                        {"readout", "eta0_when", -0.1},      {"readout", "eta0_when", 2.0},
                        {"readout", "eta0_what", -1.0},      {"readout", "surprise_gain", -1.0},
                        {"readout", "outcome_gain", -1.0},   {"readout", "tau_min_ms", 0.0},
                        {"readout", "tau_max_ms", 10.0},     {"paradigm", "iti_jitter_ms", -1.0},
                        {"paradigm", "warmup_ms", -1.0},     {"readout", "precondition_floor", 0.0},
                        {"simulation", "duration_ms", 1000.0},
                        // a negative or zero outcome used to give no outcome input without a
                        // word, a fraction of a step one a step shorter or longer
                        {"paradigm", "outcome_duration_ms", -100.0},
                        {"paradigm", "outcome_duration_ms", 0.0},
                        {"paradigm", "outcome_duration_ms", 50.5}};
  for (const auto& c : cases) {
    CAPTURE(c.key);
    auto doc = sim::load_config(std::string(SNNSIM_SOURCE_DIR) + "/experiments/what_when_small.toml");
    doc.root[c.table].as_table()->insert_or_assign(c.key, c.value);
    try {
      e->validate(doc);
      FAIL("expected an InputError");
    } catch (const sim::InputError& err) {
      CHECK(err.key == std::string(c.table) + "." + c.key);
    }
  }
  auto doc = sim::load_config(std::string(SNNSIM_SOURCE_DIR) + "/experiments/what_when_small.toml");
  doc.root["clock"].as_table()->insert_or_assign("trials", int64_t{8});
  try {
    e->validate(doc);
    FAIL("expected an InputError");
  } catch (const sim::InputError& err) {
    CHECK(err.key == "clock.trials");
  }
  doc.root["clock"].as_table()->insert_or_assign("trials", int64_t{9});
  CHECK_NOTHROW(e->validate(doc));
  // The when readouts' preconditioning is one of two names.
  doc.root["readout"].as_table()->insert_or_assign("precondition_when", "jacobi");
  try {
    e->validate(doc);
    FAIL("expected an InputError");
  } catch (const sim::InputError& err) {
    CHECK(err.key == "readout.precondition_when");
  }
  doc.root["readout"].as_table()->insert_or_assign("precondition_when", "diagonal");
  CHECK_NOTHROW(e->validate(doc));
  // A trace of a run whose length the schedule sets (duration_ms = 0; 775 s here) records
  // to its end without stop_ms, and one that would stop past it is refused at its stop_ms
  // (it was refused against duration_ms = 0 even inside the schedule).
  toml::table trace{{"population", "exc"}, {"node_ids", toml::array{0, 1}}};
  doc.root.insert_or_assign("trace", toml::array{trace});
  CHECK_NOTHROW(e->validate(doc));
  trace.insert_or_assign("stop_ms", 700000.0);
  doc.root.insert_or_assign("trace", toml::array{trace});
  CHECK_NOTHROW(e->validate(doc));
  trace.insert_or_assign("stop_ms", 1.0e6);
  doc.root.insert_or_assign("trace", toml::array{trace});
  try {
    e->validate(doc);
    FAIL("expected an InputError");
  } catch (const sim::InputError& err) {
    CHECK(err.key == "trace[0].stop_ms");
  }
}

TEST_CASE("stimulus keys: each form's own, Poisson rates in range, refused at their key") {
  // paradigm.stimulus = "current" is set by cue_amplitude / outcome_amplitude, "poisson" by
  // cue_rate_hz and cue_weight (outcome_* when the outcome drives the reservoir); a key of
  // the other form would be silently unused, so it is refused. Rates above
  // sim::kMaxPoissonPerStep input spikes per step (30 at dt = 1 ms: 30 kHz) are refused.
  const experiments::Experiment* e = experiments::find("what_when");
  REQUIRE(e != nullptr);
  const std::string small = std::string(SNNSIM_SOURCE_DIR) + "/experiments/what_when_small.toml";
  auto poisson = [&] {
    auto doc = sim::load_config(small);
    auto* p = doc.root["paradigm"].as_table();
    p->erase("cue_amplitude");
    p->insert_or_assign("stimulus", "poisson");
    p->insert_or_assign("cue_rate_hz", 500.0);
    p->insert_or_assign("cue_weight", 20.0);
    return doc;
  };
  // A bad value is refused at its key; a missing one at its table, naming the key.
  auto refused_at = [&](sim::ConfigDocument doc, const std::string& key, bool missing = false) {
    CAPTURE(key);
    try {
      e->validate(doc);
      FAIL("expected an InputError");
    } catch (const sim::InputError& err) {
      if (missing) {
        CHECK(err.key == "paradigm");
        CHECK(std::string(err.what()).find("missing required key '" + key + "'") != std::string::npos);
      } else {
        CHECK(err.key == key);
      }
    }
  };
  CHECK_NOTHROW(e->validate(poisson()));
  {
    auto doc = sim::load_config(small);
    doc.root["paradigm"].as_table()->insert_or_assign("cue_rate_hz", 500.0);
    refused_at(doc, "paradigm.cue_rate_hz");  // with the default "current"
  }
  {
    auto doc = poisson();
    doc.root["paradigm"].as_table()->insert_or_assign("cue_amplitude", 10.0);
    refused_at(doc, "paradigm.cue_amplitude");
  }
  {
    auto doc = poisson();
    doc.root["paradigm"].as_table()->insert_or_assign("stimulus", "spikes");
    refused_at(doc, "paradigm.stimulus");
  }
  for (double hz : {0.0, -5.0, 40000.0}) {
    auto doc = poisson();
    doc.root["paradigm"].as_table()->insert_or_assign("cue_rate_hz", hz);
    refused_at(doc, "paradigm.cue_rate_hz");
  }
  for (const char* key : {"cue_rate_hz", "cue_weight"}) {
    auto doc = poisson();
    doc.root["paradigm"].as_table()->erase(key);
    refused_at(doc, std::string("paradigm.") + key, true);
  }
  {
    // The outcome's rate is needed once the outcome drives the reservoir.
    auto doc = poisson();
    doc.root["paradigm"].as_table()->insert_or_assign("outcome_input", true);
    refused_at(doc, "paradigm.outcome_rate_hz", true);
    doc.root["paradigm"].as_table()->insert_or_assign("outcome_rate_hz", 500.0);
    refused_at(doc, "paradigm.outcome_weight", true);
    doc.root["paradigm"].as_table()->insert_or_assign("outcome_weight", 20.0);
    CHECK_NOTHROW(e->validate(doc));
  }
}

TEST_CASE("a cue listed twice in force.cues is rejected at its key") {
  // Two FORCE pairs of one cue would write the same /weights datasets at the first block end.
  const experiments::Experiment* e = experiments::find("what_when");
  REQUIRE(e != nullptr);
  auto doc = sim::load_config(std::string(SNNSIM_SOURCE_DIR) + "/experiments/what_when.toml");
  toml::array twice;
  twice.push_back("C");
  twice.push_back("C");
  doc.root["force"].as_table()->insert_or_assign("cues", twice);
  try {
    e->validate(doc);
    FAIL("expected an InputError");
  } catch (const sim::InputError& err) {
    CHECK(err.key.find("cues") != std::string::npos);
    CHECK(std::string(err.what()).find("listed twice") != std::string::npos);
  }
}

TEST_CASE("FORCE with a rectified output: RLS sees the rectified error, w moves only on it") {
  // Error before the update = drive - rectified_rls_target = max(0, drive) - target (by the
  // definition of the rectified output), checked on the RLS model itself.
  models::readout::RlsReadout r(2, {.alpha = 1.0, .update_every_steps = 1}, {1.0, -1.0});
  const std::vector<double> neg = {0.0, 2.0};  // drive -2
  const std::vector<double> pos = {3.0, 1.0};  // drive 2
  CHECK(ww::rectified_rls_target(0.25, 2.0) == 0.25);
  CHECK(ww::rectified_rls_target(0.25, -2.0) == -1.75);
  // Negative drive, target 0: the rectified output (0) is right, so no error and w stays.
  CHECK(r.update(neg, ww::rectified_rls_target(0.0, r.drive(neg))) == 0.0);
  CHECK(r.weights()[0] == 1.0);
  CHECK(r.weights()[1] == -1.0);
  // Negative drive, target 0.5: error max(0, -2) - 0.5 = -0.5 (not -2.5), so the output
  // is pushed up by the target only.
  const double d_neg = r.drive(neg);
  CHECK(r.update(neg, ww::rectified_rls_target(0.5, d_neg)) == doctest::Approx(-0.5));
  CHECK(r.drive(neg) > d_neg);
  // Positive drive: the plain RLS error.
  const double d_pos = r.drive(pos);
  CHECK(r.update(pos, ww::rectified_rls_target(0.25, d_pos)) == doctest::Approx(d_pos - 0.25));
}

TEST_CASE("interval layers: overlapping windows never share a layer, layer 0 is every free one") {
  using W = std::vector<std::pair<sim::Step, sim::Step>>;
  // Back-to-back windows ([0,10) then [10,20)) do not overlap: one layer.
  CHECK(ww::interval_layers(W{{0, 10}, {10, 20}, {25, 30}}) == std::vector<uint32_t>{0, 0, 0});
  CHECK(ww::interval_layers(W{}).empty());
  // [0,100) holds layer 0; [50,60) and [55,70) overlap it and each other; [65,80) finds
  // layer 1 free again (ended at 60); [120,130) comes after all of them.
  const W w{{0, 100}, {50, 60}, {55, 70}, {65, 80}, {120, 130}};
  const auto l = ww::interval_layers(w);
  CHECK(l == std::vector<uint32_t>{0, 1, 2, 1, 0});
  // Independent check on random windows: no two windows of one layer overlap, and each
  // window's layer is the lowest not held by an earlier window that overlaps it.
  sim::rng::Stream r(3, 1, 0);
  W rnd;
  sim::Step t = 0;
  for (int i = 0; i < 300; ++i) {
    t += static_cast<sim::Step>(r.below(20));
    rnd.emplace_back(t, t + 1 + static_cast<sim::Step>(r.below(60)));
  }
  const auto lr = ww::interval_layers(rnd);
  REQUIRE(lr.size() == rnd.size());
  for (std::size_t i = 0; i < rnd.size(); ++i) {
    std::vector<bool> held;
    for (std::size_t j = 0; j < i; ++j)
      if (rnd[j].second > rnd[i].first) {
        CHECK(lr[j] != lr[i]);
        if (held.size() <= lr[j]) held.resize(lr[j] + 1, false);
        held[lr[j]] = true;
      }
    uint32_t lowest = 0;
    while (lowest < held.size() && held[lowest]) ++lowest;
    CHECK(lr[i] == lowest);
  }
}
