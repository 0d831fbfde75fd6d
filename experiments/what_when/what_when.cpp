#include "experiments/what_when/what_when.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "models/force_rls.hpp"
#include "models/readout.hpp"
#include "sim/h5.hpp"
#include "sim/rng.hpp"
#include "sim/simulation.hpp"
#include "sim/sonata_sink.hpp"

namespace experiments::what_when {

namespace ro = models::readout;
namespace pl = models::plasticity;

models::plasticity::AttentionGateParams gate_params(double surprise_gain, double outcome_gain) {
  return {.after_outcome_ms = 0.0,
          .base_gain = 1.0,
          .surprise_tau_ms = 1000.0,
          .initial_expected_error = 0.0,
          .surprise_margin = 0.0,
          .surprise_gain = surprise_gain,
          .low_prediction = 0.2,
          .outcome_gain = outcome_gain,
          .outcome_hold_ms = 100.0,
          .max_gain = 3.0};
}

void open_gate(models::plasticity::AttentionGate& gate, const Trial& trial, const Timing& timing,
               double dt_ms) {
  const auto cue_step = static_cast<sim::Step>(std::llround(trial.cue_ms / dt_ms));
  gate.on_cue(cue_step, timing.trial_ms);
}

std::vector<uint32_t> interval_layers(const std::vector<std::pair<sim::Step, sim::Step>>& windows) {
  std::vector<sim::Step> layer_end;  // the end of each layer's last window
  std::vector<uint32_t> out;
  out.reserve(windows.size());
  for (const auto& [start, end] : windows) {
    std::size_t l = 0;
    while (l < layer_end.size() && layer_end[l] > start) ++l;
    if (l == layer_end.size()) layer_end.push_back(0);
    layer_end[l] = end;
    out.push_back(static_cast<uint32_t>(l));
  }
  return out;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr const char* kReadoutPopulation = "readout";

struct Config {
  std::string name;
  sim::NetworkConfig net;
  Timing timing;
  std::vector<Block> blocks;
  std::vector<std::string> cues, outcomes;
  std::string input_population = "exc";
  uint64_t stimulus_seed = 1;  // schedule: trial order, jitter, outcomes
  std::vector<Trial> schedule;  // made from blocks, timing and stimulus_seed (read_config)
  double cue_duration_ms = 100, cue_fraction = 0.2, cue_amplitude = 10;
  bool outcome_input = false;
  double outcome_duration_ms = 100, outcome_fraction = 0.1, outcome_amplitude = 10;
  // paradigm.stimulus: "current" (a step current of cue_amplitude / outcome_amplitude on the
  // subset for the stimulus' duration) or "poisson" (each cell of the subset receives its
  // own Poisson input spikes at cue_rate_hz / outcome_rate_hz for that time, each adding
  // cue_weight / outcome_weight of charge, mV, through the population's synapse, as the
  // population drive's Poisson input does; through an exponential synapse the mean current
  // is rate x 1e-3 x dt x weight / (tau (1 - exp(-dt / tau))), so 500 Hz x 20 mV gives 11.0
  // at dt = 1 ms and tau = 5 ms, about 10 % above the built-in step of 10; 18.13 mV gives 10).
  bool poisson_stimulus = false;
  double cue_rate_hz = 0, cue_weight = 0, outcome_rate_hz = 0, outcome_weight = 0;
  // readouts
  double tau_min_ms = 20, tau_max_ms = 1000, bias = 1.0, baseline_ms = 200;
  double sample_ms = 5, target_sigma_ms = 50;
  double eta0_when = 0.1, eta0_what = 0.003;
  // The when readouts' per-feature rates (models/readout.hpp, Eq. R2) or one rate (Eq. R1).
  bool precondition_when = false;
  double precondition_floor = 0.1;
  double surprise_gain = 0.0, outcome_gain = 0.0;
  // The cue whose when readout's learning samples are written to /learning_samples (-1 = none).
  int record_samples_cue = -1;
  // Optional spiking readout neurons: spiking_neurons per readout (0 = none) in an extra
  // population "readout", each group driven by its readout's rectified output.
  uint32_t spiking_neurons = 0;
  double spiking_gain = 30.0, spiking_noise_sigma = 2.0;
  // FORCE
  bool force = true;
  std::string force_cue;                // the first of force_cues (plots, block weights)
  std::vector<std::string> force_cues;  // cues with a FORCE pair (no reset / P reset)
  double force_update_ms = 10, force_alpha_trials = 1.0;
  bool force_rectify = true;
  // clock decoder
  uint32_t clock_trials = 150;
  double clock_sample_ms = 20, clock_max_ms = 1200, cue_decode_ms = 1000;
  double clock_select_window_ms = 100;  // validation window of each reported time's penalty
  // metrics
  uint32_t snapshot_trials = 100, steady_trials = 20, null_count = 1000;
  uint32_t bank_trials = 10;   // held-out adaptation error: trials per bank
  double bank_sample_ms = 20;  // and its sampling interval
  std::string adaptation_cue, angle_cue, angle_outcome;
};

uint32_t index_of(sim::TableReader& r, std::string_view key, const std::vector<std::string>& names,
                  const std::string& value) {
  for (uint32_t i = 0; i < names.size(); ++i)
    if (names[i] == value) return i;
  r.fail(key, fmt::format("'{}' is not one of the listed names", value));
}

sim::Step steps_of(sim::TableReader& r, std::string_view key, double ms, double dt) {
  const auto s = sim::steps_exact(ms, dt);
  if (!s || *s == 0) r.fail(key, fmt::format("expected a positive multiple of dt = {} ms", dt));
  return *s;
}

uint32_t count_of(sim::TableReader& r, std::string_view key, int64_t fallback) {
  const int64_t n = r.integer(key, fallback);
  if (n < 1 || n > 10'000'000) r.fail(key, "expected a count between 1 and 10^7");
  return static_cast<uint32_t>(n);
}

Config read_config(sim::TableReader& root, const std::string& default_name) {
  Config c;
  c.name = read_experiment_header(root, default_name);
  c.net = sim::read_network_config(root, sim::Duration::from_experiment);
  const double dt = c.net.network.dt_ms;

  sim::TableReader p = root.table("paradigm", true);
  c.timing.warmup_ms = p.number("warmup_ms", 1500.0);
  c.timing.iti_ms = p.number("iti_ms", 400.0);
  c.timing.iti_jitter_ms = p.number("iti_jitter_ms", 500.0);
  c.timing.trial_ms = p.number("trial_ms", 1400.0);
  steps_of(p, "trial_ms", c.timing.trial_ms, dt);
  if (c.timing.warmup_ms < 0) p.fail("warmup_ms", "expected >= 0");
  if (c.timing.iti_jitter_ms < 0) p.fail("iti_jitter_ms", "expected >= 0");
  {
    const toml::node* n = p.raw("cues");
    const toml::node* o = p.raw("outcomes");
    if (!n || !n->is_array() || !o || !o->is_array())
      p.fail("cues", "expected cues = [\"A\", ...] and outcomes = [\"X\", ...]");
    for (const auto& e : *n->as_array())
      if (auto s = e.value<std::string>()) c.cues.push_back(*s);
    for (const auto& e : *o->as_array())
      if (auto s = e.value<std::string>()) c.outcomes.push_back(*s);
    if (c.cues.empty() || c.outcomes.empty()) p.fail("cues", "expected non-empty name lists");
  }
  c.input_population = p.string("input_population", "exc");
  // A separate seed for the schedule lets a run repeat the same network and noise with
  // another trial sequence (the across-seed control of the what/when angle).
  const int64_t stim_seed = p.integer("seed", static_cast<int64_t>(c.net.run.seed));
  if (stim_seed < 0) p.fail("seed", "expected a seed >= 0");
  c.stimulus_seed = static_cast<uint64_t>(stim_seed);
  c.cue_duration_ms = p.number("cue_duration_ms", 100.0);
  c.cue_fraction = p.number("cue_fraction", 0.2);
  c.outcome_input = p.boolean("outcome_input", false);
  c.outcome_duration_ms = p.number("outcome_duration_ms", 100.0);
  c.outcome_fraction = p.number("outcome_fraction", 0.1);
  c.poisson_stimulus = p.choice("stimulus", {"current", "poisson"}, "current") == "poisson";
  // Each form's keys only with that form: a key of the other would be silently unused.
  if (!c.poisson_stimulus) {
    for (const char* key : {"cue_rate_hz", "cue_weight", "outcome_rate_hz", "outcome_weight"})
      if (p.has(key))
        p.fail(key, "expected only with paradigm.stimulus = \"poisson\" (a current stimulus "
                    "is set by cue_amplitude and outcome_amplitude)");
    c.cue_amplitude = p.number("cue_amplitude", 10.0);
    c.outcome_amplitude = p.number("outcome_amplitude", 10.0);
  } else {
    for (const char* key : {"cue_amplitude", "outcome_amplitude"})
      if (p.has(key))
        p.fail(key, "expected only with paradigm.stimulus = \"current\" (Poisson input is set "
                    "by cue_rate_hz and cue_weight, outcome_rate_hz and outcome_weight)");
    c.cue_amplitude = c.outcome_amplitude = 0;
    auto rate = [&](const char* key, double hz) {
      if (!(hz > 0)) p.fail(key, "expected a rate > 0 Hz");
      sim::check_poisson_per_step(p, key, hz, dt);
    };
    c.cue_rate_hz = p.number("cue_rate_hz");
    rate("cue_rate_hz", c.cue_rate_hz);
    c.cue_weight = p.number("cue_weight");
    // The outcome's input is needed only when the outcome drives the reservoir.
    if (c.outcome_input) {
      c.outcome_rate_hz = p.number("outcome_rate_hz");
      rate("outcome_rate_hz", c.outcome_rate_hz);
      c.outcome_weight = p.number("outcome_weight");
    } else {
      c.outcome_rate_hz = p.number("outcome_rate_hz", 0.0);
      c.outcome_weight = p.number("outcome_weight", 0.0);
      if (c.outcome_rate_hz != 0) rate("outcome_rate_hz", c.outcome_rate_hz);
    }
  }
  if (!(c.cue_fraction > 0 && c.cue_fraction <= 1)) p.fail("cue_fraction", "expected (0, 1]");
  if (!(c.outcome_fraction > 0 && c.outcome_fraction <= 1))
    p.fail("outcome_fraction", "expected (0, 1]");
  steps_of(p, "cue_duration_ms", c.cue_duration_ms, dt);
  steps_of(p, "outcome_duration_ms", c.outcome_duration_ms, dt);
  p.finish();

  for (auto& b : root.tables("block", true)) {
    Block block;
    block.name = b.string("name");
    block.trials_per_condition = count_of(b, "trials_per_condition", 100);
    for (auto& cond : b.tables("condition", true)) {
      Condition k;
      k.cue = index_of(cond, "cue", c.cues, cond.string("cue"));
      k.outcome = index_of(cond, "outcome", c.outcomes, cond.string("outcome"));
      k.latency_ms = cond.number("latency_ms");
      k.probability = cond.number("probability", 1.0);
      if (!(k.latency_ms > 0 && k.latency_ms < c.timing.trial_ms))
        cond.fail("latency_ms", "expected 0 < latency_ms < paradigm.trial_ms");
      if (!(k.probability >= 0 && k.probability <= 1)) cond.fail("probability", "expected [0, 1]");
      steps_of(cond, "latency_ms", k.latency_ms, dt);
      cond.finish();
      block.conditions.push_back(k);
    }
    b.finish();
    c.blocks.push_back(block);
  }

  sim::TableReader r = root.table("readout");
  c.tau_min_ms = r.number("tau_min_ms", 20.0);
  c.tau_max_ms = r.number("tau_max_ms", 1000.0);
  if (!(c.tau_min_ms > 0)) r.fail("tau_min_ms", "expected > 0");
  if (!(c.tau_max_ms >= c.tau_min_ms)) r.fail("tau_max_ms", "expected >= readout.tau_min_ms");
  c.bias = r.number("bias", 1.0);
  c.baseline_ms = r.number("baseline_ms", 200.0);
  c.sample_ms = r.number("sample_ms", 5.0);
  steps_of(r, "sample_ms", c.sample_ms, dt);
  steps_of(r, "baseline_ms", c.baseline_ms, dt);
  if (c.baseline_ms > c.timing.iti_ms) r.fail("baseline_ms", "expected <= paradigm.iti_ms");
  c.target_sigma_ms = r.number("target_sigma_ms", 50.0);
  if (!(c.target_sigma_ms > 0)) r.fail("target_sigma_ms", "expected > 0 (the width of the when target)");
  // eta0 is normalised by E||x||^2 (models/readout.hpp, Eq. R1): the online when readout is
  // stable in the mean only for eta0 < 2; the what readout applies its sum once per trial.
  c.eta0_when = r.number("eta0_when", 0.1);
  if (!(c.eta0_when >= 0 && c.eta0_when < 2))
    r.fail("eta0_when", "expected 0 <= eta0_when < 2 (normalised LMS rate, stable in the mean below 2)");
  c.precondition_when = r.choice("precondition_when", {"none", "diagonal"}, "none") == "diagonal";
  c.precondition_floor = r.number("precondition_floor", 0.1);
  if (!(c.precondition_floor > 0))
    r.fail("precondition_floor", "expected > 0 (the floor of Eq. R2, relative to the mean feature variance)");
  c.eta0_what = r.number("eta0_what", 0.003);
  if (!(c.eta0_what >= 0)) r.fail("eta0_what", "expected >= 0");
  c.surprise_gain = r.number("surprise_gain", 0.0);
  if (!(c.surprise_gain >= 0)) r.fail("surprise_gain", "expected >= 0 (a gain added to the gate)");
  c.outcome_gain = r.number("outcome_gain", 0.0);
  if (!(c.outcome_gain >= 0)) r.fail("outcome_gain", "expected >= 0 (a gain added to the gate)");
  // Every learning sample of one cue's when readout (features, target, gate, output), for
  // offline analysis of what the rule saw: 4 (N + 1) bytes per sample, e.g. about 0.56 GB for
  // cue A of what_when.toml (500 trials x 280 samples x 1001 features).
  if (const std::string cue = r.string("record_samples_cue", ""); !cue.empty())
    c.record_samples_cue = static_cast<int>(index_of(r, "record_samples_cue", c.cues, cue));
  // Spiking readout neurons (an option of ours): groups of Izhikevich RS cells (2003 Fig. 2
  // parameters) whose input current is spiking_gain x the readout's rectified output,
  // updated every sample_ms, plus Gaussian noise so a group fires asynchronously and its rate
  // follows the output. Each when readout (cue order), then each what readout.
  const int64_t sn = r.integer("spiking_neurons", 0);
  if (sn < 0 || sn > 10000) r.fail("spiking_neurons", "expected 0 <= spiking_neurons <= 10000");
  c.spiking_neurons = static_cast<uint32_t>(sn);
  c.spiking_gain = r.number("spiking_gain", 30.0);
  if (!(c.spiking_gain >= 0)) r.fail("spiking_gain", "expected spiking_gain >= 0");
  c.spiking_noise_sigma = r.number("spiking_noise_sigma", 2.0);
  if (!(c.spiking_noise_sigma >= 0))
    r.fail("spiking_noise_sigma", "expected spiking_noise_sigma >= 0");
  if (c.spiking_neurons > 0) {
    for (const auto& p : c.net.network.populations)
      if (p.name == kReadoutPopulation)
        r.fail("spiking_neurons", fmt::format("the spiking readout neurons form a population "
                                              "named '{}', which the network already has",
                                              kReadoutPopulation));
    sim::PopulationSpec pop;  // a, b, c, d default to RS (0.02, 0.2, -65, 8)
    pop.name = kReadoutPopulation;
    pop.size = c.spiking_neurons * static_cast<uint32_t>(c.cues.size() + c.outcomes.size());
    pop.drive.noise_sigma = c.spiking_noise_sigma;
    c.net.network.populations.push_back(pop);
  }
  r.finish();

  sim::TableReader f = root.table("force");
  c.force = f.boolean("enabled", true);
  // force.cues = ["A", ...] (or force.cue = "A"): each listed cue gets its own FORCE pair,
  // as each cue has its own when readout. Cost grows with the list (O(N^2) per update).
  if (f.has("cues")) {
    const toml::node* n = f.raw("cues");
    if (!n->is_array() || n->as_array()->empty()) f.fail("cues", "expected cues = [\"A\", ...]");
    for (const auto& e : *n->as_array()) {
      const auto v = e.value<std::string>();
      if (!v) f.fail("cues", "expected cue names");
      index_of(f, "cues", c.cues, *v);
      if (std::find(c.force_cues.begin(), c.force_cues.end(), *v) != c.force_cues.end())
        f.fail("cues", fmt::format("cue \"{}\" is listed twice", *v));
      c.force_cues.push_back(*v);
    }
  } else {
    c.force_cues.push_back(f.string("cue", c.cues.front()));
    index_of(f, "cue", c.cues, c.force_cues.back());
  }
  c.force_cue = c.force_cues.front();
  c.force_update_ms = f.number("update_every_ms", 10.0);
  steps_of(f, "update_every_ms", c.force_update_ms, dt);
  c.force_alpha_trials = f.number("alpha_trials", 1.0);
  if (!(c.force_alpha_trials > 0)) f.fail("alpha_trials", "expected > 0");
  // The scored FORCE output is max(0, w.x), like the three-factor readout's (RLS itself
  // fits the linear drive w.x, the closed form of models/force_rls.hpp). Unrectified, the
  // noise of a fresh post-reset fit below zero alone kept FORCE's error above the
  // three-factor rule's asymptote, so "recovery" measured readout shape, not adaptation.
  c.force_rectify = f.boolean("rectify", true);
  f.finish();

  sim::TableReader k = root.table("clock");
  c.clock_trials = count_of(k, "trials", 150);
  // Trials split train / validation / test by index mod 3: at least 3 of each.
  if (c.clock_trials < 9) k.fail("trials", "expected >= 9 (3 each for train, validation and test)");
  c.clock_sample_ms = k.number("sample_every_ms", 20.0);
  steps_of(k, "sample_every_ms", c.clock_sample_ms, dt);
  c.clock_max_ms = k.number("max_ms", 1200.0);
  if (c.clock_max_ms > c.timing.trial_ms) k.fail("max_ms", "expected <= paradigm.trial_ms");
  c.cue_decode_ms = k.number("cue_decode_ms", 1000.0);
  c.clock_select_window_ms = k.number("select_window_ms", 100.0);
  if (!(c.clock_select_window_ms >= 0)) k.fail("select_window_ms", "expected >= 0");
  if (c.cue_decode_ms > c.clock_max_ms) k.fail("cue_decode_ms", "expected <= clock.max_ms");
  k.finish();

  sim::TableReader m = root.table("metrics");
  c.snapshot_trials = count_of(m, "snapshot_trials", 100);
  c.steady_trials = count_of(m, "steady_trials", 20);
  c.null_count = count_of(m, "null_permutations", 1000);
  c.bank_trials = count_of(m, "bank_trials", 10);
  c.bank_sample_ms = m.number("bank_sample_ms", 20.0);
  steps_of(m, "bank_sample_ms", c.bank_sample_ms, dt);
  if (std::fmod(c.bank_sample_ms, c.sample_ms) != 0)
    m.fail("bank_sample_ms", "expected a multiple of readout.sample_ms");
  c.adaptation_cue = m.string("adaptation_cue", c.force_cue);
  index_of(m, "adaptation_cue", c.cues, c.adaptation_cue);
  c.angle_cue = m.string("angle_cue", c.cues.front());
  index_of(m, "angle_cue", c.cues, c.angle_cue);
  c.angle_outcome = m.string("angle_outcome", c.outcomes.front());
  index_of(m, "angle_outcome", c.outcomes, c.angle_outcome);
  m.finish();
  // The trial schedule sets a what/when run's length (warm-up plus the blocks' trials); a
  // duration of its own would be overwritten without a word. Accepted: 0 (the built-in
  // configs) or the schedule's own length (what a run's resolved config.toml says, so that
  // it re-runs as it is).
  c.schedule = make_schedule(c.blocks, c.timing, dt, c.stimulus_seed);
  const double end_ms = schedule_end_ms(c.schedule, c.timing);
  if (c.net.run.duration_ms != 0) {
    if (std::abs(c.net.run.duration_ms - end_ms) > 0.5 * dt)
      root.table("simulation")
          .fail("duration_ms",
                fmt::format("expected 0 or the trial schedule's length, {} ms: a what/when run "
                            "lasts as long as its schedule (set paradigm.warmup_ms and the "
                            "[[block]] trial counts), got {}",
                            end_ms, c.net.run.duration_ms));
  }
  sim::set_run_duration(c.net, end_ms);  // traces without stop_ms record to its end
  return c;
}

class Session {
 public:
  Session(const Config& cfg, sim::Simulation& sim, std::vector<Trial> trials)
      : cfg_(cfg), sim_(sim), trials_(std::move(trials)), dt_(sim.dt_ms()) {
    auto& pops = sim.network().populations();
    // The spiking readout population (last, when present) is no part of the reservoir: its
    // spikes are not features.
    n_reservoir_ = static_cast<uint32_t>(pops.size()) - (cfg.spiking_neurons > 0 ? 1u : 0u);
    uint32_t total = 0;
    for (uint32_t p = 0; p < n_reservoir_; ++p) {
      offset_.push_back(total);
      total += pops[p].size();
    }
    spiking_.assign(cfg.spiking_neurons > 0 ? cfg.cues.size() + cfg.outcomes.size() : 0, {});
    const int in = sim.network().population_index(cfg.input_population);
    if (in < 0) throw std::runtime_error("paradigm.input_population names no population");
    input_ = static_cast<uint32_t>(in);
    // Disjoint cue subsets, then outcome subsets, from one permutation of the input cells;
    // when the cells run out, subsets wrap around (and then overlap).
    const uint32_t n_in = pops[input_].size();
    std::vector<uint32_t> perm(n_in);
    for (uint32_t i = 0; i < n_in; ++i) perm[i] = i;
    // Part of the network (run seed), not of the schedule (paradigm.seed).
    sim::rng::Stream s(cfg.net.run.seed, sim::rng::make_stream(sim::rng::Purpose::stimulus, 10), 0);
    for (std::size_t i = perm.size(); i > 1; --i)
      std::swap(perm[i - 1], perm[static_cast<std::size_t>(s.below(i))]);
    std::size_t next = 0;
    auto take = [&](double fraction) {
      const auto k = static_cast<std::size_t>(std::llround(fraction * n_in));
      std::vector<uint32_t> ids;
      for (std::size_t j = 0; j < k; ++j) ids.push_back(perm[(next + j) % n_in]);
      next += k;
      return ids;
    };
    for (std::size_t c = 0; c < cfg.cues.size(); ++c) cue_cells_.push_back(take(cfg.cue_fraction));
    for (std::size_t o = 0; o < cfg.outcomes.size(); ++o)
      outcome_cells_.push_back(take(cfg.outcome_fraction));

    sim::rng::Stream ts(cfg.net.run.seed, sim::rng::make_stream(sim::rng::Purpose::model, 1), 0);
    features_.emplace(ro::log_uniform_taus(total, cfg.tau_min_ms, cfg.tau_max_ms, ts), dt_,
                      cfg.bias);
    nf_ = features_->size();
    x_.assign(nf_, 0.0);
    for (std::size_t c = 0; c < cfg.cues.size(); ++c) {
      when_.emplace_back(
          nf_, ro::ReadoutParams{.eta0 = cfg.eta0_when,
                                 .mode = pl::LearningMode::online,
                                 .precondition = cfg.precondition_when
                                                     ? ro::Preconditioning::diagonal
                                                     : ro::Preconditioning::none,
                                 .precondition_floor = cfg.precondition_floor});
      gates_.emplace_back(gate_params(cfg.surprise_gain, cfg.outcome_gain), dt_);
    }
    for (std::size_t o = 0; o < cfg.outcomes.size(); ++o)
      what_.emplace_back(nf_, ro::ReadoutParams{.eta0 = cfg.eta0_what,
                                                .mode = pl::LearningMode::consolidation});
    force_of_cue_.assign(cfg.cues.size(), -1);
    if (cfg.force)
      for (const auto& name : cfg.force_cues) {
        force_of_cue_[index(cfg.cues, name)] = static_cast<int>(forces_.size());
        forces_.emplace_back();
      }

    sample_steps_ = step(cfg.sample_ms);
    baseline_steps_ = step(cfg.baseline_ms);
    trial_steps_ = step(cfg.timing.trial_ms);
    n_rec_ = static_cast<std::size_t>((baseline_steps_ + trial_steps_) / sample_steps_);
    for (std::size_t j = 0; j < n_rec_; ++j)
      t_rec_.push_back(static_cast<double>(j * sample_steps_) * dt_ - cfg.baseline_ms);
    rec_when_.assign(trials_.size() * n_rec_, kNaN);
    rec_force_[0].assign(trials_.size() * n_rec_, kNaN);
    rec_force_[1].assign(trials_.size() * n_rec_, kNaN);
    rec_what_.assign(cfg.outcomes.size(), std::vector<double>(trials_.size() * n_rec_, kNaN));
    err_when_.assign(trials_.size(), kNaN);
    err_force_[0].assign(trials_.size(), kNaN);
    err_force_[1].assign(trials_.size(), kNaN);
    clock_steps_ = step(cfg.clock_sample_ms);
    clock_per_trial_ = static_cast<std::size_t>(step(cfg.clock_max_ms) / clock_steps_) + 1;
    build_events();
    // The recorded learning samples, reserved up front so the largest buffer (the features)
    // is never copied while it grows: one sample every sample_ms of each of the cue's trials.
    if (cfg.record_samples_cue >= 0) {
      std::size_t n = 0;
      for (const auto& t : trials_) n += static_cast<int>(t.cue) == cfg.record_samples_cue;
      n *= static_cast<std::size_t>((trial_steps_ + sample_steps_ - 1) / sample_steps_);
      samples_.x.reserve(n * nf_);
      for (auto* v : {&samples_.t_ms, &samples_.target, &samples_.expected, &samples_.gate,
                      &samples_.output})
        v->reserve(n);
      samples_.trial.reserve(n);
    }
    // Held-out adaptation banks: for each cue whose condition changes, its trials from
    // steady_trials + bank_trials before the first change on keep features (every
    // bank_sample_ms in the gate) and the frozen weights of every learner.
    bank_steps_ = step(cfg.bank_sample_ms);
    bank_per_trial_ = static_cast<std::size_t>((trial_steps_ + bank_steps_ - 1) / bank_steps_);
    bank_.resize(trials_.size());
    for (std::size_t c = 0; c < cfg.cues.size(); ++c) {
      std::vector<std::size_t> ids;
      std::size_t change = 0;
      for (std::size_t i = 0; i < trials_.size(); ++i)
        if (trials_[i].cue == c) {
          if (!ids.empty() && change == 0 &&
              (trials_[ids.back()].latency_ms != trials_[i].latency_ms ||
               trials_[ids.back()].probability != trials_[i].probability))
            change = ids.size();
          ids.push_back(i);
        }
      if (change == 0) continue;
      const std::size_t keep = cfg.steady_trials + cfg.bank_trials;
      for (std::size_t k = change > keep ? change - keep : 0; k < ids.size(); ++k)
        bank_[ids[k]].kept = true;
    }
  }

  void hook(sim::Step k) {
    if (k > 0) {
      const sim::Step s = k - 1;
      for (uint32_t p = 0; p < n_reservoir_; ++p)
        for (uint32_t id : sim_.last_spikes(p)) features_->on_spike(offset_[p] + id, s);
      if (!spiking_.empty())
        for (uint32_t id : sim_.last_spikes(n_reservoir_)) {
          ++spiking_[id / cfg_.spiking_neurons].count;
          ++spiking_spikes_;
        }
      on_step(s);
    }
    while (event_ < events_.size() && events_[event_].step == k) {
      const Event& e = events_[event_++];
      auto& ext = sim_.network().populations()[input_].external;
      for (uint32_t id : *e.cells) ext[id] += e.amplitude;
    }
    poisson_input(k);
  }

  // Poisson stimuli (paradigm.stimulus = "poisson"): the charge of step k's input spikes
  // goes into the row of step k, which advance(k) consumes after this hook (phase 0 of the
  // step, one thread). A count is a pure function of (run seed, stream, cell, step), so the
  // input does not depend on the thread count.
  void poisson_input(sim::Step k) {
    while (window_ < windows_.size() && windows_[window_].start == k)
      active_.push_back(window_++);
    if (active_.empty()) return;
    double* charge = sim_.network().populations()[input_].charge_at(k);
    std::size_t kept = 0;
    for (std::size_t a : active_) {
      const PoissonWindow& w = windows_[a];
      if (k >= w.end) continue;
      active_[kept++] = a;
      for (uint32_t id : *w.cells) {
        const uint32_t n = sim::rng::poisson_count(cfg_.net.run.seed, w.stream, id,
                                                   static_cast<uint64_t>(k), w.lambda, w.p0);
        charge[id] += w.weight * n;
        *w.count += n;
      }
    }
    active_.resize(kept);
  }

  // Spiking readout groups (when readouts in cue order, then what readouts): over the
  // sample bins in which a drive was held, the spike count of the group against the
  // rectified output that drove it.
  struct SpikingGroup {
    double drive = 0;    // rectified readout output held since the last sample
    uint64_t count = 0;  // group spikes since then
    bool active = false;
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;  // x = drive, y = count
  };
  const std::vector<SpikingGroup>& spiking_groups() const { return spiking_; }
  uint64_t spiking_spikes() const { return spiking_spikes_; }
  // Poisson stimuli: input spikes delivered to the cue and outcome subsets.
  uint64_t cue_input_spikes() const { return cue_input_spikes_; }
  uint64_t outcome_input_spikes() const { return outcome_input_spikes_; }
  // Node ids (in the input population) that each cue and outcome stimulus drives.
  const std::vector<uint32_t>& cue_cells(std::size_t c) const { return cue_cells_[c]; }
  const std::vector<uint32_t>& outcome_cells(std::size_t o) const { return outcome_cells_[o]; }

  // --- results ---
  const std::vector<Trial>& trials() const { return trials_; }
  const std::vector<double>& t_rec() const { return t_rec_; }
  std::size_t n_rec() const { return n_rec_; }
  const std::vector<double>& rec_when() const { return rec_when_; }
  const std::vector<double>& rec_force(int v) const { return rec_force_[v]; }
  const std::vector<double>& rec_what(std::size_t o) const { return rec_what_[o]; }
  const std::vector<double>& err_when() const { return err_when_; }
  const std::vector<double>& err_force(int v) const { return err_force_[v]; }
  const std::vector<float>& clock_x() const { return clock_x_; }
  std::size_t clock_per_trial() const { return clock_per_trial_; }
  std::size_t clock_rows_trials() const { return clock_trial_ids_.size(); }
  const std::vector<uint32_t>& clock_trial_ids() const { return clock_trial_ids_; }
  std::size_t n_features() const { return nf_; }
  const ro::LinearReadout& when(std::size_t c) const { return when_[c]; }
  const ro::LinearReadout& what(std::size_t o) const { return what_[o]; }
  // FORCE weights of cue `cue` (a listed FORCE cue): v = 0 without, 1 with P reset.
  std::vector<double> force_weights(std::size_t cue, int v) const {
    const Force& f = forces_.at(static_cast<std::size_t>(force_of_cue_.at(cue)));
    const auto& r = v == 0 ? f.a : (f.b ? f.b : f.a);
    if (!r) return std::vector<double>(nf_, 0.0);
    return {r->weights().begin(), r->weights().end()};
  }
  // Held-out bank of a trial: features every bank_sample_ms in the gate (bank_per_trial()
  // rows of n_features()) and the frozen weights of the three-factor readout and, on FORCE
  // cues, of FORCE without and with reset (empty when not kept).
  struct Bank {
    bool kept = false;
    std::vector<float> x;
    std::vector<double> w[3];
  };
  const Bank& bank(std::size_t trial) const { return bank_[trial]; }
  std::size_t bank_per_trial() const { return bank_per_trial_; }
  sim::Step bank_steps() const { return bank_steps_; }
  // Learning samples of cfg.record_samples_cue's when readout, in learning order: the
  // features x (n_features() per sample), the trial index, time since the cue, the target
  // (the outcome that occurred), the expected target (p x the target shape: what errors are
  // scored against), the gate and the output before the update (M = (target - output) * gate).
  struct Samples {
    std::vector<float> x;
    std::vector<uint32_t> trial;
    std::vector<double> t_ms, target, expected, gate, output;
  };
  const Samples& samples() const { return samples_; }
  // Called at the end of each block with the block index (weights snapshot).
  std::function<void(uint32_t)> on_block_end;

 private:
  struct Event {
    sim::Step step;
    const std::vector<uint32_t>* cells;
    double amplitude;
  };
  sim::Step step(double ms) const { return static_cast<sim::Step>(std::llround(ms / dt_)); }
  static std::size_t index(const std::vector<std::string>& v, const std::string& s) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] == s) return i;
    return 0;
  }

  // A Poisson stimulus: cells receive input spikes in steps [start, end).
  struct PoissonWindow {
    sim::Step start, end;
    const std::vector<uint32_t>* cells;
    double lambda, p0, weight;  // expected spikes per cell and step, exp(-lambda), charge (mV)
    uint32_t kind;    // 0 cue, 1 outcome
    uint32_t stream;  // set by build_events
    uint64_t* count;  // input spikes delivered (cue_input_spikes_ or outcome_input_spikes_)
  };
  // Run-seed streams of the Poisson stimuli (10 draws the subsets): 11 + 2 l + kind for the
  // windows of layer l. Windows of one kind that overlap in time take different layers, so
  // that each window's input is its own Poisson train (keyed by cell and step alone, two
  // overlapping presentations to one cell would get the same counts); layer 0 holds every
  // window that overlaps no earlier one, so runs without overlaps keep streams 11 and 12.
  static uint32_t spike_stream(uint32_t kind, std::size_t layer) {
    const std::size_t index = 11 + 2 * layer + kind;
    if (index > 0x00FFFFFFu)
      throw std::runtime_error("what/when: too many Poisson stimuli overlap in time");
    return sim::rng::make_stream(sim::rng::Purpose::stimulus, static_cast<uint32_t>(index));
  }

  // One stimulus: a step current (an event at each end) or a Poisson window.
  void add_stimulus(sim::Step start, double duration_ms, const std::vector<uint32_t>* cells,
                    double amplitude, double rate_hz, double weight, uint32_t kind,
                    uint64_t* count) {
    const sim::Step end = start + step(duration_ms);
    if (!cfg_.poisson_stimulus) {
      events_.push_back({start, cells, amplitude});
      events_.push_back({end, cells, -amplitude});
      return;
    }
    const double lambda = rate_hz * dt_ * 1e-3;
    windows_.push_back({start, end, cells, lambda, std::exp(-lambda), weight, kind, 0, count});
  }

  void build_events() {
    for (const Trial& t : trials_) {
      const sim::Step cue = step(t.cue_ms);
      add_stimulus(cue, cfg_.cue_duration_ms, &cue_cells_[t.cue], cfg_.cue_amplitude,
                   cfg_.cue_rate_hz, cfg_.cue_weight, 0, &cue_input_spikes_);
      if (cfg_.outcome_input && t.occurred)
        add_stimulus(cue + step(t.latency_ms), cfg_.outcome_duration_ms,
                     &outcome_cells_[t.outcome], cfg_.outcome_amplitude, cfg_.outcome_rate_hz,
                     cfg_.outcome_weight, 1, &outcome_input_spikes_);
    }
    std::stable_sort(events_.begin(), events_.end(),
                     [](const Event& a, const Event& b) { return a.step < b.step; });
    std::stable_sort(windows_.begin(), windows_.end(),
                     [](const PoissonWindow& a, const PoissonWindow& b) { return a.start < b.start; });
    for (uint32_t kind : {0u, 1u}) {
      std::vector<std::pair<sim::Step, sim::Step>> spans;
      for (const PoissonWindow& w : windows_)
        if (w.kind == kind) spans.emplace_back(w.start, w.end);
      const auto layers = interval_layers(spans);
      std::size_t i = 0;
      for (PoissonWindow& w : windows_)
        if (w.kind == kind) w.stream = spike_stream(kind, layers[i++]);
    }
  }

  double target_shape(const Trial& t, double t_ms) const {
    const double z = (t_ms - t.latency_ms) / cfg_.target_sigma_ms;
    return std::exp(-0.5 * z * z);
  }

  // Closes each spiking group's bin (count against the drive it was given), then sets the
  // group's input current for the next bin: gain x rectified output, or 0 between trials.
  // The bin a trial's last sample opens is cut short by the inter-trial interval (one step
  // later) and is not counted: every counted bin covers the sample_ms after its sample.
  void drive_spiking(bool in_window, uint32_t trial_cue) {
    auto& ext = sim_.network().populations()[n_reservoir_].external;
    const std::size_t n_when = when_.size();
    for (std::size_t g = 0; g < spiking_.size(); ++g) {
      SpikingGroup& sg = spiking_[g];
      if (sg.active && in_window) {
        const double x = sg.drive, y = static_cast<double>(sg.count);
        sg.n += 1, sg.sx += x, sg.sy += y, sg.sxx += x * x, sg.syy += y * y, sg.sxy += x * y;
      }
      sg.count = 0;
      sg.active = in_window;
      // The trial's own when readout through its frozen weights (the recorded, scored output;
      // the live ones learn within the trial); the others do not learn now.
      sg.drive = !in_window           ? 0.0
                 : g == trial_cue     ? frozen_output(w_when_, true)
                 : g < n_when         ? std::max(0.0, when_[g].output(x_))
                                      : std::max(0.0, what_[g - n_when].output(x_));
      const uint32_t first = static_cast<uint32_t>(g) * cfg_.spiking_neurons;
      for (uint32_t i = 0; i < cfg_.spiking_neurons; ++i) ext[first + i] = cfg_.spiking_gain * sg.drive;
    }
  }

  void on_step(sim::Step s) {
    if (trial_ >= trials_.size()) return;
    const Trial& t = trials_[trial_];
    const sim::Step cue = step(t.cue_ms);
    const sim::Step first = cue - baseline_steps_;
    if (s < first && !spiking_.empty() && spiking_.front().active) drive_spiking(false, t.cue);
    if (s < first || (s - first) % sample_steps_ != 0) return;
    const auto j = static_cast<std::size_t>((s - first) / sample_steps_);
    const std::size_t row = trial_ * n_rec_ + j;
    const bool in_trial = s >= cue;
    if (s == first) {
      snapshot_weights(t);
      keep_bank_weights(t);
    }
    if (s == cue) start_trial(t);
    features_->features(s, x_);
    if (!spiking_.empty()) drive_spiking(true, t.cue);
    if (!in_trial) features_->add_baseline_sample(s);
    const double t_ms = static_cast<double>(s - cue) * dt_;
    const double shape = target_shape(t, t_ms);
    const double target_when = t.occurred ? shape : 0.0;
    const double expected_when = t.probability * shape;

    // Frozen-weight outputs (the scored ones).
    const double y_when = frozen_output(w_when_, true);
    rec_when_[row] = y_when;
    for (std::size_t o = 0; o < what_.size(); ++o) rec_what_[o][row] = what_[o].output(x_);
    Force* force = force_of_cue_[t.cue] >= 0 ? &forces_[static_cast<std::size_t>(force_of_cue_[t.cue])] : nullptr;
    const bool force_trial = force && force->a;
    if (force_trial) {
      rec_force_[0][row] = frozen_output(w_force_[0], cfg_.force_rectify);
      rec_force_[1][row] = frozen_output(w_force_[1], cfg_.force_rectify);
    }
    if (!in_trial) return;
    if (bank_[trial_].kept && (s - cue) % bank_steps_ == 0)
      for (double v : x_) bank_[trial_].x.push_back(static_cast<float>(v));

    const double e = y_when - expected_when;
    err_sum_when_ += e * e;
    if (force_trial)
      for (int v = 0; v < 2; ++v) {
        const double ef = rec_force_[v][row] - expected_when;
        err_sum_force_[v] += ef * ef;
      }
    ++err_count_;

    // Learning: when (online), what (consolidated at trial end), FORCE.
    auto& readout = when_[t.cue];
    const double y_now = readout.output(x_);
    const double g = gates_[t.cue].update(s, target_when - y_now);
    if (static_cast<int>(t.cue) == cfg_.record_samples_cue)
      record_sample(t_ms, target_when, expected_when, g, y_now);
    readout.learn(x_, target_when, g);
    for (std::size_t o = 0; o < what_.size(); ++o)
      what_[o].learn(x_, (t.occurred && t.outcome == o) ? 1.0 : 0.0, g);
    if (force_trial && g > 0 && (s - cue) % force_steps() == 0) {
      force_update(*force->a, target_when);
      if (force->b) force_update(*force->b, target_when);
    }
    if (trial_ < cfg_.clock_trials && (s - cue) % clock_steps_ == 0 &&
        static_cast<std::size_t>((s - cue) / clock_steps_) < clock_per_trial_) {
      if ((s - cue) == 0) clock_trial_ids_.push_back(static_cast<uint32_t>(trial_));
      for (double v : x_) clock_x_.push_back(static_cast<float>(v));
    }
    if (s + sample_steps_ >= cue + trial_steps_) end_trial(t);
  }

  sim::Step force_steps() const { return step(cfg_.force_update_ms); }

  void record_sample(double t_ms, double target, double expected, double gate, double output) {
    samples_.x.insert(samples_.x.end(), x_.begin(), x_.end());  // narrowed to float
    samples_.trial.push_back(static_cast<uint32_t>(trial_));
    samples_.t_ms.push_back(t_ms);
    samples_.target.push_back(target);
    samples_.expected.push_back(expected);
    samples_.gate.push_back(gate);
    samples_.output.push_back(output);
  }

  // One RLS step. With rectification the error is that of the rectified output,
  // max(0, w.x) - d, the error the three-factor rule learns from (M = d - max(0, w.x)): RLS
  // is given the target d + min(0, w.x), so a negative drive where d = 0 is no error, as for
  // the three-factor readout. Without it, FORCE must also pin w.x to 0 outside the target
  // bump, a harder (linear) fit whose asymptotic error stayed above the three-factor rule's.
  void force_update(ro::RlsReadout& r, double target) {
    r.update(x_, cfg_.force_rectify ? rectified_rls_target(target, r.drive(x_)) : target);
  }

  double frozen_output(const std::vector<double>& w, bool rectify) const {
    double y = 0;
    for (std::size_t i = 0; i < nf_; ++i) y += w[i] * x_[i];
    return rectify ? std::max(0.0, y) : y;
  }

  // At the first pre-cue sample: the weights every scored output of this trial uses.
  void snapshot_weights(const Trial& t) {
    const auto w = when_[t.cue].weights();
    w_when_.assign(w.begin(), w.end());
    if (force_of_cue_[t.cue] >= 0) {
      Force& f = forces_[static_cast<std::size_t>(force_of_cue_[t.cue])];
      // Created at the cue's first trial once E||x||^2 is known (from its earlier samples).
      if (!f.a && when_[t.cue].feature_power() > 0) {
        // alpha = alpha_trials x one trial's worth of the mean eigenvalue of E[x x^T]
        // (prototype notes: P0 = I / alpha).
        const double updates = cfg_.timing.trial_ms / cfg_.force_update_ms;
        const double alpha = cfg_.force_alpha_trials * updates *
                             when_[t.cue].feature_power() / static_cast<double>(nf_);
        f.a.emplace(nf_, ro::RlsParams{.alpha = alpha, .update_every_steps = 1});
      }
      // The reset variant splits off at the first trial of a block that changes this cue's
      // condition, and resets P at every such block.
      if (f.a && t.block != f.block) {
        if (f.block != UINT32_MAX && block_changes_cue(t.block, t.cue)) {
          if (!f.b) f.b = f.a;
          f.b->reset_p();
        }
        f.block = t.block;
      }
      if (f.a) {
        w_force_[0].assign(f.a->weights().begin(), f.a->weights().end());
        const auto& b = f.b ? *f.b : *f.a;
        w_force_[1].assign(b.weights().begin(), b.weights().end());
      }
    }
  }

  // Keeps the frozen weights of a bank trial (after snapshot_weights).
  void keep_bank_weights(const Trial& t) {
    Bank& b = bank_[trial_];
    if (!b.kept) return;
    b.w[0] = w_when_;
    if (force_of_cue_[t.cue] >= 0 && forces_[static_cast<std::size_t>(force_of_cue_[t.cue])].a) {
      b.w[1] = w_force_[0];
      b.w[2] = w_force_[1];
    }
  }

  // At the cue: the baseline includes this trial's pre-cue samples; the gate opens.
  void start_trial(const Trial& t) {
    features_->update_baseline();
    open_gate(gates_[t.cue], t, cfg_.timing, dt_);
    err_sum_when_ = 0;
    err_sum_force_[0] = err_sum_force_[1] = 0;
    err_count_ = 0;
  }

  bool block_changes_cue(uint32_t block, uint32_t cue) const {
    if (block == 0) return false;
    auto find = [&](uint32_t b) -> const Condition* {
      for (const auto& c : cfg_.blocks[b].conditions)
        if (c.cue == cue) return &c;
      return nullptr;
    };
    const Condition* now = find(block);
    const Condition* before = find(block - 1);
    return now && before &&
           (now->latency_ms != before->latency_ms || now->probability != before->probability);
  }

  void end_trial(const Trial& t) {
    for (auto& w : what_) w.consolidate();
    const double n = static_cast<double>(err_count_);
    err_when_[trial_] = err_sum_when_ / n;
    if (force_of_cue_[t.cue] >= 0 && forces_[static_cast<std::size_t>(force_of_cue_[t.cue])].a) {
      err_force_[0][trial_] = err_sum_force_[0] / n;
      err_force_[1][trial_] = err_sum_force_[1] / n;
    }
    const bool last_of_block = trial_ + 1 == trials_.size() || trials_[trial_ + 1].block != t.block;
    if (last_of_block && on_block_end) on_block_end(t.block);
    ++trial_;
  }

  const Config& cfg_;
  sim::Simulation& sim_;
  std::vector<Trial> trials_;
  double dt_;
  std::vector<uint32_t> offset_;
  uint32_t n_reservoir_ = 0;  // populations whose spikes are features
  std::vector<SpikingGroup> spiking_;
  uint64_t spiking_spikes_ = 0;
  uint32_t input_ = 0;
  std::vector<std::vector<uint32_t>> cue_cells_, outcome_cells_;
  std::vector<Event> events_;
  std::size_t event_ = 0;
  std::vector<PoissonWindow> windows_;
  std::size_t window_ = 0;
  std::vector<std::size_t> active_;  // windows started and perhaps not yet ended
  uint64_t cue_input_spikes_ = 0, outcome_input_spikes_ = 0;
  std::optional<ro::FilteredFeatures> features_;
  std::size_t nf_ = 0;
  std::vector<double> x_;
  std::vector<ro::LinearReadout> when_, what_;
  std::vector<pl::AttentionGate> gates_;
  Samples samples_;
  // One FORCE pair per listed cue: without (a) and with (b) P reset; b splits off a at the
  // first block that changes the cue's condition.
  struct Force {
    std::optional<ro::RlsReadout> a, b;
    uint32_t block = UINT32_MAX;  // block of the cue's latest trial
  };
  std::vector<Force> forces_;
  std::vector<int> force_of_cue_;  // index into forces_, -1 without FORCE
  std::vector<double> w_when_, w_force_[2];
  sim::Step sample_steps_ = 5, baseline_steps_ = 200, trial_steps_ = 1400, clock_steps_ = 20;
  std::size_t n_rec_ = 0, clock_per_trial_ = 0;
  std::vector<double> t_rec_;
  std::vector<double> rec_when_, rec_force_[2];
  std::vector<std::vector<double>> rec_what_;
  std::vector<double> err_when_, err_force_[2];
  double err_sum_when_ = 0, err_sum_force_[2] = {0, 0};
  std::size_t err_count_ = 0;
  std::size_t trial_ = 0;
  std::vector<float> clock_x_;
  std::vector<uint32_t> clock_trial_ids_;
  std::vector<Bank> bank_;
  sim::Step bank_steps_ = 20;
  std::size_t bank_per_trial_ = 0;
};

using Metrics = std::vector<std::pair<std::string, double>>;

// Held-out error per trial and learner (three-factor, FORCE without / with reset): the
// score of the trial's frozen weights on its cue's next bank_trials trials, for the trials
// the held-out adaptation figures scored; NaN elsewhere. /trials heldout_err_*.
using HeldoutErrors = std::array<std::vector<double>, 3>;

// ---- offline clock decoder ---------------------------------------------------------------

// The clock check (clock_decoder in paradigm.cpp) on the first clock.trials trials: the
// error against time since cue (returned, for /clock) and, in /metrics, at 200 / 600 /
// 1000 ms with the penalty chosen there. One penalty for all times had traded them (on the
// full config, seed 1: 32 / 107 ms at 200 / 600 ms with one penalty from a decade grid, 41 /
// 80 ms with one from a half-decade grid), hence one per time.
ClockCurve clock_metrics(const Config& cfg, const Session& s, Metrics& out) {
  const std::size_t n_tr = s.clock_rows_trials(), per = s.clock_per_trial(), p = s.n_features();
  if (n_tr < 9) {  // a schedule shorter than 9 trials: say so rather than leave figures out
    out.emplace_back("clock_test_trials", 0.0);
    return {};
  }
  const auto& x = s.clock_x();
  ClockCurve curve = clock_decoder(x, n_tr, per, p, cfg.clock_sample_ms, cfg.clock_select_window_ms);
  out.emplace_back("clock_test_trials", static_cast<double>(curve.test_trials));
  for (double at : {200.0, 600.0, 1000.0}) {
    const auto j = static_cast<std::size_t>(std::llround(at / cfg.clock_sample_ms));
    if (j >= per) continue;
    out.emplace_back(fmt::format("clock_mae_{:.0f}ms", at), curve.mae_ms[j]);
    out.emplace_back(fmt::format("clock_ridge_scale_{:.0f}ms", at), curve.ridge_scale[j]);
  }
  // Cue identity from the features at cue_decode_ms (1000 ms in the full config).
  const auto j1 = static_cast<std::size_t>(std::llround(cfg.cue_decode_ms / cfg.clock_sample_ms));
  if (j1 >= per) return curve;
  const std::size_t m = cfg.cues.size();
  std::vector<float> xc(n_tr * p);
  std::vector<double> yc(n_tr * m, 0.0);
  Split cs;
  for (std::size_t tr = 0; tr < n_tr; ++tr) {
    for (std::size_t i = 0; i < p; ++i) xc[tr * p + i] = x[(tr * per + j1) * p + i];
    yc[tr * m + s.trials()[s.clock_trial_ids()[tr]].cue] = 1.0;
    (tr % 3 == 0 ? cs.train : tr % 3 == 1 ? cs.val : cs.test).push_back(tr);
  }
  auto err = [&](const std::vector<double>& w, const std::vector<std::size_t>& rows) {
    double wrong = 0;
    for (std::size_t r : rows)
      if (predict_class(xc, r, w, p, m) != s.trials()[s.clock_trial_ids()[r]].cue) wrong += 1;
    return wrong / static_cast<double>(rows.size());
  };
  const auto cue_fit = fit_select(
      xc, yc, p, m, cs,
      [&](const std::vector<double>& w, const std::vector<std::size_t>& rows) {
        return std::vector<double>{err(w, rows)};
      },
      1);
  const auto& wc = cue_fit.weights[cue_fit.of_target[0]];
  out.emplace_back(fmt::format("clock_cue_accuracy_{:.0f}ms", cfg.cue_decode_ms),
                   1.0 - err(wc, cs.test));
  return curve;
}

// ---- readout metrics ---------------------------------------------------------------------

// Mean aligned output (in-trial samples only) over trial ids.
std::vector<double> mean_trace(const Session& s, const std::vector<double>& rec,
                               const std::vector<std::size_t>& ids, std::size_t first) {
  std::vector<double> m(s.n_rec() - first, 0.0);
  for (std::size_t id : ids)
    for (std::size_t j = first; j < s.n_rec(); ++j) m[j - first] += rec[id * s.n_rec() + j];
  for (double& v : m) v /= static_cast<double>(ids.size());
  return m;
}

// Recovery after the change at index `change` of per-learner series of equal length
// (three-factor, FORCE without reset, FORCE with reset): t90 of the error against `steady`
// (trials_to_recover) and, for probability changes, of the amplitude from its level over the
// steady_trials before the change to its level over the last steady_trials (trials_to_track);
// not recovered = censored at the number of post-change trials (a lower bound, flagged).
// Names: prefix + tag + {t90, amplitude_*, ratio_*}..., tag "" per trial or "heldout_".
void recovery_metrics(const std::vector<std::vector<double>>& err,
                      const std::vector<std::vector<double>>& amp, std::size_t change,
                      std::size_t steady_trials, double steady, bool latency_change,
                      const std::string& prefix, const std::string& tag, Metrics& out) {
  const char* names[3] = {"three_factor", "force_noreset", "force_reset"};
  const std::size_t n_learners = err.size();
  // Over the trials that have a value: FORCE has none before its cue's first trial with
  // features (a change right after it would otherwise make its level NaN).
  auto mean = [](const std::vector<double>& v, std::size_t lo, std::size_t hi) {
    double m = 0;
    std::size_t n = 0;
    for (std::size_t k = lo; k < hi; ++k)
      if (!std::isnan(v[k])) m += v[k], ++n;
    return n ? m / static_cast<double>(n) : kNaN;
  };
  std::vector<double> t90(n_learners, kNaN), t90_amp(n_learners, kNaN);
  for (std::size_t l = 0; l < n_learners; ++l) {
    if (std::isnan(err[l][change])) continue;
    const double post = static_cast<double>(err[l].size() - change);
    const long r = trials_to_recover(err[l], change, steady);
    t90[l] = r < 0 ? post : static_cast<double>(r);
    out.emplace_back(fmt::format("{}{}t90_{}", prefix, tag, names[l]), t90[l]);
    out.emplace_back(fmt::format("{}{}t90_{}_censored", prefix, tag, names[l]), r < 0 ? 1.0 : 0.0);
    if (latency_change) continue;
    const std::vector<double>& a = amp[l];
    const double a0 = mean(a, change - steady_trials, change);
    const double a1 = mean(a, a.size() - steady_trials, a.size());
    const long ra = trials_to_track(a, change, a0, a1);
    t90_amp[l] = ra < 0 ? post : static_cast<double>(ra);
    out.emplace_back(fmt::format("{}{}amplitude_before_{}", prefix, tag, names[l]), a0);
    out.emplace_back(fmt::format("{}{}amplitude_after_{}", prefix, tag, names[l]), a1);
    out.emplace_back(fmt::format("{}{}amplitude_t90_{}", prefix, tag, names[l]), t90_amp[l]);
    out.emplace_back(fmt::format("{}{}amplitude_t90_{}_censored", prefix, tag, names[l]),
                     ra < 0 ? 1.0 : 0.0);
  }
  if (n_learners == 3 && t90[0] > 0) {
    out.emplace_back(prefix + tag + "ratio_force_noreset", t90[1] / t90[0]);
    out.emplace_back(prefix + tag + "ratio_force_reset", t90[2] / t90[0]);
  }
  // One criterion for all learners: steady + 10 % of the largest of their jumps. Each
  // learner's own 90 % criterion is stricter in error units the smaller its jump, and the
  // learners' jumps differ by what they predicted before the change (after the latency
  // change FORCE's broader pre-change bump lost about half as much as the three-factor
  // rule's); this figure asks instead how long each takes to reach one error level.
  if (n_learners == 3 && !std::isnan(err[1][change])) {
    double max_jump = 0;
    for (std::size_t l = 0; l < n_learners; ++l)
      max_jump = std::max(max_jump, smoothed_since(err[l], change, change) - steady);
    const double threshold = steady + 0.1 * max_jump;
    out.emplace_back(prefix + tag + "common_criterion_error", threshold);
    std::vector<double> tc(n_learners);
    for (std::size_t l = 0; l < n_learners; ++l) {
      const long r = trials_below(err[l], change, threshold);
      tc[l] = r < 0 ? static_cast<double>(err[l].size() - change) : static_cast<double>(r);
      out.emplace_back(fmt::format("{}{}common_t90_{}", prefix, tag, names[l]), tc[l]);
      out.emplace_back(fmt::format("{}{}common_t90_{}_censored", prefix, tag, names[l]),
                       r < 0 ? 1.0 : 0.0);
    }
    if (tc[0] > 0) {
      out.emplace_back(prefix + tag + "common_ratio_force_noreset", tc[1] / tc[0]);
      out.emplace_back(prefix + tag + "common_ratio_force_reset", tc[2] / tc[0]);
    }
  }
  if (n_learners == 3 && t90_amp[0] > 0) {
    out.emplace_back(prefix + tag + "amplitude_ratio_force_noreset", t90_amp[1] / t90_amp[0]);
    out.emplace_back(prefix + tag + "amplitude_ratio_force_reset", t90_amp[2] / t90_amp[0]);
  }
}

// Held-out version of the adaptation figures. One trial's output is a noisy estimate of
// what its weights do (at p = 0.5 one snapshot's amplitude had a CV of about 50 % in the
// prototype; here single-trial amplitudes at L ranged 0-0.4 around a mean of 0.2), so the
// per-trial t90 is largely the first passage of noise under a threshold set at 10 % of the
// jump. Here the frozen weights of trial k are scored on the features of the cue's trials
// k .. k + bank_trials - 1 (same side of the change; the reservoir does not depend on the
// readouts, so these are independent draws of the condition's features, and the weights
// have not yet learned from any of them), every bank_sample_ms in the gate. The error is the
// mean squared deviation from p * target shape, the amplitude the mean output within
// target_sigma_ms of L. t90 as in adaptation_metrics, over the snapshots with a full bank;
// steady = the lowest mean over their last steady_trials among the learners.
void heldout_adaptation_metrics(const Config& cfg, const Session& s,
                                const std::vector<std::size_t>& ids, std::size_t change,
                                bool latency_change, std::size_t n_learners,
                                const std::string& prefix, Metrics& out,
                                HeldoutErrors& heldout) {
  const auto& trials = s.trials();
  const std::size_t K = cfg.bank_trials, P = s.bank_per_trial(), nf = s.n_features();
  if (ids.size() < change + K + cfg.steady_trials) return;
  const std::size_t last = ids.size() - K;  // last snapshot with a full bank
  const std::size_t first = change >= cfg.steady_trials ? change - cfg.steady_trials : 0;
  auto score = [&](std::size_t l, std::size_t k, bool amplitude) {
    const auto& w = s.bank(ids[k]).w[l];
    if (w.size() != nf) return kNaN;
    const auto [lo, hi] = bank_range(k, change, ids.size(), K);
    BankScore total;
    for (std::size_t j = lo; j < hi; ++j) {
      const Trial& tj = trials[ids[j]];
      const auto& x = s.bank(ids[j]).x;
      if (x.size() != P * nf) return kNaN;
      const auto b = score_on_bank(w, x, P, cfg.bank_sample_ms, tj.latency_ms, tj.probability,
                                   cfg.target_sigma_ms, l == 0 || cfg.force_rectify);
      total.sq_error += b.sq_error;
      total.n += b.n;
      total.window_sum += b.window_sum;
      total.n_window += b.n_window;
    }
    if (amplitude) return total.n_window ? total.window_sum / static_cast<double>(total.n_window) : kNaN;
    return total.n ? total.sq_error / static_cast<double>(total.n) : kNaN;
  };
  const char* names[3] = {"three_factor", "force_noreset", "force_reset"};
  std::vector<std::vector<double>> err(n_learners), amp(n_learners);
  double steady = std::numeric_limits<double>::infinity();
  for (std::size_t l = 0; l < n_learners; ++l) {
    err[l].assign(last + 1, kNaN);
    amp[l].assign(last + 1, kNaN);
    for (std::size_t k = first; k <= last; ++k) {
      err[l][k] = score(l, k, false);
      heldout[l][ids[k]] = err[l][k];
      if (!latency_change) amp[l][k] = score(l, k, true);
    }
    double m = 0;
    for (std::size_t k = last + 1 - cfg.steady_trials; k <= last; ++k) m += err[l][k];
    if (std::isnan(m)) continue;
    steady = std::min(steady, m / cfg.steady_trials);
    // Each learner's own final level: shows whether a slow t90 is a higher asymptote.
    out.emplace_back(fmt::format("{}heldout_final_error_{}", prefix, names[l]), m / cfg.steady_trials);
  }
  out.emplace_back(prefix + "heldout_steady_error", steady);
  recovery_metrics(err, amp, change, cfg.steady_trials, steady, latency_change, prefix,
                   "heldout_", out);
}

// Adaptation after the first change of cue c's condition (latency or probability) between
// blocks, for the three-factor when readout and, if the cue has one, the FORCE pair.
// Error: the per-trial MSE of the frozen output against p * target shape (/trials err_*).
// t90 = trials until the 5-trial smoothed error has lost 90 % of its jump above the new
// condition's steady error (trials_to_recover), steady = the lowest mean error over the
// last steady_trials trials among the learners. Probability changes also report amplitude
// tracking (prototype notes: the error scales with p^2, so the amplitude is the readable
// figure): the frozen output's mean over [L - sigma, L + sigma] per trial, t90 = trials
// until the smoothed amplitude has covered 90 % of the way from its pre-change level to
// its own post-change level (both means over steady_trials trials; trials_to_track).
// Names: the [metrics] adaptation_cue reports adaptation_*; other cues
// adaptation_<cue>_<from>_to_<to>_*, e.g. adaptation_C_p80_to_p20_t90_three_factor.
void adaptation_metrics(const Config& cfg, const Session& s, uint32_t cue, Metrics& out,
                        HeldoutErrors& heldout) {
  const auto& trials = s.trials();
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < trials.size(); ++i)
    if (trials[i].cue == cue) ids.push_back(i);
  std::size_t change = ids.size();
  for (std::size_t k = 1; k < ids.size(); ++k) {
    const Trial &a = trials[ids[k - 1]], &b = trials[ids[k]];
    if (a.latency_ms != b.latency_ms || a.probability != b.probability) {
      change = k;
      break;
    }
  }
  // The new condition lasts until the cue's next change (or the session's end): recovery is
  // measured within it.
  for (std::size_t k = change + 1; k < ids.size(); ++k) {
    const Trial &a = trials[ids[k - 1]], &b = trials[ids[k]];
    if (a.latency_ms != b.latency_ms || a.probability != b.probability) {
      ids.resize(k);
      break;
    }
  }
  if (change >= ids.size() || ids.size() - change <= cfg.steady_trials ||
      change < cfg.steady_trials)
    return;
  const Trial &before = trials[ids[change - 1]], &after = trials[ids[change]];
  const bool latency_change = before.latency_ms != after.latency_ms;
  std::string prefix = "adaptation_";
  if (cfg.cues[cue] != cfg.adaptation_cue)
    prefix += latency_change
                  ? fmt::format("{}_L{:.0f}_to_L{:.0f}_", cfg.cues[cue], before.latency_ms,
                                after.latency_ms)
                  : fmt::format("{}_p{:.0f}_to_p{:.0f}_", cfg.cues[cue], 100 * before.probability,
                                100 * after.probability);
  const bool have_force =
      cfg.force && std::find(cfg.force_cues.begin(), cfg.force_cues.end(), cfg.cues[cue]) !=
                       cfg.force_cues.end();
  const std::size_t n_learners = have_force ? 3 : 1;
  const std::vector<double>* err[3] = {&s.err_when(), &s.err_force(0), &s.err_force(1)};
  const std::vector<double>* rec[3] = {&s.rec_when(), &s.rec_force(0), &s.rec_force(1)};
  std::vector<std::vector<double>> series(n_learners);
  for (std::size_t l = 0; l < n_learners; ++l)
    for (std::size_t i : ids) series[l].push_back((*err[l])[i]);
  auto tail_mean = [&](const std::vector<double>& v, std::size_t end) {
    double m = 0;
    for (std::size_t k = end - cfg.steady_trials; k < end; ++k) m += v[k];
    return m / cfg.steady_trials;
  };
  double steady = std::numeric_limits<double>::infinity();
  for (auto& e : series) steady = std::min(steady, tail_mean(e, e.size()));
  out.emplace_back(prefix + "pre_change_trials", static_cast<double>(change));
  out.emplace_back(prefix + "post_change_trials", static_cast<double>(ids.size() - change));
  out.emplace_back(prefix + "steady_error", steady);
  // Amplitude per trial (probability changes): the frozen output's mean over
  // [L - sigma, L + sigma].
  std::vector<std::vector<double>> amp(n_learners);
  const std::size_t first = static_cast<std::size_t>(std::llround(cfg.baseline_ms / cfg.sample_ms));
  for (std::size_t l = 0; l < n_learners && !latency_change; ++l)
    for (std::size_t i : ids) {
      double a = 0;
      std::size_t n = 0;
      for (std::size_t j = first; j < s.n_rec(); ++j) {
        const double t = s.t_rec()[j];
        if (std::abs(t - trials[i].latency_ms) <= cfg.target_sigma_ms) {
          a += (*rec[l])[i * s.n_rec() + j];
          ++n;
        }
      }
      amp[l].push_back(n ? a / static_cast<double>(n) : kNaN);
    }
  recovery_metrics(series, amp, change, cfg.steady_trials, steady, latency_change, prefix, "", out);
  heldout_adaptation_metrics(cfg, s, ids, change, latency_change, n_learners, prefix, out,
                             heldout);
}

void readout_metrics(const Config& cfg, const Session& s, Metrics& out, HeldoutErrors& heldout) {
  const auto& trials = s.trials();
  const std::size_t first = static_cast<std::size_t>(std::llround(cfg.baseline_ms / cfg.sample_ms));
  std::vector<double> t_in(s.t_rec().begin() + static_cast<long>(first), s.t_rec().end());
  // Scored trials of (block, cue): the last snapshot_trials; omission trials only when the
  // outcome drives the reservoir.
  auto scored = [&](uint32_t b, uint32_t c) {
    return scored_trials(trials, b, c, cfg.snapshot_trials, cfg.outcome_input);
  };
  // Where the outcome cannot leak into the scored readouts: with outcome_input = 0 the
  // outcome never drives the reservoir and every trial is scored; with outcome_input = 1
  // only omission trials are (conditions with p = 1 then have none and are not scored).
  out.emplace_back("outcome_input", cfg.outcome_input ? 1.0 : 0.0);
  out.emplace_back("scored_on_omission_trials_only", cfg.outcome_input ? 1.0 : 0.0);
  double n_timing = 0, n_pass = 0;
  // The probability code is scored in the last block that changes no probability, so that
  // its last snapshot_trials trials are not an adaptation transient (in the full config the
  // "post" block swaps p = 0.8 and 0.2 between two cues: with the code scored there,
  // p = 0.2 came out at 0.26 instead of 0.17).
  const uint32_t prob_block = probability_block(cfg.blocks);
  out.emplace_back("probability_block", static_cast<double>(prob_block));
  std::map<double, std::vector<std::pair<double, double>>> by_latency;
  for (uint32_t b = 0; b < cfg.blocks.size(); ++b)
    for (const Condition& c : cfg.blocks[b].conditions) {
      const auto ids = scored(b, c.cue);
      if (ids.empty()) continue;
      const auto y = mean_trace(s, s.rec_when(), ids, first);
      const auto pt = peak_timing(t_in, y, c.latency_ms);
      const std::string key = fmt::format("{}_{}", cfg.blocks[b].name, cfg.cues[c.cue]);
      if (c.probability == 1.0) {
        out.emplace_back("timing_" + key + "_latency_ms", c.latency_ms);
        out.emplace_back("timing_" + key + "_peak_ms", pt.peak_ms);
        out.emplace_back("timing_" + key + "_in_band", pt.in_band ? 1.0 : 0.0);
        out.emplace_back("timing_" + key + "_rise_ratio", pt.peak > 0 ? pt.at_rise_ms / pt.peak : 0.0);
        out.emplace_back("timing_" + key + "_peak", pt.peak);
        n_timing += 1;
        n_pass += (pt.in_band && pt.risen) ? 1 : 0;
      }
      if (b == prob_block) {
        out.emplace_back("amplitude_" + key, pt.peak);
        by_latency[c.latency_ms].emplace_back(c.probability, pt.peak);
      }
    }
  // Always reported, so a figure that could not be scored shows as a count of 0 rather than
  // as a missing metric (with outcome_input = 1 no p = 1 condition has omission trials).
  out.emplace_back("timing_scored_conditions", n_timing);
  if (n_timing > 0) out.emplace_back("timing_pass_fraction", n_pass / n_timing);
  double n_probability = 0;
  for (auto& [lat, pts] : by_latency) {
    double ref = 0;
    std::vector<double> ps, amps;
    for (auto& [p, a] : pts)  // reference: the last p = 1 condition of this latency
      if (p == 1.0) ref = a;
    for (auto& [p, a] : pts)
      if (p > 0 && p < 1) {
        ps.push_back(p);
        amps.push_back(a);
      }
    if (ref <= 0 || ps.size() < 2) continue;
    for (double& a : amps) a /= ref;
    for (std::size_t i = 0; i < ps.size(); ++i)
      out.emplace_back(fmt::format("probability_L{:.0f}_p{:.0f}_normalised", lat, 100 * ps[i]), amps[i]);
    out.emplace_back(fmt::format("probability_L{:.0f}_pearson_r", lat), pearson(ps, amps));
    out.emplace_back(fmt::format("probability_L{:.0f}_slope", lat), slope(ps, amps));
    n_probability += 1;
  }
  out.emplace_back("probability_scored_latencies", n_probability);

  // Adaptation: every cue whose condition changes between blocks (see adaptation_metrics).
  for (uint32_t c = 0; c < cfg.cues.size(); ++c) adaptation_metrics(cfg, s, c, out, heldout);

  // What/when angle, bias excluded, with a neuron-permutation null.
  uint32_t c_a = 0, o_a = 0;
  for (uint32_t c = 0; c < cfg.cues.size(); ++c)
    if (cfg.cues[c] == cfg.angle_cue) c_a = c;
  for (uint32_t o = 0; o < cfg.outcomes.size(); ++o)
    if (cfg.outcomes[o] == cfg.angle_outcome) o_a = o;
  const auto ww = s.when(c_a).weights();
  const auto wh = s.what(o_a).weights();
  std::vector<double> a(ww.begin(), ww.end() - 1), b(wh.begin(), wh.end() - 1);
  const double angle = angle_deg(b, a);
  const auto null = shuffled_angles(b, a, cfg.null_count, cfg.net.run.seed);
  out.emplace_back("angle_what_when_deg", angle);
  out.emplace_back("angle_null_q025_deg", quantile(null, 0.025));
  out.emplace_back("angle_null_q975_deg", quantile(null, 0.975));
  out.emplace_back("angle_outside_null",
                   (angle < quantile(null, 0.025) || angle > quantile(null, 0.975)) ? 1.0 : 0.0);
}

// Spiking readout groups: Pearson r between a group's spike count per sample bin and the
// rectified output that drove it (under independence r is ~N(0, 1/n) over n bins, so
// r > 4/sqrt(n) is a coupling no chance would give), its mean rate in the driven bins and
// the slope of rate on output (Hz per unit of readout output).
void spiking_readout_metrics(const Config& cfg, const Session& s, Metrics& out) {
  const auto& groups = s.spiking_groups();
  if (!groups.empty()) out.emplace_back("spiking_readout_bins", groups.front().n);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& sg = groups[g];
    const std::string name = g < cfg.cues.size() ? "when_" + cfg.cues[g]
                                                 : "what_" + cfg.outcomes[g - cfg.cues.size()];
    if (sg.n < 2) continue;
    const double vx = sg.sxx - sg.sx * sg.sx / sg.n, vy = sg.syy - sg.sy * sg.sy / sg.n;
    const double cxy = sg.sxy - sg.sx * sg.sy / sg.n;
    const double bin_s = cfg.sample_ms * 1e-3, per_neuron = cfg.spiking_neurons * bin_s;
    out.emplace_back("spiking_readout_r_" + name, vx > 0 && vy > 0 ? cxy / std::sqrt(vx * vy) : 0.0);
    out.emplace_back("spiking_readout_rate_hz_" + name, sg.sy / sg.n / per_neuron);
    out.emplace_back("spiking_readout_slope_hz_" + name, vx > 0 ? cxy / vx / per_neuron : 0.0);
  }
}

int run(RunContext& ctx) {
  using clock = std::chrono::steady_clock;
  toml::table resolved;
  sim::TableReader root(ctx.doc.root, "", ctx.doc.file, resolved);
  Config cfg = read_config(root, std::filesystem::path(ctx.doc.file).stem().string());
  root.finish();
  const std::vector<Trial>& trials = cfg.schedule;
  const double end_ms = cfg.net.run.duration_ms;  // the schedule's length (read_config)
  if (auto* simt = resolved["simulation"].as_table()) simt->insert_or_assign("duration_ms", end_ms);
  const std::string text = sim::to_toml(resolved);
  sim::write_text_atomically(ctx.folder.config(), text);

  sim::SonataSink sink(ctx.folder.spikes().string());
  sim::Simulation simulation(cfg.net.network, cfg.net.run);
  simulation.add_sink(&sink);
  simulation.set_progress(
      [&ctx, &cfg](const sim::ProgressReport& r) { ctx.log.progress(cfg.name, r); }, 0.5);
  Session session(cfg, simulation, trials);
  sim::h5::File& file = sink.file();
  sim::h5::Group weights = file.create_group("weights");
  session.on_block_end = [&](uint32_t b) {
    sim::h5::Group g = weights.create_group(cfg.blocks[b].name);
    for (std::size_t c = 0; c < cfg.cues.size(); ++c) {
      const auto w = session.when(c).weights();
      g.write_dataset("when_" + cfg.cues[c], std::vector<double>(w.begin(), w.end()));
    }
    for (std::size_t o = 0; o < cfg.outcomes.size(); ++o) {
      const auto w = session.what(o).weights();
      g.write_dataset("what_" + cfg.outcomes[o], std::vector<double>(w.begin(), w.end()));
    }
    if (cfg.force)
      for (const auto& name : cfg.force_cues) {
        // The first FORCE cue keeps the plain names; others carry their cue.
        const std::string suffix = name == cfg.force_cue ? "" : "_" + name;
        const std::size_t c = static_cast<std::size_t>(
            std::find(cfg.cues.begin(), cfg.cues.end(), name) - cfg.cues.begin());
        g.write_dataset("force_noreset" + suffix, session.force_weights(c, 0));
        g.write_dataset("force_reset" + suffix, session.force_weights(c, 1));
      }
  };
  simulation.set_step_hook([&session](sim::Step k) { session.hook(k); });
  const sim::Step steps = static_cast<sim::Step>(std::llround(end_ms / cfg.net.network.dt_ms));
  simulation.begin(cfg.name, text, steps);
  const auto t0 = clock::now();
  const bool complete = simulation.run(steps, ctx.stop);
  const double sim_wall = std::chrono::duration<double>(clock::now() - t0).count();
  ctx.log.end_progress();

  Metrics metrics;
  HeldoutErrors heldout;
  for (auto& h : heldout) h.assign(trials.size(), kNaN);
  ClockCurve clock_curve;
  const auto t1 = clock::now();
  if (complete) {
    clock_curve = clock_metrics(cfg, session, metrics);
    readout_metrics(cfg, session, metrics, heldout);
    spiking_readout_metrics(cfg, session, metrics);
  }
  const double analysis_wall = std::chrono::duration<double>(clock::now() - t1).count();
  metrics.emplace_back("trials", static_cast<double>(trials.size()));
  metrics.emplace_back("model_time_s", end_ms * 1e-3);
  metrics.emplace_back("wall_time_s", sim_wall + analysis_wall);
  metrics.emplace_back("simulation_wall_time_s", sim_wall);
  metrics.emplace_back("real_time_factor", sim_wall / (end_ms * 1e-3));
  metrics.emplace_back("mean_rate_hz",  // of the reservoir
                       static_cast<double>(simulation.total_spikes() - session.spiking_spikes()) /
                           (static_cast<double>(session.n_features() - 1) * end_ms * 1e-3));
  metrics.emplace_back("stimulus_poisson", cfg.poisson_stimulus ? 1.0 : 0.0);
  if (cfg.poisson_stimulus) {
    metrics.emplace_back("cue_input_spikes", static_cast<double>(session.cue_input_spikes()));
    metrics.emplace_back("outcome_input_spikes",
                         static_cast<double>(session.outcome_input_spikes()));
  }

  // Tables.
  sim::h5::Group tg = file.create_group("trials");
  std::vector<double> start, lat, prob, ew, ef0, ef1;
  std::vector<uint32_t> cue, outcome, block;
  std::vector<uint8_t> occurred;
  for (const Trial& t : trials) {
    start.push_back(t.cue_ms);
    cue.push_back(t.cue);
    outcome.push_back(t.outcome);
    lat.push_back(t.latency_ms);
    prob.push_back(t.probability);
    occurred.push_back(t.occurred ? 1 : 0);
    block.push_back(t.block);
  }
  tg.write_dataset("start_ms", start);
  tg.write_dataset("cue", cue);
  tg.write_dataset("outcome", outcome);
  tg.write_dataset("latency_ms", lat);
  tg.write_dataset("probability", prob);
  tg.write_dataset("occurred", occurred);
  tg.write_dataset("block", block);
  tg.write_dataset("err_when", session.err_when());
  tg.write_dataset("err_force_noreset", session.err_force(0));
  tg.write_dataset("err_force_reset", session.err_force(1));
  tg.write_dataset("heldout_err_when", heldout[0]);
  tg.write_dataset("heldout_err_force_noreset", heldout[1]);
  tg.write_dataset("heldout_err_force_reset", heldout[2]);
  tg.write_attribute("cue_names", fmt::format("{}", fmt::join(cfg.cues, ",")));
  tg.write_attribute("outcome_names", fmt::format("{}", fmt::join(cfg.outcomes, ",")));
  std::vector<std::string> block_names;
  for (auto& b : cfg.blocks) block_names.push_back(b.name);
  tg.write_attribute("block_names", fmt::format("{}", fmt::join(block_names, ",")));
  // Which cells each stimulus drives, for rasters of the cue subsets and for checks of the
  // input (node ids of the input population).
  sim::h5::Group sg = file.create_group("stimuli");
  sg.write_attribute("population", cfg.input_population);
  sg.write_attribute("form", cfg.poisson_stimulus ? "poisson" : "current");
  sim::h5::Group sgc = sg.create_group("cues"), sgo = sg.create_group("outcomes");
  for (std::size_t c = 0; c < cfg.cues.size(); ++c)
    sgc.write_dataset(cfg.cues[c], session.cue_cells(c));
  for (std::size_t o = 0; o < cfg.outcomes.size(); ++o)
    sgo.write_dataset(cfg.outcomes[o], session.outcome_cells(o));
  // The clock check against time since cue (empty in a run that stopped early or with
  // fewer than 9 clock trials).
  if (!clock_curve.t_ms.empty()) {
    sim::h5::Group cg = file.create_group("clock");
    cg.write_dataset("t_ms", clock_curve.t_ms);
    cg.write_dataset("mae_ms", clock_curve.mae_ms);
    cg.write_dataset("chance_mae_ms", clock_curve.chance_mae_ms);
    cg.write_dataset("ridge_scale", clock_curve.ridge_scale);
    cg.write_attribute("test_trials", static_cast<double>(clock_curve.test_trials));
    cg.write_attribute("trials", static_cast<double>(session.clock_rows_trials()));
  }
  sim::h5::Group rg = file.create_group("readouts");
  rg.write_dataset("t_ms", session.t_rec());
  const auto n = static_cast<hsize_t>(trials.size()), m = static_cast<hsize_t>(session.n_rec());
  rg.write_dataset_2d("when", n, m, session.rec_when());
  for (std::size_t o = 0; o < cfg.outcomes.size(); ++o)
    rg.write_dataset_2d("what_" + cfg.outcomes[o], n, m, session.rec_what(o));
  if (cfg.force) {
    rg.write_dataset_2d("force_noreset", n, m, session.rec_force(0));
    rg.write_dataset_2d("force_reset", n, m, session.rec_force(1));
    rg.write_attribute("force_cue", cfg.force_cue);
    rg.write_attribute("force_cues", fmt::format("{}", fmt::join(cfg.force_cues, ",")));
  }
  if (cfg.record_samples_cue >= 0) {
    const auto& smp = session.samples();
    sim::h5::Group sg = file.create_group("learning_samples");
    sg.write_attribute("cue", cfg.cues[static_cast<std::size_t>(cfg.record_samples_cue)]);
    sg.write_attribute("eta0", cfg.eta0_when);
    sg.write_attribute("precondition", cfg.precondition_when ? "diagonal" : "none");
    sg.write_dataset_2d("x", smp.trial.size(), session.n_features(), std::span<const float>(smp.x));
    sg.write_dataset("trial", smp.trial);
    sg.write_dataset("t_ms", smp.t_ms);
    sg.write_dataset("target", smp.target);
    sg.write_dataset("expected", smp.expected);
    sg.write_dataset("gate", smp.gate);
    sg.write_dataset("output", smp.output);
  }
  sim::h5::Group mg = file.create_group("metrics");
  for (auto& [k, v] : metrics) {
    mg.write_attribute(k, v);
    ctx.log.info(fmt::format("metric {} = {:.6g}", k, v));
  }
  simulation.end(complete);
  ctx.log.info(fmt::format("{}: {} trials, {:.1f} s model time in {:.1f} s wall (real-time factor "
                           "{:.3g}); spikes: {}",
                           complete ? "done" : "INTERRUPTED", trials.size(), end_ms * 1e-3,
                           sim_wall + analysis_wall, sim_wall / (end_ms * 1e-3),
                           ctx.folder.spikes().string()));
  return complete ? exit_ok : exit_interrupted;
}

void validate(const sim::ConfigDocument& doc) {
  toml::table resolved;
  sim::TableReader root(doc.root, "", doc.file, resolved);
  read_config(root, "what_when");
  root.finish();
}

}  // namespace

Experiment experiment() {
  return {"what_when",
          "what/when prediction: cue-driven reservoir, three-factor when/what readouts and a "
          "FORCE baseline, with timing, probability, adaptation and angle metrics",
          {"experiments/what_when.toml", "experiments/what_when_small.toml",
           "experiments/what_when_timing.toml"},
          run,
          validate};
}

}  // namespace experiments::what_when
