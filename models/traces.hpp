#pragma once
// Exponential traces with exact lazy decay.
//
// A trace obeys  dx/dt = -x / tau  between events and jumps by a given amount at an
// event. Instead of multiplying every trace by exp(-dt/tau) on every step, a trace
// stores (value, last_update_step) and applies the whole decay exp(-n*dt/tau) for the
// n steps since its last update only when it is read or bumped. Cost is then
// proportional to events, not to steps x traces. The idea is the one used by NEST's
// stdp_dopamine_synapse (Potjans, Morrison & Diesmann 2010, Front. Comput. Neurosci.
// 4:141), which integrates its eligibility and dopamine traces exactly between spikes.
//
// Convention (every rule in models/ follows it): the value read at step s includes every
// bump made at steps <= s that has already been applied. A bump at step s followed by a
// read at step s sees the bump undecayed.
//
// Precision of the decay factor (class Decay):
//   factor(n) = exp(-n * dt / tau). For n below the table size the factor is a table entry,
//   itself computed once by std::exp(-(n*dt)/tau) -- never by repeated multiplication, so an
//   entry carries no accumulated rounding. For n at or above the table size it is computed
//   by std::exp on the spot. Either way the relative error of one factor is about
//   (2 + x) * eps with x = n*dt/tau and eps = 2^-53 ~ 1.1e-16: one rounding of the argument
//   (relative eps on x becomes absolute x*eps on the exponent) plus glibc's exp (< 1 ulp).
//   A trace read k times over a gap accumulates about k such errors; stepping (multiplying
//   by exp(-dt/tau) once per step) accumulates about 2n over n steps, so lazy decay is at
//   least as accurate as stepping. tests/unit/test_three_factor.cpp checks both against
//   exp(-t/tau).
// Trade-off: a table of T doubles per time constant makes the common short gaps (a trace
//   read every step or every few steps) one load instead of an exp call (~20 ns). Rules with
//   one tau per projection keep a 256-entry table (2 KiB); per-neuron time constants
//   (readout features) use a 2-entry table (just exp(-dt/tau)) because they are read
//   every step and a large table per neuron would not fit in cache.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/time.hpp"

namespace models::plasticity {

// Decay factors exp(-n*dt/tau) for a fixed (tau, dt). tau_ms = +infinity means no decay.
class Decay {
 public:
  static constexpr std::size_t default_table_size = 256;

  Decay(double tau_ms, double dt_ms, std::size_t table_size = default_table_size)
      : tau_ms_(tau_ms), dt_ms_(dt_ms) {
    assert(tau_ms > 0 && dt_ms > 0);
    table_.resize(table_size < 2 ? 2 : table_size);
    for (std::size_t n = 0; n < table_.size(); ++n) table_[n] = exact(n);
  }

  // exp(-n*dt/tau): a table entry for small n, std::exp otherwise.
  double factor(sim::Step n) const {
    return n < table_.size() ? table_[static_cast<std::size_t>(n)] : exact(n);
  }
  double per_step() const { return table_[1]; }
  double tau_ms() const { return tau_ms_; }
  double dt_ms() const { return dt_ms_; }

 private:
  double exact(sim::Step n) const {
    return std::exp(-(static_cast<double>(n) * dt_ms_) / tau_ms_);
  }
  double tau_ms_;
  double dt_ms_;
  std::vector<double> table_;
};

// One trace: the value at last_step. Invariant: reads and bumps come at steps >= last_step.
struct LazyTrace {
  double value = 0.0;
  sim::Step last_step = 0;
};

// The value at `step`, without writing the decay back.
inline double read(const LazyTrace& trace, sim::Step step, const Decay& decay) {
  assert(step >= trace.last_step);
  return trace.value * decay.factor(step - trace.last_step);
}

// Decays the stored value to `step` and returns it.
inline double advance(LazyTrace& trace, sim::Step step, const Decay& decay) {
  trace.value = read(trace, step, decay);
  trace.last_step = step;
  return trace.value;
}

// Decays to `step`, then adds `amount`.
inline void bump(LazyTrace& trace, sim::Step step, double amount, const Decay& decay) {
  advance(trace, step, decay);
  trace.value += amount;
}

// Many traces with one time constant, stored as a struct of arrays (values and last steps
// in separate contiguous vectors) so loops over all traces vectorise.
class TraceArray {
 public:
  TraceArray(std::size_t n, const Decay& decay) : decay_(decay), value_(n, 0.0), last_(n, 0) {}

  double read(std::size_t i, sim::Step step) const {
    assert(step >= last_[i]);
    return value_[i] * decay_.factor(step - last_[i]);
  }
  double advance(std::size_t i, sim::Step step) {
    value_[i] = read(i, step);
    last_[i] = step;
    return value_[i];
  }
  void bump(std::size_t i, sim::Step step, double amount) {
    advance(i, step);
    value_[i] += amount;
  }
  // Sets every trace to 0 at `step` (trial boundaries).
  void reset(sim::Step step) {
    std::fill(value_.begin(), value_.end(), 0.0);
    std::fill(last_.begin(), last_.end(), step);
  }
  std::size_t size() const { return value_.size(); }
  const Decay& decay() const { return decay_; }

 private:
  Decay decay_;
  std::vector<double> value_;
  std::vector<sim::Step> last_;
};

// Per-neuron traces for pairing rules, whose reads exclude bumps made at the read step.
//
// Why: when a pre- and a postsynaptic neuron spike at the same step, a plain trace would
// pair them or not depending on which hook the engine calls first. Here a read at step s
// sees only spikes at steps < s, so coincident spikes never pair and the hook order within
// a step does not matter. Stored per neuron: the value just before the bumps at last_step,
// and the sum of the bumps made at last_step.
class CausalTraceArray {
 public:
  CausalTraceArray(std::size_t n, const Decay& decay)
      : decay_(decay), before_(n, 0.0), added_(n, 0.0), last_(n, 0) {}

  // Sum over bumps at steps t < step of amount * exp(-(step - t) dt / tau).
  double read(std::size_t i, sim::Step step) const {
    assert(step >= last_[i]);
    if (step == last_[i]) return before_[i];
    return (before_[i] + added_[i]) * decay_.factor(step - last_[i]);
  }
  void bump(std::size_t i, sim::Step step, double amount) {
    assert(step >= last_[i]);
    if (step > last_[i]) {
      before_[i] = (before_[i] + added_[i]) * decay_.factor(step - last_[i]);
      added_[i] = 0.0;
      last_[i] = step;
    }
    added_[i] += amount;
  }
  // Sets the trace to `value` from `step` on (nearest-spike pairing): later reads see
  // value * decay, a read at `step` still sees the value from before.
  void set(std::size_t i, sim::Step step, double value) {
    bump(i, step, 0.0);
    added_[i] = value - before_[i];
  }
  void reset(sim::Step step) {
    std::fill(before_.begin(), before_.end(), 0.0);
    std::fill(added_.begin(), added_.end(), 0.0);
    std::fill(last_.begin(), last_.end(), step);
  }
  std::size_t size() const { return before_.size(); }

 private:
  Decay decay_;
  std::vector<double> before_;
  std::vector<double> added_;
  std::vector<sim::Step> last_;
};

}  // namespace models::plasticity
