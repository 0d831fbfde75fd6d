#pragma once
// The plain network experiment: a config describes populations, projections and drive;
// the run simulates it and writes the spike file. The Izhikevich 2003 network, the
// polychronization network (Izhikevich 2006, without STDP) and the benchmark networks
// are configs of this experiment.
#include <functional>

#include "experiments/registry.hpp"
#include "sim/simulation.hpp"

namespace experiments::network {

Experiment experiment();

// What a finished run measured, for the summary line and for benchmarks.
struct RunStats {
  bool complete = false;
  double wall_s = 0;             // simulation loop only
  double build_s = 0;            // network construction
  double model_ms = 0;
  uint64_t spikes = 0;
  uint64_t synaptic_events = 0;
  uint64_t neuron_updates = 0;
  uint64_t synapses = 0;
  uint64_t synapse_bytes = 0;
  // Mean over threads of the wall time per phase (sim::Simulation::PhaseTimes), and the
  // slowest thread's advance and deliver time (a gap to the mean is load imbalance).
  double advance_s = 0, deliver_s = 0, record_s = 0, wait_s = 0;
  double advance_max_s = 0, deliver_max_s = 0;
};

// Runs `cfg` to its duration with the given sinks, reporting progress to `log`.
// `before_end`, when given, sees the finished stats while the sinks are still open (to add
// result groups such as /metrics to the spike file).
RunStats simulate(const sim::NetworkConfig& cfg, const std::string& experiment_name,
                  const std::string& config_text, std::vector<sim::Sink*> sinks, sim::Log* log,
                  const std::atomic<bool>* stop,
                  const std::function<void(const RunStats&)>& before_end = {});

}  // namespace experiments::network
