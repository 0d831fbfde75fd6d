// Tests of models/force_rls.hpp: the RLS recursion against the closed-form ridge solution
// anchored at the weights of the last reset, w = (alpha I + sum x x^T)^{-1}
// (sum x d + alpha w0) (Eq. RLS1), solved here independently by Gaussian elimination with
// partial pivoting.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "models/force_rls.hpp"
#include "sim/rng.hpp"

using models::readout::RlsParams;
using models::readout::RlsReadout;

namespace {
using Matrix = std::vector<std::vector<double>>;

// Solves A z = b by Gaussian elimination with partial pivoting (A copied).
std::vector<double> gauss_solve(Matrix a, std::vector<double> b) {
  const std::size_t n = b.size();
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      for (std::size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> z(n);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t c = i + 1; c < n; ++c) s -= a[i][c] * z[c];
    z[i] = s / a[i][i];
  }
  return z;
}

// Accumulates the normal equations of Eq. RLS1 for one segment between resets.
struct Ridge {
  Matrix a;
  std::vector<double> b;
  Ridge(std::size_t n, double alpha, const std::vector<double>& w0)
      : a(n, std::vector<double>(n, 0.0)), b(n) {
    for (std::size_t i = 0; i < n; ++i) {
      a[i][i] = alpha;
      b[i] = alpha * w0[i];
    }
  }
  void add(const std::vector<double>& x, double d) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      b[i] += x[i] * d;
      for (std::size_t j = 0; j < x.size(); ++j) a[i][j] += x[i] * x[j];
    }
  }
  std::vector<double> solve() const { return gauss_solve(a, b); }
};

double max_rel_diff(std::span<const double> got, const std::vector<double>& want) {
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    diff = std::max(diff, std::abs(got[i] - want[i]));
  }
  return diff / scale;
}

// Random features (with a bias entry) and targets from a noisy linear teacher.
void draw_sample(sim::rng::Stream& rng, std::vector<double>& x, double& d) {
  d = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    x[i] = rng.normal();
    d += (0.1 * static_cast<double>(i) - 0.3) * x[i];
  }
  x.back() = 1.0;
  d += 0.2 + 0.1 * rng.normal();
}
}  // namespace

TEST_CASE("RLS equals the anchored ridge solution, before and after a reset of P") {
  const std::size_t n = 6;
  const double alpha = 0.5;
  sim::rng::Stream rng(3, sim::rng::make_stream(sim::rng::Purpose::analysis, 2), 0);
  std::vector<double> w0(n);
  for (auto& v : w0) v = rng.normal();
  RlsReadout rls(n, RlsParams{.alpha = alpha}, w0);
  std::vector<double> x(n);
  double d = 0;

  // Segment 1: 25 updates from w0.
  Ridge ridge1(n, alpha, w0);
  for (int k = 0; k < 25; ++k) {
    draw_sample(rng, x, d);
    const double predicted = rls.drive(x);
    CHECK(rls.update(x, d) == doctest::Approx(predicted - d).epsilon(1e-15));
    ridge1.add(x, d);
  }
  CHECK(max_rel_diff(rls.weights(), ridge1.solve()) < 1e-12);
  // P = (alpha I + sum x x^T)^{-1}: check P A = I, and P symmetric bit for bit.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double pa = 0;
      for (std::size_t k = 0; k < n; ++k) pa += rls.p(i, k) * ridge1.a[k][j];
      CHECK(pa == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-12));
      CHECK(rls.p(i, j) == rls.p(j, i));
    }
  }

  // Change point: reset P; the anchor becomes the current weights.
  const std::vector<double> anchor(rls.weights().begin(), rls.weights().end());
  rls.reset_p();
  CHECK(rls.p(2, 2) == 1.0 / alpha);
  CHECK(rls.p(2, 3) == 0.0);
  Ridge ridge2(n, alpha, anchor);
  for (int k = 0; k < 15; ++k) {
    draw_sample(rng, x, d);
    d += 1.0;  // the teacher changed
    rls.update(x, d);
    ridge2.add(x, d);
  }
  CHECK(max_rel_diff(rls.weights(), ridge2.solve()) < 1e-12);
  // Without the reset the solution would be the ridge fit over both segments from w0,
  // which differs: the reset really restarts the fit.
  Ridge both(n, alpha, w0);
  both.a = ridge1.a;
  both.b = ridge1.b;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) both.a[i][j] += ridge2.a[i][j] - (i == j ? alpha : 0.0);
  for (std::size_t i = 0; i < n; ++i) both.b[i] += ridge2.b[i] - alpha * anchor[i];
  CHECK(max_rel_diff(rls.weights(), both.solve()) > 1e-3);
}

TEST_CASE("RLS on 201 features over 400 updates still equals the ridge solution") {
  // Larger than the paradigm's update batches between checks, small enough for a fast O(n^3)
  // reference solve; features of reservoir-like scale (bias + 200 centred traces).
  const std::size_t n = 201;
  const double alpha = 10.0;
  sim::rng::Stream rng(5, sim::rng::make_stream(sim::rng::Purpose::analysis, 3), 0);
  RlsReadout rls(n, RlsParams{.alpha = alpha});
  Ridge ridge(n, alpha, std::vector<double>(n, 0.0));
  std::vector<double> x(n);
  double d = 0;
  for (int k = 0; k < 400; ++k) {
    draw_sample(rng, x, d);
    rls.update(x, d);
    ridge.add(x, d);
  }
  CHECK(max_rel_diff(rls.weights(), ridge.solve()) < 1e-9);
}

TEST_CASE("RLS cadence, output rectification and bad parameters") {
  RlsReadout rls(2, RlsParams{.alpha = 1.0, .update_every_steps = 10, .rectify = true},
                 {1.0, -2.0});
  CHECK(rls.due(0));
  CHECK_FALSE(rls.due(9));
  CHECK(rls.due(30));
  const std::vector<double> x = {1.0, 1.0};
  CHECK(rls.drive(x) == -1.0);
  CHECK(rls.output(x) == 0.0);
  // One update by hand: P = I, u = x, den = 1 + 2 = 3, e- = -1 - 1 = -2 (target 1),
  // w <- w - (-2 / 3) x = (1 + 2/3, -2 + 2/3); P <- I - x x^T / 3.
  CHECK(rls.update(x, 1.0) == -2.0);
  CHECK(rls.weights()[0] == doctest::Approx(5.0 / 3.0).epsilon(1e-15));
  CHECK(rls.weights()[1] == doctest::Approx(-4.0 / 3.0).epsilon(1e-15));
  CHECK(rls.p(0, 0) == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
  CHECK(rls.p(0, 1) == doctest::Approx(-1.0 / 3.0).epsilon(1e-15));
  CHECK_THROWS_AS(RlsReadout(2, RlsParams{.alpha = 0.0}), std::invalid_argument);
  CHECK_THROWS_AS(RlsReadout(2, RlsParams{}, {1.0}), std::invalid_argument);
}
