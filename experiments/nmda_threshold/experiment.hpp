#pragma once
// `[experiment] type = "nmda_threshold"`: one run is one parameter point (n, a, s, θ, noise
// v, stored patterns M, trials) of the NMDA-threshold study (Ahmad & Hawkins 2016, arXiv
// 1601.00720). It
//   1. measures false-positive and false-negative rates of real segments by Monte Carlo
//      next to the closed forms (monte_carlo.hpp, measure_point);
//   2. runs the spiking sequence experiment at the same n, a, s (synapses a segment is
//      grown to), θ and v (sequence.hpp, run_sequence), writing its spikes to spikes.h5;
//   3. stores the scalar results as float64 attributes of /metrics in spikes.h5 and prints
//      them (one "name = value" per line).
// Config tables: [experiment], [simulation] (seed, threads, dt_ms), [nmda] (the point),
// [monte_carlo], [sequence]; see experiments/nmda_threshold.toml for every key with its
// default and meaning. A [sweep] table is for `snnsim sweep` and never read here.
#include <string>
#include <utility>
#include <vector>

#include "experiments/nmda_threshold/monte_carlo.hpp"
#include "experiments/nmda_threshold/sequence.hpp"
#include "experiments/registry.hpp"

namespace experiments::nmda_threshold {

Experiment experiment();

struct PointConfig {
  std::string name;
  PointParams monte_carlo;
  SequenceParams sequence;
  bool sequence_enabled = true;
};

// Reads and validates a config (InputError with file:line:key on bad input). `resolved`
// receives every value used, defaults included.
PointConfig read_point_config(const sim::ConfigDocument& doc, toml::table& resolved);

// The /metrics of a point, in the order they are written and printed.
std::vector<std::pair<std::string, double>> metrics(const PointResult& mc,
                                                    const SequenceResult* sequence);

}  // namespace experiments::nmda_threshold
