#include "sim/network.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

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
  noise_sigma.assign(n, 0.0);
  drive_mean.assign(n, 0.0);

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
    noise_sigma[i] = spec.drive.noise_sigma;
    drive_mean[i] = spec.drive.mean;
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
  arrivals.assign(n, 0.0);
}

void SpikeHistory::reset(uint32_t depth, int parts) {
  depth_ = std::max(1u, depth);
  parts_ = static_cast<size_t>(std::max(1, parts));
  lists_.assign(static_cast<size_t>(depth_) * parts_, {});
}

namespace {

}  // namespace

namespace {
using StepFn = bool (*)(double&, double&, const iz::Params&, double, double);
// dopri5 with the signature of the other steps (the in-step spike time is not needed here).
bool step_dopri5_no_offset(double& v, double& u, const iz::Params& p, double I, double dt_ms) {
  return iz::step_dopri5(v, u, p, I, dt_ms);
}
}  // namespace

void Population::advance(Step k, uint32_t lo, uint32_t hi, std::vector<uint32_t>& spikes,
                         std::vector<double>& scratch) {
  const uint32_t n = hi - lo;
  if (n == 0) return;
  scratch.resize(2 * static_cast<size_t>(n));
  double* z = scratch.data();
  double* fired = z + n;
  double* slot = arrivals.data() + lo;

  // Poisson input spikes add their charge to this step's slot.
  if (poisson_lambda_ > 0) {
    const uint32_t stream = rng::make_stream(rng::Purpose::poisson, index_);
    const double w = spec_.drive.poisson_weight;
    const double p0 = std::exp(-poisson_lambda_);
    const uint32_t end = std::min(hi, spec_.size);
    for (uint32_t i = lo; i < end; ++i) {
      // Inversion of the Poisson CDF with one 53-bit uniform; lambda = rate * dt is small.
      const auto bits = rng::bits(seed_, stream, i, k);
      const double x = rng::uniform53(bits[0], bits[1]);
      double p = p0, cdf = p0;
      uint32_t count = 0;
      while (x >= cdf && count < 1000) {
        ++count;
        p *= poisson_lambda_ / count;
        cdf += p;
      }
      slot[i - lo] += w * count;
    }
  }

  if (spec_.drive.noise_sigma != 0.0) {
    // Neurons come in blocks of four per Philox call, keyed by (block, step), so a
    // neuron's noise does not depend on which thread draws it (lo and n are multiples of 4).
    rng::normals_batch(seed_, rng::make_stream(rng::Purpose::noise, index_), lo / 4, k, n / 4, z);
  } else {
    std::fill(z, z + n, 0.0);
  }

  // Synaptic current from the charge that arrived for this step; the buffer is then cleared
  // for the next step's arrivals.
  double* isyn = i_syn.data() + lo;
  if (spec_.synapse.kind == SynapseSpec::Kind::exponential) {
    for (uint32_t j = 0; j < n; ++j) {
      isyn[j] = isyn[j] * syn_decay_ + slot[j] * charge_to_current_;
      slot[j] = 0.0;
    }
  } else {
    for (uint32_t j = 0; j < n; ++j) {
      isyn[j] = slot[j] * charge_to_current_;
      slot[j] = 0.0;
    }
  }
  double* in = input.data() + lo;
  const double* mean = drive_mean.data() + lo;
  const double* sigma = noise_sigma.data() + lo;
  const double* ext = external.data() + lo;
  for (uint32_t j = 0; j < n; ++j) in[j] = mean[j] + sigma[j] * z[j] + ext[j] + isyn[j];
  if (spec_.adaptation.enabled) {
    double* ad = adapt.data() + lo;
    const double* decay = adapt_decay.data() + lo;
    for (uint32_t j = 0; j < n; ++j) {
      ad[j] *= decay[j];
      in[j] -= ad[j];
    }
  }

  double* v = v_mV.data() + lo;
  double* uu = u.data() + lo;
  const double* pa = a.data() + lo;
  const double* pb = b.data() + lo;
  const double* pc = c_mV.data() + lo;
  const double* pd = d.data() + lo;
  const double v_peak = spec_.v_peak_mV;
  const double dt = dt_ms_;
  // One loop per integrator: the step function is a template argument, so the compiler
  // inlines it and the branch-free 2003 and Euler steps vectorise (rk4/dopri5 are calls).
  auto run = [&]<StepFn step_fn>() {
#pragma omp simd
    for (uint32_t j = 0; j < n; ++j) {
      const iz::Params p{pa[j], pb[j], pc[j], pd[j], v_peak};
      double vj = v[j], uj = uu[j];
      const bool spiked = step_fn(vj, uj, p, in[j], dt);
      v[j] = vj;
      uu[j] = uj;
      fired[j] = spiked ? 1.0 : 0.0;
    }
  };
  switch (spec_.integrator) {
    case iz::Integrator::izhikevich2003: run.template operator()<iz::step_izhikevich2003>(); break;
    case iz::Integrator::izhikevich2003_clipped:
      run.template operator()<iz::step_izhikevich2003_clipped>();
      break;
    case iz::Integrator::euler: run.template operator()<iz::step_euler>(); break;
    case iz::Integrator::rk4: run.template operator()<iz::step_rk4>(); break;
    case iz::Integrator::dopri5: run.template operator()<step_dopri5_no_offset>(); break;
  }
  if (spec_.adaptation.enabled) {
    double* ad = adapt.data() + lo;
    const double inc = spec_.adaptation.increment;
    for (uint32_t j = 0; j < n; ++j) ad[j] += fired[j] * inc;
  }
  const uint32_t end = std::min(hi, spec_.size);
  for (uint32_t i = lo; i < end; ++i)
    if (fired[i - lo] != 0.0) spikes.push_back(i);
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

}  // namespace

Projection::Projection(const ProjectionSpec& spec, uint32_t index, const Population& source,
                       Population& target, uint64_t seed, double dt_ms,
                       const Partition& target_partition)
    : spec_(spec), n_source_(source.size()), n_target_(target.size()) {
  // A delay below one step would deliver into the step being advanced (the config refuses
  // it; specs built in code are checked here).
  if (min_delay_of(spec, dt_ms) < 1)
    throw std::invalid_argument("projection '" + spec.name + "': delays must be at least one step");
  min_delay_ = min_delay_of(spec, dt_ms);
  max_delay_ = std::max(min_delay_, max_delay_of(spec, dt_ms));
  groups_ = max_delay_ - min_delay_ + 1;

  const size_t n_parts = target_partition.begin.size() - 1;
  pieces_.resize(n_parts);
  for (size_t t = 0; t < n_parts; ++t) {
    pieces_[t].lo = target_partition.lo(static_cast<int>(t));
    pieces_[t].hi = target_partition.hi(static_cast<int>(t));
  }
  const RowGenerator gen(spec, index, n_source_, target.size(), seed, dt_ms);

  // All-to-all with a single delay becomes a weight matrix per piece: delivery is then a
  // contiguous, vectorisable add and costs 4 bytes per synapse.
  const bool plastic = spec.plasticity.rule != PlasticitySpec::Rule::none;
  if (plastic && groups_ != 1)
    throw std::invalid_argument("projection '" + spec.name + "': plasticity needs a constant delay");
  dense_ = spec.rule == ProjectionSpec::Rule::all_to_all && groups_ == 1 && !plastic &&
           !(spec.source == spec.target && !spec.allow_autapses);
  std::vector<RowEntry> row;
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

  // Within a row piece, synapses are ordered by (delay, target): a delay group is then a
  // contiguous range. The generator's rows are in ascending target order; a stable sort
  // by delay keeps targets ascending within each group.
  auto by_delay = [](std::vector<RowEntry>& r) {
    std::stable_sort(r.begin(), r.end(), [](const RowEntry& x, const RowEntry& y) {
      return x.delay_steps < y.delay_steps;
    });
  };
  // Sparse: two passes over deterministic rows (count, then fill) so no temporary copy of
  // all synapses is needed.
  std::vector<std::vector<uint64_t>> counts(n_parts, std::vector<uint64_t>(n_source_ + 1, 0));
  uint64_t longest = 0;
  for (uint32_t s = 0; s < n_source_; ++s) {
    gen.row(s, row);
    for (size_t t = 0; t < n_parts; ++t) {
      uint64_t c = 0;
      for (const RowEntry& e : row)
        if (e.target >= pieces_[t].lo && e.target < pieces_[t].hi) ++c;
      counts[t][s + 1] = c;
      longest = std::max(longest, c);
    }
  }
  const bool tiny = longest < 256;  // offsets within a row piece fit a byte
  const bool narrow = longest < 65536;
  for (size_t t = 0; t < n_parts; ++t) {
    Piece& piece = pieces_[t];
    std::partial_sum(counts[t].begin(), counts[t].end(), counts[t].begin());
    if (counts[t].back() > UINT32_MAX)
      throw std::length_error("projection '" + spec.name + "': more than 2^32 synapses per thread");
    piece.row_begin.assign(counts[t].begin(), counts[t].end());
    piece.syn.resize(piece.row_begin.back());
    if (groups_ > 1) {
      if (tiny)
        piece.group8.assign(static_cast<size_t>(n_source_) * groups_, 0);
      else if (narrow)
        piece.group16.assign(static_cast<size_t>(n_source_) * groups_, 0);
      else
        piece.group32.assign(static_cast<size_t>(n_source_) * groups_, 0);
    }
    n_synapses_ += piece.row_begin.back();
  }
  for (uint32_t s = 0; s < n_source_; ++s) {
    gen.row(s, row);
    by_delay(row);
    for (Piece& piece : pieces_) {
      uint32_t at = piece.row_begin[s];
      uint32_t g = 0;  // next delay group whose start is still to be recorded
      for (const RowEntry& e : row) {
        if (e.target < piece.lo || e.target >= piece.hi) continue;
        // Groups up to this synapse's delay start here (empty groups start where the next does).
        for (; g <= e.delay_steps - min_delay_ && groups_ > 1; ++g) {
          const size_t idx = static_cast<size_t>(s) * groups_ + g;
          if (tiny)
            piece.group8[idx] = static_cast<uint8_t>(at - piece.row_begin[s]);
          else if (narrow)
            piece.group16[idx] = static_cast<uint16_t>(at - piece.row_begin[s]);
          else
            piece.group32[idx] = at;
        }
        piece.syn[at] = {e.target, e.weight};
        ++at;
      }
      for (; g < groups_ && groups_ > 1; ++g) {
        const size_t idx = static_cast<size_t>(s) * groups_ + g;
        if (tiny)
          piece.group8[idx] = static_cast<uint8_t>(at - piece.row_begin[s]);
        else if (narrow)
          piece.group16[idx] = static_cast<uint16_t>(at - piece.row_begin[s]);
        else
          piece.group32[idx] = at;
      }
    }
  }
  if (plastic) {
    std::vector<uint32_t> pre_of, post_of;
    pre_of.reserve(n_synapses_);
    post_of.reserve(n_synapses_);
    plastic_w_.reserve(n_synapses_);
    for (const Piece& piece : pieces_) {
      piece_base_.push_back(pre_of.size());
      for (uint32_t s = 0; s < n_source_; ++s)
        for (uint32_t j = piece.row_begin[s]; j < piece.row_begin[s + 1]; ++j) {
          pre_of.push_back(s);
          post_of.push_back(piece.syn[j].target);
          plastic_w_.push_back(static_cast<double>(piece.syn[j].weight));
        }
    }
    if (spec.plasticity.rule == PlasticitySpec::Rule::rstdp)
      rstdp_ = std::make_unique<models::plasticity::RStdpRule>(
          spec.plasticity.rstdp, dt_ms, std::move(pre_of), std::move(post_of), n_source_,
          target.padded());
    else
      three_factor_ = std::make_unique<models::plasticity::ThreeFactorRule>(
          spec.plasticity.three_factor, dt_ms, std::move(pre_of), std::move(post_of), n_source_,
          target.padded());
  }
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

uint32_t Projection::group_begin(const Piece& piece, uint32_t s, uint32_t g) const {
  if (groups_ == 1) return piece.row_begin[s + g];  // g is 0 (start) or 1 (end)
  if (g == groups_) return piece.row_begin[s + 1];
  const size_t idx = static_cast<size_t>(s) * groups_ + g;
  if (!piece.group8.empty()) return piece.row_begin[s] + piece.group8[idx];
  return piece.group16.empty() ? piece.group32[idx] : piece.row_begin[s] + piece.group16[idx];
}

uint64_t Projection::memory_bytes() const {
  uint64_t bytes = 0;
  for (const auto& p : pieces_)
    bytes += p.row_begin.size() * sizeof(uint32_t) + p.group8.size() + p.group16.size() * sizeof(uint16_t) +
             p.group32.size() * sizeof(uint32_t) + p.syn.size() * sizeof(Piece::Syn) +
             p.dense_weight.size() * sizeof(float);
  return bytes;
}

void Projection::gather(int part, Step k, const SpikeHistory& source_spikes, Population& target) {
  const Piece& piece = pieces_[static_cast<size_t>(part)];
  if (piece.hi == piece.lo) return;
  double* in = target.arrivals.data();
  // Each delay group d receives the spikes emitted at k - d, in ascending source order.
  // Sparse groups are scattered through memory, so their ranges are looked up first and
  // prefetched a few spikes ahead of the adds.
  constexpr size_t kAhead = 16;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> ranges;
  for (uint32_t g = 0; g < groups_; ++g) {
    const uint32_t d = min_delay_ + g;
    if (k < d) break;
    for (int sp = 0; sp < source_spikes.parts(); ++sp) {
      const auto& spikes = source_spikes.at(k - d, sp);
      if (spikes.empty()) continue;
      if (dense_) {
        const uint32_t width = piece.hi - piece.lo;
        double* out = in + piece.lo;
        for (uint32_t s : spikes) {
          const float* w = piece.dense_weight.data() + static_cast<size_t>(s) * width;
          for (uint32_t j = 0; j < width; ++j) out[j] += static_cast<double>(w[j]);
        }
        continue;
      }
      if (plastic()) {
        // Each arriving spike is a presynaptic event of its synapses: R-STDP (Izhikevich 2007)
        // brings the weight up to date and depresses it by the post trace; the three-factor
        // rule adds to the eligibility. Then the weight is delivered.
        const uint64_t base = piece_base_[static_cast<size_t>(part)];
        for (uint32_t s : spikes)
          for (uint32_t j = piece.row_begin[s]; j < piece.row_begin[s + 1]; ++j) {
            if (rstdp_)
              rstdp_->on_pre(base + j, k, plastic_w_);
            else
              three_factor_->on_pre(base + j, k);
            in[piece.syn[j].target] += plastic_w_[base + j];
          }
        continue;
      }
      ranges.clear();
      for (uint32_t s : spikes)
        ranges.emplace_back(groups_ == 1 ? piece.row_begin[s] : group_begin(piece, s, g),
                            groups_ == 1 ? piece.row_begin[s + 1] : group_begin(piece, s, g + 1));
      const Piece::Syn* syn = piece.syn.data();
      auto prefetch = [&](size_t i) {
        __builtin_prefetch(syn + ranges[i].first);
        if (ranges[i].second > ranges[i].first) __builtin_prefetch(syn + ranges[i].second - 1);
      };
      for (size_t i = 0; i < ranges.size() && i < kAhead; ++i) prefetch(i);
      for (size_t i = 0; i < ranges.size(); ++i) {
        if (i + kAhead < ranges.size()) prefetch(i + kAhead);
        for (uint32_t j = ranges[i].first; j < ranges[i].second; ++j)
          in[syn[j].target] += static_cast<double>(syn[j].weight);
      }
    }
  }
}

uint32_t Projection::row_length(uint32_t s) const {
  if (dense_) return n_target_;
  uint32_t n = 0;
  for (const Piece& piece : pieces_) n += piece.row_begin[s + 1] - piece.row_begin[s];
  return n;
}

std::vector<Projection::Synapse> Projection::synapses() const {
  std::vector<Synapse> out;
  out.reserve(n_synapses_);
  for (uint32_t s = 0; s < n_source_; ++s) {
    const size_t first = out.size();
    for (const Piece& piece : pieces_) {
      if (dense_) {
        const uint32_t width = piece.hi - piece.lo;
        for (uint32_t j = 0; j < width; ++j) {
          const uint32_t t = piece.lo + j;
          if (t >= n_target_) break;
          out.push_back({s, t, piece.dense_weight[static_cast<size_t>(s) * width + j], min_delay_});
        }
        continue;
      }
      const uint64_t base = plastic() ? piece_base_[static_cast<size_t>(&piece - pieces_.data())] : 0;
      for (uint32_t g = 0; g < groups_; ++g)
        for (uint32_t j = group_begin(piece, s, g); j < group_begin(piece, s, g + 1); ++j)
          out.push_back({s, piece.syn[j].target,
                         plastic() ? plastic_w_[base + j] : static_cast<double>(piece.syn[j].weight),
                         min_delay_ + g});
    }
    // Canonical order within a row: ascending target, ties in delay order.
    std::stable_sort(out.begin() + static_cast<long>(first), out.end(),
                     [](const Synapse& x, const Synapse& y) { return x.target < y.target; });
  }
  return out;
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
    if (p.source() == population) depth = std::max(depth, p.max_delay_steps() + 1);
  return depth;
}

int Network::population_index(const std::string& name) const {
  for (size_t i = 0; i < populations_.size(); ++i)
    if (populations_[i].name() == name) return static_cast<int>(i);
  return -1;
}

}  // namespace sim
