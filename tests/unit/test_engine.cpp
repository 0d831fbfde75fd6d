// Engine tests: delays and ring buffers, CSR construction and delivery, connectivity
// statistics, thread-count invariance, and the 2003 network against a literal
// transcription of the paper's MATLAB loop.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <map>
#include <numeric>
#include <set>

#include "sim/config.hpp"
#include "sim/rng.hpp"
#include "sim/rng_batch.hpp"
#include "sim/simulation.hpp"

using namespace sim;

namespace {

PopulationSpec population(const std::string& name, uint32_t size) {
  PopulationSpec p;
  p.name = name;
  p.size = size;
  return p;
}

NetworkConfig from_toml(const std::string& text) {
  ConfigDocument doc = parse_config(text, "test.toml");
  toml::table resolved;
  TableReader root(doc.root, "", doc.file, resolved);
  root.table("experiment");
  NetworkConfig cfg = read_network_config(root);
  root.finish();
  return cfg;
}

std::vector<MemorySink::Spike> run_spikes(const NetworkConfig& cfg, int threads) {
  RunSpec run = cfg.run;
  run.threads = threads;
  Simulation simulation(cfg.network, run);
  MemorySink sink;
  simulation.add_sink(&sink);
  const Step steps = *steps_exact(run.duration_ms, cfg.network.dt_ms);
  simulation.begin("test", "", steps);
  CHECK(simulation.run(steps));
  simulation.end(true);
  return sink.all();
}

// A driven presynaptic and a driven postsynaptic population joined all-to-all by an explicit
// list with one delay, carrying `plasticity`: the fixture of the plasticity tests.
NetworkSpec pair_network(uint32_t n_pre, uint32_t n_post, double dt_ms, double delay_ms,
                         double (*weight_of_source)(uint32_t), const PlasticitySpec& plasticity) {
  NetworkSpec net;
  net.dt_ms = dt_ms;
  PopulationSpec pre = population("pre", n_pre);
  pre.drive.mean = 8.0;
  pre.drive.noise_sigma = 4.0;
  PopulationSpec post = population("post", n_post);
  post.drive.mean = 4.0;
  post.drive.noise_sigma = 4.0;
  net.populations = {pre, post};
  ProjectionSpec proj;
  proj.source = 0;
  proj.target = 1;
  proj.rule = ProjectionSpec::Rule::explicit_list;
  for (uint32_t s = 0; s < n_pre; ++s)
    for (uint32_t t = 0; t < n_post; ++t) proj.connections.push_back({s, t, weight_of_source(s), delay_ms});
  proj.plasticity = plasticity;
  net.projections = {proj};
  return net;
}

// Runs a pair network and returns its final synapses and the spikes of each population per step.
struct PlasticRun {
  std::vector<Projection::Synapse> synapses;
  std::vector<std::vector<uint32_t>> pre, post;  // ids per step
};
PlasticRun run_plastic(const NetworkSpec& net, uint64_t seed, int threads, Step steps,
                       const std::function<void(Simulation&, Step)>& hook) {
  RunSpec run;
  run.seed = seed;
  run.threads = threads;
  Simulation simulation(net, run);
  MemorySink sink;
  simulation.add_sink(&sink);
  simulation.set_step_hook([&](Step k) { hook(simulation, k); });
  simulation.begin("test", "", steps);
  simulation.run(steps);
  simulation.end(true);
  PlasticRun out;
  out.synapses = simulation.network().projections()[0].synapses();
  out.pre.resize(steps + 2);
  out.post.resize(steps + 2);
  for (const auto& sp : sink.all()) (sp.population == 0 ? out.pre : out.post)[sp.step].push_back(sp.id);
  return out;
}

}  // namespace

TEST_CASE("a spike sent with delay d adds its charge exactly d steps later, across ring wrap-around") {
  // One driven source neuron, one target per delay. The target's input current at step t
  // must equal w/dt times the number of source spikes at step t - d (delta synapse, dt = 1).
  for (double dt_ms : {1.0, 0.5}) {
    NetworkSpec net;
    net.dt_ms = dt_ms;
    PopulationSpec src = population("src", 1);
    src.drive.mean = 40.0;  // tonic firing: many spikes, so each ring slot is reused many times
    net.populations.push_back(src);
    const std::vector<uint32_t> delays_steps = {1, 2, 7, 16, 33};
    PopulationSpec tgt = population("tgt", static_cast<uint32_t>(delays_steps.size()));
    tgt.v0_mV = Distribution::constant_value(-80.0);
    net.populations.push_back(tgt);
    ProjectionSpec proj;
    proj.source = 0;
    proj.target = 1;
    proj.rule = ProjectionSpec::Rule::explicit_list;
    const double w = 0.25;
    for (uint32_t i = 0; i < delays_steps.size(); ++i)
      proj.connections.push_back({0, i, w * (i + 1), delays_steps[i] * dt_ms});
    net.projections.push_back(proj);
    RunSpec run;
    run.seed = 3;
    Simulation simulation(net, run);
    simulation.network().populations()[1].keep_input(true);
    MemorySink sink;
    simulation.add_sink(&sink);
    const Step steps = 400;
    simulation.begin("test", "", steps);
    std::vector<std::vector<double>> input(steps);
    for (Step k = 0; k < steps; ++k) {
      simulation.run(1);
      const auto& in = simulation.network().populations()[1].input;
      input[k].assign(in.begin(), in.begin() + static_cast<long>(delays_steps.size()));
    }
    std::set<Step> source_steps;
    for (const auto& s : sink.all())
      if (s.population == 0) source_steps.insert(s.step);
    REQUIRE(source_steps.size() > 10);  // 400 steps through a 33-row charge ring: twelve wraps
    CHECK(simulation.network().populations()[1].delay_slots() == 33);  // the largest delay
    for (uint32_t i = 0; i < delays_steps.size(); ++i) {
      for (Step k = 0; k < steps; ++k) {
        const bool arrives = k >= delays_steps[i] && source_steps.count(k - delays_steps[i]);
        const double expected = arrives ? w * (i + 1) / dt_ms : 0.0;
        CHECK(input[k][i] == doctest::Approx(expected).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("CSR rows hold exactly the explicit connection list, for any thread partition") {
  NetworkSpec net;
  net.dt_ms = 0.5;
  net.populations = {population("a", 70), population("b", 130)};
  ProjectionSpec proj;
  proj.source = 0;
  proj.target = 1;
  proj.rule = ProjectionSpec::Rule::explicit_list;
  rng::Stream r(11, 1, 0);
  for (int i = 0; i < 2000; ++i)
    proj.connections.push_back({static_cast<uint32_t>(r.below(70)), static_cast<uint32_t>(r.below(130)),
                                std::round(r.uniform(-1, 1) * 64) / 64, 0.5 * (1 + r.below(30))});
  net.projections.push_back(proj);
  // Brute-force reference: the list in the canonical order of Projection::synapses(),
  // (source, target, delay), stable for exact duplicates.
  auto expected = proj.connections;
  std::stable_sort(expected.begin(), expected.end(), [](const auto& x, const auto& y) {
    return std::tie(x.source, x.target, x.delay_ms) < std::tie(y.source, y.target, y.delay_ms);
  });
  for (int parts : {1, 2, 3}) {
    Network network(net, 1, parts);
    const auto syn = network.projections()[0].synapses();
    REQUIRE(syn.size() == expected.size());
    for (size_t i = 0; i < syn.size(); ++i) {
      CHECK(syn[i].source == expected[i].source);
      CHECK(syn[i].target == expected[i].target);
      CHECK(syn[i].weight == static_cast<float>(expected[i].weight));
      CHECK(syn[i].delay_steps == static_cast<uint32_t>(std::lround(expected[i].delay_ms / 0.5)));
    }
  }
}

TEST_CASE("delivery through CSR pieces equals brute-force accumulation over all synapses") {
  const NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 1
[[population]]
name = "a"
size = 300
[[population]]
name = "b"
size = 700
[[projection]]
source = "a"
target = "b"
rule = "fixed_probability"
probability = 0.1
weight = { dist = "normal", mean = 1.0, sd = 0.5 }
delay_ms = { dist = "uniform_int", low = 1, high = 12 }
[[projection]]
# rows of 700: the offsets of thread parts within a row need 16 bits, while the sparse
# projection above fits them in bytes
source = "a"
target = "b"
rule = "all_to_all"
weight = { dist = "uniform", low = -0.1, high = 0.1 }
delay_ms = { dist = "uniform_int", low = 2, high = 7 }
[[projection]]
source = "a"
target = "b"
rule = "all_to_all"
weight = { dist = "uniform", low = 0, high = 0.1 }
delay_ms = 3
)");
  for (int parts : {1, 2, 4, 16}) {  // 16 parts: more than b's 11 blocks, some own nothing
    Network network(cfg.network, 9, parts);
    Population& b = network.populations()[1];
    REQUIRE(b.delay_slots() == 12);  // the largest delay: the ring wraps in this test
    const Step k0 = 37, k1 = 41;
    const std::vector<uint32_t> spikes0 = {0, 5, 6, 100, 299}, spikes1 = {5, 7, 250};
    std::map<std::pair<Step, uint32_t>, double> reference;
    for (const auto& proj : network.projections())
      for (const auto& s : proj.synapses()) {
        if (std::binary_search(spikes0.begin(), spikes0.end(), s.source))
          reference[{k0 + s.delay_steps, s.target}] += static_cast<double>(s.weight);
        if (std::binary_search(spikes1.begin(), spikes1.end(), s.source))
          reference[{k1 + s.delay_steps, s.target}] += static_cast<double>(s.weight);
      }
    // The loop's order per step: read and clear the ring row of step k (as advance does),
    // then deliver step k's spikes (population a spikes at k0 and k1 only).
    SpikeHistory history;
    history.reset(network.history_depth(0), parts);
    REQUIRE(history.depth() == 1);  // static projections deliver at emission
    for (Step k = k0; k <= k1 + 12; ++k) {
      double* row = b.charge_at(k);
      if (k > k0)
        for (uint32_t i = 0; i < b.size(); ++i) {
          const auto it = reference.find({k, i});
          const double want = it == reference.end() ? 0.0 : it->second;
          CHECK(row[i] == doctest::Approx(want).epsilon(1e-12));
        }
      std::fill(row, row + b.padded(), 0.0);
      const std::vector<uint32_t> none;
      const auto& spikes = k == k0 ? spikes0 : k == k1 ? spikes1 : none;
      for (int t = 0; t < parts; ++t) {
        auto& mine = history.at(k, t);
        mine.clear();
        for (uint32_t s : spikes)  // hand each spike to the part that owns its id
          if (s >= network.partition(0).lo(t) && s < network.partition(0).hi(t)) mine.push_back(s);
      }
      for (auto& proj : network.projections())
        for (int t = 0; t < parts; ++t) proj.deliver(t, k, history, b);
    }
  }
}

TEST_CASE("static sparse synapses cost 8 bytes, plus one byte per row and extra thread part") {
  // The layout's promise (network.hpp): {code, weight} per synapse; row starts implicit for a
  // fixed out-degree; one split offset per row and internal part boundary, in a byte for rows
  // shorter than 256.
  const NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 1
[[population]]
name = "a"
size = 1000
[[projection]]
source = "a"
target = "a"
rule = "fixed_outdegree"
outdegree = 100
weight = 1
delay_ms = { dist = "uniform_int", low = 1, high = 20 }
)");
  for (int parts : {1, 2, 3}) {
    Network network(cfg.network, 2, parts);
    const Projection& proj = network.projections()[0];
    REQUIRE(proj.synapse_count() == 100000);
    CHECK(proj.memory_bytes() == 8 * proj.synapse_count() + 1000u * static_cast<uint64_t>(parts - 1));
  }
}

TEST_CASE("connectivity rules: degrees exact, probabilities within binomial bounds") {
  const NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 1
[[population]]
name = "a"
size = 400
[[population]]
name = "b"
size = 500
[[projection]]
source = "a"
target = "a"
rule = "fixed_outdegree"
outdegree = 37
autapses = false
weight = 1
[[projection]]
source = "a"
target = "b"
rule = "fixed_indegree"
indegree = 23
weight = 1
[[projection]]
source = "a"
target = "b"
rule = "fixed_probability"
probability = 0.05
weight = 1
delay_ms = { dist = "uniform_int", low = 1, high = 8 }
[[projection]]
source = "b"
target = "a"
rule = "all_to_all"
weight = 1
)");
  Network network(cfg.network, 5, 2);
  const auto& projs = network.projections();
  {  // fixed out-degree: every row exactly 37 distinct targets, never itself
    std::map<uint32_t, std::set<uint32_t>> rows;
    for (const auto& s : projs[0].synapses()) {
      CHECK(s.source != s.target);
      CHECK(rows[s.source].insert(s.target).second);
    }
    REQUIRE(rows.size() == 400);
    for (const auto& [src, targets] : rows) CHECK(targets.size() == 37);
  }
  {  // fixed in-degree: every target exactly 23 distinct sources
    std::map<uint32_t, std::set<uint32_t>> cols;
    for (const auto& s : projs[1].synapses()) CHECK(cols[s.target].insert(s.source).second);
    REQUIRE(cols.size() == 500);
    for (const auto& [tgt, sources] : cols) CHECK(sources.size() == 23);
  }
  {  // fixed probability: total ~ Binomial(400*500, 0.05); 5 sd is a 1-in-1.7-million bound
    const auto syn = projs[2].synapses();
    const double n = 400.0 * 500.0, p = 0.05;
    CHECK(std::abs(static_cast<double>(syn.size()) - n * p) < 5 * std::sqrt(n * p * (1 - p)));
    // Delays uniform on 1..8 steps: chi-square with 7 degrees of freedom below its 99.99 %
    // quantile (29.88, from the chi-square table).
    std::vector<double> counts(9, 0.0);
    for (const auto& s : syn) {
      REQUIRE(s.delay_steps >= 1);
      REQUIRE(s.delay_steps <= 8);
      counts[s.delay_steps] += 1;
    }
    double chi2 = 0;
    const double e = static_cast<double>(syn.size()) / 8;
    for (int d = 1; d <= 8; ++d) chi2 += (counts[d] - e) * (counts[d] - e) / e;
    CHECK(chi2 < 29.88);
    // Per-pair independence: out-degrees have the binomial variance n p (1-p) = 23.75 within
    // 25 % (the sample variance of 400 rows has a relative sd of about 7 %).
    std::vector<double> deg(400, 0.0);
    for (const auto& s : syn) deg[s.source] += 1;
    const double mean = std::accumulate(deg.begin(), deg.end(), 0.0) / 400;
    double var = 0;
    for (double x : deg) var += (x - mean) * (x - mean);
    var /= 399;
    CHECK(var == doctest::Approx(500 * p * (1 - p)).epsilon(0.25));
  }
  CHECK(projs[3].synapse_count() == 500u * 400u);
  CHECK(projs[3].dense());
}

TEST_CASE("the same seed gives identical spikes for 1, 2 and 3 threads") {
  NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 300
seed = 42
[[population]]
name = "exc"
size = 800
heterogeneity = "izhikevich2003_excitatory"
drive = { noise_sigma = 5.0 }
adaptation = { enabled = true, tau_ms = { dist = "loguniform", low = 100.0, high = 2000.0 }, increment = 1.0 }
[[population]]
name = "inh"
size = 200
heterogeneity = "izhikevich2003_inhibitory"
drive = { noise_sigma = 2.0, poisson_rate_hz = 5.0, poisson_weight = 3.0 }
synapse = { kind = "exponential", tau_ms = 5.0 }
[[projection]]
source = "exc"
target = "exc"
rule = "fixed_probability"
probability = 0.1
weight = { dist = "uniform", low = 0, high = 5 }
delay_ms = { dist = "uniform_int", low = 1, high = 20 }
[[projection]]
source = "exc"
target = "inh"
rule = "all_to_all"
weight = { dist = "uniform", low = 0, high = 0.5 }
[[projection]]
source = "inh"
target = "exc"
rule = "fixed_outdegree"
outdegree = 100
weight = { dist = "uniform", low = -10, high = 0 }
)");
  const auto one = run_spikes(cfg, 1);
  REQUIRE(one.size() > 1000);
  CHECK(run_spikes(cfg, 2) == one);
  CHECK(run_spikes(cfg, 3) == one);
  // More threads than the 200 inhibitory neurons have blocks of 64 (4): some parts own no
  // targets there, and rows split into empty stretches.
  CHECK(run_spikes(cfg, 6) == one);
  cfg.run.seed = 43;
  CHECK(run_spikes(cfg, 1) != one);
}

TEST_CASE("the 2003 network equals a literal transcription of the paper's MATLAB loop") {
  // Reference: Izhikevich 2003, Fig. 3 code, written out here independently of the engine:
  //   I = [5*randn(Ne,1); 2*randn(Ni,1)]; fired = find(v >= 30); v(fired) = c(fired);
  //   u(fired) += d(fired); I += sum(S(:,fired),2); v += 0.5*(0.04v^2+5v+140-u+I) twice;
  //   u += a.*(b.*v - u)
  // It shares with the engine only the random numbers, reproduced from the documented
  // keying (parameters: heterogeneity stream per neuron; weights from the projections;
  // noise: Philox block i/4 of the population's noise stream at step k, Box–Muller with the
  // polynomial log/sincos of sim/rng_batch.hpp).
  // The network is the shipped config, experiments/izhikevich2003.toml, at another seed.
  ConfigDocument doc = load_config(std::string(SNNSIM_SOURCE_DIR) + "/experiments/izhikevich2003.toml");
  apply_override(doc, "simulation.seed=7");
  toml::table resolved;
  TableReader root(doc.root, "", doc.file, resolved);
  root.table("experiment");
  const NetworkConfig cfg = read_network_config(root);
  REQUIRE(cfg.run.duration_ms == 1000.0);
  const auto engine = run_spikes(cfg, 2);

  const int Ne = 800, N = 1000;
  Network net(cfg.network, cfg.run.seed, 1);
  std::vector<double> a(N), b(N), c(N), d(N), v(N, -65.0), u(N);
  for (int i = 0; i < N; ++i) {
    const auto& p = net.populations()[i < Ne ? 0 : 1];
    const int j = i < Ne ? i : i - Ne;
    a[i] = p.a[j], b[i] = p.b[j], c[i] = p.c_mV[j], d[i] = p.d[j];
    u[i] = b[i] * v[i];
  }
  // S(post, pre) as in the paper (index = global neuron id).
  std::vector<float> S(static_cast<size_t>(N) * N, 0.0f);
  for (const auto& proj : net.projections()) {
    const int so = proj.source() == 0 ? 0 : Ne, to = proj.target() == 0 ? 0 : Ne;
    for (const auto& s : proj.synapses()) S[static_cast<size_t>(to + s.target) * N + so + s.source] = s.weight;
  }
  auto noise = [&](int pop, uint32_t j, Step k) {
    return rng::normal_at(cfg.run.seed, rng::make_stream(rng::Purpose::noise, pop), j, k);
  };
  std::vector<MemorySink::Spike> reference;
  std::vector<int> fired;
  for (Step t = 0; t < 1000; ++t) {
    std::vector<double> I(N);
    for (int i = 0; i < N; ++i) I[i] = i < Ne ? 5.0 * noise(0, i, t) : 2.0 * noise(1, i - Ne, t);
    // `fired` holds the spikes of the previous iteration; the engine stamps them at t - 1.
    // The synaptic sum is formed first and then added to the noise: floating-point addition
    // is not associative, and the engine accumulates synaptic charge in its ring buffer.
    for (int i = 0; i < N; ++i) {
      double syn = 0.0;
      for (int f : fired) syn += static_cast<double>(S[static_cast<size_t>(i) * N + f]);
      I[i] += syn;
    }
    fired.clear();
    for (int i = 0; i < N; ++i) {
      // 0.04*v.^2 in MATLAB is 0.04 * (v * v): the rounding order matters for bitwise equality.
      v[i] = v[i] + 0.5 * (0.04 * (v[i] * v[i]) + 5 * v[i] + 140 - u[i] + I[i]);
      v[i] = v[i] + 0.5 * (0.04 * (v[i] * v[i]) + 5 * v[i] + 140 - u[i] + I[i]);
      u[i] = u[i] + a[i] * (b[i] * v[i] - u[i]);
      if (v[i] >= 30) {
        fired.push_back(i);
        v[i] = c[i];
        u[i] = u[i] + d[i];
        reference.push_back({t, i < Ne ? 0u : 1u, static_cast<uint32_t>(i < Ne ? i : i - Ne)});
      }
    }
  }
  // Same order: by step, then population, then id.
  std::stable_sort(reference.begin(), reference.end(), [](const auto& x, const auto& y) {
    return std::tie(x.step, x.population, x.id) < std::tie(y.step, y.population, y.id);
  });
  REQUIRE(reference.size() > 5000);  // the network is active (~ 8 Hz in the paper's Fig. 3)
  CHECK(engine.size() == reference.size());
  CHECK(engine == reference);
  for (size_t i = 0; i < std::min(engine.size(), reference.size()); ++i)
    if (!(engine[i] == reference[i])) {
      MESSAGE("first difference at spike " << i << ": engine step " << engine[i].step << " pop "
              << engine[i].population << " id " << engine[i].id << ", reference step "
              << reference[i].step << " pop " << reference[i].population << " id " << reference[i].id);
      break;
    }
}

TEST_CASE("R-STDP on a projection equals the rule driven by hand with the same spike train") {
  // The engine calls the rule's hooks in its phases; this test replays the recorded spikes
  // through a standalone models::plasticity::RStdpRule in the documented order — dopamine at
  // the start of step k, post events of step k, pre events of the spikes arriving at k + 1,
  // then the presynaptic traces stamped k + 1 — and requires the same weights bit for bit.
  PlasticitySpec plasticity;
  plasticity.rule = PlasticitySpec::Rule::rstdp;
  plasticity.rstdp.tau_c_ms = 300.0;
  plasticity.rstdp.eta_per_ms = 0.01;
  const NetworkSpec net = pair_network(3, 2, 1.0, 2.0, [](uint32_t) { return 2.0; }, plasticity);
  const std::set<Step> dopamine_steps = {250, 500, 750};
  const Step steps = 1000, delay = 2;

  for (int threads : {1, 2}) {
    const PlasticRun run = run_plastic(net, 21, threads, steps, [&](Simulation& sim, Step k) {
      if (dopamine_steps.count(k)) sim.modulate(0, 0.5);
    });
    size_t n_pre = 0, n_post = 0;
    for (Step k = 0; k < steps; ++k) n_pre += run.pre[k].size(), n_post += run.post[k].size();
    REQUIRE(n_pre > 20);
    REQUIRE(n_post > 20);

    std::vector<uint32_t> pre_of, post_of;
    for (const auto& syn : run.synapses) pre_of.push_back(syn.source), post_of.push_back(syn.target);
    std::vector<double> w(run.synapses.size(), 2.0);
    models::plasticity::RStdpRule ref(plasticity.rstdp, 1.0, pre_of, post_of, 3, 2);
    for (Step k = 0; k < steps; ++k) {
      if (dopamine_steps.count(k)) ref.on_modulator(0.5, k, w);
      for (uint32_t p : run.post[k]) ref.on_post_spike(p, k, w);
      if (k + 1 >= delay)
        for (uint32_t s : run.pre[k + 1 - delay]) {
          for (size_t i = 0; i < pre_of.size(); ++i)
            if (pre_of[i] == s) ref.on_pre(i, k + 1, w);
          ref.bump_pre_trace(s, k + 1);
        }
    }
    ref.flush(steps, w);
    bool changed = false;
    for (size_t i = 0; i < w.size(); ++i) {
      CHECK(run.synapses[i].weight == w[i]);
      changed = changed || w[i] != 2.0;
    }
    CHECK(changed);  // dopamine met eligibility: the weights moved
  }
}

TEST_CASE("plastic recurrent networks stay bitwise identical across thread counts") {
  NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 400
seed = 5
[[population]]
name = "exc"
size = 400
heterogeneity = "izhikevich2003_excitatory"
drive = { noise_sigma = 5.0 }
[[population]]
name = "inh"
size = 100
heterogeneity = "izhikevich2003_inhibitory"
drive = { noise_sigma = 2.0 }
[[projection]]
name = "ee"
source = "exc"
target = "exc"
rule = "fixed_outdegree"
outdegree = 40
weight = { dist = "uniform", low = 0, high = 4 }
delay_ms = 3
plasticity = { rule = "rstdp", d_tonic = 0.2, eta_per_ms = 0.01 }
[[projection]]
source = "inh"
target = "exc"
rule = "fixed_outdegree"
outdegree = 40
weight = { dist = "uniform", low = -8, high = 0 }
)");
  auto run_weights = [&](int threads) {
    RunSpec run = cfg.run;
    run.threads = threads;
    Simulation simulation(cfg.network, run);
    MemorySink sink;
    simulation.add_sink(&sink);
    simulation.begin("test", "", 400);
    simulation.run(400);
    simulation.end(true);
    return std::pair{sink.all(), simulation.network().projections()[0].synapses()};
  };
  const auto [spikes1, w1] = run_weights(1);
  const auto [spikes2, w2] = run_weights(2);
  const auto [spikes3, w3] = run_weights(3);
  REQUIRE(spikes1.size() > 500);
  CHECK(spikes2 == spikes1);
  CHECK(spikes3 == spikes1);
  size_t moved = 0;
  for (size_t i = 0; i < w1.size(); ++i) {
    CHECK(w2[i].weight == w1[i].weight);
    CHECK(w3[i].weight == w1[i].weight);
    CHECK(w1[i].weight >= 0.0);  // the paper's bounds [0, 4]
    CHECK(w1[i].weight <= 4.0);
  }
  const NetworkConfig fresh = cfg;
  Network initial(fresh.network, fresh.run.seed, 1);
  const auto w0 = initial.projections()[0].synapses();
  for (size_t i = 0; i < w1.size(); ++i) moved += w1[i].weight != w0[i].weight;
  CHECK(moved > w1.size() / 2);
}

TEST_CASE("traces record v, u and the input current of the chosen neurons in their window") {
  // Two constant-drive neurons without synapses: their trajectory is a plain sequence of
  // models::izhikevich::step calls, replayed here independently, for every integrator the
  // engine dispatches to.
  namespace iz = models::izhikevich;
  for (iz::Integrator integrator : {iz::Integrator::izhikevich2003, iz::Integrator::izhikevich2003_clipped,
                                    iz::Integrator::euler, iz::Integrator::rk4, iz::Integrator::dopri5}) {
    CAPTURE(iz::integrator_name(integrator));
    NetworkSpec net;
    net.dt_ms = 0.5;
    PopulationSpec p = population("p", 5);
    p.drive.mean = 10.0;
    p.integrator = integrator;
    net.populations = {p};
    RunSpec run;
    run.traces.push_back({0, {1, 3}, 10.0, 20.0});
    struct TraceSink final : Sink {
      std::vector<std::tuple<Step, std::vector<double>, std::vector<double>, std::vector<double>>> rows;
      void spikes(Step, uint32_t, std::span<const uint32_t>) override {}
      void trace(Step k, uint32_t, std::span<const double> v, std::span<const double> u,
                 std::span<const double> in) override {
        rows.emplace_back(k, std::vector<double>(v.begin(), v.end()),
                          std::vector<double>(u.begin(), u.end()), std::vector<double>(in.begin(), in.end()));
      }
    } sink;
    Simulation simulation(net, run);
    simulation.add_sink(&sink);
    simulation.begin("test", "", 100);
    simulation.run(100);
    simulation.end(true);
    REQUIRE(sink.rows.size() == 20);  // steps 20..39: [10 ms, 20 ms) at dt = 0.5 ms
    const iz::Params params{0.02, 0.2, -65.0, 8.0};
    double v = -65.0, u = 0.2 * -65.0;
    size_t row = 0;
    for (Step k = 0; k < 40; ++k) {
      iz::step(integrator, v, u, params, 10.0, 0.5);
      if (k < 20) continue;
      const auto& [step, vs, us, ins] = sink.rows[row++];
      CHECK(step == k);
      for (int j = 0; j < 2; ++j) {
        CHECK(vs[j] == v);
        CHECK(us[j] == u);
        CHECK(ins[j] == 10.0);
      }
    }
  }
}

TEST_CASE("two simulations in one process do not share state") {
  // No global state: running two networks interleaved step by step gives each the spikes it
  // has when run alone.
  NetworkConfig a = from_toml(R"(
[simulation]
duration_ms = 200
seed = 1
[[population]]
name = "exc"
size = 300
heterogeneity = "izhikevich2003_excitatory"
drive = { noise_sigma = 5.0, poisson_rate_hz = 10.0, poisson_weight = 2.0 }
[[projection]]
source = "exc"
target = "exc"
rule = "fixed_probability"
probability = 0.1
weight = { dist = "uniform", low = 0, high = 2 }
delay_ms = { dist = "uniform_int", low = 1, high = 5 }
)");
  NetworkConfig b = a;
  b.run.seed = 2;
  const auto alone_a = run_spikes(a, 1);
  const auto alone_b = run_spikes(b, 2);
  Simulation sa(a.network, a.run), sb(b.network, b.run);
  MemorySink ma, mb;
  sa.add_sink(&ma);
  sb.add_sink(&mb);
  sa.begin("a", "", 200);
  sb.begin("b", "", 200);
  for (int k = 0; k < 200; ++k) {
    sa.run(1);
    sb.run(1);
  }
  sa.end(true);
  sb.end(true);
  CHECK(ma.all() == alone_a);
  CHECK(mb.all() == alone_b);
  CHECK(alone_a != alone_b);
}

TEST_CASE("--set selects array-of-table elements by name or by position") {
  ConfigDocument doc = parse_config(R"(
[simulation]
duration_ms = 10
[[population]]
name = "a"
size = 10
[[projection]]
source = "a"
target = "a"
rule = "all_to_all"
weight = 1
[[projection]]
source = "a"
target = "a"
rule = "all_to_all"
weight = 2
)", "t.toml");
  apply_override(doc, "population.a.size=20");
  apply_override(doc, "projection.1.delay_ms=3");
  toml::table resolved;
  TableReader root(doc.root, "", doc.file, resolved);
  const NetworkConfig cfg = read_network_config(root);
  CHECK(cfg.network.populations[0].size == 20);
  CHECK(cfg.network.projections[0].delay_ms.p1 == 1.0);  // the default: one step
  CHECK(cfg.network.projections[1].delay_ms.p1 == 3.0);
  CHECK_THROWS_WITH_AS(apply_override(doc, "projection.2.weight=1"),
                       "no element named '2' in [[projection]] (select one by name, or by position 0..1)",
                       InputError);
}

TEST_CASE("the three-factor rule on a projection equals the rule driven by hand") {
  // As for R-STDP above; the documented order per step k: modulator at the start of step k,
  // post events of step k, the weight change of step k (on_step), pre events of the spikes
  // arriving at k + 1, then the presynaptic traces stamped k + 1. Modulator values alternate
  // sign, as a prediction error would.
  PlasticitySpec plasticity;
  plasticity.rule = PlasticitySpec::Rule::three_factor;
  auto& q = plasticity.three_factor;
  q.eta = 0.05;
  q.a_pre = 0.2;
  q.a_pre_post = 0.5;
  q.bounds = {.w_min = 0.0, .w_max = 3.0};
  auto initial = [](uint32_t s) { return 1.0 + 0.1 * s; };
  const NetworkSpec net = pair_network(4, 3, 0.5, 1.5, initial, plasticity);
  auto modulator_at = [](Step k) -> std::optional<double> {
    if (k % 200 == 0) return (k / 200) % 2 ? -0.7 : 0.9;
    if (k % 200 == 100) return 0.0;  // gate closed half of the time
    return std::nullopt;
  };
  const Step steps = 2000, delay = 3;  // 1.5 ms at dt = 0.5

  for (int threads : {1, 2, 3}) {
    const PlasticRun run = run_plastic(net, 8, threads, steps, [&](Simulation& sim, Step k) {
      if (auto m = modulator_at(k)) sim.modulate(0, *m);
    });
    std::vector<uint32_t> pre_of, post_of;
    std::vector<double> w;
    for (const auto& syn : run.synapses) {
      pre_of.push_back(syn.source), post_of.push_back(syn.target);
      w.push_back(initial(syn.source));
    }
    models::plasticity::ThreeFactorRule ref(q, 0.5, pre_of, post_of, 4, 3);
    for (Step k = 0; k < steps; ++k) {
      if (auto m = modulator_at(k)) ref.on_modulator(*m, k);
      for (uint32_t p : run.post[k]) ref.on_post_spike(p, k);
      ref.on_step(w, k);
      if (k + 1 >= delay)
        for (uint32_t s : run.pre[k + 1 - delay]) {
          for (size_t i = 0; i < pre_of.size(); ++i)
            if (pre_of[i] == s) ref.on_pre(i, k + 1);
          ref.bump_pre_trace(s, k + 1);
        }
    }
    size_t moved = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      CHECK(run.synapses[i].weight == w[i]);
      moved += w[i] != initial(pre_of[i]);
    }
    CHECK(moved == w.size());
  }
}

TEST_CASE("plasticity on a projection with several delays is refused at its key") {
  CHECK_THROWS_WITH_AS(from_toml(R"(
[simulation]
duration_ms = 10
[[population]]
name = "a"
size = 10
[[projection]]
source = "a"
target = "a"
rule = "all_to_all"
weight = 1
delay_ms = { dist = "uniform_int", low = 1, high = 3 }
plasticity = { rule = "three_factor", eta = 0.1 }
)"),
                       "plasticity needs a constant delay in its projection (per-neuron presynaptic "
                       "traces are stamped at arrival)",
                       InputError);
}

TEST_CASE("fewer OpenMP threads than partitions still advance every partition") {
  // Inside an enclosing parallel region (nested parallelism off) the simulation's region gets
  // one thread for its three partitions; OMP_DYNAMIC or OMP_THREAD_LIMIT do the same.
  NetworkConfig cfg = from_toml(R"(
[simulation]
duration_ms = 200
seed = 4
threads = 3
[[population]]
name = "exc"
size = 300
heterogeneity = "izhikevich2003_excitatory"
drive = { noise_sigma = 5.0 }
[[projection]]
source = "exc"
target = "exc"
rule = "fixed_outdegree"
outdegree = 30
weight = { dist = "uniform", low = 0, high = 3 }
delay_ms = { dist = "uniform_int", low = 1, high = 4 }
)");
  const auto granted = run_spikes(cfg, 3);
  std::vector<MemorySink::Spike> starved;
#pragma omp parallel num_threads(1)
  starved = run_spikes(cfg, 3);
  REQUIRE(granted.size() > 100);
  CHECK(starved == granted);
}

TEST_CASE("an exception in the step hook or a sink ends run() with that exception") {
  NetworkSpec net;
  PopulationSpec p = population("p", 70);
  p.drive.mean = 20.0;
  net.populations = {p};
  for (int threads : {1, 2}) {
    RunSpec run;
    run.threads = threads;
    Simulation simulation(net, run);
    simulation.set_step_hook([](Step k) {
      if (k == 3) throw std::runtime_error("hook failed at step 3");
    });
    simulation.begin("test", "", 10);
    CHECK_THROWS_WITH_AS(simulation.run(10), "hook failed at step 3", std::runtime_error);
    CHECK(simulation.now() == 3);
  }
  struct FailingSink final : Sink {
    void spikes(Step, uint32_t, std::span<const uint32_t>) override { throw std::runtime_error("disk full"); }
  } sink;
  RunSpec run;
  run.threads = 2;
  Simulation simulation(net, run);
  simulation.add_sink(&sink);
  simulation.begin("test", "", 100);
  CHECK_THROWS_WITH_AS(simulation.run(100), "disk full", std::runtime_error);
}

TEST_CASE("config refuses inputs that used to hang, overflow or run wrongly") {
  const std::string base = R"(
[simulation]
duration_ms = 100
[[population]]
name = "a"
size = SIZE
drive = DRIVE
[[projection]]
source = "a"
target = "a"
rule = "fixed_indegree"
indegree = 1
autapses = false
multapses = true
weight = WEIGHT
TRACE
)";
  auto make = [&](std::string size, std::string drive, std::string weight, std::string trace) {
    std::string text = base;
    auto put = [&](const std::string& what, const std::string& with) {
      text.replace(text.find(what), what.size(), with);
    };
    put("SIZE", size);
    put("DRIVE", drive);
    put("WEIGHT", weight);
    put("TRACE", trace);
    return text;
  };
  const std::string ok_trace = "[[trace]]\npopulation = \"a\"\nnode_ids = [0]\n";
  CHECK_NOTHROW(from_toml(make("2", "{}", "1", ok_trace)));
  // A single neuron without autapses has no candidate source: sampling would never end.
  CHECK_THROWS_WITH_AS(from_toml(make("1", "{}", "1", ok_trace)),
                       "indegree 1 but there is no candidate (a single neuron without autapses)",
                       InputError);
  // Non-finite constants would run to a silent, all-NaN result.
  CHECK_THROWS_WITH_AS(from_toml(make("2", "{}", "nan", ok_trace)), "expected a finite number",
                       InputError);
  // exp(-lambda) underflows for large lambda: the Poisson count would be capped, not drawn.
  CHECK_THROWS_AS(from_toml(make("2", "{ poisson_rate_hz = 40000.0 }", "1", ok_trace)), InputError);
  // An empty trace, or one past the run, used to fail only after the run folder existed.
  CHECK_THROWS_WITH_AS(
      from_toml(make("2", "{}", "1", "[[trace]]\npopulation = \"a\"\nnode_ids = []\n")),
      "expected at least one neuron to record", InputError);
  CHECK_THROWS_WITH_AS(
      from_toml(make("2", "{}", "1", ok_trace + "stop_ms = 200\n")),
      "expected stop_ms <= the run's duration_ms (100)", InputError);
}
