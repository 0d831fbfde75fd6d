#pragma once
// Three-factor plasticity:  dw = eta * M(t) * e(t).
//
//   e  -- a synaptic eligibility trace built from local pre- and postsynaptic activity
//         (factors one and two), decaying with its own time constant tau_e;
//   M  -- a modulator, here the prediction error times an attention gate,
//         M = (target - output) * gate  (factor three; see attention_gate.hpp).
// Sources: Yamada & Chao 2025, "Joint encoding of 'what' and 'when' predictions through
// error-modulated plasticity in reservoir spiking networks" (arXiv 2510.14382) for the
// error x gate modulator and the online/consolidated split; Izhikevich 2007 (Cereb. Cortex
// 17:2443) for eligibility traces bridging activity and a later modulator; the review of
// Gerstner, Lehmann, Liakoni, Corneil & Brea 2018 (Front. Neural Circuits 12:53) for the
// general form dw/dt = eta * M * e with e fed by a Hebbian pre/post term.
//
// Eligibility of synapse k (pre j -> post i), integrated exactly between events:
//   de_k/dt = -e_k / tau_e
//           + sum_{pre spikes of j}  [a_pre + a_pre_post * y_i(t)]   (presynaptic term,
//                                                                   post-before-pre pairing)
//           + sum_{post spikes of i}  a_post_pre * x_j(t)             (pre-before-post pairing)
//   x_j, y_i -- per-neuron traces, +1 per spike, decaying with tau_pre, tau_post; a read at
//              step s sees spikes at steps < s only (CausalTraceArray), so coincident
//              spikes do not pair and the hook order within a step does not matter.
// With a_pre = 1, a_post_pre = a_pre_post = 0 the eligibility is the exponentially
// filtered presynaptic spike train (tau_e) -- the "e = x" choice of the what/when readout.
//
// Weight update, once per step s after that step's spikes and modulator are in:
//   online:         w_k <- clip(w_k + eta * M_i(s) * e_k(s))
//   consolidation:  a_k <- a_k + M_i(s) * e_k(s); at consolidate(): w_k <- clip(w_k + eta a_k),
//                   a_k <- 0 (trial end or between blocks; weights frozen during the trial).
// M_i is held (zero-order) from its on_modulator() call until the next one; it may be one
// value for the whole projection or one per postsynaptic neuron (several readout outputs).
//
// Parameters (ThreeFactorParams):
// | name        | default | unit              | meaning                                        |
// |-------------|---------|-------------------|------------------------------------------------|
// | eta         | 1e-3    | w / (M * e) / step| learning rate                                  |
// | tau_e_ms    | 200     | ms                | eligibility decay                              |
// | tau_pre_ms  | 20      | ms                | presynaptic trace x_j                          |
// | tau_post_ms | 20      | ms                | postsynaptic trace y_i                         |
// | a_pre       | 0       | e per spike       | presynaptic-only term                          |
// | a_post_pre  | 1       | e per (spike * x) | Hebbian pre-before-post pairing                |
// | a_pre_post  | 0       | e per (spike * y) | post-before-pre pairing (< 0 for STDP-like LTD)|
// | mode        | online  | -                 | online or consolidation                        |
// | w_min,w_max | -inf,inf| weight            | hard bounds applied after each update          |
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include "models/traces.hpp"
#include "sim/time.hpp"

namespace models::plasticity {

enum class LearningMode : uint8_t {
  online,         // apply eta*M*e every step
  consolidation,  // accumulate M*e, apply at consolidate()
};

struct WeightBounds {
  double w_min = -std::numeric_limits<double>::infinity();
  double w_max = std::numeric_limits<double>::infinity();
  double clip(double w) const { return std::clamp(w, w_min, w_max); }
};

// The third factor: prediction error times attention gate.
inline double error_modulator(double target, double output, double gate) {
  return (target - output) * gate;
}

// w += eta_times_m * e, clipped: one online step for a dense eligibility vector.
inline void apply_three_factor(std::span<double> w, std::span<const double> e, double eta_times_m,
                               const WeightBounds& bounds) {
  assert(w.size() == e.size());
  for (std::size_t k = 0; k < w.size(); ++k) w[k] = bounds.clip(w[k] + eta_times_m * e[k]);
}

// acc += m * e: one consolidation-mode step for a dense eligibility vector.
inline void accumulate_three_factor(std::span<double> acc, std::span<const double> e, double m) {
  assert(acc.size() == e.size());
  for (std::size_t k = 0; k < acc.size(); ++k) acc[k] += m * e[k];
}

// Synapses grouped by one of their neurons (CSR): the synapses of neuron n are
// synapse[offset[n] .. offset[n+1]). Built once from a synapse -> neuron array.
struct SynapseIndex {
  std::vector<uint32_t> offset;   // n_neurons + 1 entries
  std::vector<uint32_t> synapse;  // synapse ids, ascending within each neuron

  static SynapseIndex build(std::span<const uint32_t> neuron_of, uint32_t n_neurons) {
    SynapseIndex index;
    index.offset.assign(n_neurons + 1, 0);
    for (uint32_t n : neuron_of) {
      if (n >= n_neurons) throw std::invalid_argument("SynapseIndex: neuron id out of range");
      ++index.offset[n + 1];
    }
    for (uint32_t n = 0; n < n_neurons; ++n) index.offset[n + 1] += index.offset[n];
    index.synapse.resize(neuron_of.size());
    std::vector<uint32_t> fill(index.offset.begin(), index.offset.end() - 1);
    for (uint32_t k = 0; k < neuron_of.size(); ++k) index.synapse[fill[neuron_of[k]]++] = k;
    return index;
  }
  std::span<const uint32_t> of(uint32_t n) const {
    return {synapse.data() + offset[n], synapse.data() + offset[n + 1]};
  }
};

// What a pair-based rule keeps about its projection's synapses: the two neurons of each
// synapse k, indexes to walk a neuron's synapses, and causal pre- and postsynaptic traces.
// Shared by the three-factor rule and R-STDP.
struct SynapsePairs {
  SynapsePairs(std::vector<uint32_t> pre_of_in, std::vector<uint32_t> post_of_in, uint32_t n_pre,
               uint32_t n_post, Decay pre_decay, Decay post_decay)
      : pre_of(std::move(pre_of_in)),
        post_of(std::move(post_of_in)),
        pre_index(SynapseIndex::build(pre_of, n_pre)),
        post_index(SynapseIndex::build(post_of, n_post)),
        x_pre(n_pre, pre_decay),
        y_post(n_post, post_decay) {
    if (pre_of.size() != post_of.size())
      throw std::invalid_argument("plasticity rule: pre_of and post_of differ in length");
  }
  std::size_t size() const { return pre_of.size(); }

  std::vector<uint32_t> pre_of;   // presynaptic neuron of synapse k
  std::vector<uint32_t> post_of;  // postsynaptic neuron of synapse k
  SynapseIndex pre_index;
  SynapseIndex post_index;
  CausalTraceArray x_pre;         // presynaptic traces, per presynaptic neuron
  CausalTraceArray y_post;        // postsynaptic traces, per postsynaptic neuron
};

struct ThreeFactorParams {
  double eta = 1e-3;
  double tau_e_ms = 200.0;
  double tau_pre_ms = 20.0;
  double tau_post_ms = 20.0;
  double a_pre = 0.0;
  double a_post_pre = 1.0;
  double a_pre_post = 0.0;
  LearningMode mode = LearningMode::online;
  WeightBounds bounds{};
};

// The rule attached to one projection. Per-synapse state is a struct of arrays indexed by
// the engine's synapse id k: eligibility value + last update step, consolidation
// accumulator. Per-neuron state: pre traces x_j, post traces y_i, modulators M_i.
// The weights stay with the engine and are passed in as a span indexed by k.
class ThreeFactorRule {
 public:
  // pre_of[k], post_of[k]: the neurons of synapse k (local ids within the two populations).
  ThreeFactorRule(const ThreeFactorParams& params, double dt_ms, std::vector<uint32_t> pre_of,
                  std::vector<uint32_t> post_of, uint32_t n_pre, uint32_t n_post)
      : params_(params),
        pairs_(std::move(pre_of), std::move(post_of), n_pre, n_post,
               Decay(params.tau_pre_ms, dt_ms), Decay(params.tau_post_ms, dt_ms)),
        e_(pairs_.size(), Decay(params.tau_e_ms, dt_ms)),
        acc_(params.mode == LearningMode::consolidation ? pairs_.size() : 0, 0.0),
        modulator_(n_post, 0.0) {
    if (!(params.eta >= 0) || !(params.tau_e_ms > 0) || !(params.tau_pre_ms > 0) ||
        !(params.tau_post_ms > 0) || !(dt_ms > 0) || !(params.bounds.w_min <= params.bounds.w_max))
      throw std::invalid_argument("ThreeFactorRule: eta >= 0, time constants > 0, w_min <= w_max");
  }

  // --- neuron-level hooks: the rule walks its own pre->synapse / post->synapse index. ---
  // Call once per spike of presynaptic neuron `pre` at `step`.
  void on_pre_spike(uint32_t pre, sim::Step step) {
    for (uint32_t k : pairs_.pre_index.of(pre)) on_pre(k, step);
    pairs_.x_pre.bump(pre, step, 1.0);
  }
  // Call once per spike of postsynaptic neuron `post` at `step`.
  void on_post_spike(uint32_t post, sim::Step step) {
    for (uint32_t k : pairs_.post_index.of(post)) on_post(k, step);
    pairs_.y_post.bump(post, step, 1.0);
  }

  // --- synapse-level hooks, for an engine that walks its own CSR rows. It must then also
  // call bump_pre_trace / bump_post_trace once per spike (in any order within the step). ---
  void on_pre(std::size_t k, sim::Step step) {
    const double amount = params_.a_pre + params_.a_pre_post * pairs_.y_post.read(pairs_.post_of[k], step);
    if (amount != 0.0) e_.bump(k, step, amount);
  }
  void on_post(std::size_t k, sim::Step step) {
    const double amount = params_.a_post_pre * pairs_.x_pre.read(pairs_.pre_of[k], step);
    if (amount != 0.0) e_.bump(k, step, amount);
  }
  void bump_pre_trace(uint32_t pre, sim::Step step) { pairs_.x_pre.bump(pre, step, 1.0); }
  void bump_post_trace(uint32_t post, sim::Step step) { pairs_.y_post.bump(post, step, 1.0); }

  // Sets M for every postsynaptic neuron, held from `step` until the next call.
  void on_modulator(double m, sim::Step step) {
    note_modulator_step(step);
    std::fill(modulator_.begin(), modulator_.end(), m);
  }
  // Sets M_i for one postsynaptic neuron (one readout output among several).
  void on_modulator(uint32_t post, double m, sim::Step step) {
    note_modulator_step(step);
    modulator_[post] = m;
  }

  // Once per step, after the step's spike hooks and modulator: online mode changes w,
  // consolidation mode accumulates M*e. Cost O(synapses); nothing is done while every M is 0
  // (gate closed), because the eligibility decays lazily and needs no stepping.
  void on_step(std::span<double> w, sim::Step step) { on_step(w, step, 0, pairs_.size()); }
  // The same for synapses [k_begin, k_end) only: threads that own disjoint synapse ranges
  // may call it concurrently.
  void on_step(std::span<double> w, sim::Step step, std::size_t k_begin, std::size_t k_end) {
    assert(w.size() == pairs_.size());
    assert(step >= modulator_step_);
    if (std::all_of(modulator_.begin(), modulator_.end(), [](double m) { return m == 0.0; }))
      return;
    const bool online = params_.mode == LearningMode::online;
    for (std::size_t k = k_begin; k < k_end; ++k) {
      const double m = modulator_[pairs_.post_of[k]];
      if (m == 0.0) continue;
      const double e = e_.advance(k, step);
      if (online)
        w[k] = params_.bounds.clip(w[k] + params_.eta * m * e);
      else
        acc_[k] += m * e;
    }
  }

  // Consolidation mode: w += eta * sum(M e), clipped; clears the accumulator. No-op online.
  void consolidate(std::span<double> w) {
    if (params_.mode != LearningMode::consolidation) return;
    assert(w.size() == acc_.size());
    for (std::size_t k = 0; k < acc_.size(); ++k) {
      w[k] = params_.bounds.clip(w[k] + params_.eta * acc_[k]);
      acc_[k] = 0.0;
    }
  }

  // Clears eligibility, traces and accumulator at `step` (e.g. a fresh trial); keeps M.
  void reset(sim::Step step) {
    e_.reset(step);
    std::fill(acc_.begin(), acc_.end(), 0.0);
    pairs_.x_pre.reset(step);
    pairs_.y_post.reset(step);
  }

  double eligibility(std::size_t k, sim::Step step) const {
    return e_.read(k, step);
  }
  double accumulated(std::size_t k) const { return acc_.empty() ? 0.0 : acc_[k]; }
  double modulator(uint32_t post) const { return modulator_[post]; }
  std::size_t size() const { return pairs_.size(); }
  const ThreeFactorParams& params() const { return params_; }
  const SynapseIndex& pre_index() const { return pairs_.pre_index; }
  const SynapseIndex& post_index() const { return pairs_.post_index; }

 private:
  void note_modulator_step(sim::Step step) {
    assert(step >= modulator_step_);
    modulator_step_ = step;
  }

  ThreeFactorParams params_;
  SynapsePairs pairs_;
  TraceArray e_;  // eligibility per synapse, decaying with tau_e (exact, lazy)
  std::vector<double> acc_;
  std::vector<double> modulator_;
  sim::Step modulator_step_ = 0;
};

}  // namespace models::plasticity
