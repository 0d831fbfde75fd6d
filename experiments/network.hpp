#pragma once
// The plain network experiment: a config describes populations, projections and drive;
// the run simulates it and writes the spike file. The Izhikevich 2003 network, the
// polychronization network (Izhikevich 2006, without STDP) and the benchmark networks
// are configs of this experiment.
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
};

// Runs `cfg` to its duration with the given sinks, reporting progress to `log`.
RunStats simulate(const sim::NetworkConfig& cfg, const std::string& experiment_name,
                  const std::string& config_text, std::vector<sim::Sink*> sinks, sim::Log* log,
                  const std::atomic<bool>* stop);

}  // namespace experiments::network
