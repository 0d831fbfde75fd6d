#pragma once
// Validated, fully resolved descriptions of a network (STYLE.md §2: describe, then
// build). The config loader (sim/config.hpp) produces these from TOML with file:line
// errors; experiments may also fill them in code. The engine trusts them: everything
// here has already been checked (sizes > 0, probabilities in [0, 1], delays >= 1 step).
#include <cstdint>
#include <string>
#include <vector>

#include "models/izhikevich.hpp"
#include "models/rstdp.hpp"
#include "models/three_factor.hpp"
#include "sim/time.hpp"

namespace sim {

// A scalar drawn per element (neuron or synapse), or a constant.
struct Distribution {
  enum class Kind { constant, uniform, normal, lognormal, loguniform, uniform_int };
  Kind kind = Kind::constant;
  double p1 = 0.0;  // constant: value; uniform/loguniform/uniform_int: low; normal: mean;
                    // lognormal: mean of log
  double p2 = 0.0;  // uniform/loguniform/uniform_int: high; normal: sd; lognormal: sd of log
  static Distribution constant_value(double v) { return {Kind::constant, v, 0.0}; }
  static Distribution uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  static Distribution normal(double mean, double sd) { return {Kind::normal, mean, sd}; }
};

// How per-neuron Izhikevich parameters are drawn.
enum class Heterogeneity {
  none,                       // a, b, c_mV, d from their distributions
  izhikevich2003_excitatory,  // r ~ U(0,1): c = -65 + 15 r^2, d = 8 - 6 r^2 (2003 network code)
  izhikevich2003_inhibitory,  // r ~ U(0,1): a = 0.02 + 0.08 r, b = 0.25 - 0.05 r
};

// Postsynaptic current shape. Weights are charges in mV (the jump of v a spike would
// cause by itself): a delta synapse adds w/dt as current during one step (so dt = 1 ms
// is exactly the 2003 code's I += S(:,fired)); an exponential synapse adds w/tau to a
// current that decays with tau (same total charge).
struct SynapseSpec {
  enum class Kind { delta, exponential };
  Kind kind = Kind::delta;
  double tau_ms = 5.0;
};

// External drive, added to the input current every step.
struct DriveSpec {
  double mean = 0.0;              // constant current (per-step current units, as the 2003 code)
  double noise_sigma = 0.0;       // sd of a Gaussian current redrawn every step (2003: 5 and 2)
  double poisson_rate_hz = 0.0;   // independent Poisson input spikes per neuron
  double poisson_weight = 0.0;    // charge (mV) of each Poisson input spike
};

// Slow spike-triggered adaptation current: an extension of the Izhikevich model, not part
// of the 2003 paper. I_adapt decays with a per-neuron tau and jumps by `increment` at every
// spike; it is subtracted from the input current. Used by the what/when reservoir to keep a
// time-since-cue trace for about a second (see shared research notes).
struct AdaptationSpec {
  bool enabled = false;
  Distribution tau_ms = Distribution::constant_value(500.0);
  double increment = 0.0;  // current units per spike
};

struct PopulationSpec {
  std::string name;
  uint32_t size = 0;
  models::izhikevich::Integrator integrator = models::izhikevich::Integrator::izhikevich2003;
  Heterogeneity heterogeneity = Heterogeneity::none;
  Distribution a = Distribution::constant_value(0.02);
  Distribution b = Distribution::constant_value(0.2);
  Distribution c_mV = Distribution::constant_value(-65.0);
  Distribution d = Distribution::constant_value(8.0);
  double v_peak_mV = 30.0;
  Distribution v0_mV = Distribution::constant_value(-65.0);  // u0 = b * v0 (2003 code)
  SynapseSpec synapse;
  DriveSpec drive;
  AdaptationSpec adaptation;
};

struct ConnectionTriple {
  uint32_t source = 0;
  uint32_t target = 0;
  double weight = 0.0;
  double delay_ms = 1.0;
};

// Plasticity of a projection's weights: R-STDP (Izhikevich 2007) or the three-factor rule
// (eligibility x modulator). Both need a constant delay: their presynaptic traces are per
// neuron and stamped at arrival, which is one time per neuron only when every synapse of the
// projection has the same delay. The third factor (dopamine, or error x gate) is delivered
// by experiments through Simulation::modulate.
struct PlasticitySpec {
  enum class Rule { none, rstdp, three_factor };
  Rule rule = Rule::none;
  models::plasticity::RStdpParams rstdp;
  models::plasticity::ThreeFactorParams three_factor;
};

struct ProjectionSpec {
  std::string name;
  uint32_t source = 0;  // population index
  uint32_t target = 0;  // population index
  enum class Rule { all_to_all, fixed_probability, fixed_outdegree, fixed_indegree, explicit_list };
  Rule rule = Rule::all_to_all;
  double probability = 0.0;    // fixed_probability
  uint32_t degree = 0;         // fixed_outdegree / fixed_indegree
  bool allow_autapses = true;  // only meaningful when source == target
  bool allow_multapses = false;
  Distribution weight = Distribution::constant_value(1.0);
  Distribution delay_ms = Distribution::constant_value(1.0);  // constant or uniform_int (ms)
  std::vector<ConnectionTriple> connections;                 // explicit_list
  PlasticitySpec plasticity;
};

// Which neurons to record v, u and input current for, and when.
struct TraceSpec {
  uint32_t population = 0;
  std::vector<uint32_t> node_ids;
  double start_ms = 0.0;
  double stop_ms = 0.0;
};

struct NetworkSpec {
  double dt_ms = 1.0;
  std::vector<PopulationSpec> populations;
  std::vector<ProjectionSpec> projections;
};

struct RunSpec {
  double duration_ms = 1000.0;
  uint64_t seed = 1;
  int threads = 1;
  double flush_interval_ms = 1000.0;  // sinks flush at least this often (model time)
  std::vector<TraceSpec> traces;
};

}  // namespace sim
