#pragma once
// Reward-modulated STDP (R-STDP): Izhikevich 2007, "Solving the distal reward problem
// through linkage of STDP and dopamine signaling", Cereb. Cortex 17:2443-2452.
//
// Equations of the paper (time in ms here):
//   (1) dc/dt = -c / tau_c + STDP(tau) * delta(t - t_pre/post)   synaptic eligibility tag
//   (2) ds/dt = c * d                                             synaptic weight
//   (3) dd/dt = -d / tau_d + DA(t)                                extracellular dopamine
// STDP(tau) for tau = t_post - t_pre: +A_plus exp(-tau/tau_plus) for tau > 0,
// -A_minus exp(tau/tau_minus) for tau < 0. DA(t) is a sum of impulses (the paper adds
// 0.5 uM of dopamine per reward). The paper's values: tau_c = 1 s, tau_d = 200 ms,
// A_plus = 1, A_minus = 1.5, tau_plus = tau_minus = 20 ms, weights clipped to [0, 4] mV.
//
// Two generalisations, both off by default so the defaults are Eq. 1-3 verbatim:
//   eta_per_ms multiplies Eq. 2 (ds/dt = eta * c * d) to set the weight scale;
//   d_tonic is the level d relaxes to (dd/dt = -(d - d_tonic)/tau_d + DA), a tonic dopamine.
//
// Exact integration between events. Between events c and d are pure exponentials,
//   c(t0 + T) = c0 e^{-T/tau_c},   d(t0 + T) = d_tonic + (d0 - d_tonic) e^{-T/tau_d},
// so Eq. 2 integrates in closed form, with 1/tau_cd = 1/tau_c + 1/tau_d:
//   s(t0+T) - s(t0) = eta * c0 * [ d_tonic * tau_c  * (1 - e^{-T/tau_c})
//                                + (d0 - d_tonic) * tau_cd * (1 - e^{-T/tau_cd}) ].
// (1 - e^{-x} is evaluated as -expm1(-x) to keep precision for short gaps.)
// A synapse is brought up to date (weight integrated, c decayed) only at its own events
// (a pre or post spike) and at dopamine impulses. A dopamine impulse first brings *every*
// synapse up to date (O(synapses), once per reward), so between a synapse's updates d is a
// single exponential and the closed form above applies. Weight bounds are applied at update
// points (not continuously between them).
//
// STDP via per-neuron traces: at a post spike, c_k += A_plus * x_pre; at a pre spike,
// c_k -= A_minus * y_post, with x, y traces of tau_plus, tau_minus that see spikes strictly
// before the current step (coincident spikes do not pair). all_to_all: traces add 1 per
// spike (every pair counts); nearest: traces are set to 1 (only the latest spike counts).
//
// Parameters (RStdpParams):
// | name         | default    | unit        | meaning                                       |
// |--------------|------------|-------------|-----------------------------------------------|
// | a_plus       | 1.0        | c per pair  | potentiation amplitude (paper)                |
// | a_minus      | 1.5        | c per pair  | depression amplitude (paper)                  |
// | tau_plus_ms  | 20         | ms          | potentiation window (paper)                   |
// | tau_minus_ms | 20         | ms          | depression window (paper)                     |
// | tau_c_ms     | 1000       | ms          | eligibility decay (paper)                     |
// | tau_d_ms     | 200        | ms          | dopamine uptake (paper)                       |
// | d_tonic      | 0          | uM          | dopamine baseline                             |
// | eta_per_ms   | 1          | w/(c uM ms) | rate of Eq. 2                                 |
// | pairing      | all_to_all | -           | STDP trace interaction                        |
// | bounds       | [0, 4]     | w (mV)      | weight clipping (paper: 0..4 mV)              |
#include <cassert>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "models/three_factor.hpp"
#include "models/traces.hpp"
#include "sim/time.hpp"

namespace models::plasticity {

enum class StdpPairing : uint8_t { all_to_all, nearest };

struct RStdpParams {
  double a_plus = 1.0;
  double a_minus = 1.5;
  double tau_plus_ms = 20.0;
  double tau_minus_ms = 20.0;
  double tau_c_ms = 1000.0;
  double tau_d_ms = 200.0;
  double d_tonic = 0.0;
  double eta_per_ms = 1.0;
  StdpPairing pairing = StdpPairing::all_to_all;
  WeightBounds bounds{.w_min = 0.0, .w_max = 4.0};
};

// Integral of c(t) * d(t) over [0, T] for c = c0 e^{-t/tau_c},
// d = d_tonic + (d0 - d_tonic) e^{-t/tau_d}: the closed form quoted above.
inline double integral_c_times_d(double c0, double d0, double d_tonic, double tau_c_ms,
                                 double tau_d_ms, double T_ms) {
  const double tau_cd = tau_c_ms * tau_d_ms / (tau_c_ms + tau_d_ms);
  return c0 * (d_tonic * tau_c_ms * -std::expm1(-T_ms / tau_c_ms) +
               (d0 - d_tonic) * tau_cd * -std::expm1(-T_ms / tau_cd));
}

// R-STDP on one projection. Per-synapse state (struct of arrays, indexed by synapse id k):
// eligibility c_k and the step of the synapse's last update. One dopamine level per rule.
// Weights live with the engine; w[k] is exact as of the synapse's last update: call flush()
// before reading all weights (recording, end of run).
class RStdpRule {
 public:
  RStdpRule(const RStdpParams& params, double dt_ms, std::vector<uint32_t> pre_of,
            std::vector<uint32_t> post_of, uint32_t n_pre, uint32_t n_post)
      : params_(params),
        dt_ms_(dt_ms),
        c_decay_(params.tau_c_ms, dt_ms),
        d_decay_(params.tau_d_ms, dt_ms),
        pairs_(std::move(pre_of), std::move(post_of), n_pre, n_post,
               Decay(params.tau_plus_ms, dt_ms), Decay(params.tau_minus_ms, dt_ms)),
        c_(pairs_.size(), 0.0),
        last_(pairs_.size(), 0),
        d_(params.d_tonic) {
    if (!(dt_ms > 0) || !(params.tau_plus_ms > 0) || !(params.tau_minus_ms > 0) ||
        !(params.tau_c_ms > 0) || !(params.tau_d_ms > 0) ||
        !(params.bounds.w_min <= params.bounds.w_max))
      throw std::invalid_argument("RStdpRule: time constants > 0, w_min <= w_max");
  }

  // --- neuron-level hooks (the rule walks its own indices) ---
  void on_pre_spike(uint32_t pre, sim::Step step, std::span<double> w) {
    for (uint32_t k : pairs_.pre_index.of(pre)) on_pre(k, step, w);
    bump_pre_trace(pre, step);
  }
  void on_post_spike(uint32_t post, sim::Step step, std::span<double> w) {
    for (uint32_t k : pairs_.post_index.of(post)) on_post(k, step, w);
    bump_post_trace(post, step);
  }

  // --- synapse-level hooks. on_pre brings w[k] to `step` first, so the engine may deliver
  // w[k] right after it. The engine then also calls bump_*_trace once per spike. ---
  void on_pre(std::size_t k, sim::Step step, std::span<double> w) {
    update_synapse(k, step, w);
    c_[k] -= params_.a_minus * pairs_.y_post.read(pairs_.post_of[k], step);
  }
  void on_post(std::size_t k, sim::Step step, std::span<double> w) {
    update_synapse(k, step, w);
    c_[k] += params_.a_plus * pairs_.x_pre.read(pairs_.pre_of[k], step);
  }
  void bump_pre_trace(uint32_t pre, sim::Step step) {
    if (params_.pairing == StdpPairing::all_to_all)
      pairs_.x_pre.bump(pre, step, 1.0);
    else
      pairs_.x_pre.set(pre, step, 1.0);
  }
  void bump_post_trace(uint32_t post, sim::Step step) {
    if (params_.pairing == StdpPairing::all_to_all)
      pairs_.y_post.bump(post, step, 1.0);
    else
      pairs_.y_post.set(post, step, 1.0);
  }

  // Dopamine impulse DA = amount at `step` (Eq. 3): every synapse is integrated to `step`
  // with the old dopamine course, then d jumps by `amount`.
  void on_modulator(double amount, sim::Step step, std::span<double> w) {
    flush(step, w);
    d_ = dopamine(step) + amount;
    d_step_ = step;
  }

  // Brings every weight and eligibility to `step`.
  void flush(sim::Step step, std::span<double> w) {
    assert(w.size() == c_.size());
    for (std::size_t k = 0; k < c_.size(); ++k) update_synapse(k, step, w);
  }

  double dopamine(sim::Step step) const {
    assert(step >= d_step_);
    return params_.d_tonic + (d_ - params_.d_tonic) * d_decay_.factor(step - d_step_);
  }
  double eligibility(std::size_t k, sim::Step step) const {
    assert(step >= last_[k]);
    return c_[k] * c_decay_.factor(step - last_[k]);
  }
  std::size_t size() const { return c_.size(); }
  const RStdpParams& params() const { return params_; }

 private:
  // Integrates Eq. 2 for synapse k from its last update to `step` in closed form and
  // decays c_k (Eq. 1 without events). Valid because last_[k] >= d_step_ always.
  void update_synapse(std::size_t k, sim::Step step, std::span<double> w) {
    assert(step >= last_[k] && last_[k] >= d_step_);
    const sim::Step gap = step - last_[k];
    if (gap == 0) return;
    if (c_[k] != 0.0) {
      const double d0 = dopamine(last_[k]);
      const double T_ms = static_cast<double>(gap) * dt_ms_;
      w[k] = params_.bounds.clip(
          w[k] + params_.eta_per_ms * integral_c_times_d(c_[k], d0, params_.d_tonic,
                                                         params_.tau_c_ms, params_.tau_d_ms, T_ms));
      c_[k] *= c_decay_.factor(gap);
    }
    last_[k] = step;
  }

  RStdpParams params_;
  double dt_ms_;
  Decay c_decay_;
  Decay d_decay_;
  SynapsePairs pairs_;
  std::vector<double> c_;
  std::vector<sim::Step> last_;
  double d_;
  sim::Step d_step_ = 0;
};

}  // namespace models::plasticity
