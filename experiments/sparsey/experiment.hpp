#pragma once
// The `sparsey` experiment of the command line: one experiment type, the task chosen by
// `[sparsey] task`, so that every Sparsey run shares the config layout, the output layout
// and the "other preset" comparison.
//
// Config (every key optional; the built-in configs experiments/sparsey_*.toml show each task):
//   [simulation]  seed = 1, threads = 1   (`--seed` and `--threads` set these; seeds, draws
//                 or (point, seed) runs go in parallel and the results do not depend on it)
//   [sparsey]     task = "similarity" | "capacity" | "sequences" | "digits" | "episodic"
//                 preset = "similarity" | "digits"  (base field; default "digits" for the
//                          digits task, "similarity" otherwise; models/sparsey.hpp)
//                 compare_other_preset = true  (also run the task under the *other* preset,
//                          unmodified, and report it under metrics prefixed "other_")
//                 presentation_ms = 10          (presentation i is at time i x this)
//                 record = true                 (codes as spikes and the /sparsey tables)
//   [sparsey.field]  any Params field but num_inputs_U (set by the input): num_cms_Q,
//                 cells_per_cm_K, num_inputs_D, horizontal, w_max, lambda_U, lambda_H,
//                 lambda_D, G_minus, gamma, chi, sigmoid_lambda, sigmoid_phi,
//                 full_match_cutoff, full_match_V. Applies to the main run only.
//   [sparsey.<task>] the task's settings (the fields of its *Config struct; see
//                 similarity.hpp, capacity.hpp, sequences.hpp, digits.hpp, episodic.hpp).
//                 Only the chosen task's table may be present.
//
// Output (run folder): config.toml (resolved), spikes.h5 with
//   /spikes/sparsey        one spike per winning cell (CM q, winner k -> node q K + k) per
//                          presentation, at time i x presentation_ms (dt_ms = presentation_ms);
//   /spikes/sparsey_other  the same for the other-preset run (when compared);
//   /sparsey, /sparsey_other  attrs task, preset, Q, K, presentation_ms, population;
//                          datasets G, eta (float64[N]), codes (uint32[N, Q] winner indices),
//                          seed_index (uint32[N]), phase (uint8[N]), phase_names (string),
//                          item, label (uint32[N]; meaning per task, see record.hpp), and a
//                          task table of equal-length columns (curve, capacity, sequences,
//                          accuracy, episodic);
//   /metrics               float64 attributes: the task's scalars, wall_s, presentations,
//                          codes_per_second, and the same prefixed "other_".
#include "experiments/registry.hpp"

namespace experiments::sparsey {

Experiment experiment();

}  // namespace experiments::sparsey
