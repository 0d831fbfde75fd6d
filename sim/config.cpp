#include "sim/config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>

#include "models/izhikevich.hpp"
#include "sim/network.hpp"
#include "sim/time.hpp"

namespace sim {

namespace {

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

std::string value_text(const toml::node& n) {
  std::ostringstream os;
  n.visit([&](auto&& v) { os << v; });
  std::string s = os.str();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // A typo is at most a third of the word's letters away (and at least one edit allowed).
  if (best && best_d <= std::max<size_t>(2, word.size() / 3)) return best;
  return std::nullopt;
}

ConfigDocument load_config(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw InputError(path, 0, "", "config file not found");
  if (std::filesystem::is_directory(path, ec))
    throw InputError(path, 0, "", "expected a TOML config file, got a directory");
  try {
    return ConfigDocument{path, toml::parse_file(path)};
  } catch (const toml::parse_error& e) {
    throw InputError(path, static_cast<int>(e.source().begin.line), "",
                     fmt::format("TOML syntax error: {}", e.description()));
  }
}

ConfigDocument parse_config(std::string_view text, const std::string& name) {
  try {
    return ConfigDocument{name, toml::parse(text, name)};
  } catch (const toml::parse_error& e) {
    throw InputError(name, static_cast<int>(e.source().begin.line), "",
                     fmt::format("TOML syntax error: {}", e.description()));
  }
}

namespace {

// The table that holds the last segment of dotted `key` (returned with the segments), walking
// tables and selecting elements of arrays of tables by name or position; missing tables are
// created when `create`, and are an error otherwise.
toml::table* parent_of(ConfigDocument& doc, const std::string& key, const std::string& origin,
                       bool create, std::vector<std::string>& parts) {
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw InputError(origin, 0, key, "empty segment in dotted key");
    parts.push_back(p);
  }
  toml::table* t = &doc.root;
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + parts[i];
    toml::node* n = t->get(parts[i]);
    if (!n && !create)
      throw InputError(origin, 0, key, fmt::format("the config has no '{}' to remove", walked));
    if (!n) {
      // A table parsed from the origin text (rather than a bare toml::table{}) so that
      // messages about it name the --set, not the config file.
      toml::table fresh = toml::parse("v = {}", origin);
      t->insert(parts[i], std::move(*fresh.get_as<toml::table>("v")));
      n = t->get(parts[i]);
    }
    if (auto* tt = n->as_table()) {
      t = tt;
      continue;
    }
    if (auto* arr = n->as_array(); arr && i + 2 < parts.size()) {
      // Select the element of an array of tables by its name, or by its 0-based position
      // when it is a number (elements need not have a name).
      const std::string& wanted = parts[i + 1];
      toml::table* found = nullptr;
      std::vector<std::string> names;
      size_t position = 0;
      const bool numeric = wanted.find_first_not_of("0123456789") == std::string::npos;
      for (auto& el : *arr) {
        if (auto* et = el.as_table()) {
          const auto nm = (*et)["name"].value<std::string>();
          if (nm) names.push_back(*nm);
          if ((nm && *nm == wanted) || (numeric && std::to_string(position) == wanted)) found = et;
        }
        ++position;
      }
      if (!found) {
        std::string msg = fmt::format("no element named '{}' in [[{}]]", wanted, walked);
        if (auto c = closest(wanted, names))
          msg += fmt::format(" (did you mean '{}'?)", *c);
        else
          msg += arr->empty() ? std::string(" (it is empty)")
                              : fmt::format(" (select one by name, or by position 0..{})",
                                            arr->size() - 1);
        throw InputError(origin, 0, key, msg);
      }
      t = found;
      ++i;
      walked += "." + wanted;
      continue;
    }
    throw InputError(origin, 0, key, fmt::format("'{}' is not a table", walked));
  }
  return t;
}

}  // namespace

void apply_override(ConfigDocument& doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string origin = "--set " + assignment;
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin, 0, "", "expected --set dotted.key=value");
  const std::string key = assignment.substr(0, eq);
  const std::string value_text_in = assignment.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value_text_in, origin);
  } catch (const toml::parse_error&) {
    // Not a TOML value: take it as a bare string (--set population.exc.integrator=euler).
    std::string quoted = "\"";
    for (char ch : value_text_in) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    quoted += '"';
    try {
      parsed = toml::parse("v = " + quoted, origin);
    } catch (const toml::parse_error& e) {
      throw InputError(origin, 0, key, fmt::format("cannot read the value: {}", e.description()));
    }
  }
  std::vector<std::string> parts;
  toml::table* t = parent_of(doc, key, origin, true, parts);
  // Moved, not copied: toml++ copies drop the source region, and messages about the
  // value must name the --set it came from.
  t->insert_or_assign(parts.back(), std::move(*parsed.get("v")));
}

void apply_removal(ConfigDocument& doc, const std::string& key) {
  const std::string origin = "--unset " + key;
  if (key.empty() || key.find('=') != std::string::npos)
    throw InputError(origin, 0, key, "expected --unset dotted.key (no value)");
  std::vector<std::string> parts;
  toml::table* t = parent_of(doc, key, origin, false, parts);
  if (!t->contains(parts.back()))
    throw InputError(origin, 0, key, fmt::format("the config has no '{}' to remove", key));
  t->erase(parts.back());
}

// ---------------------------------------------------------------------------------------

TableReader::TableReader(const toml::table& table, std::string path, const std::string& file,
                         toml::table& resolved)
    : table_(&table), path_(std::move(path)), file_(&file), resolved_(&resolved) {}

std::string TableReader::dotted(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

int TableReader::line_of(std::string_view key) const {
  if (!key.empty())
    if (const toml::node* n = table_->get(key)) return static_cast<int>(n->source().begin.line);
  return static_cast<int>(table_->source().begin.line);
}

std::string TableReader::file_of(std::string_view key) const {
  const toml::node* n = key.empty() ? nullptr : table_->get(key);
  const auto& src = n ? n->source() : table_->source();
  // Values that came from --set carry their own origin.
  if (src.path && !src.path->empty() && src.path->rfind("--set", 0) == 0) return *src.path;
  return *file_;
}

void TableReader::fail(std::string_view key, const std::string& message) const {
  const std::string file = file_of(key);
  const int line = file.rfind("--set", 0) == 0 ? 0 : line_of(key);
  throw InputError(file, line, dotted(key), message);
}

const toml::node& TableReader::need(std::string_view key) const {
  const toml::node* n = table_->get(key);
  if (!n) fail("", fmt::format("missing required key '{}'", dotted(key)));
  return *n;
}

template <typename T>
void TableReader::put(std::string_view key, T&& value) {
  resolved_->insert_or_assign(key, std::forward<T>(value));
}

double TableReader::number(std::string_view key, std::optional<double> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  double v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (auto d = n->value<double>(); d && (n->is_floating_point() || n->is_integer())) {
    v = *d;
  } else {
    fail(key, fmt::format("expected a number, got {} ({})", type_name(*n), value_text(*n)));
  }
  if (!std::isfinite(v)) fail(key, "expected a finite number");
  put(key, v);
  return v;
}

int64_t TableReader::integer(std::string_view key, std::optional<int64_t> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  int64_t v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (n->is_integer()) {
    v = *n->value<int64_t>();
  } else {
    fail(key, fmt::format("expected an integer, got {} ({})", type_name(*n), value_text(*n)));
  }
  put(key, v);
  return v;
}

bool TableReader::boolean(std::string_view key, std::optional<bool> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  bool v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (n->is_boolean()) {
    v = *n->value<bool>();
  } else {
    fail(key, fmt::format("expected true or false, got {} ({})", type_name(*n), value_text(*n)));
  }
  put(key, v);
  return v;
}

std::string TableReader::string(std::string_view key, std::optional<std::string> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  std::string v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (n->is_string()) {
    v = *n->value<std::string>();
  } else {
    fail(key, fmt::format("expected a string, got {} ({})", type_name(*n), value_text(*n)));
  }
  put(key, v);
  return v;
}

std::string TableReader::choice(std::string_view key, const std::vector<std::string>& choices,
                                std::optional<std::string> fallback) {
  const std::string v = string(key, fallback);
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
  std::string msg = fmt::format("expected one of {}, got \"{}\"", list, v);
  if (auto c = closest(v, choices)) msg += fmt::format(" (did you mean \"{}\"?)", *c);
  fail(key, msg);
}

std::vector<double> TableReader::numbers(std::string_view key,
                                         std::optional<std::vector<double>> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  std::vector<double> v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (const auto* arr = n->as_array()) {
    for (const auto& el : *arr) {
      const auto d = el.value<double>();
      if (!d || !(el.is_floating_point() || el.is_integer()) || !std::isfinite(*d))
        fail(key, fmt::format("expected an array of numbers, found {} ({})", type_name(el),
                              value_text(el)));
      v.push_back(*d);
    }
  } else {
    fail(key, fmt::format("expected an array of numbers, got {}", type_name(*n)));
  }
  toml::array out;
  for (double x : v) out.push_back(x);
  put(key, std::move(out));
  return v;
}

std::vector<int64_t> TableReader::integers(std::string_view key,
                                           std::optional<std::vector<int64_t>> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  std::vector<int64_t> v;
  if (!n) {
    if (!fallback) need(key);
    v = *fallback;
  } else if (const auto* arr = n->as_array()) {
    for (const auto& el : *arr) {
      if (!el.is_integer())
        fail(key, fmt::format("expected an array of integers, found {} ({})", type_name(el),
                              value_text(el)));
      v.push_back(*el.value<int64_t>());
    }
  } else {
    fail(key, fmt::format("expected an array of integers, got {}", type_name(*n)));
  }
  toml::array out;
  for (int64_t x : v) out.push_back(x);
  put(key, std::move(out));
  return v;
}

Distribution TableReader::distribution(std::string_view key, std::optional<Distribution> fallback) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  Distribution d;
  if (!n) {
    if (!fallback) need(key);
    d = *fallback;
  } else if (n->is_integer() || n->is_floating_point()) {
    d = Distribution::constant_value(*n->value<double>());
    if (!std::isfinite(d.p1)) fail(key, "expected a finite number");
  } else if (const auto* t = n->as_table()) {
    toml::table mirror;
    TableReader r(*t, dotted(key), *file_, mirror);
    const std::string kind = r.choice(
        "dist", {"constant", "uniform", "normal", "lognormal", "loguniform", "uniform_int"});
    using K = Distribution::Kind;
    if (kind == "constant") {
      d = {K::constant, r.number("value"), 0};
    } else if (kind == "uniform" || kind == "loguniform" || kind == "uniform_int") {
      d = {kind == "uniform" ? K::uniform : kind == "loguniform" ? K::loguniform : K::uniform_int,
           r.number("low"), r.number("high")};
      if (!(d.p1 <= d.p2)) r.fail("high", fmt::format("expected high >= low ({})", d.p1));
      if (kind == "loguniform" && !(d.p1 > 0)) r.fail("low", "expected low > 0 for loguniform");
      if (kind == "uniform_int" && (d.p1 != std::floor(d.p1) || d.p2 != std::floor(d.p2)) &&
          key != "delay_ms")
        r.fail("low", "expected whole numbers for uniform_int");
    } else if (kind == "normal") {
      d = {K::normal, r.number("mean"), r.number("sd")};
      if (!(d.p2 >= 0)) r.fail("sd", "expected sd >= 0");
    } else {
      d = {K::lognormal, r.number("mu"), r.number("sigma")};
      if (!(d.p2 >= 0)) r.fail("sigma", "expected sigma >= 0");
    }
    r.finish();
    put(key, std::move(mirror));
    return d;
  } else {
    fail(key, fmt::format("expected a number or a distribution table such as "
                          "{{ dist = \"uniform\", low = 0, high = 1 }}, got {}",
                          type_name(*n)));
  }
  if (d.kind == Distribution::Kind::constant) {
    put(key, d.p1);
  } else {
    toml::table t;
    const char* names[] = {"constant", "uniform", "normal", "lognormal", "loguniform", "uniform_int"};
    t.insert("dist", names[static_cast<int>(d.kind)]);
    t.insert("p1", d.p1);
    t.insert("p2", d.p2);
    put(key, std::move(t));
  }
  return d;
}

TableReader TableReader::table(std::string_view key, bool required) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  static const toml::table empty;
  const toml::table* t = &empty;
  if (!n) {
    if (required) need(key);
  } else if (!(t = n->as_table())) {
    fail(key, fmt::format("expected a table, got {}", type_name(*n)));
  }
  resolved_->insert_or_assign(key, toml::table{});
  return TableReader(*t, dotted(key), *file_, *resolved_->get_as<toml::table>(key));
}

std::vector<TableReader> TableReader::tables(std::string_view key, bool required) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  std::vector<TableReader> out;
  if (!n) {
    if (required) need(key);
    return out;
  }
  const auto* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables())
    fail(key, fmt::format("expected an array of tables ([[{}]]), got {}", key, type_name(*n)));
  toml::array mirror;
  for (size_t i = 0; i < arr->size(); ++i) mirror.push_back(toml::table{});
  resolved_->insert_or_assign(key, std::move(mirror));
  auto* m = resolved_->get_as<toml::array>(key);
  for (size_t i = 0; i < arr->size(); ++i) {
    const auto* t = arr->get(i)->as_table();
    const auto nm = (*t)["name"].value<std::string>();
    const std::string label = nm ? fmt::format("{}.{}", key, *nm) : fmt::format("{}[{}]", key, i);
    out.emplace_back(*t, dotted(label), *file_, *m->get(i)->as_table());
  }
  return out;
}

const toml::node* TableReader::raw(std::string_view key) {
  used_.insert(std::string(key));
  const toml::node* n = table_->get(key);
  if (n) resolved_->insert_or_assign(key, *n);
  return n;
}

void TableReader::finish() const {
  std::vector<std::string> known(used_.begin(), used_.end());
  for (auto&& [k, v] : *table_) {
    const std::string key(k.str());
    if (used_.count(key)) continue;
    std::string msg = fmt::format("unknown key '{}'", dotted(key));
    if (auto c = closest(key, known)) msg += fmt::format(" (did you mean '{}'?)", *c);
    const std::string file = file_of(key);
    throw InputError(file, file.rfind("--set", 0) == 0 ? 0 : line_of(key), dotted(key), msg);
  }
}

std::string to_toml(const toml::table& t) {
  std::ostringstream os;
  os << t << "\n";
  return os.str();
}

// ---------------------------------------------------------------------------------------
// Network section

void check_poisson_per_step(TableReader& r, std::string_view key, double rate_hz, double dt_ms,
                            std::string_view advice) {
  const double per_step = rate_hz * dt_ms * 1e-3;
  if (per_step > kMaxPoissonPerStep)
    r.fail(key, fmt::format("{} Hz at dt = {} ms is {} input spikes per step; at most {} are "
                            "supported{}",
                            rate_hz, dt_ms, per_step, kMaxPoissonPerStep, advice));
}

namespace {

namespace iz = models::izhikevich;

constexpr uint64_t kMaxDelaySteps = uint64_t{1} << 20;

Step steps_of(TableReader& r, std::string_view key, double ms, double dt_ms) {
  // Beyond 2^53 steps a double no longer tells whole steps apart, and the step counter's
  // conversion would overflow: such a run would never end.
  if (ms / dt_ms > 0x1p53)
    r.fail(key, fmt::format("{} ms is more than 2^53 steps of dt = {} ms", ms, dt_ms));
  const auto s = steps_exact(ms, dt_ms);
  if (!s) r.fail(key, fmt::format("{} ms is not a whole number of steps of dt = {} ms", ms, dt_ms));
  return *s;
}

void check_delay(TableReader& r, std::string_view key, const Distribution& d, double dt_ms) {
  using K = Distribution::Kind;
  if (d.kind != K::constant && d.kind != K::uniform_int)
    r.fail(key, "expected a constant delay or { dist = \"uniform_int\", low = .., high = .. } "
                "(delays are whole numbers of steps)");
  for (double ms : {d.p1, d.kind == K::uniform_int ? d.p2 : d.p1}) {
    if (!(ms > 0)) r.fail(key, fmt::format("expected a delay > 0 ms, got {}", ms));
    steps_of(r, key, ms, dt_ms);
  }
}

PopulationSpec read_population(TableReader& r, std::set<std::string>& names, double dt_ms) {
  PopulationSpec p;
  p.name = r.string("name");
  if (p.name.empty() || p.name.find_first_of("/. ") != std::string::npos)
    r.fail("name", "expected a non-empty name without '/', '.' or spaces");
  if (!names.insert(p.name).second) r.fail("name", fmt::format("duplicate population '{}'", p.name));
  const int64_t size = r.integer("size");
  if (size <= 0 || size > (int64_t{1} << 30))
    r.fail("size", fmt::format("expected 1 <= size <= 2^30 neurons, got {}", size));
  p.size = static_cast<uint32_t>(size);
  const std::string integ = r.choice(
      "integrator", {"izhikevich2003", "izhikevich2003_clipped", "euler", "rk4", "dopri5"},
      "izhikevich2003");
  p.integrator = *iz::parse_integrator(integ);
  const std::string het = r.choice(
      "heterogeneity", {"none", "izhikevich2003_excitatory", "izhikevich2003_inhibitory"}, "none");
  p.heterogeneity = het == "none" ? Heterogeneity::none
                    : het == "izhikevich2003_excitatory" ? Heterogeneity::izhikevich2003_excitatory
                                                         : Heterogeneity::izhikevich2003_inhibitory;
  iz::Params base{0.02, 0.2, -65.0, 8.0};
  if (r.has("preset")) {
    const std::string name = r.choice("preset", {"RS", "IB", "CH", "FS", "LTS", "TC", "RZ"});
    base = *iz::preset(name);
  }
  p.a = r.distribution("a", Distribution::constant_value(base.a));
  p.b = r.distribution("b", Distribution::constant_value(base.b));
  p.c_mV = r.distribution("c_mV", Distribution::constant_value(base.c_mV));
  p.d = r.distribution("d", Distribution::constant_value(base.d));
  p.v_peak_mV = r.number("v_peak_mV", 30.0);
  p.v0_mV = r.distribution("v0_mV", Distribution::constant_value(-65.0));

  TableReader syn = r.table("synapse");
  const std::string kind = syn.choice("kind", {"delta", "exponential"}, "delta");
  p.synapse.kind = kind == "delta" ? SynapseSpec::Kind::delta : SynapseSpec::Kind::exponential;
  if (p.synapse.kind == SynapseSpec::Kind::exponential) {
    p.synapse.tau_ms = syn.number("tau_ms", 5.0);
    if (!(p.synapse.tau_ms > 0)) syn.fail("tau_ms", "expected tau_ms > 0");
  }
  syn.finish();

  TableReader drive = r.table("drive");
  p.drive.mean = drive.number("mean", 0.0);
  p.drive.noise_sigma = drive.number("noise_sigma", 0.0);
  if (p.drive.noise_sigma < 0) drive.fail("noise_sigma", "expected noise_sigma >= 0");
  p.drive.poisson_rate_hz = drive.number("poisson_rate_hz", 0.0);
  if (p.drive.poisson_rate_hz < 0) drive.fail("poisson_rate_hz", "expected a rate >= 0 Hz");
  check_poisson_per_step(drive, "poisson_rate_hz", p.drive.poisson_rate_hz, dt_ms,
                         " (model many inputs as several populations or a mean plus noise "
                         "current)");
  p.drive.poisson_weight = drive.number("poisson_weight", 0.0);
  drive.finish();

  TableReader ad = r.table("adaptation");
  p.adaptation.enabled = ad.boolean("enabled", false);
  if (p.adaptation.enabled) {
    p.adaptation.tau_ms = ad.distribution("tau_ms", Distribution::constant_value(500.0));
    if (p.adaptation.tau_ms.kind == Distribution::Kind::constant && !(p.adaptation.tau_ms.p1 > 0))
      ad.fail("tau_ms", "expected tau_ms > 0");
    if (p.adaptation.tau_ms.kind != Distribution::Kind::constant &&
        p.adaptation.tau_ms.kind != Distribution::Kind::loguniform &&
        !(p.adaptation.tau_ms.p1 > 0 && p.adaptation.tau_ms.kind == Distribution::Kind::uniform))
      ad.fail("tau_ms", "expected a constant, a loguniform, or a uniform distribution with low > 0");
    p.adaptation.increment = ad.number("increment", 0.0);
  }
  ad.finish();
  r.finish();
  return p;
}

uint32_t population_ref(TableReader& r, std::string_view key, const std::vector<PopulationSpec>& pops) {
  const std::string name = r.string(key);
  std::vector<std::string> names;
  for (uint32_t i = 0; i < pops.size(); ++i) {
    if (pops[i].name == name) return i;
    names.push_back(pops[i].name);
  }
  std::string msg = fmt::format("no population named '{}'", name);
  if (auto c = closest(name, names)) msg += fmt::format(" (did you mean '{}'?)", *c);
  r.fail(key, msg);
}

ProjectionSpec read_projection(TableReader& r, const std::vector<PopulationSpec>& pops,
                               double dt_ms, size_t index) {
  ProjectionSpec p;
  p.source = population_ref(r, "source", pops);
  p.target = population_ref(r, "target", pops);
  p.name = r.string("name", fmt::format("{}_to_{}_{}", pops[p.source].name, pops[p.target].name, index));
  const std::string rule = r.choice(
      "rule", {"all_to_all", "fixed_probability", "fixed_outdegree", "fixed_indegree", "explicit"});
  using R = ProjectionSpec::Rule;
  const uint32_t n_src = pops[p.source].size, n_tgt = pops[p.target].size;
  p.allow_autapses = r.boolean("autapses", true);
  p.allow_multapses = r.boolean("multapses", false);
  const bool same = p.source == p.target;
  if (rule == "all_to_all") {
    p.rule = R::all_to_all;
  } else if (rule == "fixed_probability") {
    p.rule = R::fixed_probability;
    p.probability = r.number("probability");
    if (!(p.probability >= 0 && p.probability <= 1))
      r.fail("probability", fmt::format("expected a probability in [0, 1], got {}", p.probability));
  } else if (rule == "fixed_outdegree" || rule == "fixed_indegree") {
    const bool out = rule == "fixed_outdegree";
    p.rule = out ? R::fixed_outdegree : R::fixed_indegree;
    const char* key = out ? "outdegree" : "indegree";
    const int64_t k = r.integer(key);
    const uint32_t candidates = (out ? n_tgt : n_src) - (same && !p.allow_autapses ? 1 : 0);
    if (k < 0) r.fail(key, fmt::format("expected {} >= 0, got {}", key, k));
    if (k > UINT32_MAX) r.fail(key, fmt::format("expected {} < 2^32, got {}", key, k));
    if (k > 0 && candidates == 0)
      r.fail(key, fmt::format("{} {} but there is no candidate (a single neuron without autapses)",
                              key, k));
    if (!p.allow_multapses && k > candidates)
      r.fail(key, fmt::format("{} {} exceeds the {} distinct candidates (set multapses = true "
                              "to allow repeats)", key, k, candidates));
    p.degree = static_cast<uint32_t>(k);
  } else {
    p.rule = R::explicit_list;
    const toml::node* n = r.raw("connections");
    if (!n) r.fail("", "rule \"explicit\" needs connections = [[source, target, weight, delay_ms], ...]");
    const auto* arr = n->as_array();
    if (!arr) r.fail("connections", "expected an array of [source, target, weight, delay_ms]");
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* row = arr->get(i)->as_array();
      auto num = [&](size_t j) -> std::optional<double> {
        if (!row || j >= row->size()) return std::nullopt;
        return row->get(j)->value<double>();
      };
      if (!row || row->size() != 4 || !num(0) || !num(1) || !num(2) || !num(3))
        r.fail("connections", fmt::format("entry {}: expected [source, target, weight, delay_ms]", i));
      ConnectionTriple c;
      const double s = *num(0), t = *num(1);
      if (s < 0 || s >= n_src || s != std::floor(s))
        r.fail("connections", fmt::format("entry {}: source {} is not a neuron of '{}' (0..{})", i, s,
                                          pops[p.source].name, n_src - 1));
      if (t < 0 || t >= n_tgt || t != std::floor(t))
        r.fail("connections", fmt::format("entry {}: target {} is not a neuron of '{}' (0..{})", i, t,
                                          pops[p.target].name, n_tgt - 1));
      c.source = static_cast<uint32_t>(s);
      c.target = static_cast<uint32_t>(t);
      c.weight = *num(2);
      c.delay_ms = *num(3);
      if (!(c.delay_ms > 0))
        r.fail("connections", fmt::format("entry {}: expected a delay > 0 ms, got {}", i, c.delay_ms));
      if (!steps_exact(c.delay_ms, dt_ms))
        r.fail("connections", fmt::format("entry {}: delay {} ms is not a whole number of steps of "
                                          "dt = {} ms", i, c.delay_ms, dt_ms));
      p.connections.push_back(c);
    }
  }
  if (p.rule != R::explicit_list) {
    p.weight = r.distribution("weight", std::nullopt);
    p.delay_ms = r.distribution("delay_ms", Distribution::constant_value(dt_ms));
    check_delay(r, "delay_ms", p.delay_ms, dt_ms);
  }
  // Delays are bounded (2^20 steps is 105 s at dt = 0.1 ms); what they cost in the engine's
  // synapse code and charge rings is checked with the whole network (read_network_config).
  double max_delay_ms = p.rule == R::explicit_list                         ? 0.0
                        : p.delay_ms.kind == Distribution::Kind::uniform_int ? p.delay_ms.p2
                                                                             : p.delay_ms.p1;
  for (const auto& c : p.connections) max_delay_ms = std::max(max_delay_ms, c.delay_ms);
  const double max_delay_steps = std::round(max_delay_ms / dt_ms);
  if (max_delay_steps > static_cast<double>(kMaxDelaySteps))
    r.fail(p.rule == R::explicit_list ? "connections" : "delay_ms",
           fmt::format("the longest delay, {} ms, is {:.0f} steps of dt = {} ms: more than the "
                       "{} steps (2^20) a delay can have",
                       max_delay_ms, max_delay_steps, dt_ms, kMaxDelaySteps));
  if (r.has("plasticity")) {
    TableReader pl = r.table("plasticity");
    const std::string rule = pl.choice("rule", {"none", "rstdp", "three_factor"}, "none");
    if (rule == "three_factor") {
      // models/three_factor.hpp defaults, every one overridable.
      auto& q = p.plasticity.three_factor;
      p.plasticity.rule = PlasticitySpec::Rule::three_factor;
      q.eta = pl.number("eta", q.eta);
      if (!(q.eta >= 0)) pl.fail("eta", "expected eta >= 0");
      for (auto [key, ref] : {std::pair{"tau_e_ms", &q.tau_e_ms}, std::pair{"tau_pre_ms", &q.tau_pre_ms},
                              std::pair{"tau_post_ms", &q.tau_post_ms}}) {
        *ref = pl.number(key, *ref);
        if (!(*ref > 0)) pl.fail(key, fmt::format("expected {} > 0", key));
      }
      q.a_pre = pl.number("a_pre", q.a_pre);
      q.a_post_pre = pl.number("a_post_pre", q.a_post_pre);
      q.a_pre_post = pl.number("a_pre_post", q.a_pre_post);
      const std::string mode = pl.choice("mode", {"online", "consolidation"}, "online");
      q.mode = mode == "online" ? models::plasticity::LearningMode::online
                                : models::plasticity::LearningMode::consolidation;
      q.bounds.w_min = pl.number("w_min", -1e300);
      q.bounds.w_max = pl.number("w_max", 1e300);
      if (!(q.bounds.w_min <= q.bounds.w_max)) pl.fail("w_max", "expected w_min <= w_max");
    }
    if (rule == "rstdp") {
      // Izhikevich 2007 defaults (models/rstdp.hpp), every one overridable.
      auto& q = p.plasticity.rstdp;
      p.plasticity.rule = PlasticitySpec::Rule::rstdp;
      q.a_plus = pl.number("a_plus", q.a_plus);
      q.a_minus = pl.number("a_minus", q.a_minus);
      for (auto [key, ref] : {std::pair{"tau_plus_ms", &q.tau_plus_ms}, std::pair{"tau_minus_ms", &q.tau_minus_ms},
                              std::pair{"tau_c_ms", &q.tau_c_ms}, std::pair{"tau_d_ms", &q.tau_d_ms}}) {
        *ref = pl.number(key, *ref);
        if (!(*ref > 0)) pl.fail(key, fmt::format("expected {} > 0", key));
      }
      q.d_tonic = pl.number("d_tonic", q.d_tonic);
      q.eta_per_ms = pl.number("eta_per_ms", q.eta_per_ms);
      q.bounds.w_min = pl.number("w_min", q.bounds.w_min);
      q.bounds.w_max = pl.number("w_max", q.bounds.w_max);
      if (!(q.bounds.w_min <= q.bounds.w_max)) pl.fail("w_max", "expected w_min <= w_max");
      const std::string pairing = pl.choice("pairing", {"all_to_all", "nearest"}, "all_to_all");
      q.pairing = pairing == "nearest" ? models::plasticity::StdpPairing::nearest
                                       : models::plasticity::StdpPairing::all_to_all;
    }
    if (rule != "none") {
      const bool constant_delay =
          p.rule == R::explicit_list
              ? std::all_of(p.connections.begin(), p.connections.end(),
                            [&](const ConnectionTriple& c) { return c.delay_ms == p.connections.front().delay_ms; })
              : p.delay_ms.kind == Distribution::Kind::constant;
      if (!constant_delay)
        pl.fail("rule", "plasticity needs a constant delay in its projection (per-neuron "
                        "presynaptic traces are stamped at arrival)");
    }
    pl.finish();
  }
  r.finish();
  return p;
}

}  // namespace

namespace {

// What delays cost in the engine (sim/network.hpp): a static sparse synapse packs target
// and delay into 32 bits, and each population keeps a charge ring of one row of its neurons
// per step of its longest incoming delay. Both are refused here, at the delay's key, rather
// than failing at network construction or running out of memory.
void check_delay_costs(std::vector<TableReader>& readers, const NetworkSpec& net) {
  using R = ProjectionSpec::Rule;
  auto key_of = [](const ProjectionSpec& p) { return p.rule == R::explicit_list ? "connections" : "delay_ms"; };
  std::vector<uint64_t> longest(net.populations.size(), 1);
  std::vector<size_t> longest_by(net.populations.size(), SIZE_MAX);
  for (size_t i = 0; i < net.projections.size(); ++i) {
    const ProjectionSpec& p = net.projections[i];
    const uint64_t d = max_delay_steps(p, net.dt_ms);
    const PopulationSpec& target = net.populations[p.target];
    const uint64_t n = padded_size(target.size);
    if (uses_synapse_code(p, net.dt_ms) && std::bit_width(d) + std::bit_width(n - 1) > 32)
      readers[i].fail(key_of(p),
                      fmt::format("delays up to {} steps into '{}' ({} neurons) do not fit the 32-bit "
                                  "synapse code (log2 of delay steps + log2 of neurons must stay "
                                  "within 32); shorten the delays or use a larger dt",
                                  d, target.name, target.size));
    if (d > longest[p.target] || longest_by[p.target] == SIZE_MAX) {
      longest[p.target] = std::max(longest[p.target], d);
      longest_by[p.target] = i;
    }
  }
  double total = 0, largest = 0;
  size_t blame = SIZE_MAX;
  for (size_t t = 0; t < net.populations.size(); ++t) {
    const double bytes = static_cast<double>(longest[t]) *
                         static_cast<double>(padded_size(net.populations[t].size)) * sizeof(double);
    total += bytes;
    if (longest_by[t] != SIZE_MAX && bytes > largest) largest = bytes, blame = longest_by[t];
  }
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                        static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (blame != SIZE_MAX && memory > 0 && total > 0.5 * memory) {
    const ProjectionSpec& p = net.projections[blame];
    readers[blame].fail(
        key_of(p), fmt::format("the charge rings (one row of a population's neurons per step of "
                               "its longest incoming delay) need {:.1f} GiB, more than half of "
                               "this machine's memory ({:.1f} GiB); the largest, {:.1f} GiB, is "
                               "for these delays (up to {} steps) into '{}'; shorten the delays or "
                               "use a larger dt",
                               total / 0x1p30, memory / 0x1p30, largest / 0x1p30,
                               max_delay_steps(p, net.dt_ms), net.populations[p.target].name));
  }
}

}  // namespace

NetworkConfig read_network_config(TableReader& root, Duration duration) {
  NetworkConfig out;
  TableReader sim = root.table("simulation", true);
  out.network.dt_ms = sim.number("dt_ms", 1.0);
  if (!(out.network.dt_ms > 0)) sim.fail("dt_ms", fmt::format("expected dt_ms > 0, got {}", out.network.dt_ms));
  out.run.duration_ms = sim.number("duration_ms");
  if (!(out.run.duration_ms >= 0))
    sim.fail("duration_ms", fmt::format("expected duration_ms >= 0, got {}", out.run.duration_ms));
  steps_of(sim, "duration_ms", out.run.duration_ms, out.network.dt_ms);
  const int64_t seed = sim.integer("seed", 1);
  if (seed < 0) sim.fail("seed", "expected a seed >= 0");
  out.run.seed = static_cast<uint64_t>(seed);
  const int64_t threads = sim.integer("threads", 1);
  if (threads < 1 || threads > 1024) sim.fail("threads", "expected 1 <= threads <= 1024");
  out.run.threads = static_cast<int>(threads);
  out.run.flush_interval_ms = sim.number("flush_interval_ms", 1000.0);
  if (!(out.run.flush_interval_ms > 0)) sim.fail("flush_interval_ms", "expected a value > 0 ms");
  sim.finish();

  std::set<std::string> names;
  auto pops = root.tables("population", true);
  if (pops.empty()) root.fail("population", "expected at least one [[population]]");
  for (auto& p : pops) out.network.populations.push_back(read_population(p, names, out.network.dt_ms));
  auto projs = root.tables("projection");
  for (size_t i = 0; i < projs.size(); ++i)
    out.network.projections.push_back(
        read_projection(projs[i], out.network.populations, out.network.dt_ms, i));
  check_delay_costs(projs, out.network);

  for (auto& t : root.tables("trace")) {
    TraceSpec ts;
    ts.population = population_ref(t, "population", out.network.populations);
    const uint32_t n = out.network.populations[ts.population].size;
    for (int64_t id : t.integers("node_ids")) {
      if (id < 0 || id >= n)
        t.fail("node_ids", fmt::format("{} is not a neuron of '{}' (0..{})", id,
                                       out.network.populations[ts.population].name, n - 1));
      ts.node_ids.push_back(static_cast<uint32_t>(id));
    }
    if (ts.node_ids.empty()) t.fail("node_ids", "expected at least one neuron to record");
    std::sort(ts.node_ids.begin(), ts.node_ids.end());
    ts.node_ids.erase(std::unique(ts.node_ids.begin(), ts.node_ids.end()), ts.node_ids.end());
    ts.start_ms = t.number("start_ms", 0.0);
    // With the length still to come, a trace without stop_ms records to the end (NaN until
    // set_run_duration), and the resolved config leaves it out, so that it re-runs the same.
    const bool later = duration == Duration::from_experiment && out.run.duration_ms == 0;
    ts.stop_ms = later && !t.has("stop_ms") ? std::numeric_limits<double>::quiet_NaN()
                                            : t.number("stop_ms", out.run.duration_ms);
    if (!(ts.start_ms >= 0 && (std::isnan(ts.stop_ms) || ts.stop_ms >= ts.start_ms)))
      t.fail("stop_ms", "expected 0 <= start_ms <= stop_ms");
    steps_of(t, "start_ms", ts.start_ms, out.network.dt_ms);
    if (!std::isnan(ts.stop_ms)) steps_of(t, "stop_ms", ts.stop_ms, out.network.dt_ms);
    t.finish();
    out.run.traces.push_back(ts);
    out.trace_tables.push_back(t);
  }
  if (duration == Duration::from_config || out.run.duration_ms != 0)
    set_run_duration(out, out.run.duration_ms);
  return out;
}

void set_run_duration(NetworkConfig& cfg, double duration_ms) {
  cfg.run.duration_ms = duration_ms;
  for (std::size_t i = 0; i < cfg.run.traces.size(); ++i) {
    TraceSpec& ts = cfg.run.traces[i];
    if (std::isnan(ts.stop_ms)) ts.stop_ms = duration_ms;
    if (ts.stop_ms > duration_ms)
      cfg.trace_tables[i].fail(
          "stop_ms", fmt::format("expected stop_ms <= the run's duration_ms ({})", duration_ms));
    if (ts.start_ms > ts.stop_ms)
      cfg.trace_tables[i].fail("start_ms", fmt::format("expected start_ms <= the run's "
                                                       "duration_ms ({})", duration_ms));
  }
}

}  // namespace sim
