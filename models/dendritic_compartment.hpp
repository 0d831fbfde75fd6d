#pragma once
// Dendritic compartments for spiking cells: SDR segments (models/dendrites.hpp) read the
// spikes of a presynaptic population, fire NMDA spikes and hold the soma of their cell
// depolarised by a plateau current; the cell learns its contexts HTM-style.
//
// Model. The paper's segment (Ahmad & Hawkins 2016, arXiv 1601.00720, §2.1, Eq. (1))
// sees a binary presynaptic vector A. In a spiking network A is made from spike times:
//   A(k) = { presynaptic cells with a spike at a step in [k - W, k - 1] },
// W = coincidence_window_ms (NMDA receptors stay glutamate-bound for tens of ms, so
// inputs arriving within such a window sum on the branch; Major, Larkum & Schiller 2013,
// Annu. Rev. Neurosci. 36:1, and Antic et al. 2010, J. Neurosci. Res. 88:2991). A segment
// with >= θ active connected synapses is in an NMDA spike at step k (Eq. (1)). While any
// segment of a cell is spiking, and for plateau_ms after the last such step, the cell's
// soma receives the plateau current (the NMDA plateau potential of Antic et al. 2010 and
// Major et al. 2013, 20–100 ms long, depolarising the soma by ~10 mV): with an amplitude
// below rheobase the cell does not fire, it is "predictive" (Hawkins & Ahmad 2016, Front.
// Neural Circuits 10:23, Fig. 2) and fires earlier when its feedforward input arrives.
// Precisely: plateau_end(c) = max over steps k with a spiking segment of c of
// k + plateau_steps, and the current at step k is plateau_current iff k < plateau_end(c).
//
// Amplitude. For a regular-spiking Izhikevich cell (a = 0.02, b = 0.2) at rest (v = −70,
// u = −14) a step current I leaves dv/dt = 0.04 v² + 5 v + 154 + I with a fixed point only
// while I <= 2.25 (minimum of the parabola at v = −62.5 is −2.25), so below 2.25 the
// plateau cannot fire the cell even before u adapts; the default 2 settles v near −67 mV
// (measured in the sequence experiment: +3.4 mV over non-predicted cells), 3 already
// fired extra spikes there. Predictive cells reach threshold sooner on feedforward input.
//
// Learning (the temporal-memory rules of Hawkins & Ahmad 2016, §"Learning", in continuous
// time). When cell c fires at step k, the learning context is
//   L(k) = { presynaptic cells with a spike at a step in [k - learn_max_lag, k - learn_min_lag] }
// — the cells that fired shortly *before* it (a causal window, as in spike-timing
// dependent plasticity; the minimum lag keeps out presynaptic spikes synchronous with the
// cell's own feedforward drive, which are the present, not the context that predicts it;
// HTM uses "the previous time step" for the same reason). Then, with the pool's
// activity for L(k):
//   1. best matching segment of c = the one with the most active potential synapses
//      (connected or not), if that count is >= matching_threshold; ties: smallest id;
//   2. if there is one: adapt_segment (+permanence_increment to synapses from L(k),
//      −permanence_decrement to the others, synapses reaching 0 are destroyed), then
//      grow_synapses towards new_synapse_count active potential synapses:
//      new_synapse_count − (active potential count) new ones, sampled uniformly from L(k);
//   3. otherwise, if |L(k)| >= matching_threshold, a new segment (create_segment: at
//      max_segments_per_cell the cell's least recently used segment is evicted, LRU by the
//      step of its last creation or adaptation) with min(new_synapse_count, |L(k)|)
//      synapses sampled from L(k) at initial_permanence. A smaller context could never
//      make the new segment matching again, so it is not stored.
// Not modelled: HTM's punishment of segments that predicted a cell that then stayed
// silent (predictedSegmentDecrement, 0 in many HTM configurations).
// With the default permanences (initial 0.25, increment 0.125, connected 0.5) a context
// seen at three firings of the cell is connected: 0.25 → 0.375 → 0.5.
//
// Parameters (Params; segments = models::dendrites::Params, whose table is in that header):
// | name                  | default | unit              | meaning                               |
// |-----------------------|---------|-------------------|---------------------------------------|
// | coincidence_window_ms | 10      | ms                | W: a spike counts as active this long |
// | plateau_current       | 2       | engine current    | somatic current of an NMDA plateau    |
// |                       |         | (Izhikevich 2003) | (see "Amplitude" below)               |
// | plateau_ms            | 20      | ms                | plateau lasts this long after the     |
// |                       |         |                   | last step with a spiking segment      |
// | learn_min_lag_ms      | 5       | ms                | learning context: presynaptic spikes  |
// | learn_max_lag_ms      | 30      | ms                | this long before the somatic spike    |
// | new_synapse_count     | 24      | synapses          | active potential synapses a learning  |
// |                       |         |                   | segment is grown to (s of the paper)  |
// | learning              | true    | —                 | whether somatic spikes trigger learning|
//
// Time: all windows are converted to whole steps at construction (they must be multiples
// of dt). Determinism: the synapses grown for cell c at step k come from the Philox stream
// (seed, make_stream(Purpose::model, stream_index), element c, counter block k), so
// learning does not depend on thread count or on the order of cells.
// No I/O; not thread-safe (one thread calls it, e.g. from the engine's step hook and a sink).
#include <cstdint>
#include <span>
#include <vector>

#include "models/dendrites.hpp"

namespace models::dendritic_compartment {

using Step = uint64_t;

struct Params {
  double coincidence_window_ms = 10.0;
  double plateau_current = 2.0;
  double plateau_ms = 20.0;
  double learn_min_lag_ms = 5.0;
  double learn_max_lag_ms = 30.0;
  uint32_t new_synapse_count = 24;
  bool learning = true;
  models::dendrites::Params segments;
};

// Throws std::invalid_argument naming the first bad parameter (windows not positive
// multiples of dt, min lag > max lag, plateau current not finite, new_synapse_count 0,
// or a bad segment parameter).
void validate(const Params& params, double dt_ms);

// What learning did at one step (for tests and statistics).
struct LearningCounts {
  uint64_t adapted = 0;          // best matching segments reinforced
  uint64_t created = 0;          // new segments
  uint64_t synapses_grown = 0;   // new synapses (on adapted and new segments)
  uint64_t skipped = 0;          // firings with no matching segment and too small a context
};

class DendriticCompartments {
 public:
  DendriticCompartments(const Params& params, uint32_t cell_count, uint32_t presynaptic_count,
                        double dt_ms, uint64_t seed, uint32_t stream_index = 0);

  const Params& params() const { return params_; }
  uint32_t cell_count() const { return static_cast<uint32_t>(plateau_end_.size()); }
  models::dendrites::SegmentPool& pool() { return pool_; }
  const models::dendrites::SegmentPool& pool() const { return pool_; }
  void set_learning(bool on) { params_.learning = on; }

  uint32_t window_steps() const { return window_steps_; }
  uint32_t plateau_steps() const { return plateau_steps_; }

  // Presynaptic spikes emitted at step k (any order; duplicates allowed). Steps must not
  // decrease from call to call.
  void presynaptic_spikes(Step k, std::span<const uint32_t> ids);

  // Evaluates the segments at step k on A(k) (spikes at steps k - W .. k - 1) and extends
  // the plateau of every cell with a spiking segment to k + plateau_steps. Returns the
  // spiking segments (ascending ids; valid until the next call).
  std::span<const models::dendrites::SegmentId> update(Step k);

  // Somatic spikes of cells at step k (unique ids): learning as described above, when on.
  LearningCounts postsynaptic_spikes(Step k, std::span<const uint32_t> cells);

  // Whether cell c is in a plateau at step k (predictive), and its plateau current.
  bool predictive(uint32_t cell, Step k) const { return k < plateau_end_.at(cell); }
  double current(uint32_t cell, Step k) const {
    return predictive(cell, k) ? params_.plateau_current : 0.0;
  }
  // Writes current(c, k) for c = 0 .. cell_count - 1 into out[c] (out.size() >= cell_count).
  void write_currents(Step k, std::span<double> out) const;
  // The cells predictive at step k, ascending.
  std::vector<uint32_t> predictive_cells(Step k) const;

  // Unique presynaptic cells with a spike at a step in [first, last] (ascending).
  std::vector<uint32_t> active_between(Step first, Step last) const;

 private:
  struct Spike {
    Step step;
    uint32_t id;
  };
  void collect(Step first, Step last, std::vector<uint32_t>& out) const;

  Params params_;
  models::dendrites::SegmentPool pool_;
  uint64_t seed_;
  uint32_t stream_;
  uint32_t window_steps_ = 1;
  uint32_t plateau_steps_ = 1;
  uint32_t min_lag_steps_ = 0;
  uint32_t max_lag_steps_ = 1;
  std::vector<Spike> recent_;        // presynaptic spikes, step order; pruned lazily
  std::vector<Step> plateau_end_;    // per cell: first step without plateau
  mutable std::vector<uint8_t> mark_;  // per presynaptic cell, scratch for de-duplication
  std::vector<uint32_t> active_;     // scratch: A(k) or L(k)
  std::vector<uint8_t> active_dense_;
  models::dendrites::Activity activity_;        // of update(): A(k)
  models::dendrites::Activity learn_activity_;  // of postsynaptic_spikes(): L(k)
};

}  // namespace models::dendritic_compartment
