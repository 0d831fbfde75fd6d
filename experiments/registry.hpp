#pragma once
// The experiments the command line knows. The engine never sees this list; the CLI looks
// an experiment up by the `type` in a config's [experiment] table (default "network").
#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config.hpp"
#include "sim/log.hpp"
#include "sim/run_folder.hpp"

namespace experiments {

struct RunContext {
  sim::ConfigDocument doc;              // the config with --set overrides applied
  sim::RunFolder folder;                // prepared, empty run folder
  sim::Log& log;
  const std::atomic<bool>* stop = nullptr;  // set by Ctrl-C
};

// Exit codes an experiment returns.
inline constexpr int exit_ok = 0;
inline constexpr int exit_interrupted = 130;

struct Experiment {
  std::string type;            // value of [experiment] type
  std::string description;     // one line, for `snnsim list`
  std::vector<std::string> configs;  // built-in configs, relative to the source tree
  std::function<int(RunContext&)> run;
  // Validates the config without running (used by sweeps' dry runs and tests). Throws
  // sim::InputError on bad input.
  std::function<void(const sim::ConfigDocument&)> validate;
};

const std::vector<Experiment>& all();
const Experiment* find(std::string_view type);

// Reads [experiment] (type, name, description) into the resolved mirror; returns the name.
std::string read_experiment_header(sim::TableReader& root, const std::string& default_name);

}  // namespace experiments
