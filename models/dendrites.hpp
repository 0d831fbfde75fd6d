#pragma once
// Active dendritic segments with an NMDA-spike threshold.
//
// Model (Ahmad & Hawkins 2016, "How do neurons operate on sparse distributed
// representations?", arXiv 1601.00720, §2.1): a segment is a set of synapses onto
// presynaptic cells; given the set A of active presynaptic cells it produces an NMDA
// spike (a "match") when
//     |D ∧ A| >= θ                                                     (Eq. (1))
// where D is the set of presynaptic cells of its *connected* synapses and θ is the NMDA
// spike threshold (8–20 synapses in cortex, Major et al. 2013, quoted in §3.2).
//
// Learning follows the HTM temporal-memory conventions (Hawkins & Ahmad 2016, "Why
// neurons have thousands of synapses", Front. Neural Circuits 10:23): every synapse has a
// scalar permanence in [0, 1] and is connected when permanence >= connected_permanence;
// a learning segment reinforces synapses to active cells and punishes synapses to
// inactive ones, and grows new synapses to a sample of active cells. Synapses whose
// permanence reaches 0 are destroyed, so the pool does not fill with dead synapses.
//
// Storage: flat pools with integer handles (the layout idea of htm.core's Connections).
// Segment and synapse data live in parallel arrays indexed by SegmentId / SynapseId;
// destroyed ids go to free lists and are reused, so a handle is valid until the object it
// names is destroyed (explicitly, by eviction, or by reaching permanence 0). A
// presynaptic → synapse index lists, for every presynaptic cell, the synapses it feeds,
// so activate() costs O(Σ over active inputs of their synapse count) and never touches
// the synapses of silent inputs.
//
// Parameters (Params):
// | name                     | default | unit     | meaning                                   |
// |--------------------------|---------|----------|-------------------------------------------|
// | nmda_threshold           | 12      | synapses | θ: active connected synapses for an NMDA  |
// |                          |         |          | spike, Eq. (1)                            |
// | matching_threshold       | 8       | synapses | active potential (connected or not)       |
// |                          |         |          | synapses that make a segment "matching",  |
// |                          |         |          | i.e. a candidate for learning             |
// | connected_permanence     | 0.5     | 1        | connected iff permanence >= this          |
// | initial_permanence       | 0.25    | 1        | permanence of a newly grown synapse       |
// | permanence_increment     | 0.125   | 1        | adapt_segment: gain of synapses onto      |
// |                          |         |          | active cells                              |
// | permanence_decrement     | 0.0625  | 1        | adapt_segment: loss of synapses onto      |
// |                          |         |          | inactive cells                            |
// | max_synapses_per_segment | 64      | synapses | growth stops at this many on one segment  |
// | max_segments_per_cell    | 32      | segments | one more evicts the least recently used   |
// The permanence defaults are binary fractions so that permanence arithmetic is exact in
// float (no drift of a synapse across the connection threshold by rounding).
//
// Eviction rule: when create_segment is called for a cell that already has
// max_segments_per_cell segments, the segment with the smallest last_used time is
// destroyed first (ties: the smallest SegmentId). last_used is set by create_segment,
// adapt_segment and mark_used, with a caller-supplied time (e.g. the simulation step).
//
// Thread safety: activate() is const and may run concurrently with other activate()
// calls (each with its own Activity); every other member mutates the pool.
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sim/rng.hpp"

namespace models::dendrites {

using CellId = uint32_t;         // postsynaptic cell owning segments, 0 .. cell_count-1
using PresynapticId = uint32_t;  // presynaptic cell, 0 .. presynaptic_count-1
using SegmentId = uint32_t;
using SynapseId = uint32_t;
inline constexpr uint32_t invalid_id = std::numeric_limits<uint32_t>::max();

// One entry of the presynaptic index. It carries copies of the synapse's segment and
// permanence so that activate() streams through one contiguous array per active input
// instead of jumping into the synapse arrays twice per synapse (about 3x faster in
// benchmark_segment_activation). The pool keeps the copies equal to the synapse's own data.
struct IndexEntry {
  SegmentId segment;
  float permanence;
  SynapseId synapse;
};

struct Params {
  uint32_t nmda_threshold = 12;
  uint32_t matching_threshold = 8;
  float connected_permanence = 0.5f;
  float initial_permanence = 0.25f;
  float permanence_increment = 0.125f;
  float permanence_decrement = 0.0625f;
  uint32_t max_synapses_per_segment = 64;
  uint32_t max_segments_per_cell = 32;
};

// Throws std::invalid_argument naming the first parameter out of range.
void validate(const Params& params);

// Result of SegmentPool::activate, reused across calls so the hot path does not allocate
// once its buffers have grown to the pool's size.
struct Activity {
  // Indexed by SegmentId; entries of segments not in `touched` are 0.
  std::vector<uint32_t> active_connected;  // active inputs on connected synapses
  std::vector<uint32_t> active_potential;  // active inputs on any synapse
  std::vector<SegmentId> touched;          // segments with at least one active synapse
  std::vector<SegmentId> spiking;          // active_connected >= nmda_threshold, ascending
  std::vector<SegmentId> matching;         // active_potential >= matching_threshold, ascending
};

class SegmentPool {
 public:
  SegmentPool(const Params& params, uint32_t cell_count, uint32_t presynaptic_count);

  const Params& params() const { return params_; }
  uint32_t cell_count() const { return static_cast<uint32_t>(cell_segments_.size()); }
  uint32_t presynaptic_count() const { return static_cast<uint32_t>(by_presynaptic_.size()); }
  uint32_t segment_count() const { return segment_count_; }
  uint32_t synapse_count() const { return synapse_count_; }
  // One past the largest SegmentId ever handed out (the length Activity arrays need).
  uint32_t segment_capacity() const { return static_cast<uint32_t>(seg_cell_.size()); }

  // --- structure -------------------------------------------------------------------
  // New empty segment on `cell`, evicting the cell's least recently used segment first
  // if the cell is at max_segments_per_cell.
  SegmentId create_segment(CellId cell, uint64_t now);
  void destroy_segment(SegmentId segment);
  // New synapse from `presynaptic` onto `segment`. Throws std::logic_error if the segment
  // is full or already has a synapse from that cell (one synapse per pair, as in the
  // paper's binary segment vector D).
  SynapseId create_synapse(SegmentId segment, PresynapticId presynaptic, float permanence);
  void destroy_synapse(SynapseId synapse);
  // Destroys everything; keeps the memory for reuse.
  void clear();

  // --- the hot path ----------------------------------------------------------------
  // Counts, for every segment, its synapses from the cells in `active` (unique ids, any
  // order) and lists the spiking and matching segments. Throws std::out_of_range for an
  // id >= presynaptic_count.
  void activate(std::span<const PresynapticId> active, Activity& out) const;

  // --- learning --------------------------------------------------------------------
  // Hebbian update of one segment: synapses from cells active in `active_dense` (one byte
  // per presynaptic cell, non-zero = active) gain permanence_increment, the others lose
  // permanence_decrement; permanences are clamped to [0, 1] and synapses reaching 0 are
  // destroyed. Sets last_used to `now`.
  void adapt_segment(SegmentId segment, std::span<const uint8_t> active_dense, uint64_t now);
  // Grows up to `desired` new synapses (initial_permanence) from a uniform random sample
  // of `candidates` (unique ids) that have no synapse on `segment` yet, never beyond
  // max_synapses_per_segment. Returns how many were grown.
  uint32_t grow_synapses(SegmentId segment, std::span<const PresynapticId> candidates,
                         uint32_t desired, sim::rng::Stream& rng);
  void mark_used(SegmentId segment, uint64_t now) { seg_last_used_.at(segment) = now; }

  // --- queries ---------------------------------------------------------------------
  bool alive(SegmentId segment) const {
    return segment < seg_cell_.size() && seg_cell_[segment] != invalid_id;
  }
  CellId cell_of(SegmentId segment) const { return seg_cell_.at(segment); }
  uint64_t last_used(SegmentId segment) const { return seg_last_used_.at(segment); }
  std::span<const SegmentId> segments_of(CellId cell) const { return cell_segments_.at(cell); }
  std::span<const SynapseId> synapses_of(SegmentId segment) const {
    return seg_synapses_.at(segment);
  }
  // The synapses fed by one presynaptic cell (the index activate() walks), in no
  // particular order.
  std::span<const IndexEntry> synapses_from(PresynapticId presynaptic) const {
    return by_presynaptic_.at(presynaptic);
  }
  SegmentId segment_of(SynapseId synapse) const { return syn_segment_.at(synapse); }
  PresynapticId presynaptic_of(SynapseId synapse) const { return syn_presynaptic_.at(synapse); }
  float permanence(SynapseId synapse) const { return syn_permanence_.at(synapse); }
  bool connected(SynapseId synapse) const {
    return syn_permanence_.at(synapse) >= params_.connected_permanence;
  }

 private:
  void require_segment(SegmentId segment) const;
  void require_synapse(SynapseId synapse) const;
  void unlink_synapse(SynapseId synapse);  // index + free list, not the segment's list

  Params params_;
  uint32_t segment_count_ = 0;
  uint32_t synapse_count_ = 0;

  // Segments (parallel arrays; seg_cell_ == invalid_id marks a free slot).
  std::vector<CellId> seg_cell_;
  std::vector<uint64_t> seg_last_used_;
  std::vector<std::vector<SynapseId>> seg_synapses_;  // creation order
  std::vector<SegmentId> free_segments_;
  std::vector<std::vector<SegmentId>> cell_segments_;  // creation order

  // Synapses (parallel arrays; syn_segment_ == invalid_id marks a free slot).
  std::vector<SegmentId> syn_segment_;
  std::vector<PresynapticId> syn_presynaptic_;
  std::vector<float> syn_permanence_;
  std::vector<uint32_t> syn_index_pos_;  // position in by_presynaptic_[presynaptic]
  std::vector<SynapseId> free_synapses_;

  // Invariant: synapse y is in by_presynaptic_[syn_presynaptic_[y]] at position
  // syn_index_pos_[y] iff y is alive, and that entry's segment and permanence equal
  // syn_segment_[y] and syn_permanence_[y].
  std::vector<std::vector<IndexEntry>> by_presynaptic_;

  // Scratch for grow_synapses (kept to avoid reallocating on every learning step).
  std::vector<uint8_t> scratch_mark_;
  std::vector<PresynapticId> scratch_eligible_;
};

}  // namespace models::dendrites
