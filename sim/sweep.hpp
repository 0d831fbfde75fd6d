#pragma once
// Parameter sweeps: the engine-side half of `snnsim sweep` (the process management lives
// in sim/cli/sweep_command.cpp). This part reads the [sweep] table of a config, expands it
// into points, derives each point's seed, validates every point before anything runs, and
// writes the sweep folder's index (index.csv + index.h5).
//
// Config format (docs/sweeps.md has the user's version):
//
//   [sweep]
//   mode = "product"          # or "zip": the i-th values of all parameters form point i
//   seeds_per_point = 1       # replicates of each parameter combination, each its own seed
//   [sweep.parameters]
//   "population.exc.drive.noise_sigma" = [3.0, 5.0, 7.0]         # a list
//   "dendrite.theta" = { linspace = [6, 14, 5] }                   # 6, 8, 10, 12, 14
//   "drive.rate_hz" = { logspace = [-1, 1, 3] }                     # 0.1, 1, 10
//   "population.exc.size" = { linspace = [100, 400, 4], integer = true }
//
// Keys are dotted config paths exactly as for `snnsim run --set` (sim::apply_override).
// Unquoted dotted keys (population.exc.size = [...]) are TOML nested tables; they are read
// the same way. Parameters keep the order in which they are written; in product mode the
// first one varies slowest. Point (row) r = combination * seeds_per_point + replicate.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "sim/config.hpp"

namespace sim::sweep {

// One value a parameter takes: what `--set key=value` can carry.
using Value = std::variant<bool, int64_t, double, std::string>;

// The value as a TOML literal, for `--set key=<literal>` (floats always carry a '.' or an
// exponent, so 2.0 stays a float; strings are quoted).
std::string toml_literal(const Value& v);
// The value as shown in listings and index.csv (strings unquoted; floats shortest
// round-trip, so reading the text back gives the same double).
std::string display(const Value& v);

enum class Mode { product, zip };

struct Parameter {
  std::string key;            // dotted config path, as for --set
  std::vector<Value> values;  // never empty
  std::string file;           // where it was declared: the config file, or "--sweep ..."
  int line = 0;               // 1-based; 0 for the command line
};

struct Spec {
  Mode mode = Mode::product;
  int64_t seeds_per_point = 1;
  std::vector<Parameter> parameters;
  std::string file;  // the config file, for errors about the [sweep] table itself
  int line = 0;      // line of [sweep]
};

// The purpose word of sim::rng::derive_seed for sweep points ("SWPT"): it keeps point
// seeds apart from any other seeds derived from the same master seed.
inline constexpr uint32_t seed_purpose = 0x53575054u;

struct Point {
  uint64_t index = 0;        // row of the index, 0-based
  uint64_t combination = 0;  // which parameter combination
  uint64_t replicate = 0;    // 0 .. seeds_per_point - 1
  uint64_t seed = 0;         // derive_seed(master, seed_purpose, index) >> 1 (< 2^63)
  std::vector<Value> values; // one per Spec::parameters
  std::string folder;        // relative to the sweep folder, e.g. "points/0003"
};

// Reads the [sweep] table of `doc` (InputError with file:line:key on any problem). An
// absent table gives an empty spec; parameters may still come from the command line.
Spec read_spec(const ConfigDocument& doc);

// One --sweep argument: "key=[v1, v2, ...]", "key=linspace(start, stop, count)",
// "key=logspace(start_exp10, stop_exp10, count)", or "key={ linspace = [...], integer = true }"
// (any TOML value the [sweep.parameters] table accepts).
Parameter parse_command_line_parameter(const std::string& assignment);
// Adds `p`, or replaces the parameter with the same key (keeping its position).
void add_or_replace(Spec& spec, Parameter p);

// `count` evenly spaced values from start to stop, both included. Value i is computed as
// ((count-1-i)*start + i*stop) / (count-1), so with integer ends it is the double nearest
// to the exact rational; the ends are exact.
std::vector<double> linspace(double start, double stop, int64_t count);
// 10^x for x in linspace(start_exp10, stop_exp10, count). Whole exponents |x| <= 22 give
// the double nearest to 10^x (10^|x| is exact there, and one division is correctly rounded).
std::vector<double> logspace(double start_exp10, double stop_exp10, int64_t count);

// Checks the spec as a whole (at least one parameter, zip lengths, keys the runner sets
// itself) and expands it. Throws InputError.
std::vector<Point> expand(const Spec& spec, uint64_t master_seed);

// "key=literal" for every parameter of the point (the arguments of --set).
std::vector<std::string> overrides(const Spec& spec, const Point& point);

// Applies each point's overrides to a copy of `base` and runs `validate` on it (the
// experiment's validator from the registry). The first failure is rethrown as an
// InputError located at the parameter's declaration, naming the point and its values.
void validate_points(const ConfigDocument& base, const Spec& spec,
                     const std::vector<Point>& points,
                     const std::function<void(const ConfigDocument&)>& validate);

// The sweep as recorded in the sweep folder (sweep.toml): mode, seeds, master seed, and
// every point's values. A resumed sweep must produce the same text.
std::string describe(const Spec& spec, uint64_t master_seed, const std::vector<Point>& points);

// ------------------------------------------------------------------ the index

enum class Status { pending, done, failed };
const char* status_name(Status s);

struct PointResult {
  Status status = Status::pending;
  int exit_code = -1;            // of the last attempt; -1 when it did not run to an end
  std::string error;             // why it failed (last lines of its output)
  std::map<std::string, double> metrics;  // /metrics attributes of its spikes.h5
};

// Whether a spike file exists and says that its run completed (/run complete = 1).
bool run_complete(const std::filesystem::path& spikes_h5);
// The float64 attributes of /metrics in a spike file (empty when there is no /metrics).
std::map<std::string, double> read_metrics(const std::filesystem::path& spikes_h5);

// Writes <dir>/index.csv and <dir>/index.h5 (group /points, one 1-D dataset per column),
// each through a temporary file and a rename. Columns: point, status, seed, folder,
// param.<key> per parameter, metric.<name> per metric seen in any point (NaN / empty
// where a point has none), exit_code, error.
void write_index(const std::filesystem::path& dir, const Spec& spec,
                 const std::vector<Point>& points, const std::vector<PointResult>& results);

}  // namespace sim::sweep
