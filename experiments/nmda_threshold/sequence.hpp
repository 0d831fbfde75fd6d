#pragma once
// The NMDA-threshold study, spiking part: sequence prediction by dendritic segments in an
// Izhikevich network (the temporal-memory idea of Hawkins & Ahmad 2016, Front. Neural
// Circuits 10:23, with the segments of Ahmad & Hawkins 2016, arXiv 1601.00720).
//
// Network (built in code; every number below is a SequenceParams field):
//   column     n RS cells (Izhikevich 2003). A pattern is an SDR of a of them; presenting
//              it drives those cells with drive_current for drive_ms (each fires once or
//              twice). Background Poisson spikes (background_rate_hz) add stray activity.
//   pyramidal  n RS cells, cell i driven one-to-one by column cell i (delta synapse,
//              feedforward_weight_mV, 1 ms): pattern p activates the pyramidal cells with
//              p's indices. They carry dendritic segments (models/dendritic_compartment.hpp)
//              fed by the column's spikes; an NMDA spike injects the plateau current.
// Protocol: `length` random SDR patterns P_0 .. P_{length-1} (fixed per seed) are shown as
// a cycle, one onset every interval_ms, train_repetitions times with learning on, then
// test_repetitions times with learning off. Each presentation is a noisy copy: noise_v of
// the a cells swapped for v others (Fig. 4B of the paper), redrawn every presentation.
// Learning lets the cells of P_{j+1} grow segments onto the column cells of P_j (the
// causal context window of the compartment model), so that after learning the column
// spikes of P_j throw the cells of P_{j+1} into an NMDA plateau before P_{j+1} arrives.
//
// Measure (test presentations only): at the onset step k of every presentation of P_j
// (before its drive acts), predicted = pyramidal cells in a plateau at k, target = the
// cells of the clean pattern P_j. Micro-averaged over all test onsets:
//   precision = Σ |predicted ∩ target| / Σ |predicted|   (NaN when nothing was predicted)
//   recall    = Σ |predicted ∩ target| / Σ |target|
// and, from the membrane potentials at the same steps, the mean v of target cells minus
// the mean v of the other cells (the somatic depolarisation the prediction causes).
//
// Determinism: patterns from Philox stream (seed, stimulus 0, element = pattern), the
// noise of presentation i from (seed, stimulus 1, element = i), network randomness from
// the engine's streams, segment growth from (seed, model 0, cell, step): one seed gives the
// same spikes for any thread count.
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "models/dendritic_compartment.hpp"
#include "sim/simulation.hpp"
#include "sim/sink.hpp"

namespace experiments::nmda_threshold {

// | field                 | default | unit     | meaning                                        |
// |-----------------------|---------|----------|------------------------------------------------|
// | n                     | 2048    | cells    | column cells (= pyramidal cells)               |
// | a                     | 40      | cells    | active cells per pattern                       |
// | noise_v               | 0       | cells    | cells swapped in every presentation            |
// | length                | 10      | patterns | patterns in the repeated sequence              |
// | train_repetitions     | 10      | cycles   | presentations of the sequence with learning    |
// | test_repetitions      | 2       | cycles   | presentations measured, learning off           |
// | dt_ms                 | 1       | ms       | simulation step                                |
// | interval_ms           | 20      | ms       | pattern onset to next onset                    |
// | drive_ms              | 2       | ms       | how long a pattern's column cells are driven   |
// | drive_current         | 40      | current  | their drive (Izhikevich 2003 units)            |
// | feedforward_weight_mV | 30      | mV       | column i → pyramidal i charge (one spike fires |
// |                       |         |          | the cell from rest)                            |
// | background_rate_hz    | 1       | Hz       | Poisson input per column cell                  |
// | background_weight_mV  | 30      | mV       | charge of one background input (fires the cell)|
// | compartment           | see models/dendritic_compartment.hpp (θ, s, windows, plateau)  |
// | seed, threads         | 1, 1    |          | master seed, OpenMP threads                    |
struct SequenceParams {
  uint32_t n = 2048;
  uint32_t a = 40;
  uint32_t noise_v = 0;
  uint32_t length = 10;
  uint32_t train_repetitions = 10;
  uint32_t test_repetitions = 2;
  double dt_ms = 1.0;
  double interval_ms = 20.0;
  double drive_ms = 2.0;
  double drive_current = 40.0;
  double feedforward_weight_mV = 30.0;
  double background_rate_hz = 1.0;
  double background_weight_mV = 30.0;
  models::dendritic_compartment::Params compartment;
  uint64_t seed = 1;
  int threads = 1;
};

// Throws sim::InputError (key = field name, "compartment" for the compartment's own
// parameters) for an impossible configuration.
void validate(const SequenceParams& params);

struct SequenceResult {
  bool complete = false;     // false when stopped early
  double precision = 0.0;    // NaN when nothing was predicted
  double recall = 0.0;
  uint64_t onsets = 0;       // test onsets measured
  uint64_t predicted = 0;    // Σ |predicted|
  uint64_t correct = 0;      // Σ |predicted ∩ target|
  uint64_t targets = 0;      // Σ |target|
  double target_v_mV = 0.0;  // mean v of target cells at test onsets
  double other_v_mV = 0.0;   // mean v of all other pyramidal cells at test onsets
  double depolarisation_mV = 0.0;  // target_v_mV - other_v_mV
  uint64_t segments = 0;     // at the end
  uint64_t synapses = 0;
  uint64_t connected_synapses = 0;
  uint64_t column_spikes = 0;
  uint64_t pyramidal_spikes = 0;
  uint64_t nmda_spike_steps = 0;  // Σ over steps of spiking segments
  models::dendritic_compartment::LearningCounts learning;
  double model_ms = 0.0;
  double wall_s = 0.0;
};

// Runs the protocol; `sinks` get the network's spikes (populations "column", "pyramidal"),
// `progress` (may be empty) the engine's progress reports. `config_toml` goes into the
// sinks' RunInfo.
SequenceResult run_sequence(const SequenceParams& params, const std::vector<sim::Sink*>& sinks,
                            const std::string& config_toml = "",
                            sim::ProgressFn progress = {},
                            const std::atomic<bool>* stop = nullptr);

}  // namespace experiments::nmda_threshold
