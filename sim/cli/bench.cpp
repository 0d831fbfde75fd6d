#include "sim/cli/bench.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "experiments/network.hpp"
#include "experiments/nmda_threshold/monte_carlo.hpp"
#include "experiments/sparsey/bench.hpp"
#include "sim/config.hpp"

namespace snnsim_cli {

namespace {

struct Case {
  std::string name;
  std::string config;   // relative to the source tree
  double duration_ms;
  std::string what;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> list = {
      {"izh2003", "experiments/izhikevich2003.toml", 10000.0,
       "(a) Izhikevich 2003 network, 1000 neurons all-to-all, 10 s"},
      {"sparse10k", "experiments/reservoir10k.toml", 10000.0,
       "(b) 10,000 neurons x 100 synapses, delays 1-20 ms, 10 s"},
      {"sparse100k", "experiments/reservoir100k.toml", 1000.0,
       "(c) 100,000 neurons x 100 synapses, delays 1-20 ms, 1 s"},
  };
  return list;
}

// What a child process reports back through its pipe.
struct Result {
  experiments::network::RunStats stats;
  uint64_t neurons = 0;
};

Result run_case(const Case& c, int threads, double duration_ms, const std::atomic<bool>* stop) {
  sim::ConfigDocument doc =
      sim::load_config((std::filesystem::path(SNNSIM_SOURCE_DIR) / c.config).string());
  sim::apply_override(doc, fmt::format("simulation.duration_ms={:.1f}", duration_ms));
  sim::apply_override(doc, fmt::format("simulation.threads={}", threads));
  toml::table resolved;
  sim::TableReader root(doc.root, "", doc.file, resolved);
  experiments::read_experiment_header(root, c.name);
  const sim::NetworkConfig cfg = sim::read_network_config(root);
  root.finish();
  Result r;
  for (const auto& p : cfg.network.populations) r.neurons += p.size;
  r.stats = experiments::network::simulate(cfg, c.name, "", {}, nullptr, stop);
  return r;
}

// Runs one case in a child process (peak memory is then the case's own); false on failure.
bool run_child(const Case& c, int threads, double duration, const std::atomic<bool>* stop,
               Result& r, struct rusage& usage) {
  int fd[2];
  if (pipe(fd) != 0) throw std::runtime_error("bench: pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    int code = 0;
    try {
      const Result mine = run_case(c, threads, duration, stop);
      if (write(fd[1], &mine, sizeof mine) != static_cast<ssize_t>(sizeof mine)) code = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench %s: %s\n", c.name.c_str(), e.what());
      code = 1;
    }
    close(fd[1]);
    _exit(code);
  }
  close(fd[1]);
  const bool got = read(fd[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  close(fd[0]);
  int status = 0;
  wait4(pid, &status, 0, &usage);
  return got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

void add_bench_options(CLI::App& app, BenchOptions& o) {
  app.add_option("--threads", o.threads, "thread counts to measure (default 1 2)");
  app.add_option("--case", o.only,
                 "only these cases: izh2003, sparse10k, sparse100k, segments, sparsey");
  app.add_flag("--quick", o.quick, "simulate a tenth of the model time");
  app.add_option("--repeat", o.repeat,
                 "runs per case and thread count, each in a fresh process; the fastest is "
                 "reported (wall times on a shared machine only ever err upwards)")
      ->check(CLI::Range(1, 100));
  app.add_flag("--phases", o.phases,
               "also print each case's time per step phase (mean over threads, and the slowest "
               "thread): advance, deliver, record, waiting at barriers");
}

int run_bench(const BenchOptions& o, const std::atomic<bool>* stop) {
  std::printf("snnsim bench — each case in its own process; wall time covers the simulation loop "
              "(network construction reported apart)%s\n",
              o.repeat > 1 ? fmt::format(", fastest of {} runs", o.repeat).c_str() : "");
  std::printf("%-11s %3s %10s %9s %9s %12s %12s %9s %9s %8s %9s\n", "case", "thr", "model_s",
              "build_s", "wall_s", "neuron_up/s", "syn_events/s", "RTF", "spikes/s", "peak_MB",
              "B/synapse");
  std::fflush(stdout);
  for (const Case& c : cases()) {
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), c.name) == o.only.end()) continue;
    for (int threads : o.threads) {
      if (stop && stop->load()) return 130;
      const double duration = o.quick ? c.duration_ms / 10 : c.duration_ms;
      Result best{};
      struct rusage best_usage {};
      bool ok = true;
      for (int rep = 0; rep < o.repeat && ok; ++rep) {
        Result r{};
        struct rusage usage {};
        ok = run_child(c, threads, duration, stop, r, usage);
        if (ok && (rep == 0 || r.stats.wall_s < best.stats.wall_s)) best = r, best_usage = usage;
      }
      if (!ok) {
        std::printf("%-11s %3d  failed\n", c.name.c_str(), threads);
        continue;
      }
      const Result& r = best;
      const struct rusage& usage = best_usage;
      const auto& s = r.stats;
      const double model_s = s.model_ms * 1e-3;
      std::printf("%-11s %3d %10.1f %9.3f %9.3f %12.3g %12.3g %9.4f %9.3g %8.1f %9.2f\n",
                  c.name.c_str(), threads, model_s, s.build_s, s.wall_s,
                  static_cast<double>(s.neuron_updates) / s.wall_s,
                  static_cast<double>(s.synaptic_events) / s.wall_s, s.wall_s / model_s,
                  static_cast<double>(s.spikes) / static_cast<double>(r.neurons) / model_s,
                  static_cast<double>(usage.ru_maxrss) / 1024.0,
                  s.synapses ? static_cast<double>(s.synapse_bytes) / static_cast<double>(s.synapses)
                             : 0.0);
      if (o.phases)
        std::printf("  phases (s, mean / slowest thread): advance %.3f / %.3f, deliver %.3f / %.3f, "
                    "record %.3f, waiting %.3f\n",
                    s.advance_s, s.advance_max_s, s.deliver_s, s.deliver_max_s, s.record_s, s.wait_s);
      std::fflush(stdout);
    }
  }
  const bool all = o.only.empty();
  auto wanted = [&](const char* name) {
    return all || std::find(o.only.begin(), o.only.end(), name) != o.only.end();
  };
  if (wanted("segments")) {
    // Dendritic segment activation (Ahmad & Hawkins 2016 setting: n = 2048, a = 40).
    experiments::nmda_threshold::ActivationBenchmarkParams p;
    if (o.quick) p.activations /= 10;
    const auto r = experiments::nmda_threshold::benchmark_segment_activation(p);
    std::printf("segments: %llu segments x %u synapses, n = %u, a = %u, theta = %u: %.3g segments "
                "evaluated/s, %.3g synapse visits/s (%.3f s)\n",
                static_cast<unsigned long long>(r.segments), p.synapses_per_segment, p.n, p.a,
                p.theta, r.segments_per_second, r.synapse_visits_per_second, r.seconds);
  }
  if (wanted("sparsey")) {
    // Sparsey code selection: Q = 20, K = 20, 1,000 inputs with 50 active.
    experiments::sparsey::BenchConfig c;
    if (o.quick) c.num_codes /= 10;
    const auto r = experiments::sparsey::codes_per_second(c);
    std::printf("sparsey: Q = %u, K = %u, %u inputs: %.3g codes/s learning, %.3g codes/s "
                "recognition\n",
                c.field.num_cms_Q, c.field.cells_per_cm_K, c.field.num_inputs_U, r.learn_codes_per_second,
                r.recognise_codes_per_second);
  }
  std::printf("columns: neuron_up/s = neuron updates per wall second; syn_events/s = spikes x "
              "synapses delivered per wall second; RTF = wall / model time; spikes/s = mean rate "
              "per neuron (Hz); peak_MB = peak resident memory of the case's process\n");
  return 0;
}

}  // namespace snnsim_cli
