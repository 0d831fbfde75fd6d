#include "experiments/what_when/paradigm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <stdexcept>

#include "sim/rng.hpp"

namespace experiments::what_when {

namespace {
constexpr uint32_t kOrderStream = sim::rng::make_stream(sim::rng::Purpose::stimulus, 1);
constexpr uint32_t kJitterStream = sim::rng::make_stream(sim::rng::Purpose::stimulus, 2);
constexpr uint32_t kOutcomeStream = sim::rng::make_stream(sim::rng::Purpose::stimulus, 3);
constexpr uint32_t kShuffleStream = sim::rng::make_stream(sim::rng::Purpose::analysis, 1);
}  // namespace

std::vector<Trial> make_schedule(const std::vector<Block>& blocks, const Timing& timing,
                                 double dt_ms, uint64_t seed) {
  if (!(dt_ms > 0)) throw std::invalid_argument("make_schedule: dt_ms > 0");
  std::vector<Trial> trials;
  double end_ms = timing.warmup_ms;  // end of the previous trial
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    const Block& block = blocks[b];
    std::vector<uint32_t> order;
    for (uint32_t c = 0; c < block.conditions.size(); ++c)
      for (uint32_t r = 0; r < block.trials_per_condition; ++r) order.push_back(c);
    sim::rng::Stream shuffle(seed, kOrderStream, b);
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[static_cast<std::size_t>(shuffle.below(i))]);
    for (uint32_t c : order) {
      Trial t;
      t.index = static_cast<uint32_t>(trials.size());
      t.block = b;
      t.condition = c;
      const Condition& cond = block.conditions[c];
      t.cue = cond.cue;
      t.outcome = cond.outcome;
      t.latency_ms = cond.latency_ms;
      t.probability = cond.probability;
      sim::rng::Stream jitter(seed, kJitterStream, t.index);
      sim::rng::Stream occur(seed, kOutcomeStream, t.index);
      t.occurred = occur.uniform() < cond.probability;
      const double onset = end_ms + timing.iti_ms + timing.iti_jitter_ms * jitter.uniform();
      t.cue_ms = std::round(onset / dt_ms) * dt_ms;
      end_ms = t.cue_ms + timing.trial_ms;
      trials.push_back(t);
    }
  }
  return trials;
}

double schedule_end_ms(const std::vector<Trial>& trials, const Timing& timing) {
  return trials.empty() ? timing.warmup_ms : trials.back().cue_ms + timing.trial_ms;
}

long argmax(const std::vector<double>& y) {
  if (y.empty()) return -1;
  return static_cast<long>(std::max_element(y.begin(), y.end()) - y.begin());
}

Band timing_band(double latency_ms) {
  return {latency_ms - std::max(80.0, 0.1 * latency_ms),
          latency_ms + std::max(30.0, 0.05 * latency_ms)};
}

PeakTiming peak_timing(const std::vector<double>& t_ms, const std::vector<double>& y,
                       double latency_ms, double rise_lead_ms, double rise_fraction) {
  if (t_ms.size() != y.size() || y.empty())
    throw std::invalid_argument("peak_timing: t_ms and y must be non-empty and equally long");
  PeakTiming r;
  const auto k = static_cast<std::size_t>(argmax(y));
  r.peak_ms = t_ms[k];
  r.peak = y[k];
  const Band band = timing_band(latency_ms);
  r.in_band = r.peak_ms >= band.lo_ms && r.peak_ms <= band.hi_ms;
  const double t_rise = latency_ms - rise_lead_ms;
  std::size_t j = 0;
  for (std::size_t i = 0; i < t_ms.size(); ++i)
    if (t_ms[i] <= t_rise) j = i;
  r.at_rise_ms = y[j];
  r.risen = r.peak > 0 && y[j] >= rise_fraction * r.peak;
  return r;
}

namespace {
double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw std::invalid_argument("pearson: sizes");
  const double mx = mean(x), my = mean(y);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return (sxx > 0 && syy > 0) ? sxy / std::sqrt(sxx * syy) : 0.0;
}

double slope(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw std::invalid_argument("slope: sizes");
  const double mx = mean(x), my = mean(y);
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0.0;
}

double smoothed_since(const std::vector<double>& v, std::size_t change, std::size_t t,
                      std::size_t smooth) {
  const std::size_t lo = (t + 1 >= change + smooth) ? t + 1 - smooth : change;
  double s = 0;
  for (std::size_t i = lo; i <= t; ++i) s += v[i];
  return s / static_cast<double>(t - lo + 1);
}

long trials_below(const std::vector<double>& error, std::size_t change, double threshold,
                  std::size_t smooth) {
  if (change >= error.size() || smooth == 0) return -1;
  for (std::size_t t = change; t < error.size(); ++t)
    if (smoothed_since(error, change, t, smooth) <= threshold) return static_cast<long>(t - change);
  return -1;
}

long trials_to_recover(const std::vector<double>& error, std::size_t change, double steady,
                       double fraction, std::size_t smooth) {
  if (change >= error.size() || smooth == 0) return -1;
  const double jump = smoothed_since(error, change, change, smooth) - steady;
  if (jump <= 0) return 0;
  return trials_below(error, change, steady + (1.0 - fraction) * jump, smooth);
}

std::vector<std::size_t> scored_trials(const std::vector<Trial>& trials, uint32_t block,
                                       uint32_t cue, std::size_t count, bool omission_only) {
  std::vector<std::size_t> ids;
  for (std::size_t i = trials.size(); i-- > 0 && ids.size() < count;)
    if (trials[i].block == block && trials[i].cue == cue && (!omission_only || !trials[i].occurred))
      ids.push_back(i);
  return ids;
}

std::pair<std::size_t, std::size_t> bank_range(std::size_t k, std::size_t change, std::size_t n,
                                               std::size_t bank_trials) {
  const std::size_t end = k < change ? change : n;
  return {k, std::min(end, k + bank_trials)};
}

BankScore score_on_bank(const std::vector<double>& w, const std::vector<float>& x, std::size_t rows,
                        double sample_ms, double latency_ms, double probability, double sigma_ms,
                        bool rectify) {
  const std::size_t nf = w.size();
  if (x.size() != rows * nf) throw std::invalid_argument("score_on_bank: sizes");
  BankScore b;
  for (std::size_t r = 0; r < rows; ++r) {
    const double t_ms = static_cast<double>(r) * sample_ms;
    double y = 0;
    for (std::size_t i = 0; i < nf; ++i) y += w[i] * x[r * nf + i];
    if (rectify) y = std::max(0.0, y);
    const double z = (t_ms - latency_ms) / sigma_ms;
    const double d = y - probability * std::exp(-0.5 * z * z);
    b.sq_error += d * d;
    ++b.n;
    if (std::abs(t_ms - latency_ms) <= sigma_ms) {
      b.window_sum += y;
      ++b.n_window;
    }
  }
  return b;
}

uint32_t probability_block(const std::vector<Block>& blocks) {
  uint32_t best = 0;
  for (uint32_t b = 1; b < blocks.size(); ++b) {
    bool same = true;
    for (const Condition& c : blocks[b].conditions)
      for (const Condition& d : blocks[b - 1].conditions)
        if (c.cue == d.cue && c.probability != d.probability) same = false;
    if (same) best = b;
  }
  return best;
}

long trials_to_track(const std::vector<double>& v, std::size_t change, double before, double after,
                     double fraction, std::size_t smooth) {
  if (change >= v.size() || smooth == 0) return -1;
  const double span = after - before;
  if (span == 0) return 0;
  for (std::size_t t = change; t < v.size(); ++t)
    if ((smoothed_since(v, change, t, smooth) - before) / span >= fraction)
      return static_cast<long>(t - change);
  return -1;
}

double angle_deg(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("angle_deg: sizes");
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa == 0 || bb == 0) return 90.0;
  const double c = std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
  return std::acos(c) * 180.0 / std::numbers::pi;
}

std::vector<double> shuffled_angles(const std::vector<double>& a, const std::vector<double>& b,
                                    uint32_t count, uint64_t seed) {
  std::vector<double> out;
  out.reserve(count);
  std::vector<double> perm = b;
  for (uint32_t r = 0; r < count; ++r) {
    sim::rng::Stream s(seed, kShuffleStream, r);
    perm = b;
    for (std::size_t i = perm.size(); i > 1; --i)
      std::swap(perm[i - 1], perm[static_cast<std::size_t>(s.below(i))]);
    out.push_back(angle_deg(a, perm));
  }
  std::sort(out.begin(), out.end());
  return out;
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) throw std::invalid_argument("quantile: empty");
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(pos));
  if (i + 1 >= sorted.size()) return sorted.back();
  const double f = pos - static_cast<double>(i);
  return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

void cholesky_solve(std::vector<double>& a, std::vector<double>& b, std::size_t p, std::size_t m) {
  // A = L L^T, L stored in the lower triangle of a.
  for (std::size_t j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (std::size_t k = 0; k < j; ++k) d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0)) throw std::runtime_error("cholesky_solve: matrix not positive definite");
    d = std::sqrt(d);
    a[j * p + j] = d;
    for (std::size_t i = j + 1; i < p; ++i) {
      double s = a[i * p + j];
      for (std::size_t k = 0; k < j; ++k) s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / d;
    }
  }
  // L z = b, then L^T w = z, for every column.
  for (std::size_t i = 0; i < p; ++i) {
    for (std::size_t k = 0; k < i; ++k)
      for (std::size_t c = 0; c < m; ++c) b[i * m + c] -= a[i * p + k] * b[k * m + c];
    for (std::size_t c = 0; c < m; ++c) b[i * m + c] /= a[i * p + i];
  }
  for (std::size_t ii = p; ii-- > 0;) {
    for (std::size_t k = ii + 1; k < p; ++k)
      for (std::size_t c = 0; c < m; ++c) b[ii * m + c] -= a[k * p + ii] * b[k * m + c];
    for (std::size_t c = 0; c < m; ++c) b[ii * m + c] /= a[ii * p + ii];
  }
}

std::vector<double> ridge(const std::vector<double>& gram, const std::vector<double>& cross,
                          std::size_t p, std::size_t m, double lambda) {
  std::vector<double> a = gram;
  for (std::size_t i = 0; i < p; ++i) a[i * p + i] += lambda;
  std::vector<double> w = cross;
  cholesky_solve(a, w, p, m);
  return w;
}

void accumulate_gram(const std::vector<float>& x, const std::vector<double>& y, std::size_t p,
                     std::size_t m, const std::vector<std::size_t>& rows,
                     std::vector<double>& gram, std::vector<double>& cross) {
  gram.assign(p * p, 0.0);
  cross.assign(p * m, 0.0);
  std::vector<double> row(p);
  for (std::size_t r : rows) {
    for (std::size_t j = 0; j < p; ++j) row[j] = x[r * p + j];
    // Upper triangle only, mirrored below afterwards: half the work.
    for (std::size_t i = 0; i < p; ++i) {
      const double xi = row[i];
      if (xi == 0.0) continue;
      double* g = gram.data() + i * p;
      for (std::size_t j = i; j < p; ++j) g[j] += xi * row[j];
      for (std::size_t c = 0; c < m; ++c) cross[i * m + c] += xi * y[r * m + c];
    }
  }
  for (std::size_t i = 0; i < p; ++i)
    for (std::size_t j = 0; j < i; ++j) gram[i * p + j] = gram[j * p + i];
}

SelectedFits fit_select(const std::vector<float>& x, const std::vector<double>& y, std::size_t p,
                        std::size_t m, const Split& rows_of, const MultiLoss& loss,
                        std::size_t n_targets) {
  std::vector<double> g_tr, c_tr, g_va, c_va;
  accumulate_gram(x, y, p, m, rows_of.train, g_tr, c_tr);
  accumulate_gram(x, y, p, m, rows_of.val, g_va, c_va);
  double tr = 0;
  for (std::size_t i = 0; i < p; ++i) tr += g_tr[i * p + i];
  const double unit = tr / static_cast<double>(p);
  std::vector<double> best_loss(n_targets, std::numeric_limits<double>::infinity());
  SelectedFits out;
  out.scales.assign(n_targets, 1.0);
  // Half-decade grid (the choices are reported, so one at an edge shows).
  for (double sc : {1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0}) {
    const auto l = loss(ridge(g_tr, c_tr, p, m, sc * unit), rows_of.val);
    for (std::size_t k = 0; k < n_targets; ++k)
      if (l[k] < best_loss[k]) {
        best_loss[k] = l[k];
        out.scales[k] = sc;
      }
  }
  for (std::size_t i = 0; i < g_tr.size(); ++i) g_tr[i] += g_va[i];
  for (std::size_t i = 0; i < c_tr.size(); ++i) c_tr[i] += c_va[i];
  // The refit's lambda is the chosen scale of the refit's own trace: the penalty keeps its
  // size relative to the data (with the training unit it would be ~2/3 as strong).
  double tr_all = 0;
  for (std::size_t i = 0; i < p; ++i) tr_all += g_tr[i * p + i];
  const double unit_all = tr_all / static_cast<double>(p);
  std::vector<double> fitted;  // the scale of each entry of out.weights
  for (std::size_t k = 0; k < n_targets; ++k) {
    const auto it = std::find(fitted.begin(), fitted.end(), out.scales[k]);
    if (it != fitted.end()) {
      out.of_target.push_back(static_cast<std::size_t>(it - fitted.begin()));
      continue;
    }
    out.of_target.push_back(fitted.size());
    fitted.push_back(out.scales[k]);
    out.weights.push_back(ridge(g_tr, c_tr, p, m, out.scales[k] * unit_all));
  }
  return out;
}

std::size_t predict_class(const std::vector<float>& x, std::size_t row, const std::vector<double>& w,
                          std::size_t p, std::size_t m) {
  std::vector<double> score(m, 0.0);
  for (std::size_t i = 0; i < p; ++i) {
    const double xi = x[row * p + i];
    for (std::size_t c = 0; c < m; ++c) score[c] += xi * w[i * m + c];
  }
  return static_cast<std::size_t>(argmax(score));
}

ClockCurve clock_decoder(const std::vector<float>& x, std::size_t n_trials, std::size_t per,
                         std::size_t p, double sample_ms, double select_window_ms) {
  if (n_trials < 3 || per == 0 || x.size() != n_trials * per * p || !(sample_ms > 0) ||
      !(select_window_ms >= 0))
    throw std::invalid_argument("clock_decoder: need >= 3 trials and n_trials * per * p features");
  std::vector<double> y(n_trials * per * per, 0.0);
  Split split;
  for (std::size_t tr = 0; tr < n_trials; ++tr)
    for (std::size_t j = 0; j < per; ++j) {
      const std::size_t row = tr * per + j;
      y[row * per + j] = 1.0;
      (tr % 3 == 0 ? split.train : tr % 3 == 1 ? split.val : split.test).push_back(row);
    }
  const auto half = static_cast<std::size_t>(std::llround(select_window_ms / sample_ms));
  // Validation loss of target k (time k): the mean |decoded - j| over the rows within
  // +-half of k. Each row is decoded once and counted for every target near it.
  MultiLoss windowed = [&](const std::vector<double>& w, const std::vector<std::size_t>& rows) {
    std::vector<double> e(per, 0.0), n(per, 0.0);
    for (std::size_t r : rows) {
      const std::size_t j = r % per;
      const double err = std::abs(static_cast<double>(predict_class(x, r, w, p, per)) -
                                  static_cast<double>(j));
      for (std::size_t k = j > half ? j - half : 0; k <= std::min(per - 1, j + half); ++k) {
        e[k] += err;
        n[k] += 1;
      }
    }
    for (std::size_t k = 0; k < per; ++k) e[k] = n[k] > 0 ? e[k] / n[k] : 0.0;
    return e;
  };
  const auto fits = fit_select(x, y, p, per, split, windowed, per);
  ClockCurve out;
  out.test_trials = split.test.size() / per;
  std::vector<double> e(per, 0.0), n(per, 0.0);
  for (std::size_t r : split.test) {
    const std::size_t j = r % per;
    const auto& w = fits.weights[fits.of_target[j]];
    e[j] += std::abs(static_cast<double>(predict_class(x, r, w, p, per)) - static_cast<double>(j));
    n[j] += 1;
  }
  for (std::size_t j = 0; j < per; ++j) {
    out.t_ms.push_back(static_cast<double>(j) * sample_ms);
    out.mae_ms.push_back(e[j] / n[j] * sample_ms);
    out.ridge_scale.push_back(fits.scales[j]);
    double chance = 0;
    for (std::size_t c = 0; c < per; ++c)
      chance += std::abs(static_cast<double>(c) - static_cast<double>(j));
    out.chance_mae_ms.push_back(chance / static_cast<double>(per) * sample_ms);
  }
  return out;
}

}  // namespace experiments::what_when
