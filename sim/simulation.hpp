#pragma once
// The simulation loop.
//
// Phases of one step k (all threads, each on its own neuron/target range):
//   0  hook       — experiments set external currents for step k (one thread, then barrier)
//   1  advance    — every neuron integrates step k with the charge that arrived for k;
//                   spikes of step k go into the spike history, per thread (ascending ids)
//                                                                                   barrier
//   2  post       — plastic projections: postsynaptic events of step k's spikes, each thread
//                   for its own targets (whose incoming synapses are all its own), then the
//                   three-factor weight change of step k on the thread's own synapses
//      deliver    — each thread, for its own target range: static projections add the
//                   weights of step k's spikes into the ring rows of steps k + d (d >= 1,
//                   never the row being read); plastic projections add the charge arriving
//                   at k + 1 (spikes emitted at k + 1 - d, from the history)
//   3  record     — one thread hands step k's spikes and traces to the sinks, while the
//                   others deliver (both only read the spike history)             barrier
//   4  pre traces — plastic projections: each thread stamps the presynaptic traces of the
//                   spikes arriving at k + 1 from its own source range (read only in phase 2
//                   of later steps, after a barrier)
// An epoch is flush_interval steps: at its end the sinks flush (a crash loses at most one
// epoch). Progress is reported every progress interval, and a stop request (Ctrl-C) is
// honoured at the end of the current step. With shared memory
// and delivery every step, the min_delay epochs of distributed simulators are not needed
// for correctness; min_delay_steps() is kept for the distributed engine.
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "sim/network.hpp"
#include "sim/sink.hpp"
#include "sim/spec.hpp"

namespace sim {

// Reports progress; called from one thread at epoch ends.
struct ProgressReport {
  Step done = 0;            // steps simulated in this run() call
  Step total = 0;           // steps requested in this run() call
  double wall_s = 0.0;      // wall time spent in this run() call
  double model_ms = 0.0;    // model time simulated in this run() call
  uint64_t spikes = 0;      // spikes emitted in this run() call
  uint64_t neurons = 0;     // neurons in the network (for the mean rate)
};
using ProgressFn = std::function<void(const ProgressReport&)>;

class Simulation {
 public:
  Simulation(const NetworkSpec& net, const RunSpec& run);
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  Network& network() { return network_; }
  const Network& network() const { return network_; }
  double dt_ms() const { return network_.dt_ms(); }
  Step now() const { return now_; }
  int threads() const { return threads_; }

  void add_sink(Sink* sink) { sinks_.push_back(sink); }
  // Called by one thread at the start of every step, before any neuron advances.
  void set_step_hook(std::function<void(Step)> hook) { hook_ = std::move(hook); }
  void set_progress(ProgressFn fn, double interval_s) {
    progress_ = std::move(fn);
    progress_interval_s_ = interval_s;
  }

  // Announces the run to the sinks. experiment/config_toml go into RunInfo.
  void begin(const std::string& experiment, const std::string& config_toml, Step planned_steps);
  // Simulates n_steps more steps. Returns false when stopped early by *stop. When it throws
  // (a failing hook, sink or rule), the network may be part-way through a step: the
  // simulation can still be ended (end(false)) but not run further.
  bool run(Step n_steps, const std::atomic<bool>* stop = nullptr);
  // Ends the run for the sinks; complete = false marks an interrupted run.
  void end(bool complete);

  // A dopamine impulse into plastic projection `projection` at the current step; call from
  // the step hook (one thread, between steps).
  void modulate(uint32_t projection, double amount);
  // Applies a consolidation-mode three-factor projection's accumulated change (between runs
  // or from the step hook).
  void consolidate(uint32_t projection);

  // Spikes of the last simulated step per population (ascending local ids).
  const std::vector<uint32_t>& last_spikes(uint32_t population) const {
    return last_spikes_[population];
  }
  uint64_t total_spikes() const { return total_spikes_; }
  // Synaptic events delivered so far (spikes x synapses of their rows).
  uint64_t synaptic_events() const { return synaptic_events_; }

  // Wall time per phase, per thread of the parallel region, summed over run() calls: where
  // a thread's time went (the step hook counts as record; waiting is time at barriers).
  struct PhaseTimes {
    double advance_s = 0, deliver_s = 0, record_s = 0, wait_s = 0;
  };
  const std::vector<PhaseTimes>& phase_times() const { return phase_times_; }

 private:
  void record(Step k);

  RunSpec run_spec_;
  int threads_;
  Network network_;
  Step now_ = 0;
  Step flush_interval_ = 1000;
  std::vector<Sink*> sinks_;
  std::function<void(Step)> hook_;
  ProgressFn progress_;
  double progress_interval_s_ = 0.5;
  RunInfo info_;
  // Spikes of the last steps, per population and thread range.
  std::vector<SpikeHistory> history_;
  std::vector<std::vector<uint32_t>> last_spikes_;
  // events per source neuron per projection, for the synaptic-event count
  std::vector<std::vector<uint32_t>> row_lengths_;
  uint64_t total_spikes_ = 0;
  uint64_t synaptic_events_ = 0;
  std::vector<PhaseTimes> phase_times_;
  // trace buffers
  std::vector<std::vector<double>> trace_v_, trace_u_, trace_i_;
  std::vector<std::pair<Step, Step>> trace_windows_;
};

}  // namespace sim
