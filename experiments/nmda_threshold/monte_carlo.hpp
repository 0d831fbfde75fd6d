#pragma once
// The NMDA-threshold study, one point: Monte-Carlo error rates of real dendritic
// segments (models::dendrites::SegmentPool) next to the closed forms of Ahmad & Hawkins
// 2016 (arXiv 1601.00720), as in the paper's §4.1 / Fig. 4 numerical experiments.
//
// One trial:
//   1. draw M stored patterns, independent uniformly random SDRs with a of n bits active;
//   2. store them: for each pattern sample s of its a active cells and give those cells
//      connected synapses (permanence 1), either
//        segment_per_pattern — one segment per pattern (§3.2, Eq. (8)), or
//        union_segment       — all patterns OR-ed onto one segment (§3.3, union property;
//                              a cell sampled by two patterns gets one synapse);
//   3. false positive probe: a fresh random SDR (a of n); an event if any segment spikes
//      (>= θ active connected synapses, Eq. (1));
//   4. false negative probe: pattern 0 with noise_v of its active bits swapped for
//      previously inactive bits; an event if the segment storing pattern 0 does not spike.
// Patterns and segments are redrawn every trial: the closed forms average over random
// patterns as well as random probes, so only then is each trial an independent Bernoulli
// draw with exactly the theoretical probability (with fixed segments the rate would be
// conditional on those segments, e.g. on the realised size of a union).
//
// Theory, side by side:
//   segment_per_pattern: FP = 1 - (1 - Eq. (4))^M (Eq. (8)); FN = Eq. (6).
//   union_segment:       FP and FN from the exact union-size mixtures in
//                        models/ahmad_hawkins.hpp; the paper's own approximation
//                        (Eq. (13) size plugged into Eq. (4)) is reported as well.
//
// Intervals: Wilson score intervals (Wilson 1927) at 95 % (z = 1.959963984540054). Chosen
// over Clopper–Pearson because they are not conservative (coverage close to nominal for
// the event counts we compare at) and are closed-form; at 0 events the upper limit is
// z²/(trials + z²).
//
// Determinism: trial t draws all its numbers from the Philox stream
// (seed, make_stream(Purpose::analysis, 0), element = t mod 2^32, index block t / 2^32),
// so a trial's outcome depends only on (seed, t). Counts are integer sums, so splitting
// the trials over threads or processes in any way gives the same result. No printing,
// no files.
#include <cstdint>

#include "models/ahmad_hawkins.hpp"

namespace experiments::nmda_threshold {

enum class Storage : uint8_t {
  segment_per_pattern,  // M segments, one pattern each
  union_segment,        // one segment holding the union of M patterns
};

// | field      | default | unit     | meaning                                            |
// |------------|---------|----------|----------------------------------------------------|
// | n          | 2048    | cells    | presynaptic population                             |
// | a          | 40      | cells    | active cells per SDR                               |
// | s          | 24      | synapses | synapses per stored pattern (subsample of a)       |
// | theta      | 12      | synapses | NMDA spike threshold θ                             |
// | noise_v    | 0       | bits     | active bits swapped out in the false-negative probe |
// | patterns_M | 1       | patterns | stored patterns (segments, or union members)       |
// | trials     | 100000  | trials   | Monte-Carlo trials (each one FP and one FN probe)  |
// | seed       | 1       | —        | master seed of the Philox streams                  |
// | storage    | segment_per_pattern | — | how the M patterns are stored              |
struct PointParams {
  uint32_t n = 2048;
  uint32_t a = 40;
  uint32_t s = 24;
  uint32_t theta = 12;
  uint32_t noise_v = 0;
  uint32_t patterns_M = 1;
  uint64_t trials = 100000;
  uint64_t seed = 1;
  Storage storage = Storage::segment_per_pattern;
};

// Throws sim::InputError (key = the PointParams field name) for an impossible point:
// zero sizes, a > n, s > a, theta == 0, noise_v > a or > n - a, patterns_M == 0, trials == 0.
void validate(const PointParams& params);

struct Interval {
  double lo = 0.0;
  double hi = 1.0;
};

// Wilson score interval for `events` successes in `trials` Bernoulli trials.
Interval wilson_interval(uint64_t events, uint64_t trials, double z = 1.959963984540054);

struct RateEstimate {
  uint64_t events = 0;
  uint64_t trials = 0;
  double rate = 0.0;             // events / trials
  Interval ci95;                 // Wilson, 95 %
  double theory = 0.0;           // closed-form probability
  double log_theory = 0.0;       // its natural log (finite even when theory underflows)
  double expected_events = 0.0;  // theory * trials
};

struct PointResult {
  PointParams params;
  RateEstimate false_positive;
  RateEstimate false_negative;
  // Closed forms behind the comparison, for tables and plots.
  models::ahmad_hawkins::Probability single_segment_false_match;     // Eq. (4), s synapses
  models::ahmad_hawkins::Probability single_segment_false_negative;  // Eq. (6)
  // union_segment only (zero otherwise): the paper's §3.3 evaluation, Eq. (13) size in
  // Eq. (4), and the expected number of synapses on the union segment, Eq. (13).
  models::ahmad_hawkins::Probability union_false_match_paper;
  double union_expected_synapses = 0.0;
  uint64_t synapses_created = 0;  // total over all trials (union overlaps merged)
};

PointResult measure_point(const PointParams& params);

// Activation throughput of SegmentPool on a representative configuration, for
// `snnsim bench`. Wall-clock time of the activate() calls only (set-up excluded).
// | field                | default | meaning                                  |
// |----------------------|---------|------------------------------------------|
// | n                    | 2048    | presynaptic cells                        |
// | a                    | 40      | active presynaptic cells per input       |
// | cells                | 2048    | postsynaptic cells                       |
// | segments_per_cell    | 16      | segments on each cell                    |
// | synapses_per_segment | 24      | synapses (all connected) on each segment |
// | theta                | 12      | NMDA threshold                           |
// | activations          | 2000    | activate() calls timed                   |
// | seed                 | 1       | Philox seed for structure and inputs     |
struct ActivationBenchmarkParams {
  uint32_t n = 2048;
  uint32_t a = 40;
  uint32_t cells = 2048;
  uint32_t segments_per_cell = 16;
  uint32_t synapses_per_segment = 24;
  uint32_t theta = 12;
  uint64_t activations = 2000;
  uint64_t seed = 1;
};

struct ActivationBenchmarkResult {
  uint64_t segments = 0;
  uint64_t synapses = 0;
  uint64_t activations = 0;
  uint64_t synapse_visits = 0;  // synapses walked through the presynaptic index
  uint64_t spikes = 0;          // spiking segments summed over activations (keeps the work live)
  double seconds = 0.0;
  double segments_per_second = 0.0;  // segments * activations / seconds
  double synapse_visits_per_second = 0.0;
};

ActivationBenchmarkResult benchmark_segment_activation(const ActivationBenchmarkParams& params);

}  // namespace experiments::nmda_threshold
