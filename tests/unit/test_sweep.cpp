// Sweep specs: reading [sweep] and --sweep, product/zip expansion, linspace/logspace
// values, per-point seeds, validation of every point against the experiment, and the index.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <set>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/registry.hpp"
#include "sim/h5.hpp"
#include "sim/rng.hpp"
#include "sim/sweep.hpp"

using namespace sim;
namespace sw = sim::sweep;

namespace {

// A valid network config (two populations) followed by `sweep`, the [sweep] part.
ConfigDocument doc_with(const std::string& sweep) {
  const std::string base = R"([simulation]
duration_ms = 10.0
seed = 5

[[population]]
name = "exc"
size = 20

[[population]]
name = "inh"
size = 10
)";  // 11 lines: the sweep text starts on line 12
  return parse_config(base + sweep, "s.toml");
}

// The line and key of the InputError that `fn` throws.
template <class F>
std::pair<int, std::string> error_of(F&& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const InputError& e) {
    if (message) *message = e.what();
    return {e.line, e.key};
  }
  FAIL("no InputError thrown");
  return {};
}

const std::function<void(const ConfigDocument&)>& network_validate() {
  return experiments::find("network")->validate;
}

}  // namespace

TEST_CASE("linspace: ends exact, inner values the nearest double to the exact rational") {
  // Integer ends: value i is (((n-1-i)*a + i*b) / (n-1)) with an exact integer numerator, so
  // one IEEE division (correctly rounded) gives the reference.
  const auto v = sw::linspace(0, 1, 11);
  REQUIRE(v.size() == 11);
  for (int i = 0; i <= 10; ++i) CHECK(v[i] == static_cast<double>(i) / 10.0);
  CHECK(v[3] == 0.3);  // not 3 * 0.1 = 0.30000000000000004
  CHECK(sw::linspace(6, 14, 5) == std::vector<double>{6, 8, 10, 12, 14});
  const auto w = sw::linspace(0.1, 0.7, 7);
  CHECK(w.front() == 0.1);
  CHECK(w.back() == 0.7);
  CHECK(sw::linspace(2.5, 9, 1) == std::vector<double>{2.5});  // numpy's convention
  CHECK(sw::linspace(1, 2, 0).empty());
}

TEST_CASE("logspace: whole exponents give the decimal powers exactly") {
  // The literals are the doubles nearest to the decimal values (C++ literal rounding).
  CHECK(sw::logspace(-3, 1, 5) == std::vector<double>{1e-3, 1e-2, 1e-1, 1.0, 10.0});
  CHECK(sw::logspace(20, 22, 3) == std::vector<double>{1e20, 1e21, 1e22});
  const auto h = sw::logspace(0, 1, 3);  // 10^0.5 through pow
  CHECK(h[1] == doctest::Approx(3.1622776601683795).epsilon(1e-15));
}

TEST_CASE("a [sweep] table: file order, dotted keys, lists and ranges") {
  const auto doc = doc_with(R"(
[sweep]
seeds_per_point = 2
[sweep.parameters]
population.exc.size = [20, 40]
"population.inh.drive.noise_sigma" = { linspace = [1, 3, 3] }
population.exc.integrator = ["euler", "rk4"]
)");
  const sw::Spec spec = sw::read_spec(doc);
  REQUIRE(spec.parameters.size() == 3);
  CHECK(spec.parameters[0].key == "population.exc.size");
  CHECK(spec.parameters[0].line == 16);
  CHECK(spec.parameters[1].key == "population.inh.drive.noise_sigma");
  CHECK(spec.parameters[2].key == "population.exc.integrator");
  CHECK(spec.parameters[0].values == std::vector<sw::Value>{int64_t{20}, int64_t{40}});
  CHECK(spec.parameters[1].values == std::vector<sw::Value>{1.0, 2.0, 3.0});
  CHECK(spec.parameters[2].values == std::vector<sw::Value>{std::string("euler"), std::string("rk4")});
  CHECK(spec.seeds_per_point == 2);

  const auto points = sw::expand(spec, 5);
  REQUIRE(points.size() == 2 * 3 * 2 * 2);
  // Product order: the first parameter varies slowest, replicates innermost.
  for (size_t r = 0; r < points.size(); ++r) {
    const auto& p = points[r];
    CHECK(p.index == r);
    CHECK(p.replicate == r % 2);
    CHECK(p.combination == r / 2);
    const size_t c = r / 2;
    CHECK(p.values[0] == spec.parameters[0].values[c / 6]);
    CHECK(p.values[1] == spec.parameters[1].values[(c / 2) % 3]);
    CHECK(p.values[2] == spec.parameters[2].values[c % 2]);
  }
  CHECK(points[13].folder == "points/0013");
  CHECK(sw::overrides(spec, points[15]) ==
        std::vector<std::string>{"population.exc.size=40", "population.inh.drive.noise_sigma=1.0",
                                 "population.exc.integrator=\"rk4\""});
  auto base = doc;
  base.root.erase("sweep");  // as `snnsim sweep` does before validating
  sw::validate_points(base, spec, points, network_validate());  // all valid
}

TEST_CASE("zip mode pairs the i-th values; unequal lengths are an error at the parameter") {
  auto doc = doc_with(R"(
[sweep]
mode = "zip"
[sweep.parameters]
"population.exc.size" = [20, 30, 40]
"population.inh.size" = [5, 6, 7]
)");
  const auto points = sw::expand(sw::read_spec(doc), 1);
  REQUIRE(points.size() == 3);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(points[i].values[0] == sw::Value{20 + 10 * i});
    CHECK(points[i].values[1] == sw::Value{5 + i});
  }
  doc = doc_with(R"(
[sweep]
mode = "zip"
[sweep.parameters]
"population.exc.size" = [20, 30, 40]
"population.inh.size" = [5, 6]
)");
  std::string msg;
  const auto [line, key] = error_of([&] { sw::expand(sw::read_spec(doc), 1); }, &msg);
  CHECK(line == 17);
  CHECK(key == "sweep.parameters.population.inh.size");
  CHECK(msg.find("equal length") != std::string::npos);
}

TEST_CASE("point seeds: derive_seed(master, purpose, point index), top 63 bits") {
  const auto doc = doc_with("[sweep]\nseeds_per_point = 3\n[sweep.parameters]\n\"population.exc.size\" = [20, 30]\n");
  const auto spec = sw::read_spec(doc);
  const auto a = sw::expand(spec, 5), b = sw::expand(spec, 6);
  std::set<uint64_t> seen;
  for (const auto& p : a) {
    CHECK(p.seed == (rng::derive_seed(5, sw::seed_purpose, p.combination * 3 + p.replicate) >> 1));
    CHECK(p.seed < (uint64_t{1} << 63));  // a valid TOML integer for --seed
    seen.insert(p.seed);
  }
  CHECK(seen.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].seed != b[i].seed);
}

TEST_CASE("spec errors name the file, line and key") {
  struct Case {
    const char* sweep;
    int line;
    const char* key;
    const char* words;
  };
  const Case cases[] = {
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = []\n", 15,
       "sweep.parameters.population.exc.size", "empty list"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = { linspace = [1, 5, 0] }\n", 15,
       "sweep.parameters.population.exc.size", "empty range"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = { linspace = [1, 5, 2.5] }\n", 15,
       "sweep.parameters.population.exc.size", "whole number"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = { linspace = [1, 5] }\n", 15,
       "sweep.parameters.population.exc.size", "[start, stop, count]"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = { linspace = [1, 2, 5], integer = true }\n",
       15, "sweep.parameters.population.exc.size", "repeat after rounding"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = { linspace = [1, 2, 5], step = 1 }\n", 15,
       "sweep.parameters.population.exc.size.step", "unknown key"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = [[1], [2]]\n", 15,
       "sweep.parameters.population.exc.size", "value 1 is a list"},
      {"[sweep]\n[sweep.parameters]\n\"population.exc.size\" = 20\n", 15,
       "sweep.parameters.population.exc.size", "single value"},
      {"[sweep]\nmode = \"zipp\"\n", 14, "sweep.mode", "product"},
      {"[sweep]\nseeds_per_pont = 2\n", 14, "sweep.seeds_per_pont", "did you mean 'seeds_per_point'"},
      {"[sweep]\nseeds_per_point = 0\n", 14, "sweep.seeds_per_point", "seeds_per_point"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.sweep);
    const auto doc = doc_with(std::string("\n") + c.sweep);
    std::string msg;
    const auto [line, key] = error_of([&] { sw::read_spec(doc); }, &msg);
    CHECK(line == c.line);
    CHECK(key == c.key);
    CHECK(msg.find(c.words) != std::string::npos);
  }
  // Whole-spec errors from expand.
  const auto seed_doc = doc_with("\n[sweep]\n[sweep.parameters]\n\"simulation.seed\" = [1, 2]\n");
  std::string msg;
  auto [line, key] = error_of([&] { sw::expand(sw::read_spec(seed_doc), 1); }, &msg);
  CHECK(line == 15);
  CHECK(msg.find("seeds_per_point") != std::string::npos);
  const auto none = doc_with("\n[sweep]\nmode = \"zip\"\n");
  std::tie(line, key) = error_of([&] { sw::expand(sw::read_spec(none), 1); });
  CHECK(line == 13);
  CHECK(key == "sweep.parameters");
}

TEST_CASE("every point is validated by the experiment; errors point at the sweep parameter") {
  struct Case {
    const char* parameter;
    const char* words;
  };
  const Case cases[] = {
      {"\"population.exc.sise\" = [20, 30]", "did you mean 'size'"},
      {"\"population.exx.size\" = [20, 30]", "did you mean 'exc'"},
      {"\"population.exc.size\" = [20, 0]", "1 <= size"},
      {"\"population.exc.size\" = [20, 30.5]", "integer = true"},
      {"\"population.exc.size\" = [20, \"big\"]", "expected an integer"},
      {"\"population.exc.drive.noise_sigma\" = { linspace = [-1, 1, 3] }", "noise_sigma >= 0"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.parameter);
    const auto doc = doc_with(std::string("\n[sweep]\n[sweep.parameters]\n") + c.parameter + "\n");
    auto base = doc;
    base.root.erase("sweep");
    const auto spec = sw::read_spec(doc);
    const auto points = sw::expand(spec, 1);
    std::string msg;
    const auto [line, key] =
        error_of([&] { sw::validate_points(base, spec, points, network_validate()); }, &msg);
    CHECK(line == 15);
    CHECK(key == "sweep.parameters." + spec.parameters[0].key);
    CHECK(msg.find(c.words) != std::string::npos);
  }
}

TEST_CASE("--sweep arguments: lists, linspace(), logspace(), TOML tables; replacing a parameter") {
  auto p = sw::parse_command_line_parameter("dendrite.theta=linspace(6,14,5)");
  CHECK(p.key == "dendrite.theta");
  CHECK(p.values == std::vector<sw::Value>{6.0, 8.0, 10.0, 12.0, 14.0});
  CHECK(p.line == 0);
  p = sw::parse_command_line_parameter("a.b=logspace(-1, 1, 3)");
  CHECK(p.values == std::vector<sw::Value>{0.1, 1.0, 10.0});
  p = sw::parse_command_line_parameter("population.exc.size=[100,200]");
  CHECK(p.values == std::vector<sw::Value>{int64_t{100}, int64_t{200}});
  p = sw::parse_command_line_parameter("x={ linspace = [100, 400, 4], integer = true }");
  CHECK(p.values == std::vector<sw::Value>{int64_t{100}, int64_t{200}, int64_t{300}, int64_t{400}});
  p = sw::parse_command_line_parameter("x=[\"euler\", true]");
  CHECK(p.values == std::vector<sw::Value>{std::string("euler"), true});
  CHECK_THROWS_AS(sw::parse_command_line_parameter("x=[euler]"), InputError);
  CHECK_THROWS_AS(sw::parse_command_line_parameter("x=linspace(1,2)"), InputError);
  CHECK_THROWS_AS(sw::parse_command_line_parameter("novalue"), InputError);

  auto spec = sw::read_spec(doc_with("[sweep.parameters]\n\"population.exc.size\" = [20]\n"
                                     "\"population.inh.size\" = [5]\n"));
  sw::add_or_replace(spec, sw::parse_command_line_parameter("population.exc.size=[30,40]"));
  sw::add_or_replace(spec, sw::parse_command_line_parameter("population.exc.v_peak_mV=[30.0]"));
  REQUIRE(spec.parameters.size() == 3);
  CHECK(spec.parameters[0].key == "population.exc.size");
  CHECK(spec.parameters[0].values.size() == 2);
  CHECK(spec.parameters[2].key == "population.exc.v_peak_mV");
}

TEST_CASE("TOML literals of values read back as the same value") {
  const std::vector<sw::Value> values = {0.1, 2.0, 1e-300, -3.5e21, int64_t{-7}, true,
                                         std::string("a \"quoted\" \\ name")};
  for (const auto& v : values) {
    CAPTURE(sw::toml_literal(v));
    auto doc = parse_config("", "t.toml");
    apply_override(doc, "x=" + sw::toml_literal(v));
    const toml::node& n = *doc.root.get("x");
    if (std::holds_alternative<double>(v)) {
      REQUIRE(n.is_floating_point());
      CHECK(n.value<double>() == std::get<double>(v));
    } else if (std::holds_alternative<int64_t>(v)) {
      CHECK(n.value<int64_t>() == std::get<int64_t>(v));
    } else if (std::holds_alternative<bool>(v)) {
      CHECK(n.value<bool>() == std::get<bool>(v));
    } else {
      CHECK(n.value<std::string>() == std::get<std::string>(v));
    }
  }
}

TEST_CASE("the index: csv and h5 columns, statuses, metrics union with NaN gaps") {
  const auto spec = sw::read_spec(doc_with(
      "[sweep.parameters]\n\"population.exc.size\" = [20, 30]\n\"population.exc.integrator\" = "
      "[\"euler\"]\n\"population.inh.drive.noise_sigma\" = [0.5]\n"));
  const auto points = sw::expand(spec, 9);
  std::vector<sw::PointResult> results(2);
  results[0].status = sw::Status::done;
  results[0].exit_code = 0;
  results[0].metrics = {{"rate_hz.exc", 2.5}, {"wall_s", 0.25}};
  results[1].status = sw::Status::failed;
  results[1].exit_code = 3;
  results[1].error = "boom, \"bad\"";
  const auto dir = std::filesystem::temp_directory_path() / "snnsim_test_sweep_index";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sw::write_index(dir, spec, points, results);

  std::ifstream f(dir / "index.csv");
  std::stringstream text;
  text << f.rdbuf();
  const std::string expected_csv =
      "point,status,seed,folder,param.population.exc.size,param.population.exc.integrator,"
      "param.population.inh.drive.noise_sigma,metric.rate_hz.exc,metric.wall_s,exit_code,error\n" +
      fmt::format("0,done,{},points/0000,20,euler,0.5,2.5,0.25,0,\n", points[0].seed) +
      fmt::format("1,failed,{},points/0001,30,euler,0.5,,,3,\"boom, \"\"bad\"\"\"\n", points[1].seed);
  CHECK(text.str() == expected_csv);

  auto h5f = h5::File::open_read_only((dir / "index.h5").string());
  auto g = h5f.open_group("points");
  CHECK(g.open_dataset("point").read<uint64_t>() == std::vector<uint64_t>{0, 1});
  CHECK(g.open_dataset("seed").read<uint64_t>() == std::vector<uint64_t>{points[0].seed, points[1].seed});
  CHECK(g.open_dataset("status").read_strings() == std::vector<std::string>{"done", "failed"});
  CHECK(g.open_dataset("folder").read_strings() ==
        std::vector<std::string>{"points/0000", "points/0001"});
  CHECK(g.open_dataset("param.population.exc.size").type_name() == "uint64");
  CHECK(g.open_dataset("param.population.exc.size").read<uint64_t>() == std::vector<uint64_t>{20, 30});
  CHECK(g.open_dataset("param.population.exc.integrator").read_strings() ==
        std::vector<std::string>{"euler", "euler"});
  CHECK(g.open_dataset("param.population.inh.drive.noise_sigma").read<double>() ==
        std::vector<double>{0.5, 0.5});
  const auto rate = g.open_dataset("metric.rate_hz.exc").read<double>();
  CHECK(rate[0] == 2.5);
  CHECK(std::isnan(rate[1]));
  CHECK(g.open_dataset("exit_code").read<int32_t>() == std::vector<int32_t>{0, 3});
  h5f.close();
  std::filesystem::remove_all(dir);
}
