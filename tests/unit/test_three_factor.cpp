// Tests of models/traces.hpp, models/three_factor.hpp and models/attention_gate.hpp.
// Expected numbers come from closed forms (exp(-t/tau) in long double), hand arithmetic
// written out next to each check, or an independent step-by-step reference in the test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "models/attention_gate.hpp"
#include "models/three_factor.hpp"
#include "models/traces.hpp"

using namespace models::plasticity;

namespace {
constexpr double eps = std::numeric_limits<double>::epsilon();

double rel_err(double got, double want) {
  return std::abs(got - want) / std::max(std::abs(want), std::numeric_limits<double>::min());
}
}  // namespace

TEST_CASE("Decay factors equal exp(-n dt/tau) to a few ulp, in and beyond the table") {
  // Reference: expl in 80-bit long double (64-bit mantissa), rounded once to double.
  const double tau = 20.0, dt = 0.1;
  const Decay decay(tau, dt, 256);
  for (sim::Step n : {0ull, 1ull, 2ull, 17ull, 255ull, 256ull, 257ull, 1000ull, 20000ull}) {
    const long double x = static_cast<long double>(n) * 0.1L / 20.0L;
    const double want = static_cast<double>(std::exp(-x));
    // Bound from traces.hpp: (2 + x) eps for the argument rounding and exp, plus the
    // rounding of dt = 0.1 itself (relative eps on dt, absolute x*eps on the exponent).
    CHECK(rel_err(decay.factor(n), want) <= (4.0 + 2.0 * static_cast<double>(x)) * eps);
  }
  // tau = infinity: no decay at all.
  const Decay flat(std::numeric_limits<double>::infinity(), 1.0);
  CHECK(flat.factor(123456) == 1.0);
}

TEST_CASE("Lazy trace equals stepping to 1e-12 and the closed form sum over long gaps") {
  // Bumps (step, amount); gaps up to 1400 steps, far beyond the 256-entry table.
  struct Bump {
    sim::Step step;
    double amount;
  };
  const std::vector<Bump> bumps = {{3, 1.0}, {4, 0.5}, {700, 2.0}, {2100, 1.0}, {2101, -0.25}};
  const double tau = 150.0, dt = 0.5;
  const Decay decay(tau, dt);
  LazyTrace lazy;
  double stepped = 0.0;  // reference 1: multiply by exp(-dt/tau) once per step
  const double per_step = std::exp(-dt / tau);
  std::size_t next = 0;
  const sim::Step end = 3000;
  for (sim::Step s = 0; s <= end; ++s) {
    if (s > 0) stepped *= per_step;
    while (next < bumps.size() && bumps[next].step == s) {
      stepped += bumps[next].amount;
      bump(lazy, s, bumps[next].amount, decay);
      ++next;
    }
    // Read lazily only at a few steps, so the gaps between updates are long.
    if (s == 699 || s == 2099 || s == end) {
      // Reference 2: the closed form sum_k a_k exp(-(s - t_k) dt / tau) in long double.
      long double exact = 0.0L;
      for (const Bump& b : bumps)
        if (b.step <= s)
          exact += b.amount * std::exp(-static_cast<long double>(s - b.step) * 0.5L / 150.0L);
      const double got = advance(lazy, s, decay);
      CHECK(rel_err(got, stepped) < 1e-12);
      CHECK(rel_err(got, static_cast<double>(exact)) < 1e-14);
    }
  }
}

TEST_CASE("TraceArray and CausalTraceArray: same-step semantics") {
  const Decay decay(10.0, 1.0);
  TraceArray plain(2, decay);
  plain.bump(0, 5, 1.0);
  CHECK(plain.read(0, 5) == 1.0);  // a plain trace sees its own bump at the same step
  CHECK(rel_err(plain.read(0, 25), std::exp(-2.0)) < 4 * eps);
  CHECK(plain.read(1, 25) == 0.0);

  CausalTraceArray causal(1, decay);
  causal.bump(0, 5, 1.0);
  CHECK(causal.read(0, 5) == 0.0);  // spikes at the read step are excluded
  CHECK(rel_err(causal.read(0, 15), std::exp(-1.0)) < 4 * eps);
  causal.bump(0, 15, 1.0);
  // Read at 15 still sees only the spike at 5: exp(-1). At 25: (exp(-1) + 1) exp(-1).
  CHECK(rel_err(causal.read(0, 15), std::exp(-1.0)) < 4 * eps);
  CHECK(rel_err(causal.read(0, 25), (std::exp(-1.0) + 1.0) * std::exp(-1.0)) < 8 * eps);
  // Nearest-spike mode: set to 1 at step 30 discards the history for later reads.
  causal.set(0, 30, 1.0);
  CHECK(rel_err(causal.read(0, 30), (std::exp(-1.0) + 1.0) * std::exp(-1.5)) < 8 * eps);
  CHECK(rel_err(causal.read(0, 40), std::exp(-1.0)) < 4 * eps);
}

TEST_CASE("SynapseIndex groups synapses by neuron") {
  const std::vector<uint32_t> post_of = {2, 0, 2, 1, 0};
  const auto index = SynapseIndex::build(post_of, 4);
  CHECK(std::vector<uint32_t>(index.of(0).begin(), index.of(0).end()) ==
        std::vector<uint32_t>{1, 4});
  CHECK(std::vector<uint32_t>(index.of(1).begin(), index.of(1).end()) ==
        std::vector<uint32_t>{3});
  CHECK(std::vector<uint32_t>(index.of(2).begin(), index.of(2).end()) ==
        std::vector<uint32_t>{0, 2});
  CHECK(index.of(3).empty());
  CHECK_THROWS_AS(SynapseIndex::build(post_of, 2), std::invalid_argument);
}

namespace {
// The 2-synapse example used by the next two test cases.
//   synapse 0: pre 0 -> post 0;  synapse 1: pre 1 -> post 0;  dt = 1 ms.
//   tau_e = 10 ms, tau_pre = tau_post = 20 ms, a_pre = 0, a_post_pre = 1, a_pre_post = -0.5,
//   eta = 0.1. Spikes: pre 0 at step 10, pre 1 at 20, post 0 at 30, pre 1 at 35.
//   M = (target - output) * gate = (1 - 0.25) * 2 = 1.5 from step 40; steps 40 and 41 learn.
// Hand arithmetic:
//   step 30, post spike: x_0 = exp(-20/20) = e^-1, x_1 = exp(-10/20) = e^-0.5
//            e_0 = e^-1, e_1 = e^-0.5
//   step 35, pre 1 spike: y_0 = exp(-5/20) = e^-0.25; e_1 += -0.5 e^-0.25
//            -> e_1(35) = e^-0.5 e^-0.5 + (-0.5 e^-0.25) = e^-1 - 0.5 e^-0.25
//   step 40: e_0 = e^-1 e^-10/10 = e^-2                      = 0.1353352832366127
//            e_1 = (e^-1 - 0.5 e^-0.25) e^-0.5 = e^-1.5 - 0.5 e^-0.75 = -0.013053116222077527
//   step 41: both times e^-0.1.
//   w_0 = eta M (e^-2 + e^-2.1)                       = 0.15 (e^-2 + e^-2.1)  = 0.038668756723...
//   w_1 = eta M (e^-1.5 - 0.5 e^-0.75)(1 + e^-0.1)                            = -0.003729609630...
void run_example(ThreeFactorRule& rule, std::vector<double>& w) {
  for (sim::Step s = 0; s <= 41; ++s) {
    if (s == 10) rule.on_pre_spike(0, s);
    if (s == 20 || s == 35) rule.on_pre_spike(1, s);
    if (s == 30) rule.on_post_spike(0, s);
    if (s == 40) rule.on_modulator(error_modulator(1.0, 0.25, 2.0), s);
    rule.on_step(w, s);
  }
}
const ThreeFactorParams example_params{.eta = 0.1,
                                       .tau_e_ms = 10.0,
                                       .tau_pre_ms = 20.0,
                                       .tau_post_ms = 20.0,
                                       .a_pre = 0.0,
                                       .a_post_pre = 1.0,
                                       .a_pre_post = -0.5};
const double want_w0 = 0.15 * (std::exp(-2.0) + std::exp(-2.1));
const double want_w1 = 0.15 * (std::exp(-1.5) - 0.5 * std::exp(-0.75)) * (1.0 + std::exp(-0.1));
}  // namespace

TEST_CASE("Three-factor rule, online: hand-computed 2-synapse update") {
  ThreeFactorRule rule(example_params, 1.0, {0, 1}, {0, 0}, 2, 1);
  std::vector<double> w = {0.0, 0.0};
  run_example(rule, w);
  CHECK(rel_err(w[0], want_w0) < 1e-14);
  CHECK(rel_err(w[1], want_w1) < 1e-13);
  CHECK(rule.eligibility(0, 41) == doctest::Approx(std::exp(-2.1)).epsilon(1e-14));
}

TEST_CASE("Three-factor rule, consolidation: nothing moves until consolidate, then the sum") {
  ThreeFactorParams params = example_params;
  params.mode = LearningMode::consolidation;
  ThreeFactorRule rule(params, 1.0, {0, 1}, {0, 0}, 2, 1);
  std::vector<double> w = {0.0, 0.0};
  run_example(rule, w);
  CHECK(w[0] == 0.0);
  CHECK(w[1] == 0.0);
  // acc = M * (e(40) + e(41)) = w_online / eta.
  CHECK(rel_err(rule.accumulated(0), want_w0 / 0.1) < 1e-14);
  rule.consolidate(w);
  CHECK(rel_err(w[0], want_w0) < 1e-14);
  CHECK(rel_err(w[1], want_w1) < 1e-13);
  CHECK(rule.accumulated(0) == 0.0);
}

TEST_CASE("Three-factor rule: coincident pre and post spikes do not pair, in either order") {
  const ThreeFactorParams params{.eta = 1.0, .a_post_pre = 1.0, .a_pre_post = -1.0};
  for (int order = 0; order < 2; ++order) {
    ThreeFactorRule rule(params, 1.0, {0}, {0}, 1, 1);
    if (order == 0) {
      rule.on_pre_spike(0, 7);
      rule.on_post_spike(0, 7);
    } else {
      rule.on_post_spike(0, 7);
      rule.on_pre_spike(0, 7);
    }
    CHECK(rule.eligibility(0, 7) == 0.0);
    CHECK(rule.eligibility(0, 100) == 0.0);
  }
}

TEST_CASE("Three-factor rule: per-postsynaptic modulator, presynaptic term, weight bounds") {
  // Two synapses onto different posts; pre-only eligibility (a_pre = 1): e = exp filter.
  const ThreeFactorParams params{.eta = 1.0,
                                 .tau_e_ms = 5.0,
                                 .a_pre = 1.0,
                                 .a_post_pre = 0.0,
                                 .bounds = {.w_min = -1.0, .w_max = 0.5}};
  ThreeFactorRule rule(params, 1.0, {0, 0}, {0, 1}, 1, 2);
  std::vector<double> w = {0.0, 0.0};
  rule.on_pre_spike(0, 0);
  rule.on_modulator(1, 0.2, 5);  // only post 1 learns
  rule.on_step(w, 5);
  CHECK(w[0] == 0.0);
  // e(5) = exp(-5/5) = e^-1; w_1 = 1 * 0.2 * e^-1.
  CHECK(rel_err(w[1], 0.2 * std::exp(-1.0)) < 1e-15);
  rule.on_modulator(1, 100.0, 6);  // a huge step: clipped at w_max = 0.5
  rule.on_step(w, 6);
  CHECK(w[1] == 0.5);
  rule.on_modulator(-100.0, 7);  // both posts, negative: clipped at w_min = -1
  rule.on_step(w, 7);
  CHECK(w[0] == -1.0);
  CHECK(w[1] == -1.0);
}

TEST_CASE("Attention gate opens at the cue and closes after the latest outcome window") {
  // dt = 1 ms; cue at step 1000, latest outcome 600 ms, after_outcome 200 ms:
  // open on [1000, 1000 + 600 + 200) = [1000, 1800). No surprise terms.
  const AttentionGateParams params{.after_outcome_ms = 200.0,
                                   .surprise_gain = 0.0,
                                   .outcome_gain = 0.0};
  AttentionGate gate(params, 1.0);
  gate.on_cue(1000, 600.0);
  CHECK(gate.update(999, 0.5) == 0.0);
  CHECK(gate.update(1000, 0.5) == 1.0);
  CHECK(gate.update(1799, 0.5) == 1.0);
  CHECK(gate.update(1800, 0.5) == 0.0);
  CHECK(gate.open_until() == 1800);
  // dt = 0.5 ms: the same durations are twice the steps: [2000, 3600).
  AttentionGate fine(params, 0.5);
  fine.on_cue(2000, 600.0);
  CHECK_FALSE(fine.is_open(1999));
  CHECK(fine.is_open(3599));
  CHECK_FALSE(fine.is_open(3600));
  // Durations that are not whole steps are rejected.
  CHECK_THROWS_AS(fine.on_cue(0, 600.25), std::invalid_argument);
}

TEST_CASE("Attention gate: surprise boost from |delta| above its running expectation") {
  // dt = 1, surprise_tau = 10 ms -> rate r = 1 - e^-0.1; abar(0) = 0.2, margin 0.1, gain 2.
  const AttentionGateParams params{.after_outcome_ms = 0.0,
                                   .surprise_tau_ms = 10.0,
                                   .initial_expected_error = 0.2,
                                   .surprise_margin = 0.1,
                                   .surprise_gain = 2.0,
                                   .outcome_gain = 0.0,
                                   .max_gain = 3.0};
  AttentionGate gate(params, 1.0);
  const double r = 1.0 - std::exp(-0.1);
  gate.on_cue(0, 100.0);  // open on [0, 100)
  // |delta| = 0.2: excess = max(0, 0.2 - 0.2 - 0.1) = 0 -> gate 1; abar stays 0.2.
  CHECK(gate.update(0, -0.2) == 1.0);
  CHECK(gate.expected_error() == doctest::Approx(0.2).epsilon(1e-15));
  // |delta| = 1: excess = 1 - 0.2 - 0.1 = 0.7 -> gate 1 + 2 * 0.7 = 2.4;
  // then abar = 0.2 + r (1 - 0.2).
  CHECK(gate.update(1, 1.0) == doctest::Approx(2.4).epsilon(1e-14));
  const double abar1 = 0.2 + r * 0.8;
  CHECK(gate.expected_error() == doctest::Approx(abar1).epsilon(1e-14));
  // Same |delta| again: smaller excess, 1 - abar1 - 0.1.
  CHECK(gate.update(2, 1.0) == doctest::Approx(1.0 + 2.0 * (0.9 - abar1)).epsilon(1e-14));
  // A huge error hits the cap.
  CHECK(gate.update(3, 50.0) == 3.0);
  // Closed gate: returns 0 and leaves the expectation alone.
  const double before = gate.expected_error();
  CHECK(gate.update(100, 50.0) == 0.0);
  CHECK(gate.expected_error() == before);
}

TEST_CASE("Attention gate: an outcome at low prediction boosts and re-opens the gate") {
  const AttentionGateParams params{.after_outcome_ms = 0.0,
                                   .surprise_gain = 0.0,
                                   .low_prediction = 0.2,
                                   .outcome_gain = 1.5,
                                   .outcome_hold_ms = 50.0,
                                   .max_gain = 5.0};
  AttentionGate gate(params, 1.0);
  gate.on_cue(0, 100.0);  // open on [0, 100)
  gate.on_outcome(60, 0.9);  // predicted: no boost
  CHECK(gate.update(60, 0.1) == 1.0);
  gate.on_outcome(80, 0.05);  // unexpected: gain 1 + 1.5 on [80, 130)
  CHECK(gate.update(80, 0.1) == 2.5);
  CHECK(gate.update(99, 0.1) == 2.5);
  CHECK(gate.update(129, 0.1) == 2.5);  // past the cue window, held open by the surprise
  CHECK(gate.update(130, 0.1) == 0.0);
}
