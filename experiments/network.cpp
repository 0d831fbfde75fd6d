#include "experiments/network.hpp"

#include <fmt/format.h>

#include <chrono>

#include "sim/sonata_sink.hpp"

namespace experiments::network {

RunStats simulate(const sim::NetworkConfig& cfg, const std::string& experiment_name,
                  const std::string& config_text, std::vector<sim::Sink*> sinks, sim::Log* log,
                  const std::atomic<bool>* stop,
                  const std::function<void(const RunStats&)>& before_end) {
  using clock = std::chrono::steady_clock;
  RunStats stats;
  const auto t0 = clock::now();
  sim::Simulation simulation(cfg.network, cfg.run);
  stats.build_s = std::chrono::duration<double>(clock::now() - t0).count();
  for (sim::Sink* s : sinks) simulation.add_sink(s);
  if (log) {
    simulation.set_progress(
        [log, &experiment_name](const sim::ProgressReport& r) { log->progress(experiment_name, r); },
        0.25);
  }
  const sim::Step steps = *sim::steps_exact(cfg.run.duration_ms, cfg.network.dt_ms);
  simulation.begin(experiment_name, config_text, steps);
  const auto t1 = clock::now();
  stats.complete = simulation.run(steps, stop);
  stats.wall_s = std::chrono::duration<double>(clock::now() - t1).count();
  stats.model_ms = static_cast<double>(simulation.now()) * cfg.network.dt_ms;
  stats.spikes = simulation.total_spikes();
  stats.synaptic_events = simulation.synaptic_events();
  uint64_t neurons = 0;
  for (const auto& p : simulation.network().populations()) neurons += p.size();
  stats.neuron_updates = neurons * simulation.now();
  stats.synapses = simulation.network().synapse_count();
  stats.synapse_bytes = simulation.network().synapse_memory_bytes();
  const auto& phases = simulation.phase_times();
  for (const auto& t : phases) {
    const double n = static_cast<double>(phases.size());
    stats.advance_s += t.advance_s / n;
    stats.deliver_s += t.deliver_s / n;
    stats.record_s += t.record_s / n;
    stats.wait_s += t.wait_s / n;
    stats.advance_max_s = std::max(stats.advance_max_s, t.advance_s);
    stats.deliver_max_s = std::max(stats.deliver_max_s, t.deliver_s);
  }
  if (before_end) before_end(stats);
  simulation.end(stats.complete);
  return stats;
}

namespace {

// Spikes per population, for the mean rates in /metrics.
struct SpikeCounter final : sim::Sink {
  std::vector<uint64_t> counts;
  void begin(const sim::RunInfo& info) override { counts.assign(info.populations.size(), 0); }
  void spikes(sim::Step, uint32_t population, std::span<const uint32_t> ids) override {
    counts[population] += ids.size();
  }
};

int run(RunContext& ctx) {
  toml::table resolved;
  sim::TableReader root(ctx.doc.root, "", ctx.doc.file, resolved);
  const std::string name =
      read_experiment_header(root, std::filesystem::path(ctx.doc.file).stem().string());
  const sim::NetworkConfig cfg = sim::read_network_config(root);
  root.finish();
  const std::string text = sim::to_toml(resolved);
  sim::write_text_atomically(ctx.folder.config(), text);

  sim::SonataSink sink(ctx.folder.spikes().string());
  SpikeCounter counter;
  // Scalar metrics as float64 attributes of /metrics (a sweep's index collects them).
  std::vector<std::pair<std::string, double>> metrics;
  auto write_metrics = [&](const RunStats& s) {
    const double model_s = s.model_ms * 1e-3;
    for (size_t p = 0; p < cfg.network.populations.size(); ++p) {
      const auto& pop = cfg.network.populations[p];
      const double n = static_cast<double>(counter.counts.size() > p ? counter.counts[p] : 0);
      metrics.emplace_back("rate_hz." + pop.name, model_s > 0 ? n / pop.size / model_s : 0.0);
    }
    metrics.emplace_back("spikes_total", static_cast<double>(s.spikes));
    metrics.emplace_back("wall_s", s.wall_s);
    metrics.emplace_back("real_time_factor", model_s > 0 ? s.wall_s / model_s : 0.0);
    auto group = sink.file().require_group("metrics");
    for (const auto& [key, value] : metrics) group.write_attribute<double>(key, value);
  };
  const RunStats s = simulate(cfg, name, text, {&sink, &counter}, &ctx.log, ctx.stop, write_metrics);
  const double rate = s.model_ms > 0 && s.neuron_updates > 0
                          ? static_cast<double>(s.spikes) /
                                (static_cast<double>(s.neuron_updates) / (s.model_ms / cfg.network.dt_ms)) /
                                (s.model_ms * 1e-3)
                          : 0.0;
  ctx.log.info(fmt::format(
      "{}: {:.0f} ms simulated in {:.3f} s wall (real-time factor {:.3g}), {} spikes "
      "({:.2f} Hz/neuron), {} synapses, {:.3g} synaptic events/s",
      s.complete ? "done" : "INTERRUPTED", s.model_ms, s.wall_s,
      s.model_ms > 0 ? s.wall_s / (s.model_ms * 1e-3) : 0.0, s.spikes, rate, s.synapses,
      s.wall_s > 0 ? static_cast<double>(s.synaptic_events) / s.wall_s : 0.0));
  std::string listing;
  for (const auto& [key, value] : metrics) listing += fmt::format(" {}={:.6g}", key, value);
  ctx.log.info("metrics:" + listing);
  ctx.log.info(fmt::format("spikes: {}", ctx.folder.spikes().string()));
  return s.complete ? exit_ok : exit_interrupted;
}

void validate(const sim::ConfigDocument& doc) {
  toml::table resolved;
  sim::TableReader root(doc.root, "", doc.file, resolved);
  read_experiment_header(root, "network");
  sim::read_network_config(root);
  root.finish();
}

}  // namespace

Experiment experiment() {
  return {"network",
          "a network of Izhikevich populations and projections, simulated and written to "
          "spikes.h5",
          {"experiments/izhikevich2003.toml", "experiments/izhikevich2003_sweep.toml",
           "experiments/polychronization.toml", "experiments/reservoir10k.toml",
           "experiments/reservoir100k.toml"},
          run,
          validate};
}

}  // namespace experiments::network
