#include "experiments/nmda_threshold/monte_carlo.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "models/dendrites.hpp"
#include "models/sdr.hpp"
#include "sim/error.hpp"
#include "sim/rng.hpp"

namespace experiments::nmda_threshold {

namespace ah = models::ahmad_hawkins;
namespace dd = models::dendrites;
namespace sdr = models::sdr;

namespace {

void fail(const char* key, const std::string& message) {
  throw sim::InputError("", 0, key, message);
}

// Trial t's private stream: see the header ("Determinism").
sim::rng::Stream trial_stream(uint64_t seed, uint64_t trial) {
  return sim::rng::Stream(seed, sim::rng::make_stream(sim::rng::Purpose::analysis, 0),
                          static_cast<uint32_t>(trial), (trial >> 32) << 32);
}

RateEstimate estimate(uint64_t events, uint64_t trials, const ah::Probability& theory) {
  RateEstimate r;
  r.events = events;
  r.trials = trials;
  r.rate = static_cast<double>(events) / static_cast<double>(trials);
  r.ci95 = wilson_interval(events, trials);
  r.theory = theory.p;
  r.log_theory = theory.log_p;
  r.expected_events = theory.p * static_cast<double>(trials);
  return r;
}

// Uniform sample of `count` entries of `from` into the first `count` slots of `scratch`
// (partial Fisher–Yates).
void sample_into(std::span<const uint32_t> from, uint32_t count, sim::rng::Stream& rng,
                 std::vector<uint32_t>& scratch) {
  scratch.assign(from.begin(), from.end());
  for (uint32_t k = 0; k < count; ++k) {
    const size_t pick = k + rng.below(scratch.size() - k);
    std::swap(scratch[k], scratch[pick]);
  }
}

}  // namespace

void validate(const PointParams& p) {
  if (p.n == 0) fail("n", "the presynaptic population must have at least one cell");
  if (p.a == 0 || p.a > p.n)
    fail("a",
         "need 1 <= a <= n (got a = " + std::to_string(p.a) + ", n = " + std::to_string(p.n) + ")");
  if (p.s == 0 || p.s > p.a)
    fail("s", "need 1 <= s <= a: synapses sample a stored pattern (got s = " + std::to_string(p.s) +
                  ", a = " + std::to_string(p.a) + ")");
  if (p.theta == 0) fail("theta", "the NMDA threshold must be >= 1");
  if (p.noise_v > p.a || p.noise_v > p.n - p.a)
    fail("noise_v",
         "need noise_v <= a and noise_v <= n - a (got " + std::to_string(p.noise_v) + ")");
  if (p.patterns_M == 0) fail("patterns_M", "at least one stored pattern is needed");
  if (p.trials == 0) fail("trials", "at least one trial is needed");
}

Interval wilson_interval(uint64_t events, uint64_t trials, double z) {
  if (trials == 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double k = static_cast<double>(events);
  const double z2 = z * z;
  const double center = (k + 0.5 * z2) / (n + z2);
  const double half = z / (n + z2) * std::sqrt(k * (n - k) / n + 0.25 * z2);
  // At 0 and at `trials` events the limits are exactly 0 and 1 (the formula gives them
  // only up to rounding, e.g. 0.9999999999999999, which would exclude a theory value of 1).
  const double lo = events == 0 ? 0.0 : std::max(0.0, center - half);
  const double hi = events == trials ? 1.0 : std::min(1.0, center + half);
  return {lo, hi};
}

PointResult measure_point(const PointParams& p) {
  validate(p);
  const bool as_union = p.storage == Storage::union_segment;
  const uint32_t M = p.patterns_M;

  dd::Params seg_params;
  seg_params.nmda_threshold = p.theta;
  seg_params.matching_threshold = p.theta;  // learning is not used here
  seg_params.max_synapses_per_segment =
      as_union ? static_cast<uint32_t>(std::min<uint64_t>(p.n, uint64_t{M} * p.s)) : p.s;
  seg_params.max_segments_per_cell = as_union ? 1 : M;
  dd::SegmentPool pool(seg_params, 1, p.n);

  std::vector<sdr::Sdr> patterns(M, sdr::Sdr(p.n));
  sdr::Sdr probe(p.n);
  std::vector<uint32_t> scratch;
  scratch.reserve(p.a);
  std::vector<uint8_t> on_segment(p.n, 0);  // union: cells that already have a synapse
  std::vector<dd::SegmentId> owner(M, dd::invalid_id);
  dd::Activity activity;

  uint64_t fp_events = 0, fn_events = 0, synapses_created = 0;
  for (uint64_t t = 0; t < p.trials; ++t) {
    auto rng = trial_stream(p.seed, t);
    pool.clear();
    dd::SegmentId union_segment = dd::invalid_id;
    if (as_union) union_segment = pool.create_segment(0, t);
    for (uint32_t m = 0; m < M; ++m) {
      sdr::fill_random(patterns[m], p.a, rng);
      sample_into(patterns[m].sparse(), p.s, rng, scratch);
      const dd::SegmentId seg = as_union ? union_segment : pool.create_segment(0, t);
      owner[m] = seg;
      for (uint32_t k = 0; k < p.s; ++k) {
        const uint32_t cell = scratch[k];
        if (as_union) {
          if (on_segment[cell] != 0) continue;  // binary OR: one synapse per cell
          on_segment[cell] = 1;
        }
        pool.create_synapse(seg, cell, 1.0f);
        ++synapses_created;
      }
    }
    if (as_union) {
      for (const dd::SynapseId y : pool.synapses_of(union_segment)) {
        on_segment[pool.presynaptic_of(y)] = 0;
      }
    }

    // False positive probe: a fresh random SDR.
    sdr::fill_random(probe, p.a, rng);
    pool.activate(probe.sparse(), activity);
    if (!activity.spiking.empty()) ++fp_events;

    // False negative probe: pattern 0 with noise; only its own segment counts.
    sdr::fill_noisy(patterns[0], p.noise_v, rng, probe);
    pool.activate(probe.sparse(), activity);
    if (!std::binary_search(activity.spiking.begin(), activity.spiking.end(), owner[0])) {
      ++fn_events;
    }
  }

  PointResult r;
  r.params = p;
  r.synapses_created = synapses_created;
  r.single_segment_false_match = ah::false_match(p.n, p.a, p.s, p.theta);
  r.single_segment_false_negative = ah::false_negative(p.n, p.a, p.s, p.theta, p.noise_v);
  ah::Probability fp_theory, fn_theory;
  if (as_union) {
    fp_theory = ah::union_false_match(p.n, p.a, p.s, p.theta, M);
    fn_theory = ah::union_false_negative(p.n, p.a, p.s, p.theta, p.noise_v, M);
    r.union_false_match_paper = ah::union_false_match_expected_size(p.n, p.a, p.s, p.theta, M);
    r.union_expected_synapses = ah::union_expected_size(p.n, p.s, M);
  } else {
    fp_theory = ah::any_of_segments(r.single_segment_false_match, M);
    fn_theory = r.single_segment_false_negative;
  }
  r.false_positive = estimate(fp_events, p.trials, fp_theory);
  r.false_negative = estimate(fn_events, p.trials, fn_theory);
  return r;
}

ActivationBenchmarkResult benchmark_segment_activation(const ActivationBenchmarkParams& b) {
  dd::Params seg_params;
  seg_params.nmda_threshold = b.theta;
  seg_params.matching_threshold = b.theta;
  seg_params.max_synapses_per_segment = b.synapses_per_segment;
  seg_params.max_segments_per_cell = b.segments_per_cell;
  dd::SegmentPool pool(seg_params, b.cells, b.n);
  const uint32_t structure_stream = sim::rng::make_stream(sim::rng::Purpose::analysis, 1);
  const uint32_t input_stream = sim::rng::make_stream(sim::rng::Purpose::analysis, 2);

  // Each segment samples its synapses from one random SDR, as if it had learned it.
  std::vector<uint32_t> scratch;
  sdr::Sdr pattern(b.n);
  const uint32_t per_segment = std::min(b.synapses_per_segment, b.a);
  for (uint32_t c = 0; c < b.cells; ++c) {
    sim::rng::Stream rng(b.seed, structure_stream, c);
    for (uint32_t k = 0; k < b.segments_per_cell; ++k) {
      const auto seg = pool.create_segment(c, 0);
      sdr::fill_random(pattern, b.a, rng);
      sample_into(pattern.sparse(), per_segment, rng, scratch);
      for (uint32_t j = 0; j < per_segment; ++j) pool.create_synapse(seg, scratch[j], 1.0f);
    }
  }
  // A fixed set of inputs, cycled, so input generation stays out of the timing.
  constexpr uint32_t input_count = 64;
  std::vector<sdr::Sdr> inputs;
  inputs.reserve(input_count);
  for (uint32_t i = 0; i < input_count; ++i) {
    sim::rng::Stream rng(b.seed, input_stream, i);
    inputs.push_back(sdr::random(b.n, b.a, rng));
  }
  dd::Activity activity;
  pool.activate(inputs[0].sparse(), activity);  // sizes the buffers before timing

  ActivationBenchmarkResult r;
  r.segments = pool.segment_count();
  r.synapses = pool.synapse_count();
  r.activations = b.activations;
  for (uint64_t i = 0; i < b.activations; ++i) {
    for (const uint32_t p : inputs[i % input_count].sparse()) {
      r.synapse_visits += pool.synapses_from(p).size();
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < b.activations; ++i) {
    pool.activate(inputs[i % input_count].sparse(), activity);
    r.spikes += activity.spiking.size();
  }
  const auto stop = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(stop - start).count();
  if (r.seconds > 0.0) {
    r.segments_per_second = static_cast<double>(r.segments) * r.activations / r.seconds;
    r.synapse_visits_per_second = static_cast<double>(r.synapse_visits) / r.seconds;
  }
  return r;
}

}  // namespace experiments::nmda_threshold
