#include "sim/simulation.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>

#include "sim/step_barrier.hpp"

namespace sim {

Simulation::Simulation(const NetworkSpec& net, const RunSpec& run)
    : run_spec_(run), threads_(std::max(1, run.threads)), network_(net, run.seed, threads_) {
  const double flush = std::max(run.flush_interval_ms, net.dt_ms);
  flush_interval_ = std::max<Step>(1, static_cast<Step>(std::llround(flush / net.dt_ms)));
  const size_t n_pop = network_.populations().size();
  history_.resize(n_pop);
  for (uint32_t p = 0; p < n_pop; ++p) history_[p].reset(network_.history_depth(p), threads_);
  last_spikes_.assign(n_pop, {});
  for (const auto& proj : network_.projections()) {
    const uint32_t n_src = network_.populations()[proj.source()].size();
    std::vector<uint32_t> lengths(n_src);
    for (uint32_t s = 0; s < n_src; ++s) lengths[s] = proj.row_length(s);
    row_lengths_.push_back(std::move(lengths));
  }
  for (const auto& t : run.traces) {
    network_.populations().at(t.population).keep_input(true);
    const Step start = static_cast<Step>(std::llround(t.start_ms / net.dt_ms));
    const Step stop = static_cast<Step>(std::llround(t.stop_ms / net.dt_ms));
    trace_windows_.push_back({start, stop});
    TraceInfo ti;
    ti.population = t.population;
    ti.node_ids = t.node_ids;
    ti.start_step = start;
    ti.stop_step = stop;
    info_.traces.push_back(ti);
  }
  trace_v_.resize(run.traces.size());
  trace_u_.resize(run.traces.size());
  trace_i_.resize(run.traces.size());
}

void Simulation::begin(const std::string& experiment, const std::string& config_toml,
                       Step planned_steps) {
  info_.seed = run_spec_.seed;
  info_.dt_ms = network_.dt_ms();
  info_.n_steps = planned_steps;
  info_.threads = threads_;
  info_.experiment = experiment;
  info_.config_toml = config_toml;
  info_.populations.clear();
  for (const auto& p : network_.populations()) info_.populations.push_back({p.name(), p.size()});
  for (Sink* s : sinks_) s->begin(info_);
}

void Simulation::end(bool complete) {
  for (auto& proj : network_.projections()) proj.flush(now_);
  for (Sink* s : sinks_) s->end(now_, complete);
}

void Simulation::modulate(uint32_t projection, double amount) {
  network_.projections().at(projection).modulate(amount, now_);
}

void Simulation::consolidate(uint32_t projection) {
  network_.projections().at(projection).consolidate();
}

void Simulation::record(Step k) {
  auto& pops = network_.populations();
  for (uint32_t p = 0; p < pops.size(); ++p) {
    auto& last = last_spikes_[p];
    last.clear();
    for (int part = 0; part < threads_; ++part) {
      const auto& mine = history_[p].at(k, part);
      last.insert(last.end(), mine.begin(), mine.end());
    }
    total_spikes_ += last.size();
    for (size_t j = 0; j < network_.projections().size(); ++j) {
      const auto& proj = network_.projections()[j];
      if (proj.source() != p) continue;
      for (uint32_t s : last) synaptic_events_ += row_lengths_[j][s];
    }
    if (!last.empty())
      for (Sink* s : sinks_) s->spikes(k, p, last);
  }
  for (size_t t = 0; t < info_.traces.size(); ++t) {
    const auto [start, stop] = trace_windows_[t];
    if (k < start || k >= stop) continue;
    const TraceInfo& ti = info_.traces[t];
    const Population& pop = pops[ti.population];
    auto& v = trace_v_[t];
    auto& u = trace_u_[t];
    auto& in = trace_i_[t];
    v.clear(), u.clear(), in.clear();
    for (uint32_t id : ti.node_ids) {
      v.push_back(pop.v_mV[id]);
      u.push_back(pop.u[id]);
      in.push_back(pop.input[id]);
    }
    for (Sink* s : sinks_) s->trace(k, static_cast<uint32_t>(t), v, u, in);
  }
}

bool Simulation::run(Step n_steps, const std::atomic<bool>* stop) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto last_report = t0;
  const Step first = now_;
  const Step last = now_ + n_steps;
  const uint64_t spikes_before = total_spikes_;
  uint64_t neurons = 0;
  for (const auto& p : network_.populations()) neurons += p.size();
  bool stopped = false;
  std::exception_ptr failure;
  auto& pops = network_.populations();
  auto& projs = network_.projections();

  auto report = [&](Step k) {
    if (!progress_) return;
    ProgressReport r;
    r.done = k - first;
    r.total = n_steps;
    r.wall_s = std::chrono::duration<double>(clock::now() - t0).count();
    r.model_ms = static_cast<double>(r.done) * network_.dt_ms();
    r.spikes = total_spikes_ - spikes_before;
    r.neurons = neurons;
    progress_(r);
  };

  // Partitions are units of work: a thread handles parts tid, tid + n, ... so the results
  // do not depend on how many threads OpenMP actually grants (OMP_DYNAMIC, thread limits,
  // nested regions); with the requested number each thread has exactly one part.
  // An exception must not cross the parallel region: the first is kept, every thread stops
  // at the next check, and it is rethrown after the region.
  std::atomic<bool> failed{false};
  auto keep = [&](std::exception_ptr e) {
#pragma omp critical(snnsim_failure)
    if (!failure) failure = e;
    failed.store(true);
  };
  // Runs a phase's body; an exception is kept for the next barrier instead of escaping.
  auto guarded = [&](auto&& body) {
    try {
      body();
    } catch (...) {
      keep(std::current_exception());
    }
  };
  const int parts = threads_;
  std::unique_ptr<StepBarrier> barrier;
#pragma omp parallel num_threads(threads_)
  {
    const int tid = omp_get_thread_num();
    const int n_threads = omp_get_num_threads();
#pragma omp single
    {
      barrier = std::make_unique<StepBarrier>(n_threads);
      if (phase_times_.size() < static_cast<size_t>(n_threads))
        phase_times_.resize(static_cast<size_t>(n_threads));
    }
    // (implicit barrier of single: every thread sees the barrier object)
    PhaseTimes times;
    auto mark = clock::now();
    // Adds the time since the last mark to `phase`.
    auto lap = [&mark](double& phase) {
      const auto t = clock::now();
      phase += std::chrono::duration<double>(t - mark).count();
      mark = t;
    };
    // Waits for all threads; true when any thread has failed (the same answer for all, so
    // they all leave the loop at the same barrier).
    auto wait = [&] {
      const bool any_failed = barrier->wait(failed.load());
      lap(times.wait_s);
      return any_failed;
    };
    for (Step k = first; k < last; ++k) {
      if (hook_) {
        // The barrier makes the hook run strictly between steps (after phase 4 of k - 1);
        // the second one sets external currents before anyone advances.
        if (wait()) break;
        if (tid == 0) guarded([&] { hook_(k); });
        lap(times.record_s);
        if (wait()) break;
      }
      guarded([&] {
        for (int part = tid; part < parts; part += n_threads)
          for (uint32_t p = 0; p < pops.size(); ++p) {
            auto& mine = history_[p].at(k, part);
            mine.clear();
            const Partition& range = network_.partition(p);
            pops[p].advance(k, range.lo(part), range.hi(part), mine);
          }
      });
      lap(times.advance_s);
      if (wait()) break;
      guarded([&] {
        for (int part = tid; part < parts; part += n_threads) {
          for (auto& proj : projs)
            if (proj.plastic()) {
              proj.on_post_spikes(k, history_[proj.target()].at(k, part));
              proj.learn(part, k);
            }
          for (auto& proj : projs)
            proj.deliver(part, k, history_[proj.source()], pops[proj.target()]);
        }
      });
      lap(times.deliver_s);
      if (tid == 0) guarded([&] {
        record(k);
        now_ = k + 1;
        const bool epoch_end = (now_ - first) % flush_interval_ == 0 || now_ == last;
        if (epoch_end)
          for (Sink* s : sinks_) s->epoch_done(now_);
        const auto t = clock::now();
        if (progress_ && (std::chrono::duration<double>(t - last_report).count() >=
                              progress_interval_s_ ||
                          now_ == last)) {
          last_report = t;
          report(now_);
        }
        if (stop && stop->load(std::memory_order_relaxed)) stopped = true;
      });
      lap(times.record_s);
      if (wait()) break;
      guarded([&] {  // a failure here is seen at the next barrier
        for (int part = tid; part < parts; part += n_threads)
          for (auto& proj : projs)
            if (proj.plastic()) {
              const Partition& range = network_.partition(proj.source());
              proj.on_pre_arrivals(k + 1, history_[proj.source()], range.lo(part), range.hi(part));
            }
      });
      lap(times.deliver_s);
      if (stopped) break;
    }
    PhaseTimes& total = phase_times_[static_cast<size_t>(tid)];
    total.advance_s += times.advance_s;
    total.deliver_s += times.deliver_s;
    total.record_s += times.record_s;
    total.wait_s += times.wait_s;
  }
  if (failure) std::rethrow_exception(failure);
  if (stopped)
    for (Sink* s : sinks_) s->epoch_done(now_);
  return !stopped;
}

}  // namespace sim
