#include "sim/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "sim/h5.hpp"
#include "sim/rng.hpp"
#include "sim/run_folder.hpp"

namespace sim::sweep {

namespace fs = std::filesystem;

namespace {

// Sweeps beyond this many points are almost certainly a typo in a count.
constexpr uint64_t max_points = 1'000'000;

std::string parameter_key(const std::string& key) { return "sweep.parameters." + key; }

std::optional<Value> scalar_value(const toml::node& n) {
  if (const auto* v = n.as_boolean()) return Value{v->get()};
  if (const auto* v = n.as_integer()) return Value{v->get()};
  if (const auto* v = n.as_floating_point()) return Value{v->get()};
  if (const auto* v = n.as_string()) return Value{v->get()};
  return std::nullopt;
}

std::string node_kind(const toml::node& n) {
  if (n.is_table()) return "a table";
  if (n.is_array()) return "a list";
  return "a date/time";
}

// The values of one parameter: a list, or { linspace | logspace = [a, b, n], integer = bool }.
std::vector<Value> read_values(const toml::node& node, const std::string& key,
                               const std::string& file, int line) {
  const std::string dotted = parameter_key(key);
  auto fail = [&](const std::string& msg) -> InputError { return InputError(file, line, dotted, msg); };
  const std::string expected =
      "expected a list of values [v1, v2, ...], { linspace = [start, stop, count] } or "
      "{ logspace = [start_exp10, stop_exp10, count] }";
  if (const auto* arr = node.as_array()) {
    if (arr->empty()) throw fail("empty list: a swept parameter needs at least one value");
    std::vector<Value> out;
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto v = scalar_value(*arr->get(i));
      if (!v)
        throw fail(fmt::format("value {} is {}; expected numbers, strings or booleans", i + 1,
                               node_kind(*arr->get(i))));
      out.push_back(*v);
    }
    return out;
  }
  const auto* t = node.as_table();
  if (!t) throw fail(expected + ", got a single value (write [value] for one point)");
  toml::table scratch;
  TableReader r(*t, dotted, file, scratch);
  const bool lin = r.has("linspace"), log = r.has("logspace");
  if (lin == log) throw fail(expected);
  const char* name = lin ? "linspace" : "logspace";
  std::vector<double> spec;
  bool integer = false;
  try {
    spec = r.numbers(name);
    integer = r.boolean("integer", false);
    r.finish();
  } catch (InputError& e) {
    e.file = file;  // a command-line origin keeps its own name, without a line
    e.line = line == 0 ? 0 : e.line;
    throw;
  }
  if (spec.size() != 3)
    throw fail(fmt::format("{} needs [start, stop, count], got {} numbers", name, spec.size()));
  const double count = spec[2];
  if (!(count == std::floor(count)) || count < 0)
    throw fail(fmt::format("{} count must be a whole number, got {}", name, count));
  if (count == 0) throw fail(fmt::format("empty range: {} count is 0", name));
  if (count > static_cast<double>(max_points))
    throw fail(fmt::format("{} count {} is more than {} points", name, count, max_points));
  if (!std::isfinite(spec[0]) || !std::isfinite(spec[1]))
    throw fail(fmt::format("{} start and stop must be finite numbers", name));
  const auto n = static_cast<int64_t>(count);
  const std::vector<double> xs = lin ? linspace(spec[0], spec[1], n) : logspace(spec[0], spec[1], n);
  std::vector<Value> out;
  for (double x : xs) {
    if (!integer) {
      out.emplace_back(x);
      continue;
    }
    if (!(std::fabs(x) < 9.0e18)) throw fail(fmt::format("{} is too large for an integer", x));
    const auto k = static_cast<int64_t>(std::llround(x));
    if (!out.empty() && std::get<int64_t>(out.back()) == k)
      throw fail(fmt::format("with integer = true, {} values repeat after rounding ({} twice)", name, k));
    out.emplace_back(k);
  }
  return out;
}

// Collects the parameters of [sweep.parameters]: a table without linspace/logspace is a
// level of a dotted key (population.exc.size = [...] is TOML for nested tables).
void flatten(const toml::table& t, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const auto* sub = v.as_table();
    if (sub && !sub->contains("linspace") && !sub->contains("logspace") && !sub->empty())
      flatten(*sub, key, out);
    else
      out.emplace_back(key, &v);
  }
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string number_text(double x) {
  if (std::isnan(x)) return "";
  return fmt::format("{}", x);
}

}  // namespace

std::string toml_literal(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&v)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::isnan(*d)) return "nan";
    if (std::isinf(*d)) return *d > 0 ? "inf" : "-inf";
    std::string s = fmt::format("{}", *d);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  std::string out = "\"";
  for (char c : std::get<std::string>(v)) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string display(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  return toml_literal(v);
}

std::vector<double> linspace(double start, double stop, int64_t count) {
  std::vector<double> out;
  if (count <= 0) return out;
  if (count == 1) return {start};
  const double span = static_cast<double>(count - 1);
  for (int64_t i = 0; i < count; ++i) {
    if (i == 0) out.push_back(start);
    else if (i == count - 1) out.push_back(stop);
    else
      out.push_back((static_cast<double>(count - 1 - i) * start + static_cast<double>(i) * stop) / span);
  }
  return out;
}

std::vector<double> logspace(double start_exp10, double stop_exp10, int64_t count) {
  std::vector<double> out;
  for (double x : linspace(start_exp10, stop_exp10, count)) {
    if (x == std::floor(x) && std::fabs(x) <= 22) {
      // 10^k for k <= 22 is exactly representable (5^22 < 2^53), so this product is exact.
      double p = 1.0;
      for (int k = 0; k < static_cast<int>(std::fabs(x)); ++k) p *= 10.0;
      out.push_back(x < 0 ? 1.0 / p : p);
    } else {
      out.push_back(std::pow(10.0, x));
    }
  }
  return out;
}

Spec read_spec(const ConfigDocument& doc) {
  Spec spec;
  spec.file = doc.file;
  const toml::node* node = doc.root.get("sweep");
  if (!node) return spec;
  toml::table resolved;
  TableReader root(doc.root, "", doc.file, resolved);
  TableReader sw = root.table("sweep");
  spec.line = sw.line_of("");
  spec.mode = sw.choice("mode", {"product", "zip"}, "product") == "zip" ? Mode::zip : Mode::product;
  spec.seeds_per_point = sw.integer("seeds_per_point", 1);
  if (spec.seeds_per_point < 1 || spec.seeds_per_point > static_cast<int64_t>(max_points))
    sw.fail("seeds_per_point", fmt::format("expected 1 <= seeds_per_point <= {}, got {}", max_points,
                                           spec.seeds_per_point));
  sw.accept("parameters");
  sw.finish();
  const toml::node* pn = node->as_table()->get("parameters");
  if (!pn) return spec;
  const auto* pt = pn->as_table();
  if (!pt) sw.fail("parameters", "expected a table: [sweep.parameters] with key = [values]");
  std::vector<std::pair<std::string, const toml::node*>> found;
  flatten(*pt, "", found);
  // toml++ keeps keys sorted; the file's order is what the user wrote and expects.
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    const auto& sa = a.second->source().begin;
    const auto& sb = b.second->source().begin;
    return std::pair(sa.line, sa.column) < std::pair(sb.line, sb.column);
  });
  for (const auto& [key, n] : found) {
    Parameter p;
    p.key = key;
    p.file = doc.file;
    p.line = static_cast<int>(n->source().begin.line);
    p.values = read_values(*n, key, p.file, p.line);
    for (const auto& q : spec.parameters)
      if (q.key == key) throw InputError(p.file, p.line, parameter_key(key), "swept twice");
    spec.parameters.push_back(std::move(p));
  }
  return spec;
}

Parameter parse_command_line_parameter(const std::string& assignment) {
  const std::string origin = "--sweep " + assignment;
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin, 0, "", "expected --sweep dotted.key=[v1,v2,...] or key=linspace(a,b,n)");
  Parameter p;
  p.key = assignment.substr(0, eq);
  p.file = origin;
  std::string text = assignment.substr(eq + 1);
  for (const char* fn : {"linspace", "logspace"}) {
    const std::string head = std::string(fn) + "(";
    if (text.rfind(head, 0) == 0 && text.size() > head.size() && text.back() == ')')
      text = fmt::format("{{ {} = [{}] }}", fn, text.substr(head.size(), text.size() - head.size() - 1));
  }
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + text, origin);
  } catch (const toml::parse_error& e) {
    throw InputError(origin, 0, p.key,
                     fmt::format("cannot read the values ({}); expected [v1, v2, ...] (strings "
                                 "quoted), linspace(start, stop, count) or logspace(a, b, count)",
                                 e.description()));
  }
  if (p.key.find("..") != std::string::npos || p.key.front() == '.' || p.key.back() == '.')
    throw InputError(origin, 0, p.key, "empty segment in dotted key");
  p.values = read_values(*parsed.get("v"), p.key, origin, 0);
  return p;
}

void add_or_replace(Spec& spec, Parameter p) {
  for (auto& q : spec.parameters)
    if (q.key == p.key) {
      q = std::move(p);
      return;
    }
  spec.parameters.push_back(std::move(p));
}

std::vector<Point> expand(const Spec& spec, uint64_t master_seed) {
  if (spec.parameters.empty())
    throw InputError(spec.file, spec.line, "sweep.parameters",
                     "nothing to sweep: add [sweep.parameters] to the config or pass --sweep key=[...]");
  for (const auto& p : spec.parameters) {
    if (p.key == "simulation.seed")
      throw InputError(p.file, p.line, parameter_key(p.key),
                       "each point's seed is derived from the master seed (--seed or "
                       "simulation.seed); use seeds_per_point for replicates");
    if (p.key == "simulation.threads")
      throw InputError(p.file, p.line, parameter_key(p.key),
                       "threads are chosen by the sweep (--threads, --jobs); results do not depend on them");
  }
  uint64_t combinations = 1;
  if (spec.mode == Mode::zip) {
    combinations = spec.parameters.front().values.size();
    for (const auto& p : spec.parameters)
      if (p.values.size() != combinations)
        throw InputError(p.file, p.line, parameter_key(p.key),
                         fmt::format("zip mode needs lists of equal length: '{}' has {} values, "
                                     "'{}' has {}", spec.parameters.front().key, combinations,
                                     p.key, p.values.size()));
  } else {
    for (const auto& p : spec.parameters) {
      combinations *= p.values.size();
      if (combinations > max_points) break;
    }
  }
  const auto spp = static_cast<uint64_t>(spec.seeds_per_point);
  if (combinations > max_points || combinations * spp > max_points)
    throw InputError(spec.file, spec.line, "sweep",
                     fmt::format("more than {} points; is a count or seeds_per_point too large?",
                                 max_points));
  const uint64_t total = combinations * spp;
  const size_t width = std::max<size_t>(4, fmt::format("{}", total - 1).size());
  std::vector<Point> points;
  points.reserve(total);
  for (uint64_t c = 0; c < combinations; ++c) {
    std::vector<Value> values(spec.parameters.size());
    uint64_t rest = c;
    // Product: the last parameter varies fastest (nested loops in the order written).
    for (size_t j = spec.parameters.size(); j-- > 0;) {
      const auto& vs = spec.parameters[j].values;
      const uint64_t k = spec.mode == Mode::zip ? c : rest % vs.size();
      if (spec.mode == Mode::product) rest /= vs.size();
      values[j] = vs[k];
    }
    for (uint64_t r = 0; r < spp; ++r) {
      Point p;
      p.index = c * spp + r;
      p.combination = c;
      p.replicate = r;
      // Config seeds are non-negative TOML (signed 64-bit) integers: keep the top 63 bits.
      p.seed = rng::derive_seed(master_seed, seed_purpose, p.index) >> 1;
      p.values = values;
      p.folder = fmt::format("points/{:0{}}", p.index, width);
      points.push_back(std::move(p));
    }
  }
  return points;
}

std::vector<std::string> overrides(const Spec& spec, const Point& point) {
  std::vector<std::string> out;
  for (size_t j = 0; j < spec.parameters.size(); ++j)
    out.push_back(spec.parameters[j].key + "=" + toml_literal(point.values[j]));
  return out;
}

void validate_points(const ConfigDocument& base, const Spec& spec, const std::vector<Point>& points,
                     const std::function<void(const ConfigDocument&)>& validate) {
  for (const auto& point : points) {
    if (point.replicate != 0) continue;  // replicates differ only in the seed
    const auto sets = overrides(spec, point);
    std::string values;
    for (size_t j = 0; j < sets.size(); ++j) values += (j ? ", " : "") + sets[j];
    auto located = [&](size_t j, const std::string& msg) {
      const auto& p = spec.parameters[j];
      std::string text = fmt::format("at point {} ({}): {}", point.index, values, msg);
      if (std::holds_alternative<double>(point.values[j]) &&
          msg.find("expected an integer") != std::string::npos)
        text += " (for whole numbers write integers in the list, or add integer = true to a "
                "linspace/logspace)";
      return InputError(p.file, p.line, p.line > 0 ? parameter_key(p.key) : p.key, text);
    };
    ConfigDocument doc = base;
    for (size_t j = 0; j < sets.size(); ++j) {
      try {
        apply_override(doc, sets[j]);
      } catch (const InputError& e) {
        throw located(j, e.what());
      }
    }
    try {
      validate(doc);
    } catch (const InputError& e) {
      // An error about a swept key (or something inside it) belongs to that parameter.
      for (size_t j = 0; j < sets.size(); ++j) {
        const std::string& key = spec.parameters[j].key;
        if (e.key == key || e.key.rfind(key + ".", 0) == 0) throw located(j, e.what());
      }
      throw InputError(e.file, e.line, e.key, fmt::format("at point {} ({}): {}", point.index, values, e.what()));
    }
  }
}

namespace {
toml::array to_toml_array(const std::vector<Value>& values) {
  toml::array a;
  for (const auto& v : values) std::visit([&](const auto& x) { a.push_back(x); }, v);
  return a;
}
}  // namespace

std::string describe(const Spec& spec, uint64_t master_seed, const std::vector<Point>& points) {
  toml::table t;
  t.insert("mode", spec.mode == Mode::zip ? "zip" : "product");
  t.insert("seeds_per_point", spec.seeds_per_point);
  // TOML integers are signed 64-bit; the seed is kept as its decimal text.
  t.insert("master_seed", fmt::format("{}", master_seed));
  t.insert("points", static_cast<int64_t>(points.size()));
  toml::array keys;
  toml::table values;
  for (const auto& p : spec.parameters) {
    keys.push_back(p.key);
    values.insert(p.key, to_toml_array(p.values));
  }
  t.insert("parameters", std::move(keys));
  t.insert("values", std::move(values));
  return "# The sweep this folder holds; `snnsim sweep --resume` refuses a different one.\n" +
         to_toml(t);
}

// ------------------------------------------------------------------ index

const char* status_name(Status s) {
  switch (s) {
    case Status::done: return "done";
    case Status::failed: return "failed";
    default: return "pending";
  }
}

bool run_complete(const fs::path& spikes_h5) {
  std::error_code ec;
  if (!fs::is_regular_file(spikes_h5, ec)) return false;
  try {
    auto f = h5::File::open_read_only(spikes_h5.string());
    if (!f.is_group("run")) return false;
    return f.open_group("run").read_attribute<uint8_t>("complete") == 1;
  } catch (const h5::Error&) {
    return false;
  }
}

std::map<std::string, double> read_metrics(const fs::path& spikes_h5) {
  std::map<std::string, double> out;
  auto f = h5::File::open_read_only(spikes_h5.string());
  if (!f.is_group("metrics")) return out;
  const auto g = f.open_group("metrics");
  for (const auto& name : g.attribute_names()) out[name] = g.read_attribute<double>(name);
  return out;
}

namespace {

struct Column {
  enum class Kind { u64, i32, f64, u8, strings };
  explicit Column(std::string name_, Kind kind_ = Kind::strings)
      : name(std::move(name_)), kind(kind_) {}
  std::string name;
  std::vector<std::string> text;  // CSV cells
  // One of these holds the HDF5 data.
  std::vector<uint64_t> u64;
  std::vector<int32_t> i32;
  std::vector<double> f64;
  std::vector<uint8_t> u8;
  std::vector<std::string> strings;
  Kind kind;
};

Column parameter_column(const Parameter& p, const std::vector<Point>& points, size_t j) {
  Column c("param." + p.key);
  bool all_bool = true, all_uint = true, all_number = true;
  for (const auto& v : p.values) {
    all_bool &= std::holds_alternative<bool>(v);
    all_uint &= std::holds_alternative<int64_t>(v) && std::get<int64_t>(v) >= 0;
    all_number &= std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
  }
  for (const auto& pt : points) {
    const Value& v = pt.values[j];
    c.text.push_back(display(v));
    if (all_bool) c.u8.push_back(std::get<bool>(v) ? 1 : 0);
    else if (all_uint) c.u64.push_back(static_cast<uint64_t>(std::get<int64_t>(v)));
    else if (all_number)
      c.f64.push_back(std::holds_alternative<double>(v) ? std::get<double>(v)
                                                        : static_cast<double>(std::get<int64_t>(v)));
    else c.strings.push_back(display(v));
  }
  c.kind = all_bool ? Column::Kind::u8
           : all_uint ? Column::Kind::u64
           : all_number ? Column::Kind::f64
                        : Column::Kind::strings;
  return c;
}

}  // namespace

void write_index(const fs::path& dir, const Spec& spec, const std::vector<Point>& points,
                 const std::vector<PointResult>& results) {
  std::vector<Column> cols;
  Column point("point", Column::Kind::u64), status("status"), seed("seed", Column::Kind::u64),
      folder("folder");
  for (size_t i = 0; i < points.size(); ++i) {
    point.u64.push_back(points[i].index);
    point.text.push_back(fmt::format("{}", points[i].index));
    status.strings.push_back(status_name(results[i].status));
    seed.u64.push_back(points[i].seed);
    seed.text.push_back(fmt::format("{}", points[i].seed));
    folder.strings.push_back(points[i].folder);
  }
  status.text = status.strings;
  folder.text = folder.strings;
  cols.push_back(std::move(point));
  cols.push_back(std::move(status));
  cols.push_back(std::move(seed));
  cols.push_back(std::move(folder));
  for (size_t j = 0; j < spec.parameters.size(); ++j)
    cols.push_back(parameter_column(spec.parameters[j], points, j));
  std::set<std::string> metric_names;
  for (const auto& r : results)
    for (const auto& [name, value] : r.metrics) metric_names.insert(name);
  for (const auto& name : metric_names) {
    Column c("metric." + name, Column::Kind::f64);
    for (const auto& r : results) {
      const auto it = r.metrics.find(name);
      c.f64.push_back(it == r.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
      c.text.push_back(number_text(c.f64.back()));
    }
    cols.push_back(std::move(c));
  }
  Column code("exit_code", Column::Kind::i32), error("error");
  for (const auto& r : results) {
    code.i32.push_back(r.exit_code);
    code.text.push_back(fmt::format("{}", r.exit_code));
    error.strings.push_back(r.error);
  }
  error.text = error.strings;
  cols.push_back(std::move(code));
  cols.push_back(std::move(error));

  std::string csv;
  for (size_t k = 0; k < cols.size(); ++k) {
    if (k) csv += ',';
    csv += csv_cell(cols[k].name);
  }
  csv += "\n";
  for (size_t i = 0; i < points.size(); ++i) {
    for (size_t k = 0; k < cols.size(); ++k) {
      if (k) csv += ',';
      csv += csv_cell(cols[k].text[i]);
    }
    csv += "\n";
  }
  write_text_atomically(dir / "index.csv", csv);

  const fs::path tmp = dir / ".tmp-index.h5";
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    auto f = h5::File::create(tmp.string());
    auto g = f.create_group("points");
    for (const auto& c : cols) {
      switch (c.kind) {
        case Column::Kind::u64: g.write_dataset<uint64_t>(c.name, c.u64); break;
        case Column::Kind::i32: g.write_dataset<int32_t>(c.name, c.i32); break;
        case Column::Kind::f64: g.write_dataset<double>(c.name, c.f64); break;
        case Column::Kind::u8: g.write_dataset<uint8_t>(c.name, c.u8); break;
        case Column::Kind::strings: g.write_dataset(c.name, c.strings); break;
      }
    }
    f.close();
  }
  fs::rename(tmp, dir / "index.h5", ec);
  if (ec)
    throw std::runtime_error(fmt::format("{}: cannot rename into place: {}", (dir / "index.h5").string(),
                                         ec.message()));
}

}  // namespace sim::sweep
