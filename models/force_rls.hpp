#pragma once
// FORCE / recursive least squares (RLS) readout: the baseline learner of the what/when
// paradigm, on the same features as the three-factor readout (readout.hpp).
// Source: Sussillo & Abbott 2009, "Generating coherent patterns of activity from chaotic
// neural networks", Neuron 63:544 (the error before the update, e-, and the w and P updates
// of its FORCE learning rule); the recursion is standard RLS (Haykin, "Adaptive Filter
// Theory").
//
// One update with features x and target d (no forgetting, lambda = 1):
//   u   = P x
//   den = 1 + x . u
//   e-  = w . x - d                          (error before the update)
//   w  <- w - (e- / den) u                   (= w - e- P_new x)
//   P  <- P - u u^T / den                    (symmetric rank-1 update)
// with P(0) = I / alpha. After n updates since the last reset (P := I/alpha), with w0 the
// weights at that reset, the recursion equals the ridge solution anchored at w0:
//   w_n = (alpha I + sum x x^T)^{-1} (sum x d + alpha w0)             (Eq. RLS1)
// (induction: P_n^{-1} = alpha I + sum x x^T by Sherman-Morrison, and P_n^{-1} w_n =
// P_{n-1}^{-1} w_{n-1} + x_n d_n). Resetting P at a change point therefore restarts the fit
// with a prior centred on the current weights; without a reset, old data keep their full
// weight and adaptation slows as training lengthens.
//
// Cost: O(N^2) per update. P is stored dense, row-major; because P is symmetric, u = P x is
// computed as sum_j x_j * (row j), an axpy over contiguous rows that vectorises without
// reassociating sums. The rank-1 update uses (u_i u_j) * (1/den), which is symmetric in i, j
// bit for bit, so P stays exactly symmetric. N = 1000: 8 MB for P, about 4 M flops per update.
//
// Parameters (RlsParams):
// | name               | default | unit        | meaning                                  |
// |--------------------|---------|-------------|------------------------------------------|
// | alpha              | 1       | x^2         | regulariser; P(0) = I / alpha            |
// | update_every_steps | 10      | steps       | update cadence (due(step))               |
// | rectify            | false   | -           | output max(0, w.x) instead of w.x        |
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "sim/time.hpp"

namespace models::readout {

struct RlsParams {
  double alpha = 1.0;
  sim::Step update_every_steps = 10;
  bool rectify = false;
};

class RlsReadout {
 public:
  // w0: initial weights (empty = zeros); also the anchor of Eq. RLS1 until the first reset.
  RlsReadout(std::size_t n_features, const RlsParams& params, std::vector<double> w0 = {})
      : params_(params),
        n_(n_features),
        w_(w0.empty() ? std::vector<double>(n_features, 0.0) : std::move(w0)),
        p_(n_features * n_features, 0.0),
        u_(n_features, 0.0) {
    if (!(params.alpha > 0) || params.update_every_steps == 0)
      throw std::invalid_argument("RlsReadout: alpha > 0, update_every_steps >= 1");
    if (w_.size() != n_) throw std::invalid_argument("RlsReadout: w0 has the wrong length");
    reset_p();
  }

  double drive(std::span<const double> x) const {
    assert(x.size() == n_);
    double s = 0.0;
    for (std::size_t k = 0; k < n_; ++k) s += w_[k] * x[k];
    return s;
  }
  double output(std::span<const double> x) const {
    const double s = drive(x);
    return params_.rectify && s < 0.0 ? 0.0 : s;
  }

  // True on the steps where the paradigm should call update().
  bool due(sim::Step step) const { return step % params_.update_every_steps == 0; }

  // One RLS update towards target d; returns the error before the update, w.x - d.
  double update(std::span<const double> x, double d) {
    assert(x.size() == n_);
    std::fill(u_.begin(), u_.end(), 0.0);
    for (std::size_t j = 0; j < n_; ++j) {
      const double xj = x[j];
      if (xj == 0.0) continue;
      const double* row = &p_[j * n_];
      for (std::size_t i = 0; i < n_; ++i) u_[i] += xj * row[i];
    }
    double xu = 0.0;
    for (std::size_t i = 0; i < n_; ++i) xu += x[i] * u_[i];
    const double den = 1.0 + xu;
    const double error = drive(x) - d;
    const double inv_den = 1.0 / den;
    const double gain = error * inv_den;
    for (std::size_t i = 0; i < n_; ++i) w_[i] -= gain * u_[i];
    for (std::size_t i = 0; i < n_; ++i) {
      const double ui = u_[i];
      if (ui == 0.0) continue;
      double* row = &p_[i * n_];
      for (std::size_t j = 0; j < n_; ++j) row[j] -= (ui * u_[j]) * inv_den;
    }
    return error;
  }

  // P := I / alpha: a change point. The current weights become the anchor w0 of Eq. RLS1.
  void reset_p() {
    std::fill(p_.begin(), p_.end(), 0.0);
    for (std::size_t i = 0; i < n_; ++i) p_[i * n_ + i] = 1.0 / params_.alpha;
  }

  std::span<double> weights() { return w_; }
  std::span<const double> weights() const { return w_; }
  // P(i, j), row-major.
  double p(std::size_t i, std::size_t j) const { return p_[i * n_ + j]; }
  std::size_t size() const { return n_; }
  const RlsParams& params() const { return params_; }

 private:
  RlsParams params_;
  std::size_t n_;
  std::vector<double> w_;
  std::vector<double> p_;
  std::vector<double> u_;
};

}  // namespace models::readout
