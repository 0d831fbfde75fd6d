#pragma once
// The network as the engine runs it: populations (neuron state as arrays) and
// projections (synapses in CSR rows, split by thread-owned target ranges).
//
// Invariants the loop relies on:
// - Every population is padded to a multiple of kBlock neurons, and thread partitions
//   start at multiples of kBlock, so every neuron always goes through the same
//   (vectorised) code path whatever the thread count: results are bitwise identical.
// - A thread owns the target range [lo, hi) of every population: it alone updates those
//   neurons and alone adds into their rows of the charge ring, so delivery needs no atomics.
// - Each target neuron receives its inputs in one fixed order (delivery step, projection
//   order, ascending source id, row order), independent of the partition.
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "sim/spec.hpp"

namespace sim {

inline constexpr uint32_t kBlock = 64;

inline uint32_t padded_size(uint32_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

// Allocates on cache-line boundaries: thread partitions start at multiples of kBlock
// elements, so with aligned arrays no cache line holds neurons of two threads.
template <class T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheAligned() = default;
  template <class U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t n) { ::operator delete(p, n * sizeof(T), kAlign); }
  friend bool operator==(const CacheAligned&, const CacheAligned&) { return true; }
};
using NeuronArray = std::vector<double, CacheAligned<double>>;

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
    return lists_[static_cast<size_t>(k % depth_) * parts_ + static_cast<size_t>(part)].ids;
  }
  const std::vector<uint32_t>& at(Step k, int part) const {
    return lists_[static_cast<size_t>(k % depth_) * parts_ + static_cast<size_t>(part)].ids;
  }
  int parts() const { return static_cast<int>(parts_); }

 private:
  // One cache line per list: the threads append to their own lists at the same time, and
  // vector headers side by side would bounce a shared line between their cores.
  struct alignas(64) List {
    std::vector<uint32_t> ids;
  };
  uint32_t depth_ = 1;
  size_t parts_ = 1;
  std::vector<List> lists_;
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
  // to spikes. Reads and clears the charge that arrived for step k. lo and hi are
  // multiples of kBlock (a thread partition).
  void advance(Step k, uint32_t lo, uint32_t hi, std::vector<uint32_t>& spikes);

  // Charge (mV) in transit, as a ring of delay_slots() rows of padded() values: the row of
  // step k (slot k mod slots) holds what arrives at step k. Projections add into it,
  // advance(k) consumes its row and clears it. With slots equal to the largest incoming
  // delay, the row cleared by advance(k) is the one spikes of step k reach at their longest
  // delay, so each row is free when it is written.
  void reserve_delays(uint32_t max_delay_steps);
  uint32_t delay_slots() const { return slots_; }
  double* charge_at(Step k) { return ring_.data() + static_cast<size_t>(k % slots_) * padded_; }
  double* charge_ring() { return ring_.data(); }
  // offsets[d] = start of the row of step k + d, for 0 <= d <= delay_slots().
  const size_t* slot_offsets(Step k) const { return slot_offset_.data() + k % slots_; }

  // State, as arrays (padded: entries >= size() are integrated like the others, but they
  // receive no synapses and their spikes are never reported).
  NeuronArray v_mV, u;
  NeuronArray a, b, c_mV, d;
  NeuronArray i_syn;  // exponential synaptic current state
  // Total input current of the last step, written only while keep_input(true) is set (for
  // traces: it is otherwise memory traffic nobody reads).
  NeuronArray input;
  void keep_input(bool keep) { keep_input_ = keep; }
  NeuronArray external;  // extra current set by experiments; persists until changed
  NeuronArray adapt;     // adaptation current (only when spec().adaptation.enabled)
  NeuronArray adapt_decay;  // per neuron exp(-dt / tau_adapt)

 private:
  PopulationSpec spec_;
  uint32_t index_;
  uint32_t padded_;
  uint64_t seed_;
  double dt_ms_;
  double syn_decay_ = 0.0;     // exp(-dt/tau) for exponential synapses
  double charge_to_current_;   // delta: 1/dt; exponential: 1/tau
  double poisson_lambda_ = 0;  // expected input spikes per neuron per step
  bool keep_input_ = false;
  uint32_t slots_ = 1;
  NeuronArray ring_;  // rows are padded() long: each row starts on a cache line
  std::vector<size_t> slot_offset_;  // 2 * slots_ entries: (j mod slots_) * padded_
};

// Unsigned offsets stored in the narrowest of 1, 2 or 4 bytes that holds the largest.
class PackedOffsets {
 public:
  void assign(size_t n, uint64_t largest) {
    width_ = largest < 256 ? 1 : largest < 65536 ? 2 : 4;
    bytes_.assign(n * width_, 0);
  }
  void set(size_t i, uint32_t v) {
    for (uint32_t b = 0; b < width_; ++b) bytes_[i * width_ + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  uint32_t operator[](size_t i) const {
    const uint8_t* p = bytes_.data() + i * width_;
    if (width_ == 1) return p[0];
    if (width_ == 2) return p[0] | static_cast<uint32_t>(p[1]) << 8;
    return p[0] | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
  }
  size_t bytes() const { return bytes_.size(); }

 private:
  uint32_t width_ = 1;
  std::vector<uint8_t> bytes_;
};

namespace detail {
class RowGenerator;
}

// A projection spec's longest delay in steps, and whether its synapses are stored in the
// static sparse layout (whose 32-bit code packs target and delay, so bit_width(delay) +
// bit_width(padded targets - 1) must not exceed 32).
uint32_t max_delay_steps(const ProjectionSpec& spec, double dt_ms);
bool uses_synapse_code(const ProjectionSpec& spec, double dt_ms);

// Synapses of one projection, in one of three layouts:
// - static sparse (the common case): one 8-byte record per synapse, {target << delay_bits |
//   delay, weight}, rows by source neuron and sorted by (target, delay). Delivery happens at
//   emission: a spike of step k adds each weight into the target's ring row of step k + d.
//   Thread part p (targets [lo_p, hi_p)) handles the stretch of every row whose targets it
//   owns; where that stretch starts is stored per row (in a byte for rows under 256), and
//   row starts are implicit when every row has the same length (fixed out-degree).
// - dense: all-to-all with one delay, a float weight matrix per thread part (contiguous adds).
// - plastic (one delay): rows split into one piece per thread part, so a part's synapses are
//   one contiguous range of rule synapse ids; delivered at arrival, where the rules need the
//   presynaptic event.
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

  // The delivery work of step k for the targets of thread part `part`: static projections
  // send the spikes the source emitted at k into the ring rows of k + d; plastic ones deliver
  // the spikes arriving at k + 1, with the rule's presynaptic events.
  void deliver(int part, Step k, const SpikeHistory& source_spikes, Population& target);

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
  struct Syn {
    uint32_t code;  // target << delay_bits_ | delay_steps
    float weight;
  };
  struct Piece {  // dense and plastic layouts: one thread part's share of every row
    uint32_t lo = 0, hi = 0;          // target range
    std::vector<uint32_t> row_begin;  // plastic: n_source + 1
    std::vector<uint32_t> target;     // plastic: per synapse
    std::vector<float> dense_weight;  // dense: n_source x (hi - lo)
  };
  void build_plastic(const detail::RowGenerator& gen, const Population& target, double dt_ms);
  void gather_plastic(int part, Step k, const SpikeHistory& source_spikes, Population& target);
  uint64_t row_start(uint32_t s) const {
    return row_begin_.empty() ? static_cast<uint64_t>(s) * row_stride_ : row_begin_[s];
  }
  // Synapses [begin, end) of row s whose targets belong to thread part p.
  std::pair<uint64_t, uint64_t> part_range(uint32_t s, size_t p) const {
    const uint64_t start = row_start(s);
    const size_t n_split = part_begin_.size() - 2;
    const uint64_t b = p == 0 ? start : start + split_[s * n_split + p - 1];
    const uint64_t e = p == n_split ? row_start(s + 1) : start + split_[s * n_split + p];
    return {b, e};
  }

  ProjectionSpec spec_;
  uint32_t n_source_ = 0;
  uint32_t n_target_ = 0;
  uint64_t n_synapses_ = 0;
  uint32_t min_delay_ = 1, max_delay_ = 1;
  bool dense_ = false;  // all-to-all with one delay: a weight matrix, no target ids
  std::vector<uint32_t> part_begin_;  // the target partition
  // Static sparse layout.
  uint32_t delay_bits_ = 1;
  std::vector<Syn> syn_;
  std::vector<uint32_t> row_begin_;  // n_source + 1, or empty when rows are row_stride_ long
  uint32_t row_stride_ = 0;
  PackedOffsets split_;  // n_source x (parts - 1): start of part p's stretch within row s
  // Dense and plastic layouts.
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
  // Steps of spike history each population must keep: the current step, and for plastic
  // projections (delivered at arrival) their delay + 1.
  uint32_t history_depth(uint32_t population) const;

 private:
  double dt_ms_;
  int n_parts_;
  std::vector<Population> populations_;
  std::vector<Partition> partitions_;
  std::vector<Projection> projections_;
};

}  // namespace sim
