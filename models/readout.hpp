#pragma once
// Readouts of a spiking reservoir for the what/when paradigm (Yamada & Chao 2025, arXiv
// 2510.14382): filtered spike features, a rectified linear readout trained by the
// three-factor rule (three_factor.hpp), and a paired "when"/"what" readout.
//
// Features. Each reservoir neuron i contributes an exponentially filtered spike train
//   r_i(t) = sum_{spikes t_s <= t} exp(-(t - t_s) / tau_i)       (+1 per spike, Eq. F1)
// with its own time constant tau_i. Heterogeneous, slow filters (log-uniform 20-1000 ms)
// turn a decaying cue response into a basis of slow ramps; in the team's numpy prototype
// they were the largest single gain for decoding time since cue. The feature vector is
//   x_i = r_i(t) - b_i   (i < N),   x_N = bias                    (Eq. F2)
// where b_i is neuron i's mean filtered activity before the cue (the pre-cue baseline).
// Why centre: all-positive traces share a large common mode; the prototype's peaks moved
// 15-125 ms early without centring. The bias input lets the readout represent an offset.
//
// Readout. y = max(0, w . x) (or w . x without rectification), learned with
//   M = (target - y) * gate,   dw = eta * M * e,   e = x,   eta = eta0 / E||x||^2   (Eq. R1)
// The error is not multiplied by the ReLU's derivative: a silent readout (y = 0) still
// learns from positive targets, as in the prototype. Why normalise by E||x||^2: for LMS
// the mean update converges iff eta < 2 / lambda_max(E[x x^T]) (Widrow & Stearns 1985,
// "Adaptive Signal Processing": LMS convergence in the mean), and
// lambda_max <= trace E[x x^T] = E||x||^2, so
// any eta0 in (0, 2) is stable whatever the number and scale of the features, and eta0 is
// comparable across network sizes. E||x||^2 is either given (ReadoutParams::feature_power,
// e.g. measured on a calibration trial) or, when 0, the running mean of ||x||^2 over all
// samples passed to learn() so far. eta0 is per learning sample: the prototype used
// eta0 = 0.03-0.1 per 5 ms sample, i.e. about eta0/5 per sample at one sample per ms.
//
// The "when" readout learns online (weights change every sample); the "what" readout
// learns in consolidation mode (sum of M*e over the trial, applied at end_trial()).
//
// Diagonal preconditioning (an option of ours, ReadoutParams::precondition). Plain LMS
// converges along each eigenvector of E[x x^T] at a rate proportional to its eigenvalue, and
// the features' variances span orders of magnitude (a filter's variance grows with its time
// constant), so the directions carried by fast, low-variance filters learn slowest. A
// per-feature rate
//   eta_i = eta0 D_i / S,   D_i = 1 / (v_i + floor * vbar),   S = sum_j D_j v_j     (Eq. R2)
// with v_i the running mean of x_i^2 over the learning samples and vbar = E||x||^2 / n,
// equalises the scales (the "diagonal" or Jacobi preconditioner of adaptive filtering;
// e.g. Haykin, "Adaptive Filter Theory", transform-domain LMS). It keeps Eq. R1's bound:
// the mean update's matrix is I - eta0 D R / S, and the eigenvalues of D R (those of
// D^1/2 R D^1/2) lie in [0, trace(D R)] = [0, S], so eta0 in (0, 2) is stable in the mean.
// The floor (relative to the mean variance) stops a feature that has barely varied so far
// from taking a huge rate: D_i <= 1 / (floor * vbar). With floor -> infinity, Eq. R2 is
// Eq. R1 again (D_i equal for all i).
//
// Parameters (FilteredFeatures):
// | name      | default | unit | meaning                                                   |
// |-----------|---------|------|-----------------------------------------------------------|
// | tau_ms[i] | -       | ms   | filter time constant of neuron i (log_uniform_taus: 20-1000)|
// | bias      | 1       | -    | value of the constant last feature                        |
// Parameters (ReadoutParams):
// | name          | default | unit          | meaning                                      |
// |---------------|---------|---------------|----------------------------------------------|
// | eta0          | 0.03    | 1/E||x||^2    | normalised learning rate per sample          |
// | feature_power | 0       | x^2           | E||x||^2; 0 = running mean over samples      |
// | mode          | online  | -             | online or consolidation                      |
// | rectify       | true    | -             | y = max(0, w.x) instead of w.x               |
// | bounds        | none    | w             | weight clipping                              |
// | precondition  | none    | -             | none (Eq. R1) or diagonal (Eq. R2)           |
// | precondition_floor | 0.1 | vbar        | Eq. R2's floor, relative to the mean variance |
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "models/three_factor.hpp"
#include "sim/rng.hpp"
#include "sim/time.hpp"

namespace models::readout {

using plasticity::LearningMode;
using plasticity::WeightBounds;

// n time constants log-uniform on [tau_min_ms, tau_max_ms]: tau = tau_min (tau_max/tau_min)^u,
// u uniform on [0, 1) drawn from `rng` in order.
inline std::vector<double> log_uniform_taus(std::size_t n, double tau_min_ms, double tau_max_ms,
                                            sim::rng::Stream& rng) {
  if (!(tau_min_ms > 0) || !(tau_max_ms >= tau_min_ms))
    throw std::invalid_argument("log_uniform_taus: need 0 < tau_min_ms <= tau_max_ms");
  std::vector<double> tau(n);
  const double log_ratio = std::log(tau_max_ms / tau_min_ms);
  for (auto& t : tau) t = tau_min_ms * std::exp(log_ratio * rng.uniform());
  return tau;
}

// Filtered spike features with per-neuron time constants and exact lazy decay (Eq. F1-F2).
class FilteredFeatures {
 public:
  FilteredFeatures(std::vector<double> tau_ms, double dt_ms, double bias = 1.0)
      : tau_ms_(std::move(tau_ms)),
        dt_ms_(dt_ms),
        bias_(bias),
        per_step_(tau_ms_.size()),
        r_(tau_ms_.size(), 0.0),
        last_(tau_ms_.size(), 0),
        baseline_(tau_ms_.size(), 0.0),
        baseline_sum_(tau_ms_.size(), 0.0) {
    if (!(dt_ms > 0)) throw std::invalid_argument("FilteredFeatures: dt_ms > 0");
    for (std::size_t i = 0; i < tau_ms_.size(); ++i) {
      if (!(tau_ms_[i] > 0)) throw std::invalid_argument("FilteredFeatures: tau_ms > 0");
      per_step_[i] = std::exp(-dt_ms / tau_ms_[i]);
    }
  }

  // A spike of neuron i at `step`: r_i jumps by 1 (seen by reads at `step` and later).
  void on_spike(uint32_t i, sim::Step step) {
    advance(i, step);
    r_[i] += 1.0;
  }
  // r_i(step), Eq. F1.
  double filtered(uint32_t i, sim::Step step) const {
    assert(step >= last_[i]);
    return r_[i] * factor(i, step - last_[i]);
  }

  // Writes the N+1 features of Eq. F2 at `step` into x (size() entries).
  void features(sim::Step step, std::span<double> x) {
    assert(x.size() == size());
    const std::size_t n = r_.size();
    for (std::size_t i = 0; i < n; ++i) x[i] = advance(i, step) - baseline_[i];
    x[n] = bias_;
  }

  // Baseline: add r(step) as one pre-cue sample; update_baseline() sets b to the mean of
  // all samples added so far (e.g. after each trial's pre-cue period, a running mean
  // across trials); clear_baseline() forgets the samples and sets b = 0.
  void add_baseline_sample(sim::Step step) {
    for (std::size_t i = 0; i < r_.size(); ++i) baseline_sum_[i] += advance(i, step);
    ++baseline_count_;
  }
  void update_baseline() {
    if (baseline_count_ == 0) return;
    for (std::size_t i = 0; i < r_.size(); ++i)
      baseline_[i] = baseline_sum_[i] / static_cast<double>(baseline_count_);
  }
  void clear_baseline() {
    std::fill(baseline_.begin(), baseline_.end(), 0.0);
    std::fill(baseline_sum_.begin(), baseline_sum_.end(), 0.0);
    baseline_count_ = 0;
  }
  // Sets every r_i to 0 at `step` (a fresh network state); keeps the baseline.
  void reset(sim::Step step) {
    std::fill(r_.begin(), r_.end(), 0.0);
    std::fill(last_.begin(), last_.end(), step);
  }

  std::size_t size() const { return r_.size() + 1; }
  std::size_t neurons() const { return r_.size(); }
  std::span<const double> baseline() const { return baseline_; }
  std::span<const double> tau_ms() const { return tau_ms_; }

 private:
  // exp(-n dt / tau_i): the stored one-step factor for the common n = 1 (features read every
  // step), std::exp otherwise; see traces.hpp for the precision.
  double factor(std::size_t i, sim::Step n) const {
    if (n == 0) return 1.0;
    if (n == 1) return per_step_[i];
    return std::exp(-(static_cast<double>(n) * dt_ms_) / tau_ms_[i]);
  }
  double advance(std::size_t i, sim::Step step) {
    r_[i] = filtered(static_cast<uint32_t>(i), step);
    last_[i] = step;
    return r_[i];
  }

  std::vector<double> tau_ms_;
  double dt_ms_;
  double bias_;
  std::vector<double> per_step_;
  std::vector<double> r_;
  std::vector<sim::Step> last_;
  std::vector<double> baseline_;
  std::vector<double> baseline_sum_;
  uint64_t baseline_count_ = 0;
};

enum class Preconditioning { none, diagonal };

struct ReadoutParams {
  double eta0 = 0.03;
  double feature_power = 0.0;
  LearningMode mode = LearningMode::online;
  bool rectify = true;
  WeightBounds bounds{};
  Preconditioning precondition = Preconditioning::none;
  double precondition_floor = 0.1;
};

// y = max(0, w . x) trained by the three-factor rule with e = x (Eq. R1).
class LinearReadout {
 public:
  LinearReadout(std::size_t n_features, const ReadoutParams& params)
      : params_(params), w_(n_features, 0.0), acc_(n_features, 0.0) {
    if (!(params.eta0 >= 0) || !(params.feature_power >= 0))
      throw std::invalid_argument("LinearReadout: eta0 >= 0, feature_power >= 0");
    if (params.precondition == Preconditioning::diagonal) {
      if (!(params.precondition_floor > 0))
        throw std::invalid_argument("LinearReadout: precondition_floor > 0");
      if (params.feature_power > 0)
        throw std::invalid_argument(
            "LinearReadout: diagonal preconditioning estimates its own feature powers "
            "(feature_power must be 0)");
      sq_sum_.assign(n_features, 0.0);
      rate_.assign(n_features, 0.0);
    }
  }

  double drive(std::span<const double> x) const {
    assert(x.size() == w_.size());
    double s = 0.0;
    for (std::size_t k = 0; k < w_.size(); ++k) s += w_[k] * x[k];
    return s;
  }
  double output(std::span<const double> x) const {
    const double s = drive(x);
    return params_.rectify ? std::max(0.0, s) : s;
  }

  // Adds ||x||^2 to the running estimate of E||x||^2 (used when feature_power == 0).
  void observe_power(std::span<const double> x) {
    double s = 0.0;
    for (double v : x) s += v * v;
    power_sum_ += s;
    ++power_count_;
  }
  double feature_power() const {
    if (params_.feature_power > 0) return params_.feature_power;
    return power_count_ ? power_sum_ / static_cast<double>(power_count_) : 0.0;
  }
  // eta = eta0 / E||x||^2 (0 while no power is known).
  double eta() const {
    const double p = feature_power();
    return p > 0 ? params_.eta0 / p : 0.0;
  }

  // One learning sample: computes y with the current weights, M = (target - y) * gate and
  // applies (online) or accumulates (consolidation) M * x. Returns M.
  double learn(std::span<const double> x, double target, double gate) {
    if (params_.feature_power == 0) observe_power(x);  // always so with diagonal()
    if (diagonal()) observe_feature_powers(x);
    const double m = plasticity::error_modulator(target, output(x), gate);
    if (m == 0.0) return m;
    if (params_.mode == LearningMode::consolidation)
      plasticity::accumulate_three_factor(acc_, x, m);
    else if (diagonal())
      apply_preconditioned(x, m);
    else
      plasticity::apply_three_factor(w_, x, eta() * m, params_.bounds);
    return m;
  }

  // Consolidation mode: w += eta * sum(M x), clears the sum. No-op online.
  void consolidate() {
    if (params_.mode != LearningMode::consolidation) return;
    if (diagonal())
      apply_preconditioned(acc_, 1.0);
    else
      plasticity::apply_three_factor(w_, acc_, eta(), params_.bounds);
    std::fill(acc_.begin(), acc_.end(), 0.0);
  }

  // Eq. R2's per-feature rates eta_i from the feature powers observed so far (diagonal
  // preconditioning; all 0 while nothing was observed or without it).
  std::vector<double> rates() {
    if (!diagonal()) return std::vector<double>(w_.size(), 0.0);
    update_rates();
    return rate_;
  }

  std::span<double> weights() { return w_; }
  std::span<const double> weights() const { return w_; }
  std::span<const double> accumulated() const { return acc_; }
  const ReadoutParams& params() const { return params_; }

 private:
  bool diagonal() const { return params_.precondition == Preconditioning::diagonal; }
  // Running sums of x_i^2 (Eq. R2's v_i); observe_power keeps the sum of ||x||^2 and the count.
  void observe_feature_powers(std::span<const double> x) {
    assert(x.size() == sq_sum_.size());
    for (std::size_t k = 0; k < x.size(); ++k) sq_sum_[k] += x[k] * x[k];
  }
  // rate_ = Eq. R2 from the current sums (the count cancels: v_i / vbar = sq_sum_i / mean sum).
  void update_rates() {
    const std::size_t n = rate_.size();
    if (power_count_ == 0 || !(power_sum_ > 0) || n == 0) {
      std::fill(rate_.begin(), rate_.end(), 0.0);
      return;
    }
    const double count = static_cast<double>(power_count_);
    const double floor = params_.precondition_floor * power_sum_ / (count * static_cast<double>(n));
    double s = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      const double v = sq_sum_[k] / count;
      rate_[k] = 1.0 / (v + floor);
      s += rate_[k] * v;
    }
    const double scale = params_.eta0 / s;
    for (double& r : rate_) r *= scale;
  }
  // w_i += eta_i * m * e_i (Eq. R2), clipped.
  void apply_preconditioned(std::span<const double> e, double m) {
    update_rates();
    for (std::size_t k = 0; k < w_.size(); ++k)
      w_[k] = params_.bounds.clip(w_[k] + rate_[k] * m * e[k]);
  }

  ReadoutParams params_;
  std::vector<double> w_;
  std::vector<double> acc_;
  double power_sum_ = 0.0;
  uint64_t power_count_ = 0;
  std::vector<double> sq_sum_;  // diagonal preconditioning: sum of x_i^2 over samples
  std::vector<double> rate_;    // diagonal preconditioning: Eq. R2's eta_i
};

struct WhenWhatParams {
  ReadoutParams when{.mode = LearningMode::online};
  ReadoutParams what{.mode = LearningMode::consolidation};
};

// The paired readout of the paradigm on one feature vector: "when" (a target peaked at the
// outcome time) learns online; "what" (a target marking the cue identity inside the gate)
// learns by consolidation at the end of each trial. One gate value serves both.
class WhenWhatReadout {
 public:
  struct Outputs {
    double when = 0.0;
    double what = 0.0;
  };

  WhenWhatReadout(std::size_t n_features, const WhenWhatParams& params)
      : when_(n_features, params.when), what_(n_features, params.what) {}

  Outputs predict(std::span<const double> x) const { return {when_.output(x), what_.output(x)}; }
  // One learning sample for both; returns the two modulators.
  Outputs learn(std::span<const double> x, double target_when, double target_what, double gate) {
    return {when_.learn(x, target_when, gate), what_.learn(x, target_what, gate)};
  }
  void end_trial() {
    when_.consolidate();
    what_.consolidate();
  }

  LinearReadout& when() { return when_; }
  LinearReadout& what() { return what_; }
  const LinearReadout& when() const { return when_; }
  const LinearReadout& what() const { return what_; }

 private:
  LinearReadout when_;
  LinearReadout what_;
};

}  // namespace models::readout
