#include "models/dendrites.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace models::dendrites {

void validate(const Params& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("dendrites: " + what); };
  auto in_unit = [](float x) { return x >= 0.0f && x <= 1.0f; };
  if (p.nmda_threshold == 0) fail("nmda_threshold must be >= 1");
  if (!in_unit(p.connected_permanence)) fail("connected_permanence must be in [0, 1]");
  if (!(p.initial_permanence > 0.0f && p.initial_permanence <= 1.0f))
    fail("initial_permanence must be in (0, 1]");
  if (!in_unit(p.permanence_increment)) fail("permanence_increment must be in [0, 1]");
  if (!in_unit(p.permanence_decrement)) fail("permanence_decrement must be in [0, 1]");
  if (p.max_synapses_per_segment == 0) fail("max_synapses_per_segment must be >= 1");
  if (p.max_segments_per_cell == 0) fail("max_segments_per_cell must be >= 1");
}

SegmentPool::SegmentPool(const Params& params, uint32_t cell_count, uint32_t presynaptic_count)
    : params_(params),
      cell_segments_(cell_count),
      by_presynaptic_(presynaptic_count),
      scratch_mark_(presynaptic_count, 0) {
  validate(params_);
}

void SegmentPool::require_segment(SegmentId segment) const {
  if (!alive(segment)) {
    throw std::out_of_range("dendrites: segment " + std::to_string(segment) + " does not exist");
  }
}

void SegmentPool::require_synapse(SynapseId synapse) const {
  if (synapse >= syn_segment_.size() || syn_segment_[synapse] == invalid_id) {
    throw std::out_of_range("dendrites: synapse " + std::to_string(synapse) + " does not exist");
  }
}

SegmentId SegmentPool::create_segment(CellId cell, uint64_t now) {
  auto& owned = cell_segments_.at(cell);
  if (owned.size() >= params_.max_segments_per_cell) {
    // Least recently used; ties go to the smallest id so the choice does not depend on
    // the order segments were created in.
    SegmentId victim = owned.front();
    for (const SegmentId s : owned) {
      if (seg_last_used_[s] < seg_last_used_[victim] ||
          (seg_last_used_[s] == seg_last_used_[victim] && s < victim)) {
        victim = s;
      }
    }
    destroy_segment(victim);
  }
  SegmentId id;
  if (!free_segments_.empty()) {
    id = free_segments_.back();
    free_segments_.pop_back();
  } else {
    id = static_cast<SegmentId>(seg_cell_.size());
    seg_cell_.push_back(invalid_id);
    seg_last_used_.push_back(0);
    seg_synapses_.emplace_back();
  }
  seg_cell_[id] = cell;
  seg_last_used_[id] = now;
  seg_synapses_[id].clear();  // a recycled slot keeps its capacity
  owned.push_back(id);
  ++segment_count_;
  return id;
}

void SegmentPool::destroy_segment(SegmentId segment) {
  require_segment(segment);
  for (const SynapseId y : seg_synapses_[segment]) unlink_synapse(y);
  seg_synapses_[segment].clear();
  auto& owned = cell_segments_[seg_cell_[segment]];
  owned.erase(std::find(owned.begin(), owned.end(), segment));
  seg_cell_[segment] = invalid_id;
  free_segments_.push_back(segment);
  --segment_count_;
}

SynapseId SegmentPool::create_synapse(SegmentId segment, PresynapticId presynaptic,
                                      float permanence) {
  require_segment(segment);
  if (presynaptic >= by_presynaptic_.size()) {
    throw std::out_of_range("dendrites: presynaptic id " + std::to_string(presynaptic) +
                            " >= presynaptic_count " + std::to_string(by_presynaptic_.size()));
  }
  auto& own = seg_synapses_[segment];
  if (own.size() >= params_.max_synapses_per_segment) {
    throw std::logic_error("dendrites: segment " + std::to_string(segment) + " is full");
  }
  for (const SynapseId y : own) {
    if (syn_presynaptic_[y] == presynaptic) {
      throw std::logic_error("dendrites: segment " + std::to_string(segment) +
                             " already has a synapse from cell " + std::to_string(presynaptic));
    }
  }
  SynapseId id;
  if (!free_synapses_.empty()) {
    id = free_synapses_.back();
    free_synapses_.pop_back();
  } else {
    id = static_cast<SynapseId>(syn_segment_.size());
    syn_segment_.push_back(invalid_id);
    syn_presynaptic_.push_back(0);
    syn_permanence_.push_back(0.0f);
    syn_index_pos_.push_back(0);
  }
  auto& index = by_presynaptic_[presynaptic];
  syn_segment_[id] = segment;
  syn_presynaptic_[id] = presynaptic;
  syn_permanence_[id] = std::clamp(permanence, 0.0f, 1.0f);
  syn_index_pos_[id] = static_cast<uint32_t>(index.size());
  index.push_back({segment, syn_permanence_[id], id});
  own.push_back(id);
  ++synapse_count_;
  return id;
}

void SegmentPool::unlink_synapse(SynapseId synapse) {
  // Swap-remove from the presynaptic index: O(1), and the moved entry learns its new slot.
  auto& index = by_presynaptic_[syn_presynaptic_[synapse]];
  const uint32_t pos = syn_index_pos_[synapse];
  const IndexEntry moved = index.back();
  index[pos] = moved;
  syn_index_pos_[moved.synapse] = pos;
  index.pop_back();
  syn_segment_[synapse] = invalid_id;
  free_synapses_.push_back(synapse);
  --synapse_count_;
}

void SegmentPool::destroy_synapse(SynapseId synapse) {
  require_synapse(synapse);
  auto& own = seg_synapses_[syn_segment_[synapse]];
  own.erase(std::find(own.begin(), own.end(), synapse));
  unlink_synapse(synapse);
}

void SegmentPool::clear() {
  for (SegmentId s = 0; s < seg_cell_.size(); ++s) {
    if (seg_cell_[s] != invalid_id) destroy_segment(s);
  }
}

void SegmentPool::activate(std::span<const PresynapticId> active, Activity& out) const {
  const size_t capacity = seg_cell_.size();
  // Reset only what the previous call touched: the cost stays ∝ active synapses.
  for (const SegmentId s : out.touched) {
    if (s < out.active_connected.size()) {
      out.active_connected[s] = 0;
      out.active_potential[s] = 0;
    }
  }
  out.touched.clear();
  out.spiking.clear();
  out.matching.clear();
  if (out.active_connected.size() < capacity) {
    // Grows only when the pool has grown since the last call.
    out.active_connected.resize(capacity, 0);
    out.active_potential.resize(capacity, 0);
    out.touched.reserve(capacity);
    out.spiking.reserve(capacity);
    out.matching.reserve(capacity);
  }
  const float connected_permanence = params_.connected_permanence;
  for (const PresynapticId p : active) {
    if (p >= by_presynaptic_.size()) {
      throw std::out_of_range("dendrites: active presynaptic id " + std::to_string(p) +
                              " >= presynaptic_count " + std::to_string(by_presynaptic_.size()));
    }
    for (const IndexEntry& e : by_presynaptic_[p]) {
      const SegmentId s = e.segment;
      if (out.active_potential[s]++ == 0) out.touched.push_back(s);
      out.active_connected[s] += e.permanence >= connected_permanence ? 1u : 0u;
    }
  }
  for (const SegmentId s : out.touched) {
    if (out.active_connected[s] >= params_.nmda_threshold) out.spiking.push_back(s);
    if (out.active_potential[s] >= params_.matching_threshold) out.matching.push_back(s);
  }
  std::sort(out.spiking.begin(), out.spiking.end());
  std::sort(out.matching.begin(), out.matching.end());
}

void SegmentPool::adapt_segment(SegmentId segment, std::span<const uint8_t> active_dense,
                                uint64_t now) {
  require_segment(segment);
  if (active_dense.size() < by_presynaptic_.size()) {
    throw std::invalid_argument("dendrites: adapt_segment needs one byte per presynaptic cell");
  }
  auto& own = seg_synapses_[segment];
  // Update in place and compact the survivors, keeping their order.
  size_t kept = 0;
  for (size_t k = 0; k < own.size(); ++k) {
    const SynapseId y = own[k];
    float perm = syn_permanence_[y];
    perm = active_dense[syn_presynaptic_[y]] != 0 ? perm + params_.permanence_increment
                                                  : perm - params_.permanence_decrement;
    perm = std::clamp(perm, 0.0f, 1.0f);
    if (perm <= 0.0f) {
      unlink_synapse(y);
    } else {
      syn_permanence_[y] = perm;
      by_presynaptic_[syn_presynaptic_[y]][syn_index_pos_[y]].permanence = perm;
      own[kept++] = y;
    }
  }
  own.resize(kept);
  seg_last_used_[segment] = now;
}

uint32_t SegmentPool::grow_synapses(SegmentId segment, std::span<const PresynapticId> candidates,
                                    uint32_t desired, sim::rng::Stream& rng) {
  require_segment(segment);
  const auto& own = seg_synapses_[segment];
  for (const SynapseId y : own) scratch_mark_[syn_presynaptic_[y]] = 1;
  scratch_eligible_.clear();
  for (const PresynapticId p : candidates) {
    if (p >= by_presynaptic_.size()) {
      for (const SynapseId y : own) scratch_mark_[syn_presynaptic_[y]] = 0;
      throw std::out_of_range("dendrites: candidate presynaptic id " + std::to_string(p) +
                              " >= presynaptic_count");
    }
    if (scratch_mark_[p] == 0) scratch_eligible_.push_back(p);
  }
  for (const SynapseId y : own) scratch_mark_[syn_presynaptic_[y]] = 0;

  const size_t room = params_.max_synapses_per_segment - own.size();
  const uint32_t count =
      static_cast<uint32_t>(std::min<size_t>({size_t{desired}, room, scratch_eligible_.size()}));
  // Partial Fisher–Yates: the first `count` entries become a uniform random sample.
  for (uint32_t k = 0; k < count; ++k) {
    const size_t pick = k + rng.below(scratch_eligible_.size() - k);
    std::swap(scratch_eligible_[k], scratch_eligible_[pick]);
    create_synapse(segment, scratch_eligible_[k], params_.initial_permanence);
  }
  return count;
}

}  // namespace models::dendrites
