#pragma once
// Sinks receive what a simulation produces: spikes, trace samples, and the start and
// end of a run. Recording stays out of the engine core (STYLE.md §7): the engine hands
// data to every attached sink, in step order, from one thread.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/time.hpp"

namespace sim {

struct PopulationInfo {
  std::string name;
  uint32_t size = 0;
};

// One recorded trace set: these neurons of one population, sampled every step in
// [start_step, stop_step).
struct TraceInfo {
  uint32_t population = 0;
  std::vector<uint32_t> node_ids;  // local ids within the population, ascending
  Step start_step = 0;
  Step stop_step = 0;
};

struct RunInfo {
  uint64_t seed = 0;
  double dt_ms = 1.0;
  Step n_steps = 0;          // steps the run is meant to simulate
  int threads = 1;
  std::string experiment;    // name of the experiment that built the run
  std::string config_toml;   // the fully resolved configuration, as TOML text
  std::vector<PopulationInfo> populations;
  std::vector<TraceInfo> traces;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const RunInfo& /*info*/) {}
  // Spikes emitted during `step` by population `population`; local ids ascending.
  virtual void spikes(Step step, uint32_t population, std::span<const uint32_t> local_ids) = 0;
  // Samples of trace set `trace_index` (an index into RunInfo::traces) at `step`: one value
  // per recorded neuron for the membrane potential (mV), the recovery variable u, and the
  // total input current of that step.
  virtual void trace(Step /*step*/, uint32_t /*trace_index*/, std::span<const double> /*v_mV*/,
                     std::span<const double> /*u*/, std::span<const double> /*input*/) {}
  // All steps before `next_step` are done: a natural point to flush, so that a crash
  // loses at most one epoch.
  virtual void epoch_done(Step /*next_step*/) {}
  // The run ended after `steps_done` steps; `complete` is false when it was interrupted.
  virtual void end(Step /*steps_done*/, bool /*complete*/) {}
};

// Keeps everything in memory: for tests and for experiments that analyse spikes in-process.
class MemorySink final : public Sink {
 public:
  struct Spike {
    Step step;
    uint32_t population;
    uint32_t id;
    friend bool operator==(const Spike&, const Spike&) = default;
  };
  void begin(const RunInfo& info) override {
    info_ = info;
    spikes_.clear();
  }
  void spikes(Step step, uint32_t population, std::span<const uint32_t> local_ids) override {
    for (uint32_t id : local_ids) spikes_.push_back({step, population, id});
  }
  void end(Step steps_done, bool complete) override {
    steps_done_ = steps_done;
    complete_ = complete;
  }
  const std::vector<Spike>& all() const { return spikes_; }
  const RunInfo& info() const { return info_; }
  Step steps_done() const { return steps_done_; }
  bool complete() const { return complete_; }

 private:
  RunInfo info_;
  std::vector<Spike> spikes_;
  Step steps_done_ = 0;
  bool complete_ = false;
};

}  // namespace sim
