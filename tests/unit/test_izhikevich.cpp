// Tests of models/izhikevich: the Fig. 2 firing types, bit-exact reproduction of the
// 2003 MATLAB arithmetic, accuracy against closed forms, and convergence orders.
//
// Sources of expected numbers:
//   [P]  Izhikevich 2003, IEEE TNN 14:1569 — eqs. 1–3, Fig. 2 (parameter values, and the
//        caption's protocol: a step of dc current I = 10, time resolution 0.1 ms), and
//        the MATLAB network code printed in the paper.
//   [CF] Closed forms derived here: with a = 0, u is constant and eq. 1 is a Riccati
//        equation with constant coefficients (see riccati_v below).
//   [LIN] Linearisation of eqs. 1–2 at rest (eigenvalues of the 2×2 Jacobian).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "models/izhikevich.hpp"
#include "sim/rng.hpp"

namespace izh = models::izhikevich;
using izh::Integrator;
using izh::Params;

namespace {

constexpr std::array<Integrator, 5> all_integrators = {
    Integrator::izhikevich2003, Integrator::izhikevich2003_clipped, Integrator::euler,
    Integrator::rk4, Integrator::dopri5};

constexpr std::array<const char*, 7> fig2_types = {"RS", "IB", "CH", "FS", "LTS", "TC", "RZ"};

Params fig2(const char* name) {
  const auto p = izh::preset(name);
  REQUIRE(p.has_value());
  return *p;
}

// Spike times (ms, stamped at the start of the step, as the engine does) for an input
// current given as a function of the step's start time.
template <class Current>
std::vector<double> spike_times(Integrator integrator, const Params& p, double v0_mV, double u0,
                                Current current, double duration_ms, double dt_ms) {
  std::vector<double> spikes;
  double v = v0_mV;
  double u = u0;
  const long n = std::lround(duration_ms / dt_ms);
  for (long k = 0; k < n; ++k) {
    const double t = static_cast<double>(k) * dt_ms;
    if (izh::step(integrator, v, u, p, current(t), dt_ms)) spikes.push_back(t);
  }
  return spikes;
}

std::vector<double> intervals(const std::vector<double>& spikes) {
  std::vector<double> isi;
  for (size_t i = 1; i < spikes.size(); ++i) isi.push_back(spikes[i] - spikes[i - 1]);
  return isi;
}

double mean_of_last(const std::vector<double>& x, size_t n) {
  double sum = 0.0;
  for (size_t i = x.size() - n; i < x.size(); ++i) sum += x[i];
  return sum / static_cast<double>(n);
}

// The Fig. 2 protocol [P]: from rest (v at the stable equilibrium, u = b v), a step of
// I = 10 at t = 0, simulated at the figure's 0.1 ms resolution for 300 ms.
constexpr double fig2_current = 10.0;
constexpr double fig2_dt_ms = 0.1;

std::vector<double> fig2_step_response(const Params& p, Integrator integrator) {
  const double v_rest = *izh::resting_v_mV(p);
  return spike_times(
      integrator, p, v_rest, p.b * v_rest, [](double) { return fig2_current; }, 300.0, fig2_dt_ms);
}

// ---- The signatures of the seven types. Each takes a parameter set and an integrator,
// runs its protocol and says whether the behaviour is there. The thresholds sit between
// the values of the type that has the behaviour and those of the types that lack it
// (the matrix test below checks both sides for every integrator).

// RS: regular spiking, no initial burst, inter-spike intervals lengthen (adaptation).
bool regular_spiking(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.size() < 3) return false;
  const bool no_burst = std::all_of(isi.begin(), isi.end(), [](double x) { return x >= 10.0; });
  const bool adapts = isi.back() >= 1.5 * isi.front();
  return no_burst && adapts;
}

// IB: an initial burst (≥ 2 spikes at ISI < 5 ms), then only single tonic spikes
// (every later ISI ≥ 20 ms, at least 5 of them).
bool intrinsically_bursting(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.empty() || isi.front() >= 5.0) return false;
  const auto first_long = std::find_if(isi.begin(), isi.end(), [](double x) { return x >= 20.0; });
  const bool burst_is_short =
      std::all_of(isi.begin(), first_long, [](double x) { return x < 5.0; });
  const bool then_tonic = std::all_of(first_long, isi.end(), [](double x) { return x >= 20.0; });
  return burst_is_short && then_tonic && (isi.end() - first_long) >= 5;
}

// CH: repeated bursts. The ISI distribution is bimodal (every ISI < 10 ms or > 30 ms),
// there are at least 3 long pauses, and every burst between pauses has ≥ 2 spikes.
bool chattering(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.empty() || isi.front() > 30.0) return false;
  int pauses = 0;
  for (size_t i = 0; i < isi.size(); ++i) {
    const bool is_short = isi[i] < 10.0;
    const bool is_long = isi[i] > 30.0;
    if (!is_short && !is_long) return false;
    if (is_long) {
      ++pauses;
      // The burst after a pause must have a second spike (unless the run ends there).
      if (i + 1 < isi.size() && isi[i + 1] > 30.0) return false;
    }
  }
  return pauses >= 3;
}

// FS: sustained high rate (≥ 100 Hz) with nearly constant ISIs (last 10 within 10 %).
bool fast_spiking(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.size() < 20) return false;
  const double m = mean_of_last(isi, 10);
  const auto [lo, hi] = std::minmax_element(isi.end() - 10, isi.end());
  return m <= 10.0 && (*hi - *lo) <= 0.1 * m;
}

// LTS: high-frequency onset (first ISI ≤ 5 ms) with strong, gradual adaptation: the
// steady ISI is ≥ 2.5 × the first, and no ISI is more than twice its predecessor.
bool low_threshold_spiking(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.size() < 12 || isi.front() > 5.0) return false;
  for (size_t i = 1; i < isi.size(); ++i) {
    if (isi[i] > 2.0 * isi[i - 1]) return false;
  }
  return mean_of_last(isi, 10) >= 2.5 * isi.front();
}

// The current that holds a cell at v_hold: eqs. 1–2 at equilibrium with u = b v.
double holding_current(const Params& p, double v_hold_mV) {
  return -(0.04 * v_hold_mV * v_hold_mV + (5.0 - p.b) * v_hold_mV + 140.0);
}

// TC, two protocols as in Fig. 2 [P]: (1) depolarised from rest, tonic firing without
// bursts (≥ 20 spikes, longest ISI ≤ 2 × shortest); (2) held at −87 mV (the figure's
// hyperpolarised level) for 200 ms and released to I = 0: a rebound burst of ≥ 5 spikes
// within 40 ms of the release.
std::vector<double> rebound_spikes(const Params& p, Integrator integrator) {
  const double v_hold = -87.0;
  const double i_hold = holding_current(p, v_hold);
  return spike_times(
      integrator, p, v_hold, p.b * v_hold, [i_hold](double t) { return t < 200.0 ? i_hold : 0.0; },
      260.0, fig2_dt_ms);
}

bool thalamo_cortical(const Params& p, Integrator integrator) {
  const auto isi = intervals(fig2_step_response(p, integrator));
  if (isi.size() < 19) return false;
  const auto [lo, hi] = std::minmax_element(isi.begin(), isi.end());
  const bool tonic = *hi <= 2.0 * *lo;
  const auto rebound = rebound_spikes(p, integrator);
  const auto in_window = std::count_if(rebound.begin(), rebound.end(),
                                       [](double t) { return t >= 200.0 && t < 240.0; });
  return tonic && in_window >= 5;
}

// RZ: a resonator. After a brief subthreshold pulse (I = 0.1 for 1 ms from rest) v rings:
// it undershoots rest by ≥ 25 % of the initial depolarisation and swings back above
// rest by ≥ 5 % of it.
struct Ringing {
  double peak_mV, trough_mV, rebound_peak_mV;  // deviations from rest
  double t_trough_ms, t_rebound_peak_ms;
};

Ringing pulse_response(const Params& p, Integrator integrator) {
  const double v_rest = *izh::resting_v_mV(p);
  double v = v_rest;
  double u = p.b * v_rest;
  std::vector<double> dev;  // v − v_rest at the end of each step
  for (long k = 0; k < 1500; ++k) {
    const double t = static_cast<double>(k) * fig2_dt_ms;
    izh::step(integrator, v, u, p, t < 1.0 ? 0.1 : 0.0, fig2_dt_ms);
    dev.push_back(v - v_rest);
  }
  const auto peak = std::max_element(dev.begin(), dev.end());
  const auto trough = std::min_element(peak, dev.end());
  const auto rebound = std::max_element(trough, dev.end());
  const auto t_of = [&](auto it) { return static_cast<double>(it - dev.begin() + 1) * fig2_dt_ms; };
  return {*peak, *trough, *rebound, t_of(trough), t_of(rebound)};
}

bool resonator(const Params& p, Integrator integrator) {
  const Ringing r = pulse_response(p, integrator);
  return r.peak_mV > 0.0 && -r.trough_mV >= 0.25 * r.peak_mV &&
         r.rebound_peak_mV >= 0.05 * r.peak_mV;
}

using Signature = bool (*)(const Params&, Integrator);
struct Check {
  const char* type;
  Signature signature;
};
constexpr std::array<Check, 7> signatures = {{{"RS", regular_spiking},
                                              {"IB", intrinsically_bursting},
                                              {"CH", chattering},
                                              {"FS", fast_spiking},
                                              {"LTS", low_threshold_spiking},
                                              {"TC", thalamo_cortical},
                                              {"RZ", resonator}}};

// Which types share a signature besides its own. Only FS's: at I = 10, TC and RZ also
// fire fast and regularly; what sets them apart (rebound burst, ringing) is tested by
// their own signatures, which FS fails.
bool expected_to_show(const std::string& signature_type, const std::string& cell_type) {
  if (signature_type == cell_type) return true;
  return signature_type == "FS" && (cell_type == "TC" || cell_type == "RZ");
}

// [CF] Eq. 1 with u constant: v' = 0.04 v² + 5 v + K, K = 140 − u + I. With w = v + 62.5,
// w' = 0.04 (w² − D), D = 62.5² − 25 K. Then
//   D < 0, s = √−D:          w(t) = s tan(0.04 s t + atan(w0/s))
//   D > 0, s = √D, |w0| < s: w(t) = −s tanh(0.04 s t − atanh(w0/s))
//   D = 0:                   w(t) = w0 / (1 − 0.04 w0 t)
// (each checked by differentiating: e.g. (s tan θ)' = 0.04 s² (1 + tan² θ) = 0.04 (w² + s²)).
double riccati_v(double v0_mV, double K, double t_ms) {
  const double D = 62.5 * 62.5 - 25.0 * K;
  const double w0 = v0_mV + 62.5;
  if (D < 0.0) {
    const double s = std::sqrt(-D);
    return s * std::tan(0.04 * s * t_ms + std::atan(w0 / s)) - 62.5;
  }
  if (D > 0.0) {
    const double s = std::sqrt(D);
    REQUIRE(std::abs(w0) < s);
    return -s * std::tanh(0.04 * s * t_ms - std::atanh(w0 / s)) - 62.5;
  }
  return w0 / (1.0 - 0.04 * w0 * t_ms) - 62.5;
}

// [CF] Time for v to rise from v0 to v1 when D < 0: invert the tan solution.
double riccati_time_to(double v0_mV, double v1_mV, double K) {
  const double s = std::sqrt(25.0 * K - 62.5 * 62.5);
  return (std::atan((v1_mV + 62.5) / s) - std::atan((v0_mV + 62.5) / s)) / (0.04 * s);
}

// Least-squares slope of log(err) against log(dt): the observed order of convergence.
double fitted_order(const std::vector<double>& dts, const std::vector<double>& errs) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < dts.size(); ++i) {
    mx += std::log(dts[i]);
    my += std::log(errs[i]);
  }
  mx /= static_cast<double>(dts.size());
  my /= static_cast<double>(dts.size());
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < dts.size(); ++i) {
    sxy += (std::log(dts[i]) - mx) * (std::log(errs[i]) - my);
    sxx += (std::log(dts[i]) - mx) * (std::log(dts[i]) - mx);
  }
  return sxy / sxx;
}

}  // namespace

TEST_CASE("presets are the values of Fig. 2; r-formulas are the paper's network code") {
  // [P] Fig. 2: (a, b, c, d).
  struct Row {
    const char* name;
    double a, b, c, d;
  };
  const Row rows[] = {{"RS", 0.02, 0.2, -65, 8},   {"IB", 0.02, 0.2, -55, 4},
                      {"CH", 0.02, 0.2, -50, 2},   {"FS", 0.1, 0.2, -65, 2},
                      {"LTS", 0.02, 0.25, -65, 2}, {"TC", 0.02, 0.25, -65, 0.05},
                      {"RZ", 0.1, 0.26, -65, 2}};
  for (const Row& r : rows) {
    CAPTURE(r.name);
    const Params p = fig2(r.name);
    CHECK(p.a == r.a);
    CHECK(p.b == r.b);
    CHECK(p.c_mV == r.c);
    CHECK(p.d == r.d);
    CHECK(p.v_peak_mV == 30.0);
  }
  CHECK_FALSE(izh::preset("rs").has_value());
  CHECK_FALSE(izh::preset("").has_value());

  // [P] network code: c = -65+15 r², d = 8-6 r²; a = 0.02+0.08 r, b = 0.25-0.05 r.
  // r = 0 gives RS (exc.) and LTS (inh.); r = 1 gives CH and FS.
  const Params e0 = izh::excitatory_2003(0.0), e1 = izh::excitatory_2003(1.0);
  CHECK(e0.c_mV == -65.0);
  CHECK(e0.d == 8.0);
  CHECK(e1.c_mV == -50.0);
  CHECK(e1.d == 2.0);
  CHECK(e1.a == 0.02);
  CHECK(e1.b == 0.2);
  const Params i0 = izh::inhibitory_2003(0.0), i1 = izh::inhibitory_2003(1.0);
  CHECK(i0.a == 0.02);
  CHECK(i0.b == 0.25);
  CHECK(i1.a == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(i1.b == doctest::Approx(0.2).epsilon(1e-15));
  CHECK(i1.c_mV == -65.0);
  CHECK(i1.d == 2.0);
  const Params eh = izh::excitatory_2003(0.5);  // r² = 0.25: c = -61.25, d = 6.5
  CHECK(eh.c_mV == -61.25);
  CHECK(eh.d == 6.5);
}

TEST_CASE("integrator names round-trip and unknown names are rejected") {
  const char* names[] = {"izhikevich2003", "izhikevich2003_clipped", "euler", "rk4", "dopri5"};
  for (size_t i = 0; i < all_integrators.size(); ++i) {
    CHECK(izh::integrator_name(all_integrators[i]) == names[i]);
    CHECK(izh::parse_integrator(names[i]) == all_integrators[i]);
  }
  CHECK_FALSE(izh::parse_integrator("RK4").has_value());
  CHECK_FALSE(izh::parse_integrator("rk45").has_value());
  CHECK_FALSE(izh::parse_integrator("").has_value());
}

TEST_CASE("resting potential solves 0.04 v^2 + (5 - b) v + 140 + I = 0") {
  // By hand for b = 0.2: 0.04 v² + 4.8 v + 140 = 0.04 (v + 70)(v + 50), lower root -70.
  CHECK(*izh::resting_v_mV(fig2("RS")) == doctest::Approx(-70.0).epsilon(1e-12));
  // Rheobase for b = 0.2: (4.8)² = 0.16 (140 + I) gives I = 4; above it there is no rest.
  CHECK(izh::resting_v_mV(fig2("RS"), 3.9).has_value());
  CHECK_FALSE(izh::resting_v_mV(fig2("RS"), 4.1).has_value());
}

TEST_CASE("Fig. 2 firing types show their signature, and only their own") {
  // Each signature is run on each of the seven parameter sets, with every integrator at
  // the figure's 0.1 ms: the behaviour must not hinge on the numerical scheme.
  for (const Integrator integrator : all_integrators) {
    CAPTURE(izh::integrator_name(integrator));
    for (const Check& check : signatures) {
      for (const char* type : fig2_types) {
        CAPTURE(check.type);
        CAPTURE(type);
        CHECK(check.signature(fig2(type), integrator) == expected_to_show(check.type, type));
      }
    }
  }
}

TEST_CASE("RZ rings at the frequency of its linearisation at rest; RS does not ring") {
  // [LIN] At rest v_r, J = [[0.08 v_r + 5, -1], [a b, -a]]. Complex eigenvalues
  // -σ ± iω make v - v_r ~ e^{-σt} sin(ωt + φ) after the pulse, whose successive
  // extrema lie exactly π/ω apart. For RZ, π/ω ≈ 20.5 ms.
  const Params rz = fig2("RZ");
  const double v_r = *izh::resting_v_mV(rz);
  const double j11 = 0.08 * v_r + 5.0;
  const double trace = j11 - rz.a;
  const double det = -j11 * rz.a + rz.a * rz.b;
  const double disc = trace * trace - 4.0 * det;
  REQUIRE(disc < 0.0);
  const double half_period_ms = std::numbers::pi / (0.5 * std::sqrt(-disc));
  CHECK(half_period_ms == doctest::Approx(20.5).epsilon(0.01));
  for (const Integrator integrator : {Integrator::rk4, Integrator::dopri5}) {
    CAPTURE(izh::integrator_name(integrator));
    const Ringing r = pulse_response(rz, integrator);
    // Trough to the next maximum, on the 0.1 ms output grid: within 2 % of π/ω (the pulse
    // of 0.1 leaves a 0.1 mV deviation, where the quadratic term is 1 % of the linear one).
    CHECK(r.t_rebound_peak_ms - r.t_trough_ms == doctest::Approx(half_period_ms).epsilon(0.02));
    // The decay over half a period is e^{-σπ/ω} with σ = -trace/2.
    const double decay = std::exp(0.5 * trace * half_period_ms);
    CHECK(-r.rebound_peak_mV / r.trough_mV == doctest::Approx(decay).epsilon(0.05));
  }
  // RS at rest has real eigenvalues (a node), so v cannot ring; that RS fails the
  // resonator signature is checked in the signature matrix above.
  const Params rs = fig2("RS");
  const double rs_j11 = 0.08 * *izh::resting_v_mV(rs) + 5.0;
  const double rs_trace = rs_j11 - rs.a;
  CHECK(rs_trace * rs_trace - 4.0 * (-rs_j11 * rs.a + rs.a * rs.b) > 0.0);
}

TEST_CASE("step_izhikevich2003 at dt = 1 ms is the paper's MATLAB arithmetic, bit for bit") {
  // A literal transcription of the loop body of the paper's network code, for
  // independent cells (S = 0), with the thalamic noise 5 randn (exc.) / 2 randn (inh.)
  // and a DC added so that every cell fires within the window (in the paper that drive
  // comes from the recurrent synapses):
  //   fired=find(v>=30); v(fired)=c(fired); u(fired)=u(fired)+d(fired);
  //   v=v+0.5*(0.04*v.^2+5*v+140-u+I); v=v+0.5*(0.04*v.^2+5*v+140-u+I);
  //   u=u+a.*(b.*v-u);
  constexpr int n_exc = 8, n_inh = 4, n = n_exc + n_inh, steps = 400;
  sim::rng::Stream draw(2003, sim::rng::make_stream(sim::rng::Purpose::analysis, 0), 0);
  std::vector<Params> params;
  for (int i = 0; i < n; ++i) {
    params.push_back(i < n_exc ? izh::excitatory_2003(draw.uniform())
                               : izh::inhibitory_2003(draw.uniform()));
  }
  std::vector<std::vector<double>> input(steps + 1, std::vector<double>(n));
  for (auto& row : input) {
    for (int i = 0; i < n; ++i)
      row[i] = i < n_exc ? 5.0 * draw.normal() + 4.0 : 2.0 * draw.normal() + 3.0;
  }

  int spikes = 0;
  double largest_v_seen_by_u = 0.0;
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    const Params& p = params[i];
    // Reference: MATLAB order, t = 1 .. steps+1 (the extra iteration detects the last step's
    // spike).
    double rv = -65.0, ru = p.b * rv;  // v=-65*ones(...); u=b.*v;
    std::vector<double> ref_v, ref_u, ref_fired;
    for (int t = 1; t <= steps + 1; ++t) {
      if (rv >= 30) {
        ref_fired.push_back(t);
        largest_v_seen_by_u = std::max(largest_v_seen_by_u, rv);
        rv = p.c_mV;
        ru = ru + p.d;
      }
      ref_v.push_back(rv);  // state after the detection/reset at the top of iteration t
      ref_u.push_back(ru);
      if (t == steps + 1) break;
      const double I = input[t][i];
      rv = rv + 0.5 * (0.04 * (rv * rv) + 5 * rv + 140 - ru + I);
      rv = rv + 0.5 * (0.04 * (rv * rv) + 5 * rv + 140 - ru + I);
      ru = ru + p.a * (p.b * rv - ru);
    }
    // Ours: step t uses the same I; afterwards the state must equal MATLAB's at the top
    // of iteration t + 1, after its reset, and a spike stamped t is recorded there at t + 1.
    double v = -65.0, u = p.b * v;
    std::vector<double> fired;
    for (int t = 1; t <= steps; ++t) {
      if (izh::step_izhikevich2003(v, u, p, input[t][i], 1.0)) fired.push_back(t + 1.0);
      REQUIRE(v == ref_v[t]);
      REQUIRE(u == ref_u[t]);
    }
    CHECK(fired == ref_fired);
    spikes += static_cast<int>(fired.size());
  }
  // The comparison covered spikes, and the unclipped runaway the 2003 code lets u see.
  CHECK(spikes >= 3 * n);
  CHECK(largest_v_seen_by_u > 100.0);
}

TEST_CASE("clipped 2003 scheme: u sees v_peak, the unclipped scheme sees the runaway") {
  // RS at v = 29 mV, u = -10, I = 0, dt = 1 ms: the first half-step gives
  // 29 + 0.5 (33.64 + 145 + 140 + 10) = 193.3 > 30, so the cell spikes either way.
  const Params p = fig2("RS");
  double v = 29.0, u = -10.0;
  CHECK(izh::step_izhikevich2003_clipped(v, u, p, 0.0, 1.0));
  CHECK(v == p.c_mV);
  // u update with v = v_peak exactly, then + d (eq. 3).
  CHECK(u == -10.0 + 1.0 * (p.a * (p.b * 30.0 - (-10.0))) + p.d);

  double v2 = 29.0, u2 = -10.0;
  CHECK(izh::step_izhikevich2003(v2, u2, p, 0.0, 1.0));
  // Unclipped: v after both half-steps (by the formula, written out here) …
  double w = 29.0;
  w = w + 0.5 * (0.04 * (w * w) + 5 * w + 140 - (-10.0));
  w = w + 0.5 * (0.04 * (w * w) + 5 * w + 140 - (-10.0));
  CHECK(w > 1000.0);
  // … and u gets the kick a·b·(w - 30) on top of the clipped update.
  CHECK(u2 == -10.0 + p.a * (p.b * w - (-10.0)) + p.d);
  CHECK(u2 - u == doctest::Approx(p.a * p.b * (w - 30.0)).epsilon(1e-12));
}

TEST_CASE("euler and rk4 steps are the textbook formulas") {
  const Params p = fig2("FS");
  const double v0 = -62.0, u0 = -13.0, I = 2.5, dt = 0.25;
  const auto f = [&](double v, double u) { return 0.04 * v * v + 5 * v + 140 - u + I; };
  const auto g = [&](double v, double u) { return p.a * (p.b * v - u); };

  double v = v0, u = u0;
  CHECK_FALSE(izh::step_euler(v, u, p, I, dt));
  CHECK(v == doctest::Approx(v0 + dt * f(v0, u0)).epsilon(1e-15));
  CHECK(u == doctest::Approx(u0 + dt * g(v0, u0)).epsilon(1e-15));

  // Classical RK4 (Kutta 1901), written out independently of Boost.Odeint.
  const double k1v = f(v0, u0), k1u = g(v0, u0);
  const double k2v = f(v0 + 0.5 * dt * k1v, u0 + 0.5 * dt * k1u);
  const double k2u = g(v0 + 0.5 * dt * k1v, u0 + 0.5 * dt * k1u);
  const double k3v = f(v0 + 0.5 * dt * k2v, u0 + 0.5 * dt * k2u);
  const double k3u = g(v0 + 0.5 * dt * k2v, u0 + 0.5 * dt * k2u);
  const double k4v = f(v0 + dt * k3v, u0 + dt * k3u), k4u = g(v0 + dt * k3v, u0 + dt * k3u);
  v = v0;
  u = u0;
  CHECK_FALSE(izh::step_rk4(v, u, p, I, dt));
  CHECK(v == doctest::Approx(v0 + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)).epsilon(1e-14));
  CHECK(u == doctest::Approx(u0 + dt / 6 * (k1u + 2 * k2u + 2 * k3u + k4u)).epsilon(1e-14));
}

TEST_CASE("dopri5 matches the closed-form Riccati solution below threshold") {
  // a = 0 freezes u (eq. 2), so v follows [CF] exactly. Steps of 1 ms, 100 ms.
  const Params frozen{.a = 0.0, .b = 0.0, .c_mV = -65.0, .d = 0.0};
  struct Case {
    const char* shape;
    double v0, u, I;
  };
  // K = 140 - u + I = 154: D = 56.25 > 0 (tanh), v decays to the node at -62.5 - 7.5 = -70.
  // K = 156.25: D = 0 exactly (rational), v creeps up towards the saddle-node at -62.5.
  const Case cases[] = {{"tanh", -60.0, -14.0, 0.0}, {"rational", -65.0, -16.25, 0.0}};
  for (const Case& c : cases) {
    CAPTURE(c.shape);
    const double K = 140.0 - c.u + c.I;
    double v = c.v0, u = c.u;
    double worst = 0.0;
    for (int k = 1; k <= 100; ++k) {
      CHECK_FALSE(izh::step_dopri5(v, u, frozen, c.I, 1.0));
      worst = std::max(worst, std::abs(v - riccati_v(c.v0, K, k)));
    }
    CHECK(u == c.u);
    // Measured: 4.9e-11 (tanh) and 3.4e-11 (rational) mV with tolerances 1e-13.
    CHECK(worst < 1e-9);
  }
}

TEST_CASE("dopri5 locates the spike inside the step where the closed form puts it") {
  const Params frozen{.a = 0.0, .b = 0.0, .c_mV = -65.0, .d = 0.0};
  SUBCASE("strong drive: K = 164, crossing after about 2.9 ms") {
    const double u0 = -14.0, I = 10.0, K = 140.0 - u0 + I;
    const double t_cross = riccati_time_to(-65.0, 30.0, K);  // [CF]
    REQUIRE(t_cross > 2.0);
    REQUIRE(t_cross < 3.0);
    double v = -65.0, u = u0, offset = -1.0;
    CHECK_FALSE(izh::step_dopri5(v, u, frozen, I, 1.0, &offset));
    CHECK_FALSE(izh::step_dopri5(v, u, frozen, I, 1.0, &offset));
    CHECK(offset == -1.0);  // untouched without a spike
    CHECK(izh::step_dopri5(v, u, frozen, I, 1.0, &offset));
    // Measured: 3.8e-12 ms for the crossing, 4.7e-11 mV for v at the end of the step.
    CHECK(std::abs((2.0 + offset) - t_cross) < 1e-9);
    // After the reset at t_cross, v restarts from c with u + d and follows [CF] again.
    CHECK(std::abs(v - riccati_v(-65.0, K, 3.0 - t_cross)) < 1e-9);
  }
  SUBCASE("near the saddle-node (D = -1): a 69 ms passage, spikes every period") {
    // K = 156.29 puts the cell just above rheobase: v crawls past -62.5 for tens of ms,
    // where errors in v turn into large timing errors (dt_spike = dw / (0.04 (w² + 1))).
    const double u0 = 0.0, I = 16.29, K = 140.0 - u0 + I;
    const double period = riccati_time_to(-65.0, 30.0, K);  // d = 0: every cycle is equal
    REQUIRE(period == doctest::Approx(68.757).epsilon(1e-4));
    double v = -65.0, u = u0;
    std::vector<double> spikes;
    for (int k = 0; k < 210; ++k) {
      double offset = 0.0;
      if (izh::step_dopri5(v, u, frozen, I, 1.0, &offset)) spikes.push_back(k + offset);
    }
    REQUIRE(spikes.size() == 3);
    for (size_t n = 0; n < spikes.size(); ++n) {
      CAPTURE(n);
      // Measured: 1.3e-8, 2.9e-8, 4.6e-8 ms (the error grows by one passage per spike).
      CHECK(std::abs(spikes[n] - static_cast<double>(n + 1) * period) < 2e-7);
    }
  }
  SUBCASE("several crossings in one long step: every reset is applied") {
    // d = 3 shifts K down by 3 per spike; each cycle's time follows from [CF].
    const Params p{.a = 0.0, .b = 0.0, .c_mV = -65.0, .d = 3.0};
    const double u0 = -14.0, I = 10.0;
    double t = 0.0, K = 140.0 - u0 + I;
    std::vector<double> crossings;
    while (true) {
      const double t_next = t + riccati_time_to(-65.0, 30.0, K);
      if (t_next > 10.0) break;
      crossings.push_back(t_next);
      t = t_next;
      K -= 3.0;
    }
    REQUIRE(crossings.size() >= 2);
    double v = -65.0, u = u0, offset = -1.0;
    CHECK(izh::step_dopri5(v, u, p, I, 10.0, &offset));
    CHECK(std::abs(offset - crossings.front()) < 1e-9);  // the first crossing is reported
    CHECK(u == u0 + 3.0 * static_cast<double>(crossings.size()));
    CHECK(std::abs(v - riccati_v(-65.0, K, 10.0 - t)) < 1e-9);
  }
}

TEST_CASE("integrators converge to the dopri5 reference at their order") {
  // A subthreshold RS trajectory: from v = -60 mV, u at its resting value, I = 0, v
  // relaxes to -70 mV. Error in v at 20 ms for dt = 1, 1/2, 1/4, 1/8 ms.
  const Params p = fig2("RS");
  const double v0 = -60.0, u0 = p.b * *izh::resting_v_mV(p), T = 20.0;
  double v_ref = v0, u_ref = u0;
  REQUIRE_FALSE(izh::step_dopri5(v_ref, u_ref, p, 0.0, T));  // one adaptive call over 20 ms
  {
    // The reference does not depend on how the interval is cut into steps.
    double v = v0, u = u0;
    for (int k = 0; k < 20; ++k) izh::step_dopri5(v, u, p, 0.0, 1.0);
    CHECK(std::abs(v - v_ref) < 1e-10);
  }
  struct Expectation {
    Integrator integrator;
    double order;
  };
  // Orders: 2003 schemes and Euler are first order (Euler steps); RK4 is fourth order.
  const Expectation expectations[] = {{Integrator::izhikevich2003, 1.0},
                                      {Integrator::izhikevich2003_clipped, 1.0},
                                      {Integrator::euler, 1.0},
                                      {Integrator::rk4, 4.0}};
  const std::vector<double> dts = {1.0, 0.5, 0.25, 0.125};
  for (const Expectation& e : expectations) {
    CAPTURE(izh::integrator_name(e.integrator));
    std::vector<double> errs;
    for (const double dt : dts) {
      double v = v0, u = u0;
      const long n = std::lround(T / dt);
      for (long k = 0; k < n; ++k) REQUIRE_FALSE(izh::step(e.integrator, v, u, p, 0.0, dt));
      errs.push_back(std::abs(v - v_ref));
    }
    for (size_t i = 1; i < errs.size(); ++i) CHECK(errs[i] < errs[i - 1]);
    // Measured: 0.99 (2003, both), 1.04 (Euler), 3.94 (RK4).
    CHECK(fitted_order(dts, errs) == doctest::Approx(e.order).epsilon(0.1));
  }
}
