#pragma once
// The network as the engine runs it: populations (neuron state as arrays) and
// projections (synapses in CSR rows, split by thread-owned target ranges).
//
// Invariants the loop relies on:
// - Every population is padded to a multiple of kBlock neurons, and thread partitions
//   start at multiples of kBlock, so every neuron always goes through the same
//   (vectorised) code path whatever the thread count: results are bitwise identical.
// - A thread owns the target range [lo, hi) of every population: it alone updates those
//   neurons and alone adds into their arrival buffers, so delivery needs no atomics.
// - Each target neuron receives its inputs in one fixed order (projection order, then delay
//   group, then ascending source id, then synapse order in the group), independent of the
//   partition.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/spec.hpp"

namespace sim {

inline constexpr uint32_t kBlock = 64;

inline uint32_t padded_size(uint32_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

// Thread partition of one population: thread t owns local ids [begin[t], begin[t+1]).
struct Partition {
  std::vector<uint32_t> begin;
  uint32_t lo(int t) const { return begin[static_cast<size_t>(t)]; }
  uint32_t hi(int t) const { return begin[static_cast<size_t>(t) + 1]; }
};
Partition make_partition(uint32_t padded, int n_parts);

// The spikes of one population over the last `depth` steps, per thread part: projections
// read them when the charge of a delayed spike arrives. Part lists are in ascending id
// order, and parts are in ascending id ranges, so visiting parts in order visits ids in
// ascending order.
class SpikeHistory {
 public:
  void reset(uint32_t depth, int parts);
  uint32_t depth() const { return depth_; }
  // The list of part `part` for step k (cleared by the caller before it refills it).
  std::vector<uint32_t>& at(Step k, int part) {
    return lists_[static_cast<size_t>(k % depth_) * parts_ + static_cast<size_t>(part)];
  }
  const std::vector<uint32_t>& at(Step k, int part) const {
    return lists_[static_cast<size_t>(k % depth_) * parts_ + static_cast<size_t>(part)];
  }
  int parts() const { return static_cast<int>(parts_); }

 private:
  uint32_t depth_ = 1;
  size_t parts_ = 1;
  std::vector<std::vector<uint32_t>> lists_;
};

class Population {
 public:
  Population(const PopulationSpec& spec, uint32_t index, uint64_t seed, double dt_ms);

  const std::string& name() const { return spec_.name; }
  uint32_t size() const { return spec_.size; }
  uint32_t padded() const { return padded_; }
  uint32_t index() const { return index_; }
  const PopulationSpec& spec() const { return spec_; }

  // Advances neurons [lo, hi) through step k and appends the ids that spiked (ascending)
  // to spikes. Reads and clears the charge that arrived for step k. `scratch` is per-thread.
  void advance(Step k, uint32_t lo, uint32_t hi, std::vector<uint32_t>& spikes,
               std::vector<double>& scratch);

  // Charge (mV) arriving for the next step to be advanced, per neuron: projections add
  // into it, advance() consumes and clears it.
  std::vector<double> arrivals;

  // State, as arrays (padded; entries >= size() are inert).
  std::vector<double> v_mV, u;
  std::vector<double> a, b, c_mV, d;
  std::vector<double> i_syn;     // exponential synaptic current state
  std::vector<double> input;     // total input current of the last step (for traces)
  std::vector<double> external;  // extra current set by experiments; persists until changed
  std::vector<double> noise_sigma;  // per neuron (padding has 0)
  std::vector<double> drive_mean;   // per neuron constant current
  std::vector<double> adapt;        // adaptation current (only when spec().adaptation.enabled)
  std::vector<double> adapt_decay;  // per neuron exp(-dt / tau_adapt)

 private:
  PopulationSpec spec_;
  uint32_t index_;
  uint32_t padded_;
  uint64_t seed_;
  double dt_ms_;
  double syn_decay_ = 0.0;     // exp(-dt/tau) for exponential synapses
  double charge_to_current_;   // delta: 1/dt; exponential: 1/tau
  double poisson_lambda_ = 0;  // expected input spikes per neuron per step
};

// Synapses of one projection. Rows by source neuron; a row is split into one piece per
// thread partition of the target population (targets ascending within a piece), and within
// a piece grouped by delay. Delivery happens at arrival time: for step k, each delay group d
// of the rows of the spikes emitted at k - d adds into the target's arrival buffer. The
// buffer is one value per neuron (cache-resident) instead of a ring of max_delay slots.
class Projection {
 public:
  Projection(const ProjectionSpec& spec, uint32_t index, const Population& source,
             Population& target, uint64_t seed, double dt_ms, const Partition& target_partition);

  const ProjectionSpec& spec() const { return spec_; }
  uint32_t source() const { return spec_.source; }
  uint32_t target() const { return spec_.target; }
  uint64_t synapse_count() const { return n_synapses_; }
  uint64_t memory_bytes() const;
  uint32_t min_delay_steps() const { return min_delay_; }
  uint32_t max_delay_steps() const { return max_delay_; }
  bool dense() const { return dense_; }

  // Adds into target.arrivals, for the neurons of partition `part`, the charge of every
  // spike of the source whose arrival step is k (emitted at k - d for each delay d).
  // Plastic projections also update the weights of the arriving synapses (all in `part`).
  void gather(int part, Step k, const SpikeHistory& source_spikes, Population& target);

  // Number of synapses in the row of source s (all pieces).
  uint32_t row_length(uint32_t s) const;

  // Plasticity (only when spec().plasticity.rule != none). Synapse k of the rule is synapse
  // j of piece t at k = piece_base_[t] + j, so every synapse belongs to the thread that owns
  // its target, and each thread updates only its own synapses.
  bool plastic() const { return rstdp_ != nullptr || three_factor_ != nullptr; }
  // Postsynaptic spikes of step k (ascending target ids of one thread's partition: their
  // incoming synapses all lie in that thread's piece).
  void on_post_spikes(Step k, std::span<const uint32_t> posts);
  // Presynaptic traces for the spikes arriving at step k from sources in [lo, hi).
  void on_pre_arrivals(Step k, const SpikeHistory& source_spikes, uint32_t lo, uint32_t hi);
  // The third factor at step k (one thread, between steps): a dopamine impulse for R-STDP,
  // the modulator M held until the next call for the three-factor rule.
  void modulate(double amount, Step k);
  // Three-factor rule: the weight change of step k for the synapses of partition `part`
  // (after the step's postsynaptic events, before the arrivals of k + 1).
  void learn(int part, Step k);
  // Three-factor rule in consolidation mode: applies what was accumulated (between steps).
  void consolidate();
  // Brings every plastic weight up to step k (before reading them).
  void flush(Step k);

  // All synapses as (source, target, weight, delay_steps), in source-major order: for tests,
  // weight export and plasticity set-up (not for the hot path).
  struct Synapse {
    uint32_t source, target;
    double weight;
    uint32_t delay_steps;
  };
  std::vector<Synapse> synapses() const;

 private:
  struct Piece {  // one thread partition's share of every row
    uint32_t lo = 0, hi = 0;               // target range
    std::vector<uint32_t> row_begin;       // n_source + 1 (sparse layout)
    // Start of delay group g of row s: row_begin[s] + group8[s * groups + g] when every row
    // piece is shorter than 2^8 synapses, row_begin[s] + group16[...] when shorter than 2^16,
    // else group32[s * groups + g] (absolute). Only one is filled; none for a single delay.
    std::vector<uint8_t> group8;
    std::vector<uint16_t> group16;
    std::vector<uint32_t> group32;
    // Sparse layout: target and weight side by side, so a delay group is one contiguous
    // stream of memory (one cache miss instead of two per group).
    struct Syn {
      uint32_t target;
      float weight;
    };
    std::vector<Syn> syn;
    std::vector<float> dense_weight;       // dense layout: n_source x (hi - lo)
  };
  uint32_t group_begin(const Piece& piece, uint32_t s, uint32_t g) const;

  ProjectionSpec spec_;
  uint32_t n_source_ = 0;
  uint32_t n_target_ = 0;
  uint64_t n_synapses_ = 0;
  uint32_t min_delay_ = 1, max_delay_ = 1;
  uint32_t groups_ = 1;  // max_delay_ - min_delay_ + 1
  bool dense_ = false;   // all-to-all with one delay: a weight matrix, no target ids
  std::vector<Piece> pieces_;
  // Plastic projections keep their weights in double, indexed by rule synapse id.
  std::unique_ptr<models::plasticity::RStdpRule> rstdp_;
  std::unique_ptr<models::plasticity::ThreeFactorRule> three_factor_;
  std::vector<double> plastic_w_;
  std::vector<uint64_t> piece_base_;
};

class Network {
 public:
  Network(const NetworkSpec& spec, uint64_t seed, int n_parts);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  double dt_ms() const { return dt_ms_; }
  int parts() const { return n_parts_; }
  std::vector<Population>& populations() { return populations_; }
  const std::vector<Population>& populations() const { return populations_; }
  std::vector<Projection>& projections() { return projections_; }
  const std::vector<Projection>& projections() const { return projections_; }
  const Partition& partition(uint32_t population) const { return partitions_[population]; }
  uint64_t synapse_count() const;
  uint64_t synapse_memory_bytes() const;
  uint32_t min_delay_steps() const;
  int population_index(const std::string& name) const;  // -1 when absent
  // Steps of spike history each population must keep (its largest outgoing delay + 1).
  uint32_t history_depth(uint32_t population) const;

 private:
  double dt_ms_;
  int n_parts_;
  std::vector<Population> populations_;
  std::vector<Partition> partitions_;
  std::vector<Projection> projections_;
};

}  // namespace sim
