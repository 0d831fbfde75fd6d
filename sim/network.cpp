#include "sim/network.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/distribution.hpp"
#include "sim/rng.hpp"
#include "sim/rng_batch.hpp"

namespace sim {

namespace iz = models::izhikevich;

Partition make_partition(uint32_t padded, int n_parts) {
  // Equal numbers of kBlock-sized blocks per part (the first parts take the remainder).
  Partition p;
  const uint32_t blocks = padded / kBlock;
  const uint32_t parts = static_cast<uint32_t>(std::max(1, n_parts));
  p.begin.resize(parts + 1);
  uint32_t at = 0;
  for (uint32_t t = 0; t < parts; ++t) {
    p.begin[t] = at * kBlock;
    at += blocks / parts + (t < blocks % parts ? 1u : 0u);
  }
  p.begin[parts] = padded;
  return p;
}

// ---------------------------------------------------------------------------------------
// Population

Population::Population(const PopulationSpec& spec, uint32_t index, uint64_t seed, double dt_ms)
    : spec_(spec), index_(index), padded_(padded_size(spec.size)), seed_(seed), dt_ms_(dt_ms) {
  const size_t n = padded_;
  v_mV.assign(n, -65.0);
  a.assign(n, 0.02);
  b.assign(n, 0.2);
  c_mV.assign(n, -65.0);
  d.assign(n, 8.0);
  i_syn.assign(n, 0.0);
  input.assign(n, 0.0);
  external.assign(n, 0.0);

  const uint32_t het_stream = rng::make_stream(rng::Purpose::heterogeneity, index);
  const uint32_t init_stream = rng::make_stream(rng::Purpose::initial_state, index);
  for (uint32_t i = 0; i < spec.size; ++i) {
    rng::Stream r(seed, het_stream, i);
    switch (spec.heterogeneity) {
      case Heterogeneity::izhikevich2003_excitatory: {
        const iz::Params p = iz::excitatory_2003(r.uniform());
        a[i] = p.a, b[i] = p.b, c_mV[i] = p.c_mV, d[i] = p.d;
        break;
      }
      case Heterogeneity::izhikevich2003_inhibitory: {
        const iz::Params p = iz::inhibitory_2003(r.uniform());
        a[i] = p.a, b[i] = p.b, c_mV[i] = p.c_mV, d[i] = p.d;
        break;
      }
      case Heterogeneity::none:
        a[i] = draw(spec.a, r);
        b[i] = draw(spec.b, r);
        c_mV[i] = draw(spec.c_mV, r);
        d[i] = draw(spec.d, r);
        break;
    }
    rng::Stream r0(seed, init_stream, i);
    v_mV[i] = draw(spec.v0_mV, r0);
  }
  if (spec.adaptation.enabled) {
    adapt.assign(n, 0.0);
    adapt_decay.assign(n, 0.0);  // padding neurons: no adaptation
    const uint32_t ad_stream = rng::make_stream(rng::Purpose::heterogeneity, 0x800000u | index);
    for (uint32_t i = 0; i < spec.size; ++i) {
      rng::Stream r(seed, ad_stream, i);
      adapt_decay[i] = std::exp(-dt_ms / draw(spec.adaptation.tau_ms, r));
    }
  }
  // The 2003 code starts every neuron at u = b * v.
  u.resize(n);
  for (size_t i = 0; i < n; ++i) u[i] = b[i] * v_mV[i];

  if (spec.synapse.kind == SynapseSpec::Kind::exponential) {
    syn_decay_ = std::exp(-dt_ms / spec.synapse.tau_ms);
    charge_to_current_ = 1.0 / spec.synapse.tau_ms;
  } else {
    charge_to_current_ = 1.0 / dt_ms;
  }
  poisson_lambda_ = spec.drive.poisson_rate_hz * dt_ms * 1e-3;
  reserve_delays(1);
}

void Population::reserve_delays(uint32_t max_delay_steps) {
  slots_ = std::max(1u, max_delay_steps);
  ring_.assign(static_cast<size_t>(slots_) * padded_, 0.0);
  slot_offset_.resize(2 * static_cast<size_t>(slots_));
  for (size_t j = 0; j < slot_offset_.size(); ++j) slot_offset_[j] = (j % slots_) * padded_;
}

void SpikeHistory::reset(uint32_t depth, int parts) {
  depth_ = std::max(1u, depth);
  parts_ = static_cast<size_t>(std::max(1, parts));
  lists_.assign(static_cast<size_t>(depth_) * parts_, {});
}

namespace {
using StepFn = bool (*)(double&, double&, const iz::Params&, double, double);
// dopri5 with the signature of the other steps (the in-step spike time is not needed here).
bool step_dopri5_no_offset(double& v, double& u, const iz::Params& p, double I, double dt_ms) {
  return iz::step_dopri5(v, u, p, I, dt_ms);
}
// What one thread's neuron range needs for a step (pointers at its first neuron).
struct ChunkState {
  double *slot, *isyn, *ad, *v, *u;
  const double *ext, *ad_decay, *a, *b, *c, *d;
  double mean, sigma, ad_inc, v_peak, dt, decay, to_current;
};

// Neurons [base, base + 64) of the range, with the chunk's noise z; their input currents go
// to in[0..63], their spike flags to fired[0..63]. Only what the step needs is read or
// written (a delta synapse has no current state): for large networks the neuron arrays do
// not fit the caches and this loop is limited by memory traffic.
template <StepFn step_fn, bool exponential, bool adapting>
void advance_chunk(const ChunkState& st, uint32_t base, const double* __restrict z,
                   double* __restrict in, double* __restrict fired) {
  double* __restrict slot = st.slot + base;
  double* __restrict isyn = st.isyn + base;
  double* __restrict v = st.v + base;
  double* __restrict u = st.u + base;
  double* __restrict ad = adapting ? st.ad + base : nullptr;
  const double* __restrict ext = st.ext + base;
  const double* __restrict ad_decay = adapting ? st.ad_decay + base : nullptr;
  const double* __restrict pa = st.a + base;
  const double* __restrict pb = st.b + base;
  const double* __restrict pc = st.c + base;
  const double* __restrict pd = st.d + base;
  const double v_peak = st.v_peak, dt = st.dt, decay = st.decay, to_current = st.to_current;
  const double ad_inc = st.ad_inc, mean = st.mean, sigma = st.sigma;
#pragma omp simd
  for (uint32_t i = 0; i < rng::kNormalChunk; ++i) {
    const double charge = slot[i];
    slot[i] = 0.0;
    double syn = charge * to_current;
    if constexpr (exponential) {
      syn = isyn[i] * decay + syn;
      isyn[i] = syn;
    }
    double current = mean + sigma * z[i] + ext[i] + syn;
    double adapt = 0.0;
    if constexpr (adapting) {
      adapt = ad[i] * ad_decay[i];
      current -= adapt;
    }
    in[i] = current;
    const iz::Params p{pa[i], pb[i], pc[i], pd[i], v_peak};
    double vi = v[i], ui = u[i];
    const bool spiked = step_fn(vi, ui, p, current, dt);
    v[i] = vi;
    u[i] = ui;
    const double f = spiked ? 1.0 : 0.0;
    fired[i] = f;
    if constexpr (adapting) ad[i] = adapt + f * ad_inc;
  }
}

}  // namespace

void Population::advance(Step k, uint32_t lo, uint32_t hi, std::vector<uint32_t>& spikes) {
  const uint32_t n = hi - lo;
  if (n == 0) return;
  double* slot = charge_at(k) + lo;

  // Poisson input spikes add their charge to this step's slot.
  if (poisson_lambda_ > 0) {
    const uint32_t stream = rng::make_stream(rng::Purpose::poisson, index_);
    const double w = spec_.drive.poisson_weight;
    const double p0 = std::exp(-poisson_lambda_);
    const uint32_t end = std::min(hi, spec_.size);
    for (uint32_t i = lo; i < end; ++i)
      slot[i - lo] += w * rng::poisson_count(seed_, stream, i, k, poisson_lambda_, p0);
  }

  // One pass over chunks of 64 neurons (partitions start at multiples of kBlock = 64): the
  // chunk's noise is drawn into registers/L1, then each neuron takes its arrived charge
  // (clearing the ring row for reuse), forms its input and integrates. The step function and
  // the synapse/adaptation options are template arguments, so the loop body is branch-free
  // and vectorises for the 2003 and Euler steps (rk4/dopri5 are calls).
  static_assert(kBlock % rng::kNormalChunk == 0);
  const bool noisy = spec_.drive.noise_sigma != 0.0;
  const uint32_t noise_stream = rng::make_stream(rng::Purpose::noise, index_);
  ChunkState st;
  st.slot = slot;
  st.isyn = i_syn.data() + lo;
  st.mean = spec_.drive.mean;
  st.sigma = spec_.drive.noise_sigma;
  st.ext = external.data() + lo;
  st.ad = adapt.empty() ? nullptr : adapt.data() + lo;
  st.ad_decay = adapt_decay.empty() ? nullptr : adapt_decay.data() + lo;
  st.ad_inc = spec_.adaptation.increment;
  st.v = v_mV.data() + lo;
  st.u = u.data() + lo;
  st.a = a.data() + lo;
  st.b = b.data() + lo;
  st.c = c_mV.data() + lo;
  st.d = d.data() + lo;
  st.v_peak = spec_.v_peak_mV;
  st.dt = dt_ms_;
  st.decay = syn_decay_;
  st.to_current = charge_to_current_;
  const uint32_t end = std::min(hi, spec_.size);
  auto run = [&]<StepFn step_fn, bool exponential, bool adapting>() {
    double z[rng::kNormalChunk] = {};
    double current[rng::kNormalChunk], fired[rng::kNormalChunk];
    for (uint32_t base = 0; base < n; base += rng::kNormalChunk) {
      if (noisy) rng::normals_chunk(seed_, noise_stream, (lo + base) / rng::kNormalChunk, k, z);
      advance_chunk<step_fn, exponential, adapting>(st, base, z, current, fired);
      if (keep_input_) std::copy(current, current + rng::kNormalChunk, input.data() + lo + base);
      // Spikes are rare (~1 % of neurons per step): gather the flags into a bit mask (a
      // vectorised compare) and visit only the set bits, in ascending order.
      uint64_t mask = 0;
      for (uint32_t i = 0; i < rng::kNormalChunk; ++i)
        mask |= static_cast<uint64_t>(fired[i] != 0.0) << i;
      for (; mask != 0; mask &= mask - 1) {
        const uint32_t id = lo + base + static_cast<uint32_t>(std::countr_zero(mask));
        if (id < end) spikes.push_back(id);
      }
    }
  };
  auto with_options = [&]<StepFn step_fn>() {
    const bool exponential = spec_.synapse.kind == SynapseSpec::Kind::exponential;
    if (exponential && st.ad)
      run.template operator()<step_fn, true, true>();
    else if (exponential)
      run.template operator()<step_fn, true, false>();
    else if (st.ad)
      run.template operator()<step_fn, false, true>();
    else
      run.template operator()<step_fn, false, false>();
  };
  switch (spec_.integrator) {
    case iz::Integrator::izhikevich2003:
      with_options.template operator()<iz::step_izhikevich2003>();
      break;
    case iz::Integrator::izhikevich2003_clipped:
      with_options.template operator()<iz::step_izhikevich2003_clipped>();
      break;
    case iz::Integrator::euler: with_options.template operator()<iz::step_euler>(); break;
    case iz::Integrator::rk4: with_options.template operator()<iz::step_rk4>(); break;
    case iz::Integrator::dopri5: with_options.template operator()<step_dopri5_no_offset>(); break;
  }
}

// ---------------------------------------------------------------------------------------
// Projection

namespace {

struct RowEntry {
  uint32_t target;
  uint32_t delay_steps;
  float weight;
};

uint32_t delay_steps_of(const Distribution& delay_ms, double dt_ms, rng::Stream& r) {
  if (delay_ms.kind == Distribution::Kind::uniform_int) {
    const auto lo = static_cast<uint64_t>(std::llround(delay_ms.p1 / dt_ms));
    const auto hi = static_cast<uint64_t>(std::llround(delay_ms.p2 / dt_ms));
    return static_cast<uint32_t>(lo + r.below(hi - lo + 1));
  }
  return static_cast<uint32_t>(std::llround(delay_ms.p1 / dt_ms));
}

uint32_t max_delay_of(const ProjectionSpec& spec, double dt_ms) {
  if (spec.rule == ProjectionSpec::Rule::explicit_list) {
    uint32_t m = 1;
    for (const auto& c : spec.connections)
      m = std::max(m, static_cast<uint32_t>(std::llround(c.delay_ms / dt_ms)));
    return m;
  }
  const double ms = spec.delay_ms.kind == Distribution::Kind::uniform_int ? spec.delay_ms.p2
                                                                          : spec.delay_ms.p1;
  return static_cast<uint32_t>(std::llround(ms / dt_ms));
}

uint32_t min_delay_of(const ProjectionSpec& spec, double dt_ms) {
  if (spec.rule == ProjectionSpec::Rule::explicit_list) {
    uint32_t m = UINT32_MAX;
    for (const auto& c : spec.connections)
      m = std::min(m, static_cast<uint32_t>(std::llround(c.delay_ms / dt_ms)));
    return spec.connections.empty() ? 1 : m;
  }
  return static_cast<uint32_t>(std::llround(spec.delay_ms.p1 / dt_ms));
}

// All-to-all with a single delay (and no exclusions) becomes a weight matrix per piece.
bool dense_layout(const ProjectionSpec& spec, double dt_ms) {
  return spec.rule == ProjectionSpec::Rule::all_to_all &&
         min_delay_of(spec, dt_ms) == max_delay_of(spec, dt_ms) &&
         spec.plasticity.rule == PlasticitySpec::Rule::none &&
         !(spec.source == spec.target && !spec.allow_autapses);
}

}  // namespace

namespace detail {

// Generates the synapses of one source row in a canonical order (ascending target; equal
// targets keep their draw order). Everything random is keyed by (projection, source).
class RowGenerator {
 public:
  RowGenerator(const ProjectionSpec& spec, uint32_t index, uint32_t n_source, uint32_t n_target,
               uint64_t seed, double dt_ms)
      : spec_(spec), index_(index), n_target_(n_target), seed_(seed), dt_ms_(dt_ms) {
    // Rules defined per target or by a list are regrouped by source once.
    if (spec.rule == ProjectionSpec::Rule::fixed_indegree) {
      by_source_.resize(n_source);
      for (uint32_t t = 0; t < n_target; ++t) {
        rng::Stream conn(seed, rng::make_stream(rng::Purpose::connectivity, index), t);
        rng::Stream wr(seed, rng::make_stream(rng::Purpose::weights, index), t);
        rng::Stream dr(seed, rng::make_stream(rng::Purpose::delays, index), t);
        const bool self = spec.source == spec.target && !spec.allow_autapses;
        const std::vector<uint32_t> sources =
            sample_k(conn, n_source, spec.degree, self ? t : UINT32_MAX, spec.allow_multapses);
        for (uint32_t s : sources)
          by_source_[s].push_back({t, delay_steps_of(spec.delay_ms, dt_ms, dr),
                                   static_cast<float>(draw(spec.weight, wr))});
      }
      for (auto& row : by_source_) sort_row(row);
    } else if (spec.rule == ProjectionSpec::Rule::explicit_list) {
      by_source_.resize(n_source);
      for (const auto& c : spec.connections)
        by_source_[c.source].push_back(
            {c.target, static_cast<uint32_t>(std::llround(c.delay_ms / dt_ms)),
             static_cast<float>(c.weight)});
      for (auto& row : by_source_) sort_row(row);
    }
  }

  void row(uint32_t s, std::vector<RowEntry>& out) const {
    out.clear();
    using Rule = ProjectionSpec::Rule;
    if (spec_.rule == Rule::fixed_indegree || spec_.rule == Rule::explicit_list) {
      out = by_source_[s];
      return;
    }
    rng::Stream conn(seed_, rng::make_stream(rng::Purpose::connectivity, index_), s);
    rng::Stream wr(seed_, rng::make_stream(rng::Purpose::weights, index_), s);
    rng::Stream dr(seed_, rng::make_stream(rng::Purpose::delays, index_), s);
    const uint32_t skip = (spec_.source == spec_.target && !spec_.allow_autapses) ? s : UINT32_MAX;
    std::vector<uint32_t> targets;
    switch (spec_.rule) {
      case Rule::all_to_all:
        targets.reserve(n_target_);
        for (uint32_t t = 0; t < n_target_; ++t)
          if (t != skip) targets.push_back(t);
        break;
      case Rule::fixed_probability: {
        // Geometric skipping: the gap to the next connected target is Geometric(p), so the
        // cost is proportional to the synapses made, not to the candidates.
        const double p = spec_.probability;
        if (p <= 0.0) break;
        if (p >= 1.0) {
          for (uint32_t t = 0; t < n_target_; ++t)
            if (t != skip) targets.push_back(t);
          break;
        }
        const double log_q = std::log1p(-p);
        double t = -1.0;
        for (;;) {
          t += 1.0 + std::floor(std::log(conn.uniform_open53()) / log_q);
          if (t >= n_target_) break;
          const auto ti = static_cast<uint32_t>(t);
          if (ti != skip) targets.push_back(ti);
        }
        break;
      }
      case Rule::fixed_outdegree:
        targets = sample_k(conn, n_target_, spec_.degree, skip, spec_.allow_multapses);
        break;
      default:
        break;
    }
    out.reserve(targets.size());
    for (uint32_t t : targets)
      out.push_back({t, delay_steps_of(spec_.delay_ms, dt_ms_, dr),
                     static_cast<float>(draw(spec_.weight, wr))});
    sort_row(out);
  }

 private:
  // k draws from [0, n) excluding `skip`; distinct unless multapses are allowed. Returned in
  // draw order (the caller sorts). Rejection sampling is fine for k well below n; the config
  // validator guarantees k <= candidates when multapses are off.
  static std::vector<uint32_t> sample_k(rng::Stream& r, uint32_t n, uint32_t k, uint32_t skip,
                                        bool multapses) {
    std::vector<uint32_t> out;
    out.reserve(k);
    const uint32_t candidates = n - (skip < n ? 1u : 0u);
    if (!multapses && k * 2 > candidates) {
      // Dense case: partial Fisher–Yates over the candidate list.
      std::vector<uint32_t> pool;
      pool.reserve(candidates);
      for (uint32_t t = 0; t < n; ++t)
        if (t != skip) pool.push_back(t);
      for (uint32_t i = 0; i < k; ++i) {
        const auto j = i + static_cast<uint32_t>(r.below(pool.size() - i));
        std::swap(pool[i], pool[j]);
        out.push_back(pool[i]);
      }
      return out;
    }
    std::vector<uint32_t> seen;  // sorted, for the distinct case
    while (out.size() < k) {
      const auto t = static_cast<uint32_t>(r.below(n));
      if (t == skip) continue;
      if (!multapses) {
        auto it = std::lower_bound(seen.begin(), seen.end(), t);
        if (it != seen.end() && *it == t) continue;
        seen.insert(it, t);
      }
      out.push_back(t);
    }
    return out;
  }
  static void sort_row(std::vector<RowEntry>& row) {
    std::stable_sort(row.begin(), row.end(),
                     [](const RowEntry& x, const RowEntry& y) { return x.target < y.target; });
  }

  const ProjectionSpec& spec_;
  uint32_t index_;
  uint32_t n_target_;
  uint64_t seed_;
  double dt_ms_;
  std::vector<std::vector<RowEntry>> by_source_;
};

}  // namespace detail

Projection::Projection(const ProjectionSpec& spec, uint32_t index, const Population& source,
                       Population& target, uint64_t seed, double dt_ms,
                       const Partition& target_partition)
    : spec_(spec), n_source_(source.size()), n_target_(target.size()),
      part_begin_(target_partition.begin) {
  // A delay below one step would deliver into the step being advanced (the config refuses
  // it; specs built in code are checked here).
  if (min_delay_of(spec, dt_ms) < 1)
    throw std::invalid_argument("projection '" + spec.name + "': delays must be at least one step");
  min_delay_ = min_delay_of(spec, dt_ms);
  max_delay_ = std::max(min_delay_, max_delay_of(spec, dt_ms));
  const size_t n_parts = part_begin_.size() - 1;
  const detail::RowGenerator gen(spec, index, n_source_, target.size(), seed, dt_ms);
  std::vector<RowEntry> row;

  const bool plastic = spec.plasticity.rule != PlasticitySpec::Rule::none;
  if (plastic && min_delay_ != max_delay_)
    throw std::invalid_argument("projection '" + spec.name + "': plasticity needs a constant delay");
  // All-to-all with a single delay becomes a weight matrix per piece: delivery is then a
  // contiguous, vectorisable add and costs 4 bytes per synapse.
  dense_ = dense_layout(spec, dt_ms);
  if (dense_ || plastic) {
    pieces_.resize(n_parts);
    for (size_t t = 0; t < n_parts; ++t) {
      pieces_[t].lo = part_begin_[t];
      pieces_[t].hi = part_begin_[t + 1];
    }
  }
  if (dense_) {
    for (auto& piece : pieces_)
      piece.dense_weight.assign(static_cast<size_t>(n_source_) * (piece.hi - piece.lo), 0.0f);
    for (uint32_t s = 0; s < n_source_; ++s) {
      gen.row(s, row);
      for (const RowEntry& e : row) {
        for (auto& piece : pieces_)
          if (e.target >= piece.lo && e.target < piece.hi)
            piece.dense_weight[static_cast<size_t>(s) * (piece.hi - piece.lo) +
                               (e.target - piece.lo)] = e.weight;
      }
      n_synapses_ += row.size();
    }
    return;
  }
  if (plastic) {
    build_plastic(gen, target, dt_ms);
    return;
  }

  // Static sparse rows: one record per synapse, code = target << delay_bits | delay, rows in
  // source order and sorted by code, i.e. by (target, delay), equal pairs in draw order.
  delay_bits_ = static_cast<uint32_t>(std::bit_width(max_delay_));
  if (static_cast<uint64_t>(target.padded()) > (uint64_t{1} << (32 - delay_bits_)))
    throw std::length_error(fmt::format(
        "projection '{}': {} target neurons with delays up to {} steps do not fit the 32-bit "
        "synapse code (target bits + delay bits > 32)",
        spec.name, target.size(), max_delay_));
  // Row lengths first (two passes over deterministic rows, so no temporary copy of all
  // synapses is needed); a fixed out-degree makes every row the same length.
  std::vector<uint64_t> begin(static_cast<size_t>(n_source_) + 1, 0);
  if (spec.rule == ProjectionSpec::Rule::fixed_outdegree) {
    for (uint32_t s = 0; s < n_source_; ++s) begin[s + 1] = begin[s] + spec.degree;
  } else {
    for (uint32_t s = 0; s < n_source_; ++s) {
      gen.row(s, row);
      begin[s + 1] = begin[s] + row.size();
    }
  }
  n_synapses_ = begin.back();
  uint64_t longest = 0;
  for (uint32_t s = 0; s < n_source_; ++s) longest = std::max(longest, begin[s + 1] - begin[s]);
  if (longest > UINT32_MAX)
    throw std::length_error("projection '" + spec.name + "': a row of more than 2^32 synapses");
  if (n_source_ > 0 && n_synapses_ == longest * n_source_) {
    row_stride_ = static_cast<uint32_t>(longest);  // every row equally long: no offsets stored
  } else {
    if (n_synapses_ > UINT32_MAX)
      throw std::length_error("projection '" + spec.name +
                              "': more than 2^32 synapses in rows of unequal length");
    row_begin_.assign(begin.begin(), begin.end());
  }
  if (n_parts > 1) split_.assign(static_cast<size_t>(n_source_) * (n_parts - 1), longest);
  syn_.resize(n_synapses_);
  for (uint32_t s = 0; s < n_source_; ++s) {
    gen.row(s, row);
    if (begin[s + 1] - begin[s] != row.size())
      throw std::logic_error("projection '" + spec.name + "': row length changed between passes");
    Syn* out = syn_.data() + begin[s];
    for (size_t j = 0; j < row.size(); ++j) {
      // The code holds what the config admitted (read_projection); a spec built in code
      // with a delay outside [min, max] or a target outside the population must not
      // silently write into another neuron's charge.
      if (row[j].delay_steps < min_delay_ || row[j].delay_steps > max_delay_ ||
          row[j].target >= n_target_)
        throw std::logic_error(fmt::format(
            "projection '{}': synapse {} -> {} with delay {} steps outside [{}, {}] or beyond the "
            "{} targets", spec.name, s, row[j].target, row[j].delay_steps, min_delay_, max_delay_,
            n_target_));
      out[j] = {row[j].target << delay_bits_ | row[j].delay_steps, row[j].weight};
    }
    std::stable_sort(out, out + row.size(), [](const Syn& x, const Syn& y) { return x.code < y.code; });
    // Where each thread part's targets start within the row.
    for (size_t p = 1; p < n_parts; ++p) {
      // 64 bits: an empty part past the last block starts at padded, whose shifted value
      // may be 2^32.
      const uint64_t first = uint64_t{part_begin_[p]} << delay_bits_;
      const Syn* at = std::lower_bound(out, out + row.size(), first,
                                       [](const Syn& x, uint64_t c) { return x.code < c; });
      split_.set(static_cast<size_t>(s) * (n_parts - 1) + (p - 1), static_cast<uint32_t>(at - out));
    }
  }
}

void Projection::build_plastic(const detail::RowGenerator& gen, const Population& target, double dt_ms) {
  // Plastic rows stay split into one piece per thread part (targets ascending): a part's
  // synapses are then one contiguous range of rule synapse ids, which the rule updates alone.
  std::vector<RowEntry> row;
  const size_t n_parts = pieces_.size();
  for (Piece& piece : pieces_) piece.row_begin.assign(static_cast<size_t>(n_source_) + 1, 0);
  for (uint32_t s = 0; s < n_source_; ++s) {
    gen.row(s, row);
    for (Piece& piece : pieces_) {
      uint32_t c = 0;
      for (const RowEntry& e : row) c += (e.target >= piece.lo && e.target < piece.hi) ? 1 : 0;
      piece.row_begin[s + 1] = piece.row_begin[s] + c;
    }
  }
  for (Piece& piece : pieces_) piece.target.resize(piece.row_begin.back());
  std::vector<std::vector<double>> weights(n_parts);
  for (size_t t = 0; t < n_parts; ++t) weights[t].resize(pieces_[t].row_begin.back());
  for (uint32_t s = 0; s < n_source_; ++s) {
    gen.row(s, row);
    for (size_t t = 0; t < n_parts; ++t) {
      Piece& piece = pieces_[t];
      uint32_t at = piece.row_begin[s];
      for (const RowEntry& e : row)
        if (e.target >= piece.lo && e.target < piece.hi) {
          piece.target[at] = e.target;
          weights[t][at] = static_cast<double>(e.weight);
          ++at;
        }
    }
  }
  std::vector<uint32_t> pre_of, post_of;
  for (size_t t = 0; t < n_parts; ++t) {
    const Piece& piece = pieces_[t];
    piece_base_.push_back(pre_of.size());
    for (uint32_t s = 0; s < n_source_; ++s)
      for (uint32_t j = piece.row_begin[s]; j < piece.row_begin[s + 1]; ++j) {
        pre_of.push_back(s);
        post_of.push_back(piece.target[j]);
      }
    plastic_w_.insert(plastic_w_.end(), weights[t].begin(), weights[t].end());
  }
  n_synapses_ = plastic_w_.size();
  if (spec_.plasticity.rule == PlasticitySpec::Rule::rstdp)
    rstdp_ = std::make_unique<models::plasticity::RStdpRule>(
        spec_.plasticity.rstdp, dt_ms, std::move(pre_of), std::move(post_of), n_source_,
        target.padded());
  else
    three_factor_ = std::make_unique<models::plasticity::ThreeFactorRule>(
        spec_.plasticity.three_factor, dt_ms, std::move(pre_of), std::move(post_of), n_source_,
        target.padded());
}

void Projection::on_post_spikes(Step k, std::span<const uint32_t> posts) {
  for (uint32_t post : posts) {
    if (rstdp_)
      rstdp_->on_post_spike(post, k, plastic_w_);
    else
      three_factor_->on_post_spike(post, k);
  }
}

void Projection::learn(int part, Step k) {
  if (!three_factor_) return;
  const size_t t = static_cast<size_t>(part);
  const uint64_t end = t + 1 < piece_base_.size() ? piece_base_[t + 1] : plastic_w_.size();
  three_factor_->on_step(plastic_w_, k, piece_base_[t], end);
}

void Projection::consolidate() {
  if (three_factor_) three_factor_->consolidate(plastic_w_);
}

void Projection::on_pre_arrivals(Step k, const SpikeHistory& source_spikes, uint32_t lo,
                                 uint32_t hi) {
  if (k < min_delay_) return;
  for (int sp = 0; sp < source_spikes.parts(); ++sp)
    for (uint32_t s : source_spikes.at(k - min_delay_, sp))
      if (s >= lo && s < hi) {
        if (rstdp_)
          rstdp_->bump_pre_trace(s, k);
        else
          three_factor_->bump_pre_trace(s, k);
      }
}

void Projection::modulate(double amount, Step k) {
  if (rstdp_)
    rstdp_->on_modulator(amount, k, plastic_w_);
  else if (three_factor_)
    three_factor_->on_modulator(amount, k);
}

void Projection::flush(Step k) {
  if (rstdp_) rstdp_->flush(k, plastic_w_);
}

uint64_t Projection::memory_bytes() const {
  uint64_t bytes = syn_.size() * sizeof(Syn) + row_begin_.size() * sizeof(uint32_t) + split_.bytes();
  for (const auto& p : pieces_)
    bytes += p.row_begin.size() * sizeof(uint32_t) + p.target.size() * sizeof(uint32_t) +
             p.dense_weight.size() * sizeof(float);
  return bytes + plastic_w_.size() * sizeof(double);
}

void Projection::deliver(int part, Step k, const SpikeHistory& source_spikes, Population& target) {
  const auto pt = static_cast<size_t>(part);
  const uint32_t lo = part_begin_[pt], hi = part_begin_[pt + 1];
  if (hi == lo) return;
  if (plastic()) {
    gather_plastic(part, k + 1, source_spikes, target);
    return;
  }
  if (dense_) {
    const uint32_t width = hi - lo;
    double* out = target.charge_at(k + min_delay_) + lo;
    const std::vector<float>& weights = pieces_[pt].dense_weight;
    for (int sp = 0; sp < source_spikes.parts(); ++sp)
      for (uint32_t s : source_spikes.at(k, sp)) {
        const float* w = weights.data() + static_cast<size_t>(s) * width;
        for (uint32_t j = 0; j < width; ++j) out[j] += static_cast<double>(w[j]);
      }
    return;
  }
  // Each synapse of the part adds its weight into the ring slot of its arrival step k + d.
  // Rows are read once, front to back (the next rows are prefetched); the ring writes stay
  // within this part's targets.
  const size_t* slot_of_delay = target.slot_offsets(k);
  double* ring = target.charge_ring();
  const uint32_t shift = delay_bits_, mask = (1u << delay_bits_) - 1;
  const Syn* syn = syn_.data();
  // Each spike's stretch is looked up once, kAhead spikes early, when its first lines are
  // prefetched; the lookups wait in a small ring until their rows are added.
  constexpr size_t kAhead = 4;
  std::pair<uint64_t, uint64_t> ahead[kAhead];
  auto look_up = [&](uint32_t s) {
    const auto range = part_range(s, pt);
    __builtin_prefetch(syn + range.first);
    if (range.second > range.first + 8) __builtin_prefetch(syn + range.first + 8);
    return range;
  };
  for (int sp = 0; sp < source_spikes.parts(); ++sp) {
    const std::vector<uint32_t>& spikes = source_spikes.at(k, sp);
    for (size_t i = 0; i < spikes.size() && i < kAhead; ++i) ahead[i] = look_up(spikes[i]);
    for (size_t i = 0; i < spikes.size(); ++i) {
      const auto [b, e] = ahead[i % kAhead];
      if (i + kAhead < spikes.size()) ahead[i % kAhead] = look_up(spikes[i + kAhead]);
      for (uint64_t j = b; j < e; ++j) {
        const uint32_t code = syn[j].code;
        ring[slot_of_delay[code & mask] + (code >> shift)] += static_cast<double>(syn[j].weight);
      }
    }
  }
}

void Projection::gather_plastic(int part, Step k, const SpikeHistory& source_spikes,
                                Population& target) {
  // Each arriving spike is a presynaptic event of its synapses: R-STDP (Izhikevich 2007)
  // brings the weight up to date and depresses it by the post trace; the three-factor rule
  // adds to the eligibility. Then the weight is delivered into the slot of step k.
  if (k < min_delay_) return;
  const Piece& piece = pieces_[static_cast<size_t>(part)];
  double* in = target.charge_at(k);
  const uint64_t base = piece_base_[static_cast<size_t>(part)];
  for (int sp = 0; sp < source_spikes.parts(); ++sp)
    for (uint32_t s : source_spikes.at(k - min_delay_, sp))
      for (uint32_t j = piece.row_begin[s]; j < piece.row_begin[s + 1]; ++j) {
        if (rstdp_)
          rstdp_->on_pre(base + j, k, plastic_w_);
        else
          three_factor_->on_pre(base + j, k);
        in[piece.target[j]] += plastic_w_[base + j];
      }
}

uint32_t Projection::row_length(uint32_t s) const {
  if (dense_) return n_target_;
  if (plastic()) {
    uint32_t n = 0;
    for (const Piece& piece : pieces_) n += piece.row_begin[s + 1] - piece.row_begin[s];
    return n;
  }
  return static_cast<uint32_t>(row_start(s + 1) - row_start(s));
}

std::vector<Projection::Synapse> Projection::synapses() const {
  std::vector<Synapse> out;
  out.reserve(n_synapses_);
  for (uint32_t s = 0; s < n_source_; ++s) {
    if (!dense_ && !plastic()) {
      // Rows are stored in the canonical order: ascending target, ties in delay order.
      const uint32_t mask = (1u << delay_bits_) - 1;
      for (uint64_t j = row_start(s); j < row_start(s + 1); ++j)
        out.push_back({s, syn_[j].code >> delay_bits_, static_cast<double>(syn_[j].weight),
                       syn_[j].code & mask});
      continue;
    }
    for (size_t t = 0; t < pieces_.size(); ++t) {
      const Piece& piece = pieces_[t];
      if (dense_) {
        const uint32_t width = piece.hi - piece.lo;
        for (uint32_t j = 0; j < width; ++j) {
          const uint32_t target = piece.lo + j;
          if (target >= n_target_) break;
          out.push_back({s, target, piece.dense_weight[static_cast<size_t>(s) * width + j], min_delay_});
        }
        continue;
      }
      for (uint32_t j = piece.row_begin[s]; j < piece.row_begin[s + 1]; ++j)
        out.push_back({s, piece.target[j], plastic_w_[piece_base_[t] + j], min_delay_});
    }
  }
  return out;
}

uint32_t max_delay_steps(const ProjectionSpec& spec, double dt_ms) {
  return std::max(min_delay_of(spec, dt_ms), max_delay_of(spec, dt_ms));
}

bool uses_synapse_code(const ProjectionSpec& spec, double dt_ms) {
  return spec.plasticity.rule == PlasticitySpec::Rule::none && !dense_layout(spec, dt_ms);
}

// ---------------------------------------------------------------------------------------
// Network

Network::Network(const NetworkSpec& spec, uint64_t seed, int n_parts)
    : dt_ms_(spec.dt_ms), n_parts_(std::max(1, n_parts)) {
  populations_.reserve(spec.populations.size());
  for (uint32_t i = 0; i < spec.populations.size(); ++i) {
    populations_.emplace_back(spec.populations[i], i, seed, spec.dt_ms);
    partitions_.push_back(make_partition(populations_.back().padded(), n_parts_));
  }
  projections_.reserve(spec.projections.size());
  for (uint32_t i = 0; i < spec.projections.size(); ++i) {
    const auto& ps = spec.projections[i];
    projections_.emplace_back(ps, i, populations_[ps.source], populations_[ps.target], seed,
                              spec.dt_ms, partitions_[ps.target]);
  }
  for (auto& pop : populations_) {
    uint32_t slots = 1;
    for (const auto& proj : projections_)
      if (proj.target() == pop.index()) slots = std::max(slots, proj.max_delay_steps());
    pop.reserve_delays(slots);
  }
}

uint64_t Network::synapse_count() const {
  uint64_t n = 0;
  for (const auto& p : projections_) n += p.synapse_count();
  return n;
}

uint64_t Network::synapse_memory_bytes() const {
  uint64_t n = 0;
  for (const auto& p : projections_) n += p.memory_bytes();
  return n;
}

uint32_t Network::min_delay_steps() const {
  uint32_t m = UINT32_MAX;
  for (const auto& p : projections_) m = std::min(m, p.min_delay_steps());
  return m == UINT32_MAX ? 1 : m;
}

uint32_t Network::history_depth(uint32_t population) const {
  uint32_t depth = 1;
  for (const auto& p : projections_)
    if (p.source() == population && p.plastic()) depth = std::max(depth, p.max_delay_steps() + 1);
  return depth;
}

int Network::population_index(const std::string& name) const {
  for (size_t i = 0; i < populations_.size(); ++i)
    if (populations_[i].name() == name) return static_cast<int>(i);
  return -1;
}

}  // namespace sim
