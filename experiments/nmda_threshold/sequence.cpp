#include "experiments/nmda_threshold/sequence.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "models/sdr.hpp"
#include "sim/error.hpp"
#include "sim/rng.hpp"
#include "sim/time.hpp"

namespace experiments::nmda_threshold {

namespace dc = models::dendritic_compartment;
namespace sdr = models::sdr;

namespace {

void fail(const char* key, const std::string& message) {
  throw sim::InputError("", 0, key, message);
}

uint64_t steps_of(double ms, double dt_ms, const char* key) {
  const auto s = sim::steps_exact(ms, dt_ms);
  if (!s || *s == 0) fail(key, "must be a positive multiple of dt_ms");
  return *s;
}

sim::PopulationSpec rs_population(const std::string& name, uint32_t size) {
  sim::PopulationSpec p;
  p.name = name;
  p.size = size;
  p.integrator = models::izhikevich::Integrator::izhikevich2003_clipped;
  // Regular spiking (Izhikevich 2003, Fig. 2): a = 0.02, b = 0.2, c = -65, d = 8; start at
  // the resting point of I = 0 (v = -70 mV, u = b v) so no start-up transient fires cells.
  p.v0_mV = sim::Distribution::constant_value(-70.0);
  p.synapse.kind = sim::SynapseSpec::Kind::delta;
  return p;
}

// Feeds the compartments from the engine's spikes (called from one thread in the record
// phase of step k, which ends before the hook of step k + 1 runs).
class Feed final : public sim::Sink {
 public:
  Feed(dc::DendriticCompartments& compartments, SequenceResult& result)
      : compartments_(compartments), result_(result) {}
  void spikes(sim::Step step, uint32_t population, std::span<const uint32_t> ids) override {
    if (population == 0) {
      compartments_.presynaptic_spikes(step, ids);
      result_.column_spikes += ids.size();
    } else {
      const auto c = compartments_.postsynaptic_spikes(step, ids);
      result_.learning.adapted += c.adapted;
      result_.learning.created += c.created;
      result_.learning.synapses_grown += c.synapses_grown;
      result_.learning.skipped += c.skipped;
      result_.pyramidal_spikes += ids.size();
    }
  }

 private:
  dc::DendriticCompartments& compartments_;
  SequenceResult& result_;
};

}  // namespace

void validate(const SequenceParams& p) {
  if (p.n == 0) fail("n", "need at least one cell");
  if (p.a == 0 || p.a > p.n) fail("a", "need 1 <= a <= n");
  if (p.noise_v > p.a || p.noise_v > p.n - p.a) fail("noise_v", "need noise_v <= a and <= n - a");
  if (p.length < 2) fail("length", "a sequence needs at least 2 patterns");
  if (p.train_repetitions == 0) fail("train_repetitions", "must be >= 1");
  if (p.test_repetitions == 0) fail("test_repetitions", "must be >= 1");
  if (!(p.dt_ms > 0.0) || !std::isfinite(p.dt_ms)) fail("dt_ms", "must be positive");
  const uint64_t interval = steps_of(p.interval_ms, p.dt_ms, "interval_ms");
  const uint64_t drive = steps_of(p.drive_ms, p.dt_ms, "drive_ms");
  if (drive >= interval) fail("drive_ms", "must be shorter than interval_ms");
  if (!std::isfinite(p.drive_current)) fail("drive_current", "must be finite");
  if (!std::isfinite(p.feedforward_weight_mV)) fail("feedforward_weight_mV", "must be finite");
  if (!(p.background_rate_hz >= 0.0) || !std::isfinite(p.background_rate_hz))
    fail("background_rate_hz", "must be >= 0");
  if (!std::isfinite(p.background_weight_mV)) fail("background_weight_mV", "must be finite");
  if (p.threads < 1) fail("threads", "must be >= 1");
  try {
    dc::validate(p.compartment, p.dt_ms);
  } catch (const std::invalid_argument& e) {
    fail("compartment", e.what());
  }
}

SequenceResult run_sequence(const SequenceParams& p, const std::vector<sim::Sink*>& sinks,
                            const std::string& config_toml, sim::ProgressFn progress,
                            const std::atomic<bool>* stop) {
  validate(p);
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t interval = steps_of(p.interval_ms, p.dt_ms, "interval_ms");
  const uint64_t drive = steps_of(p.drive_ms, p.dt_ms, "drive_ms");
  const uint64_t train_presentations = uint64_t{p.train_repetitions} * p.length;
  const uint64_t presentations = train_presentations + uint64_t{p.test_repetitions} * p.length;
  const sim::Step total_steps = presentations * interval;

  sim::NetworkSpec net;
  net.dt_ms = p.dt_ms;
  net.populations.push_back(rs_population("column", p.n));
  net.populations.push_back(rs_population("pyramidal", p.n));
  net.populations[0].drive.poisson_rate_hz = p.background_rate_hz;
  net.populations[0].drive.poisson_weight = p.background_weight_mV;
  sim::ProjectionSpec ff;
  ff.name = "feedforward";
  ff.source = 0;
  ff.target = 1;
  ff.rule = sim::ProjectionSpec::Rule::explicit_list;
  ff.connections.reserve(p.n);
  for (uint32_t i = 0; i < p.n; ++i) ff.connections.push_back({i, i, p.feedforward_weight_mV, p.dt_ms});
  net.projections.push_back(ff);
  sim::RunSpec run;
  run.duration_ms = static_cast<double>(total_steps) * p.dt_ms;
  run.seed = p.seed;
  run.threads = p.threads;
  run.flush_interval_ms = 100.0 * p.dt_ms;

  SequenceResult result;
  dc::DendriticCompartments compartments(p.compartment, p.n, p.n, p.dt_ms, p.seed, 0);
  Feed feed(compartments, result);
  sim::Simulation simulation(net, run);
  simulation.add_sink(&feed);
  for (sim::Sink* s : sinks) simulation.add_sink(s);
  if (progress) simulation.set_progress(std::move(progress), 0.25);

  // Patterns and per-presentation noise (see the header's determinism note).
  std::vector<sdr::Sdr> patterns;
  patterns.reserve(p.length);
  const uint32_t pattern_stream = sim::rng::make_stream(sim::rng::Purpose::stimulus, 0);
  const uint32_t noise_stream = sim::rng::make_stream(sim::rng::Purpose::stimulus, 1);
  for (uint32_t j = 0; j < p.length; ++j) {
    sim::rng::Stream rng(p.seed, pattern_stream, j);
    patterns.push_back(sdr::random(p.n, p.a, rng));
  }
  sdr::Sdr presented(p.n);
  std::vector<double> plateau(p.n, 0.0);
  double target_v_sum = 0.0, other_v_sum = 0.0;
  uint64_t target_v_count = 0, other_v_count = 0;

  auto& column = simulation.network().populations()[0];
  auto& pyramidal = simulation.network().populations()[1];
  simulation.set_step_hook([&](sim::Step k) {
    result.nmda_spike_steps += compartments.update(k).size();
    const uint64_t i = k / interval;
    const uint64_t phase = k % interval;
    if (phase == 0 && i == train_presentations) compartments.set_learning(false);
    const sdr::Sdr& clean = patterns[i % p.length];
    if (phase == 0 && i >= train_presentations) {
      uint64_t predicted = 0, correct = 0;
      for (uint32_t c = 0; c < p.n; ++c) {
        const bool pred = compartments.predictive(c, k);
        const bool target = clean.contains(c);
        predicted += pred ? 1 : 0;
        correct += pred && target ? 1 : 0;
        if (target) {
          target_v_sum += pyramidal.v_mV[c];
          ++target_v_count;
        } else {
          other_v_sum += pyramidal.v_mV[c];
          ++other_v_count;
        }
      }
      result.predicted += predicted;
      result.correct += correct;
      result.targets += clean.active_count();
      ++result.onsets;
    }
    compartments.write_currents(k, plateau);
    std::copy(plateau.begin(), plateau.end(), pyramidal.external.begin());
    if (phase == 0) {
      for (const uint32_t c : presented.sparse()) column.external[c] = 0.0;
      sim::rng::Stream rng(p.seed, noise_stream, static_cast<uint32_t>(i), (i >> 32) << 32);
      sdr::fill_noisy(clean, p.noise_v, rng, presented);
      for (const uint32_t c : presented.sparse()) column.external[c] = p.drive_current;
    } else if (phase == drive) {
      for (const uint32_t c : presented.sparse()) column.external[c] = 0.0;
    }
  });

  simulation.begin("nmda_threshold.sequence", config_toml, total_steps);
  result.complete = simulation.run(total_steps, stop);
  simulation.end(result.complete);

  result.precision = result.predicted > 0 ? static_cast<double>(result.correct) /
                                                static_cast<double>(result.predicted)
                                          : std::numeric_limits<double>::quiet_NaN();
  result.recall = result.targets > 0
                      ? static_cast<double>(result.correct) / static_cast<double>(result.targets)
                      : 0.0;
  result.target_v_mV = target_v_count ? target_v_sum / static_cast<double>(target_v_count) : 0.0;
  result.other_v_mV = other_v_count ? other_v_sum / static_cast<double>(other_v_count) : 0.0;
  result.depolarisation_mV = result.target_v_mV - result.other_v_mV;
  const auto& pool = compartments.pool();
  result.segments = pool.segment_count();
  result.synapses = pool.synapse_count();
  for (uint32_t c = 0; c < pool.cell_count(); ++c)
    for (const auto seg : pool.segments_of(c))
      for (const auto y : pool.synapses_of(seg)) result.connected_synapses += pool.connected(y);
  result.model_ms = static_cast<double>(simulation.now()) * p.dt_ms;
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace experiments::nmda_threshold
