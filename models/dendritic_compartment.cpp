#include "models/dendritic_compartment.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sim/rng.hpp"

namespace models::dendritic_compartment {

namespace dd = models::dendrites;

namespace {

// Whole steps in `ms`, or -1 when ms is not a non-negative multiple of dt (to 1e-9).
int64_t whole_steps(double ms, double dt_ms) {
  if (!(ms >= 0.0) || !std::isfinite(ms)) return -1;
  const double ratio = ms / dt_ms;
  const double rounded = std::round(ratio);
  if (std::abs(ratio - rounded) > 1e-9 * std::max(1.0, rounded)) return -1;
  return static_cast<int64_t>(rounded);
}

}  // namespace

void validate(const Params& p, double dt_ms) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("dendritic_compartment: " + what);
  };
  if (!(dt_ms > 0.0) || !std::isfinite(dt_ms)) fail("dt_ms must be positive");
  if (whole_steps(p.coincidence_window_ms, dt_ms) < 1)
    fail("coincidence_window_ms must be a positive multiple of dt");
  if (whole_steps(p.plateau_ms, dt_ms) < 1) fail("plateau_ms must be a positive multiple of dt");
  if (whole_steps(p.learn_min_lag_ms, dt_ms) < 0)
    fail("learn_min_lag_ms must be a non-negative multiple of dt");
  if (whole_steps(p.learn_max_lag_ms, dt_ms) < 0)
    fail("learn_max_lag_ms must be a non-negative multiple of dt");
  if (p.learn_max_lag_ms < p.learn_min_lag_ms) fail("learn_max_lag_ms must be >= learn_min_lag_ms");
  if (!std::isfinite(p.plateau_current)) fail("plateau_current must be finite");
  if (p.new_synapse_count == 0) fail("new_synapse_count must be >= 1");
  dd::validate(p.segments);
}

DendriticCompartments::DendriticCompartments(const Params& params, uint32_t cell_count,
                                             uint32_t presynaptic_count, double dt_ms,
                                             uint64_t seed, uint32_t stream_index)
    : params_(params),
      pool_(params.segments, cell_count, presynaptic_count),
      seed_(seed),
      stream_(sim::rng::make_stream(sim::rng::Purpose::model, stream_index)),
      plateau_end_(cell_count, 0),
      mark_(presynaptic_count, 0),
      active_dense_(presynaptic_count, 0) {
  validate(params_, dt_ms);
  window_steps_ = static_cast<uint32_t>(whole_steps(params_.coincidence_window_ms, dt_ms));
  plateau_steps_ = static_cast<uint32_t>(whole_steps(params_.plateau_ms, dt_ms));
  min_lag_steps_ = static_cast<uint32_t>(whole_steps(params_.learn_min_lag_ms, dt_ms));
  max_lag_steps_ = static_cast<uint32_t>(whole_steps(params_.learn_max_lag_ms, dt_ms));
}

void DendriticCompartments::presynaptic_spikes(Step k, std::span<const uint32_t> ids) {
  if (!recent_.empty() && k < recent_.back().step)
    throw std::logic_error("dendritic_compartment: presynaptic spike steps went backwards");
  const uint32_t n = pool_.presynaptic_count();
  for (const uint32_t id : ids) {
    if (id >= n) throw std::out_of_range("dendritic_compartment: presynaptic id out of range");
    recent_.push_back({k, id});
  }
  // Spikes older than both windows can never be read again (update and learning look at
  // most max(W, max_lag) steps back from a step >= k). Erase them in bulk, amortised O(1).
  const Step horizon = std::max<Step>(window_steps_, max_lag_steps_);
  if (k > horizon) {
    const Step oldest_needed = k - horizon;
    auto keep = std::lower_bound(recent_.begin(), recent_.end(), oldest_needed,
                                 [](const Spike& s, Step step) { return s.step < step; });
    if (static_cast<size_t>(keep - recent_.begin()) * 2 > recent_.size())
      recent_.erase(recent_.begin(), keep);
  }
}

void DendriticCompartments::collect(Step first, Step last, std::vector<uint32_t>& out) const {
  out.clear();
  if (last < first) return;
  for (auto it = recent_.rbegin(); it != recent_.rend() && it->step >= first; ++it) {
    if (it->step > last || mark_[it->id] != 0) continue;
    mark_[it->id] = 1;
    out.push_back(it->id);
  }
  for (const uint32_t id : out) mark_[id] = 0;
  std::sort(out.begin(), out.end());
}

std::vector<uint32_t> DendriticCompartments::active_between(Step first, Step last) const {
  std::vector<uint32_t> out;
  collect(first, last, out);
  return out;
}

std::span<const dd::SegmentId> DendriticCompartments::update(Step k) {
  if (k == 0) {
    activity_.spiking.clear();
    return activity_.spiking;
  }
  const Step first = k >= window_steps_ ? k - window_steps_ : 0;
  collect(first, k - 1, active_);
  pool_.activate(active_, activity_);
  for (const dd::SegmentId seg : activity_.spiking) {
    Step& end = plateau_end_[pool_.cell_of(seg)];
    end = std::max<Step>(end, k + plateau_steps_);
  }
  return activity_.spiking;
}

LearningCounts DendriticCompartments::postsynaptic_spikes(Step k, std::span<const uint32_t> cells) {
  LearningCounts counts;
  if (!params_.learning || cells.empty() || k < min_lag_steps_) return counts;
  const Step last = k - min_lag_steps_;
  const Step first = k >= max_lag_steps_ ? k - max_lag_steps_ : 0;
  collect(first, last, active_);
  pool_.activate(active_, learn_activity_);
  for (const uint32_t id : active_) active_dense_[id] = 1;

  const uint32_t threshold = params_.segments.matching_threshold;
  for (const uint32_t cell : cells) {
    // Best matching segment: most active potential synapses, ties to the smallest id.
    dd::SegmentId best = dd::invalid_id;
    uint32_t best_potential = 0;
    for (const dd::SegmentId seg : pool_.segments_of(cell)) {
      const uint32_t potential = seg < learn_activity_.active_potential.size()
                                     ? learn_activity_.active_potential[seg]
                                     : 0;
      if (potential >= threshold && potential > 0 &&
          (best == dd::invalid_id || potential > best_potential ||
           (potential == best_potential && seg < best))) {
        best = seg;
        best_potential = potential;
      }
    }
    sim::rng::Stream rng(seed_, stream_, cell, k << 16);
    if (best != dd::invalid_id) {
      pool_.adapt_segment(best, active_dense_, k);
      ++counts.adapted;
      if (pool_.alive(best) && best_potential < params_.new_synapse_count) {
        counts.synapses_grown +=
            pool_.grow_synapses(best, active_, params_.new_synapse_count - best_potential, rng);
      }
    } else if (!active_.empty() && active_.size() >= threshold) {
      const dd::SegmentId seg = pool_.create_segment(cell, k);
      ++counts.created;
      counts.synapses_grown += pool_.grow_synapses(seg, active_, params_.new_synapse_count, rng);
    } else {
      ++counts.skipped;
    }
  }
  for (const uint32_t id : active_) active_dense_[id] = 0;
  return counts;
}

void DendriticCompartments::write_currents(Step k, std::span<double> out) const {
  if (out.size() < plateau_end_.size())
    throw std::invalid_argument("dendritic_compartment: current buffer too small");
  for (size_t c = 0; c < plateau_end_.size(); ++c)
    out[c] = k < plateau_end_[c] ? params_.plateau_current : 0.0;
}

std::vector<uint32_t> DendriticCompartments::predictive_cells(Step k) const {
  std::vector<uint32_t> out;
  for (uint32_t c = 0; c < plateau_end_.size(); ++c)
    if (k < plateau_end_[c]) out.push_back(c);
  return out;
}

}  // namespace models::dendritic_compartment
