#include "experiments/nmda_threshold/experiment.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "sim/error.hpp"
#include "sim/sonata_sink.hpp"

namespace experiments::nmda_threshold {

namespace {

// Forwards everything to the spike file except end(): the metrics are added after the
// simulation has finished and before the file is closed.
class KeepOpen final : public sim::Sink {
 public:
  explicit KeepOpen(sim::SonataSink& inner) : inner_(inner) {}
  void begin(const sim::RunInfo& info) override { inner_.begin(info); }
  void spikes(sim::Step step, uint32_t population, std::span<const uint32_t> ids) override {
    inner_.spikes(step, population, ids);
  }
  void epoch_done(sim::Step next_step) override { inner_.epoch_done(next_step); }
  void end(sim::Step steps_done, bool complete) override {
    steps_done_ = steps_done;
    complete_ = complete;
  }
  sim::Step steps_done() const { return steps_done_; }
  bool complete() const { return complete_; }

 private:
  sim::SonataSink& inner_;
  sim::Step steps_done_ = 0;
  bool complete_ = false;
};

uint32_t count(sim::TableReader& t, const char* key, int64_t fallback, int64_t min) {
  const int64_t v = t.integer(key, fallback);
  if (v < min || v > int64_t{std::numeric_limits<uint32_t>::max()})
    t.fail(key, fmt::format("expected an integer >= {}, got {}", min, v));
  return static_cast<uint32_t>(v);
}

float permanence(sim::TableReader& t, const char* key, double fallback) {
  const double v = t.number(key, fallback);
  if (!(v >= 0.0 && v <= 1.0)) t.fail(key, fmt::format("expected a permanence in [0, 1], got {}", v));
  return static_cast<float>(v);
}

// Re-raises a validation error of the point's own checks at the config key it names.
template <class F>
void located(sim::TableReader& t, F&& check) {
  try {
    check();
  } catch (const sim::InputError& e) {
    if (!e.file.empty()) throw;
    t.fail(e.key == "compartment" ? "" : e.key, e.what());
  }
}

}  // namespace

PointConfig read_point_config(const sim::ConfigDocument& doc, toml::table& resolved) {
  sim::TableReader root(doc.root, "", doc.file, resolved);
  PointConfig cfg;
  cfg.name = read_experiment_header(root, std::filesystem::path(doc.file).stem().string());

  sim::TableReader simulation = root.table("simulation");
  const int64_t seed = simulation.integer("seed", 1);
  if (seed < 0) simulation.fail("seed", "expected a seed >= 0");
  const int64_t threads = simulation.integer("threads", 1);
  if (threads < 1 || threads > 1024) simulation.fail("threads", "expected 1 .. 1024");
  const double dt_ms = simulation.number("dt_ms", 1.0);
  if (!(dt_ms > 0.0) || !std::isfinite(dt_ms)) simulation.fail("dt_ms", "expected a step > 0");
  simulation.finish();

  sim::TableReader point = root.table("nmda");
  PointParams& mc = cfg.monte_carlo;
  mc.n = count(point, "n", 2048, 1);
  mc.a = count(point, "a", 40, 1);
  mc.s = count(point, "s", 24, 1);
  mc.theta = count(point, "theta", 12, 1);
  mc.noise_v = count(point, "noise_v", 0, 0);
  mc.patterns_M = count(point, "patterns_M", 1, 1);
  mc.seed = static_cast<uint64_t>(seed);
  point.finish();

  sim::TableReader monte = root.table("monte_carlo");
  const int64_t trials = monte.integer("trials", 20000);
  if (trials < 1) monte.fail("trials", "expected at least 1 trial");
  mc.trials = static_cast<uint64_t>(trials);
  mc.storage = monte.choice("storage", {"segment_per_pattern", "union_segment"},
                            "segment_per_pattern") == "union_segment"
                   ? Storage::union_segment
                   : Storage::segment_per_pattern;
  monte.finish();
  located(point, [&] { validate(mc); });

  sim::TableReader seq = root.table("sequence");
  SequenceParams& sp = cfg.sequence;
  cfg.sequence_enabled = seq.boolean("enabled", true);
  sp.n = mc.n;
  sp.a = mc.a;
  sp.noise_v = mc.noise_v;
  sp.seed = static_cast<uint64_t>(seed);
  sp.threads = static_cast<int>(threads);
  sp.dt_ms = dt_ms;
  sp.length = count(seq, "length", 10, 2);
  sp.train_repetitions = count(seq, "train_repetitions", 10, 1);
  sp.test_repetitions = count(seq, "test_repetitions", 2, 1);
  sp.interval_ms = seq.number("interval_ms", 20.0);
  sp.drive_ms = seq.number("drive_ms", 2.0);
  sp.drive_current = seq.number("drive_current", 40.0);
  sp.feedforward_weight_mV = seq.number("feedforward_weight_mV", 30.0);
  sp.background_rate_hz = seq.number("background_rate_hz", 1.0);
  sp.background_weight_mV = seq.number("background_weight_mV", 30.0);
  auto& cp = sp.compartment;
  cp.coincidence_window_ms = seq.number("coincidence_window_ms", 10.0);
  cp.plateau_current = seq.number("plateau_current", 2.0);
  cp.plateau_ms = seq.number("plateau_ms", 20.0);
  cp.learn_min_lag_ms = seq.number("learn_min_lag_ms", 5.0);
  cp.learn_max_lag_ms = seq.number("learn_max_lag_ms", 30.0);
  cp.new_synapse_count = mc.s;
  cp.segments.nmda_threshold = mc.theta;
  cp.segments.matching_threshold = count(seq, "matching_threshold", 8, 1);
  cp.segments.connected_permanence = permanence(seq, "connected_permanence", 0.5);
  cp.segments.initial_permanence = permanence(seq, "initial_permanence", 0.25);
  cp.segments.permanence_increment = permanence(seq, "permanence_increment", 0.125);
  cp.segments.permanence_decrement = permanence(seq, "permanence_decrement", 0.0625);
  cp.segments.max_segments_per_cell = count(seq, "max_segments_per_cell", 32, 1);
  cp.segments.max_synapses_per_segment = count(seq, "max_synapses_per_segment", 64, 1);
  if (cp.segments.max_synapses_per_segment < mc.s)
    seq.fail("max_synapses_per_segment", fmt::format("must be >= nmda.s = {}", mc.s));
  seq.finish();
  located(seq, [&] { validate(sp); });
  root.finish();
  return cfg;
}

std::vector<std::pair<std::string, double>> metrics(const PointResult& mc,
                                                    const SequenceResult* sequence) {
  std::vector<std::pair<std::string, double>> m;
  auto rate = [&m](const std::string& prefix, const RateEstimate& r) {
    m.emplace_back(prefix + "_rate", r.rate);
    m.emplace_back(prefix + "_lo", r.ci95.lo);
    m.emplace_back(prefix + "_hi", r.ci95.hi);
    m.emplace_back(prefix + "_theory", r.theory);
    m.emplace_back(prefix + "_log10_theory", r.log_theory / std::log(10.0));
    m.emplace_back(prefix + "_events", static_cast<double>(r.events));
    m.emplace_back(prefix + "_expected_events", r.expected_events);
  };
  m.emplace_back("trials", static_cast<double>(mc.params.trials));
  rate("fp", mc.false_positive);
  rate("fn", mc.false_negative);
  m.emplace_back("single_segment_fp_theory", mc.single_segment_false_match.p);
  if (mc.params.storage == Storage::union_segment) {
    m.emplace_back("union_fp_theory_paper", mc.union_false_match_paper.p);
    m.emplace_back("union_expected_synapses", mc.union_expected_synapses);
  }
  if (sequence) {
    const SequenceResult& s = *sequence;
    m.emplace_back("seq_precision", s.precision);
    m.emplace_back("seq_recall", s.recall);
    m.emplace_back("seq_onsets", static_cast<double>(s.onsets));
    m.emplace_back("seq_predicted", static_cast<double>(s.predicted));
    m.emplace_back("seq_correct", static_cast<double>(s.correct));
    m.emplace_back("seq_targets", static_cast<double>(s.targets));
    m.emplace_back("seq_target_v_mV", s.target_v_mV);
    m.emplace_back("seq_other_v_mV", s.other_v_mV);
    m.emplace_back("seq_depolarisation_mV", s.depolarisation_mV);
    m.emplace_back("seq_segments", static_cast<double>(s.segments));
    m.emplace_back("seq_synapses", static_cast<double>(s.synapses));
    m.emplace_back("seq_connected_synapses", static_cast<double>(s.connected_synapses));
    m.emplace_back("seq_column_spikes", static_cast<double>(s.column_spikes));
    m.emplace_back("seq_pyramidal_spikes", static_cast<double>(s.pyramidal_spikes));
  }
  return m;
}

namespace {

int run(RunContext& ctx) {
  toml::table resolved;
  const PointConfig cfg = read_point_config(ctx.doc, resolved);
  const std::string text = sim::to_toml(resolved);
  sim::write_text_atomically(ctx.folder.config(), text);

  sim::SonataSink sink(ctx.folder.spikes().string());
  const auto& p = cfg.monte_carlo;
  ctx.log.info(fmt::format("point: n = {}, a = {}, s = {}, theta = {}, v = {}, M = {}, {} trials",
                           p.n, p.a, p.s, p.theta, p.noise_v, p.patterns_M, p.trials));
  const PointResult mc = measure_point(p);

  SequenceResult seq;
  bool complete = true;
  KeepOpen keep(sink);
  if (cfg.sequence_enabled) {
    seq = run_sequence(
        cfg.sequence, {&keep}, text,
        [&ctx, &cfg](const sim::ProgressReport& r) { ctx.log.progress(cfg.name, r); }, ctx.stop);
    ctx.log.end_progress();
    complete = seq.complete;
  } else {
    sim::RunInfo info;
    info.seed = p.seed;
    info.dt_ms = cfg.sequence.dt_ms;
    info.experiment = cfg.name;
    info.config_toml = text;
    sink.begin(info);
  }
  auto group = sink.file().require_group("metrics");
  const auto values = metrics(mc, cfg.sequence_enabled ? &seq : nullptr);
  for (const auto& [name, value] : values) {
    group.write_attribute(name, value);
    ctx.log.info(fmt::format("{} = {:.6g}", name, value));
  }
  sink.end(cfg.sequence_enabled ? keep.steps_done() : 0, complete);
  ctx.log.info(fmt::format("{}: spikes and /metrics in {}", complete ? "done" : "INTERRUPTED",
                           ctx.folder.spikes().string()));
  return complete ? exit_ok : exit_interrupted;
}

void validate_doc(const sim::ConfigDocument& doc) {
  toml::table resolved;
  read_point_config(doc, resolved);
}

}  // namespace

Experiment experiment() {
  return {"nmda_threshold",
          "one point of the NMDA-threshold study: Monte Carlo error rates of dendritic "
          "segments vs Ahmad & Hawkins 2016, and spiking sequence prediction at that threshold",
          {"experiments/nmda_threshold.toml", "experiments/nmda_threshold_small.toml"},
          run,
          validate_doc};
}

}  // namespace experiments::nmda_threshold
