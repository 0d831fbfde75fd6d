#pragma once
// Loading and validating TOML configs. Every value is read through a TableReader, which
//  - reports bad input as sim::InputError with the file, line and dotted key;
//  - refuses keys nobody asked for, with a "did you mean" suggestion;
//  - writes every value it hands out (given or default) into a mirror table, so the
//    fully resolved configuration can be written next to the results.
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"
#include "sim/spec.hpp"

namespace sim {

// Expected Poisson input spikes per neuron and step above which the per-step inversion
// (rng::poisson_count) is neither fast nor exact (exp(-lambda) underflows at 745). Configs
// with more are refused (population drives, what/when Poisson stimuli).
inline constexpr double kMaxPoissonPerStep = 30.0;

// A parsed config file plus the --set overrides applied to it.
struct ConfigDocument {
  std::string file;  // path as given by the user
  toml::table root;
};

// Parses `path`; a missing file or a TOML syntax error becomes an InputError.
ConfigDocument load_config(const std::string& path);
// Parses TOML text (tests, built-in configs); `name` is used in messages.
ConfigDocument parse_config(std::string_view text, const std::string& name);

// Applies one "dotted.key=value" override. The value is parsed as a TOML value (so
// `--set simulation.seed=3` is an integer and `--set population.exc.integrator=euler` a
// string). A path segment that names an array of tables selects the element whose
// `name` equals the next segment (`population.exc.size=400`), or whose 0-based position it
// is (`projection.2.delay_ms=3`).
void apply_override(ConfigDocument& doc, const std::string& assignment);
// `--unset dotted.key`: removes a key (or a whole table) from the config, so that its default
// applies or another form of a setting can be chosen (paradigm.cue_amplitude for a Poisson
// cue); the same paths as apply_override, and a key that is not there is an error.
void apply_removal(ConfigDocument& doc, const std::string& key);

class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, const std::string& file,
              toml::table& resolved);

  bool has(std::string_view key) const { return table_->contains(key); }
  const std::string& path() const { return path_; }

  double number(std::string_view key, std::optional<double> fallback = std::nullopt);
  int64_t integer(std::string_view key, std::optional<int64_t> fallback = std::nullopt);
  bool boolean(std::string_view key, std::optional<bool> fallback = std::nullopt);
  std::string string(std::string_view key, std::optional<std::string> fallback = std::nullopt);
  // One of `choices`.
  std::string choice(std::string_view key, const std::vector<std::string>& choices,
                     std::optional<std::string> fallback = std::nullopt);
  std::vector<double> numbers(std::string_view key,
                              std::optional<std::vector<double>> fallback = std::nullopt);
  std::vector<int64_t> integers(std::string_view key,
                                std::optional<std::vector<int64_t>> fallback = std::nullopt);
  // A number (constant) or a table {dist = "uniform", low = .., high = ..} etc.
  Distribution distribution(std::string_view key, std::optional<Distribution> fallback);

  // Sub-table (created empty in the resolved mirror when absent and optional).
  TableReader table(std::string_view key, bool required = false);
  // Array of tables ([[key]]); empty when absent and optional.
  std::vector<TableReader> tables(std::string_view key, bool required = false);
  // Raw access for experiments that hold arrays of arrays (e.g. explicit connections).
  const toml::node* raw(std::string_view key);

  // Marks a key as known without reading it (read elsewhere).
  void accept(std::string_view key) { used_.insert(std::string(key)); }
  // Throws for any key that was not read or accepted.
  void finish() const;

  // An error located at `key` (or at the table when key is empty).
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;
  int line_of(std::string_view key) const;
  std::string file_of(std::string_view key) const;
  std::string dotted(std::string_view key) const;

 private:
  const toml::node& need(std::string_view key) const;
  template <typename T>
  void put(std::string_view key, T&& value);

  const toml::table* table_;
  std::string path_;
  const std::string* file_;
  toml::table* resolved_;
  std::set<std::string> used_;
};

// Refuses (at `key` of `r`) a Poisson rate with more than kMaxPoissonPerStep expected input
// spikes per step of dt_ms; `advice` is appended to the message.
void check_poisson_per_step(TableReader& r, std::string_view key, double rate_hz, double dt_ms,
                            std::string_view advice = "");

// Levenshtein distance; for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b);
// The closest of `candidates` to `word`, if close enough to be a likely typo.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// The engine's part of a config: [simulation], [[population]], [[projection]], [[trace]].
struct NetworkConfig {
  NetworkSpec network;
  RunSpec run;
  // Each [[trace]] table's reader, for errors found once the run's length is known (they
  // point into the config document, so set_run_duration runs while it is alive).
  std::vector<TableReader> trace_tables;
};
// How [simulation] duration_ms is set: by the config itself, or (when the config says 0) by
// the experiment, which then calls set_run_duration once it knows the length (a what/when
// run lasts as long as its trial schedule).
enum class Duration { from_config, from_experiment };
NetworkConfig read_network_config(TableReader& root, Duration duration = Duration::from_config);
// Sets the run's length; a trace without stop_ms records until then, and a trace whose
// stop_ms is past it is refused at that key.
void set_run_duration(NetworkConfig& cfg, double duration_ms);

// Serialises the resolved mirror table to TOML text.
std::string to_toml(const toml::table& t);

}  // namespace sim
