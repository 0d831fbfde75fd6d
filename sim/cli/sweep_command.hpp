#pragma once
// `snnsim sweep`: runs every point of a parameter sweep as its own `snnsim run` process,
// several at once, with atomic per-point completion, --resume and an index table.
// The spec, expansion, seeds and index are sim/sweep.hpp; this file manages processes
// and the sweep folder.
#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "experiments/registry.hpp"

namespace snnsim_cli {

struct SweepOptions {
  std::string config;                  // as given on the command line
  std::vector<std::string> sets;       // --set: base overrides, applied to every point
  std::vector<std::string> unsets;     // --unset: keys removed for every point, before --set
  std::vector<std::string> sweeps;     // --sweep key=LIST: add or replace parameters
  std::optional<std::string> out;      // --out DIR (default runs/<config stem>-sweep)
  std::optional<std::string> resume;   // --resume DIR
  std::optional<int64_t> seed;         // --seed: master seed (default simulation.seed, else 1)
  int jobs = 1;                        // points running at once
  std::optional<int> threads;          // total threads (default: the machine's cores)
  bool overwrite = false;
  bool dry_run = false;
};

void add_sweep_options(CLI::App& app, SweepOptions& options);

// `config_path` is the config file to use (built-in names already resolved);
// `experiment_of` finds a config's experiment in the registry (InputError when unknown).
// Returns 0 when every point is done, 1 when some failed, 130 when interrupted; throws
// sim::InputError for a bad spec or folder before anything runs.
int run_sweep(const SweepOptions& options, const std::string& config_path,
              const std::function<const experiments::Experiment&(const sim::ConfigDocument&)>&
                  experiment_of,
              const std::atomic<bool>* stop);

}  // namespace snnsim_cli
