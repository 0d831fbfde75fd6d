#pragma once
// Attention gate: the second half of the third factor M = (target - output) * gate.
//
// The gate decides *when* a prediction error may change weights. It is open from cue onset
// until a window after the latest outcome the trial can have (Yamada & Chao 2025, arXiv
// 2510.14382: learning is gated to the task-relevant period after the cue), and it is
// boosted by surprise, following two classic ideas:
//   * Pearce & Hall 1980 (Psychol. Rev. 87:532): the associability of a cue follows the
//     recent absolute prediction error -- learning speeds up when errors are larger than
//     they have lately been;
//   * Yu & Dayan 2005 (Neuron 46:681): "unexpected uncertainty" (an outcome the current
//     model did not predict) raises a neuromodulatory signal that boosts learning.
// Roelfsema & van Ooyen 2005 (Neural Comput. 17:2176, AGREL) is the precedent for a
// multiplicative attentional gate on a reward-modulated Hebbian rule.
//
// Definition, per step s (delta = prediction error = target - output at s):
//   open(s)  = cue_step <= s < cue_step + steps(latest_outcome_ms + after_outcome_ms)
//   hold(s)  = outcome_step <= s < outcome_step + steps(outcome_hold_ms), for the latest
//              outcome reported with prediction < low_prediction (an unexpected outcome;
//              it opens the gate even outside open(s))
//   abar(s)  = running expectation of |delta|: an exponential moving average updated after
//              each gated step, abar <- abar + (1 - exp(-dt/surprise_tau)) * (|delta| - abar),
//              and frozen while the gate is shut (so inter-trial periods do not erode it)
//   excess   = max(0, |delta(s)| - abar(s) - surprise_margin)
//   gate(s)  = 0                                                   if !open(s) && !hold(s)
//            = min(max_gain, base_gain + surprise_gain * excess
//                             + (hold(s) ? outcome_gain : 0))     otherwise
// With surprise_gain = outcome_gain = 0 this is the plain window gate of the prototype
// (gate = 1 from the cue to 1400 ms).
//
// Parameters (AttentionGateParams):
// | name                  | default | unit  | meaning                                          |
// |-----------------------|---------|-------|--------------------------------------------------|
// | after_outcome_ms      | 200     | ms    | open window past the latest expected outcome     |
// | base_gain             | 1       | -     | gate value when open and nothing is surprising   |
// | surprise_tau_ms       | 1000    | ms    | time constant of the |delta| expectation abar    |
// | initial_expected_error| 0       | M     | abar before any gated step                       |
// | surprise_margin       | 0       | M     | |delta| must exceed abar by this to count        |
// | surprise_gain         | 1       | 1/M   | gain added per unit of excess |delta|            |
// | low_prediction        | 0.2     | out   | outcome with prediction below this is unexpected |
// | outcome_gain          | 1       | -     | gain added during the hold                       |
// | outcome_hold_ms       | 100     | ms    | how long an unexpected outcome boosts the gate   |
// | max_gain              | 3       | -     | cap on the gate value                            |
// All durations must be whole numbers of steps.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sim/time.hpp"

namespace models::plasticity {

struct AttentionGateParams {
  double after_outcome_ms = 200.0;
  double base_gain = 1.0;
  double surprise_tau_ms = 1000.0;
  double initial_expected_error = 0.0;
  double surprise_margin = 0.0;
  double surprise_gain = 1.0;
  double low_prediction = 0.2;
  double outcome_gain = 1.0;
  double outcome_hold_ms = 100.0;
  double max_gain = 3.0;
};

class AttentionGate {
 public:
  AttentionGate(const AttentionGateParams& params, double dt_ms)
      : params_(params),
        dt_ms_(dt_ms),
        after_steps_(to_steps(params.after_outcome_ms, dt_ms, "after_outcome_ms")),
        hold_steps_(to_steps(params.outcome_hold_ms, dt_ms, "outcome_hold_ms")),
        ema_rate_(-std::expm1(-dt_ms / params.surprise_tau_ms)),
        expected_error_(params.initial_expected_error) {
    if (!(params.surprise_tau_ms > 0) || !(params.max_gain >= 0) || !(params.base_gain >= 0))
      throw std::invalid_argument("AttentionGate: surprise_tau_ms > 0, gains >= 0");
  }

  // A cue at cue_step whose latest possible outcome is latest_outcome_ms after it.
  void on_cue(sim::Step cue_step, double latest_outcome_ms) {
    open_from_ = cue_step;
    open_until_ = cue_step + to_steps(latest_outcome_ms, dt_ms_, "latest_outcome_ms") + after_steps_;
  }

  // An outcome at `step` while the readout predicted `prediction`. Only an unexpected one
  // (prediction < low_prediction) starts the surprise hold.
  void on_outcome(sim::Step step, double prediction) {
    if (prediction < params_.low_prediction) {
      hold_from_ = step;
      hold_until_ = step + hold_steps_;
    }
  }

  bool is_open(sim::Step step) const {
    return (step >= open_from_ && step < open_until_) || in_hold(step);
  }
  bool in_hold(sim::Step step) const { return step >= hold_from_ && step < hold_until_; }

  // The gate at `step` for prediction error `delta`; then updates the |delta| expectation
  // if the gate is open. Call once per learning step, in increasing step order.
  double update(sim::Step step, double delta) {
    if (!is_open(step)) return 0.0;
    const double abs_delta = std::abs(delta);
    const double excess =
        std::max(0.0, abs_delta - expected_error_ - params_.surprise_margin);
    double gain = params_.base_gain + params_.surprise_gain * excess;
    if (in_hold(step)) gain += params_.outcome_gain;
    expected_error_ += ema_rate_ * (abs_delta - expected_error_);
    return std::min(params_.max_gain, gain);
  }

  double expected_error() const { return expected_error_; }
  sim::Step open_from() const { return open_from_; }
  sim::Step open_until() const { return open_until_; }
  const AttentionGateParams& params() const { return params_; }

 private:
  static sim::Step to_steps(double ms, double dt_ms, const char* name) {
    const auto steps = sim::steps_exact(ms, dt_ms);
    if (!steps)
      throw std::invalid_argument(std::string("AttentionGate: ") + name +
                                  " must be a non-negative whole number of steps");
    return *steps;
  }

  AttentionGateParams params_;
  double dt_ms_;
  sim::Step after_steps_;
  sim::Step hold_steps_;
  double ema_rate_;
  double expected_error_;
  sim::Step open_from_ = 0, open_until_ = 0;
  sim::Step hold_from_ = 0, hold_until_ = 0;
};

}  // namespace models::plasticity
