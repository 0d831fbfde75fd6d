// The snnsim command line. The only part of sim/ that sees experiments (through their
// registry). Exit codes: 0 success, 1 internal or I/O failure, 2 bad input, 130 interrupted.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <new>
#include <optional>

#include "experiments/registry.hpp"
#include "sim/cli/bench.hpp"
#include "sim/cli/validators.hpp"
#include "sim/cli/sweep_command.hpp"
#include "sim/file_info.hpp"
#include "sim/version.hpp"

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_interrupt(int) {
  // First Ctrl-C: finish the current step, close the files cleanly (marked incomplete).
  // A second one falls through to the default action.
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

// A config given by path, or by the name of a built-in config (`snnsim run izhikevich2003`).
std::string resolve_config(const std::string& given) {
  std::error_code ec;
  if (fs::exists(given, ec)) return given;
  const fs::path source(SNNSIM_SOURCE_DIR);
  for (const fs::path& candidate :
       {source / given, source / "experiments" / given, source / "experiments" / (given + ".toml")})
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  return given;  // load_config reports it as missing
}

// The experiment a config names in [experiment] type (default "network").
const experiments::Experiment& experiment_of(const sim::ConfigDocument& doc) {
  std::string type = "network";
  if (const auto* head = doc.root.get_as<toml::table>("experiment"))
    if (const auto t = (*head)["type"].value<std::string>()) type = *t;
  const experiments::Experiment* exp = experiments::find(type);
  if (!exp) {
    std::vector<std::string> names;
    for (const auto& e : experiments::all()) names.push_back(e.type);
    std::string msg = fmt::format("unknown experiment type \"{}\"", type);
    if (auto c = sim::closest(type, names)) msg += fmt::format(" (did you mean \"{}\"?)", *c);
    const auto* head = doc.root.get_as<toml::table>("experiment");
    const toml::node* n = head ? head->get("type") : nullptr;
    // A type given by --set names the --set, not the config file.
    const auto& src = n ? n->source() : toml::source_region{};
    if (src.path && src.path->rfind("--set", 0) == 0)
      throw sim::InputError(*src.path, 0, "experiment.type", msg);
    throw sim::InputError(doc.file, n ? static_cast<int>(src.begin.line) : 0, "experiment.type",
                          msg);
  }
  return *exp;
}

int cmd_run(const std::string& config, const std::vector<std::string>& unsets,
            const std::vector<std::string>& sets, const std::optional<std::string>& out,
            std::optional<int> threads, std::optional<int64_t> seed, bool overwrite) {
  sim::Log log;
  const std::string path = resolve_config(config);
  sim::ConfigDocument doc = sim::load_config(path);
  doc.file = config == path ? config : path;
  // A [sweep] table describes a family of runs for `snnsim sweep`; one run ignores it.
  doc.root.erase("sweep");
  for (const auto& k : unsets) sim::apply_removal(doc, k);  // before --set, which may refill
  for (const auto& s : sets) sim::apply_override(doc, s);
  if (threads) sim::apply_override(doc, fmt::format("simulation.threads={}", *threads));
  if (seed) sim::apply_override(doc, fmt::format("simulation.seed={}", *seed));

  const experiments::Experiment* exp = &experiment_of(doc);
  // Validate everything before touching the output folder.
  exp->validate(doc);
  const fs::path out_dir = out ? fs::path(*out) : fs::path("runs") / fs::path(path).stem();
  experiments::RunContext ctx{std::move(doc), sim::prepare_run_folder(out_dir, overwrite), log,
                              &g_stop};
  log.open_file(ctx.folder.log().string());
  log.info(fmt::format("snnsim {} ({}) running {} -> {}", sim::engine_version, sim::engine_git_hash,
                       path, out_dir.string()));
  return exp->run(ctx);
}

int cmd_list() {
  for (const auto& e : experiments::all()) {
    std::printf("%-16s %s\n", e.type.c_str(), e.description.c_str());
    for (const auto& c : e.configs) std::printf("    %s\n", c.c_str());
  }
  return 0;
}

int cmd_plot(const std::vector<std::string>& args) {
  // The plots live in the Python analysis package; run it with Debian's interpreter,
  // which sees Debian's h5py and matplotlib.
  const std::string python = "/usr/bin/python3";
  std::vector<std::string> argv_s = {python, "-m", "analysis"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const char* old = std::getenv("PYTHONPATH");
  const std::string pp = std::string(SNNSIM_SOURCE_DIR) + (old && *old ? ":" + std::string(old) : "");
  setenv("PYTHONPATH", pp.c_str(), 1);
  setenv("SNNSIM_PROG", "snnsim plot", 1);  // usage lines then read "snnsim plot raster ..." 
  execv(python.c_str(), argv.data());
  std::fprintf(stderr, "snnsim plot: cannot run %s (install python3 with scripts/setup-debian.sh)\n",
               python.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"snnsim: an event-driven Izhikevich reservoir simulator"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       fmt::format("snnsim {} (git {})", sim::engine_version, sim::engine_git_hash));

  std::string config;
  std::vector<std::string> sets, unsets;
  std::optional<std::string> out;
  std::optional<int> threads;
  std::optional<int64_t> seed;
  bool overwrite = false;
  auto* run = app.add_subcommand("run", "run an experiment config and write a run folder");
  run->add_option("config", config, "experiment config (TOML), or the name of a built-in one")
      ->required();
  run->add_option("--set", sets, "override a config value: dotted.key=value (repeatable)");
  run->add_option("--unset", unsets,
                  "remove a config key, applied before --set: dotted.key (repeatable)");
  run->add_option("--out", out, "run folder (default runs/<config name>)");
  run->add_option("--threads", threads, "OpenMP threads (results do not depend on it)")
      ->check(CLI::Range(1, 1024));
  run->add_option("--seed", seed, "master seed (overrides simulation.seed)")
      ->check(snnsim_cli::non_negative_seed());
  run->add_flag("--overwrite", overwrite, "replace the results in an existing run folder");

  auto* sweep = app.add_subcommand(
      "sweep", "run every point of a parameter sweep ([sweep] table, --sweep) as its own run");
  snnsim_cli::SweepOptions sweep_options;
  snnsim_cli::add_sweep_options(*sweep, sweep_options);

  auto* list = app.add_subcommand("list", "list the built-in experiments and their configs");

  std::string info_file;
  auto* info = app.add_subcommand("info", "describe what a result file holds");
  info->add_option("file", info_file, "a spikes.h5 file")->required();

  std::vector<std::string> plot_args;
  auto* plot = app.add_subcommand("plot", "plots from result files (the analysis package)");
  plot->allow_extras();
  plot->prefix_command();

  auto* bench = app.add_subcommand("bench", "run the standard benchmark networks");
  snnsim_cli::BenchOptions bench_options;
  snnsim_cli::add_bench_options(*bench, bench_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other bad-input message (CLI11's own output takes two).
    std::fprintf(stderr, "snnsim: error: %s (see snnsim --help)\n", e.what());
    return sim::exit_bad_input;
  }

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  try {
    if (*run) return cmd_run(config, unsets, sets, out, threads, seed, overwrite);
    if (*sweep)
      return snnsim_cli::run_sweep(sweep_options, resolve_config(sweep_options.config), experiment_of,
                                   &g_stop);
    if (*list) return cmd_list();
    if (*info) {
      std::fputs(sim::describe_spike_file(info_file).c_str(), stdout);
      return 0;
    }
    if (*plot) return cmd_plot(plot->remaining());
    if (*bench) return snnsim_cli::run_bench(bench_options, &g_stop);
  } catch (const sim::InputError& e) {
    std::fprintf(stderr, "snnsim: error: %s\n", e.describe().c_str());
    return sim::exit_bad_input;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "snnsim: failed: out of memory (a network this large, or delays this "
                         "long, need more memory than there is)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "snnsim: failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
