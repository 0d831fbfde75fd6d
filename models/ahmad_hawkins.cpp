#include "models/ahmad_hawkins.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace models::ahmad_hawkins {

namespace {

constexpr double neg_inf = -std::numeric_limits<double>::infinity();

// Accumulates log(Σ exp(x_i)) without overflow or underflow: the running sum is kept
// relative to the largest term seen so far and rescaled when a larger one arrives.
class LogSumExp {
 public:
  void add(double x) {
    if (x == neg_inf) return;
    if (x <= max_) {
      sum_ += std::exp(x - max_);
    } else {
      sum_ = sum_ * std::exp(max_ - x) + 1.0;
      max_ = x;
    }
  }
  double value() const { return max_ == neg_inf ? neg_inf : max_ + std::log(sum_); }

 private:
  double max_ = neg_inf;
  double sum_ = 0.0;
};

Probability from_log(double log_p) {
  log_p = std::min(log_p, 0.0);  // rounding may push a certain event a hair above 0
  return {std::exp(log_p), log_p};
}

// log k! for k = 0 .. n, for the inner loops that need many coefficients of one size.
class LogFactorials {
 public:
  explicit LogFactorials(uint64_t n) : table_(n + 1) {
    for (uint64_t k = 0; k <= n; ++k) table_[k] = std::lgamma(static_cast<double>(k) + 1.0);
  }
  double choose(uint64_t n, uint64_t k) const {
    if (k > n) return neg_inf;
    return table_[n] - table_[k] - table_[n - k];
  }

 private:
  std::vector<double> table_;
};

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("ahmad_hawkins: " + message);
}

// log of the hypergeometric upper tail P(X >= theta), X = overlap of a fixed set of s
// cells with a random a-subset of n cells: Eq. (4).
double log_false_match(const LogFactorials& lf, uint32_t n, uint32_t a, uint32_t s,
                       uint32_t theta) {
  if (theta == 0) return 0.0;
  const uint32_t b_max = std::min(s, a);
  // a - b inactive-for-the-segment bits must fit into the n - s other cells.
  const uint32_t b_min = std::max<uint32_t>(theta, a > n - s ? a - (n - s) : 0);
  const double log_total = lf.choose(n, a);
  LogSumExp sum;
  for (uint32_t b = b_min; b <= b_max; ++b) {
    sum.add(lf.choose(s, b) + lf.choose(n - s, a - b) - log_total);
  }
  return sum.value();
}

}  // namespace

double log_choose(uint64_t n, uint64_t k) {
  if (k > n) return neg_inf;
  return std::lgamma(static_cast<double>(n) + 1.0) - std::lgamma(static_cast<double>(k) + 1.0) -
         std::lgamma(static_cast<double>(n - k) + 1.0);
}

Probability false_match(uint32_t n, uint32_t a, uint32_t s, uint32_t theta) {
  require(s <= n, "false_match needs s <= n");
  require(a <= n, "false_match needs a <= n");
  const LogFactorials lf(n);
  return from_log(log_false_match(lf, n, a, s, theta));
}

Probability false_negative(uint32_t n, uint32_t a, uint32_t s, uint32_t theta, uint32_t v) {
  require(a <= n, "false_negative needs a <= n");
  require(s <= a, "false_negative needs s <= a (synapses sample the stored pattern)");
  require(v <= a && v <= n - a, "false_negative needs v <= a and v <= n - a");
  const LogFactorials lf(a);
  const uint32_t kept = a - v;  // surviving original bits
  const double log_total = lf.choose(a, kept);
  LogSumExp sum;
  // b = surviving bits that carry a synapse; the other kept - b lie among a - s cells.
  const uint32_t b_hi = std::min({theta == 0 ? 0u : theta - 1, s, kept});
  if (theta == 0) return from_log(neg_inf);
  for (uint32_t b = 0; b <= b_hi; ++b) {
    sum.add(lf.choose(s, b) + lf.choose(a - s, kept - b) - log_total);
  }
  return from_log(sum.value());
}

Probability any_of_segments(Probability single, uint64_t segments) {
  if (segments == 0 || single.log_p == neg_inf) return from_log(neg_inf);
  const double m = static_cast<double>(segments);
  // Below ~1e-280 the expm1/log1p route would see P == 0; there 1 - (1 - P)^M = M P to
  // full precision (the next term is relatively M P / 2 smaller).
  if (single.log_p < -640.0) return from_log(std::log(m) + single.log_p);
  const double p = std::exp(single.log_p);
  if (p >= 1.0) return from_log(0.0);
  const double q = -std::expm1(m * std::log1p(-p));  // 1 - (1 - P)^M
  return {q, std::log(q)};
}

Probability union_bit_off(uint32_t n, uint32_t s, uint32_t patterns) {
  require(n > 0 && s <= n, "union_bit_off needs 0 < n and s <= n");
  if (s == n) return from_log(patterns == 0 ? 0.0 : neg_inf);
  return from_log(static_cast<double>(patterns) * std::log1p(-static_cast<double>(s) / n));
}

double union_expected_size(uint32_t n, uint32_t s, uint32_t patterns) {
  require(n > 0 && s <= n, "union_expected_size needs 0 < n and s <= n");
  if (s == n) return patterns == 0 ? 0.0 : static_cast<double>(n);
  return -static_cast<double>(n) *
         std::expm1(static_cast<double>(patterns) * std::log1p(-static_cast<double>(s) / n));
}

Probability union_false_match_expected_size(uint32_t n, uint32_t a, uint32_t s, uint32_t theta,
                                            uint32_t patterns) {
  const double expected = union_expected_size(n, s, patterns);
  const auto size = static_cast<uint32_t>(std::llround(expected));
  return false_match(n, a, std::min(size, n), theta);
}

std::vector<double> union_size_log_distribution(uint32_t n, uint32_t s, uint32_t patterns) {
  require(s <= n, "union_size_log_distribution needs s <= n");
  const uint64_t max_size = std::min<uint64_t>(n, uint64_t{s} * patterns);
  std::vector<double> current(max_size + 1, neg_inf);
  current[0] = 0.0;  // no pattern yet: empty union with certainty
  if (patterns == 0) return current;
  const LogFactorials lf(n);
  const double log_subsets = lf.choose(n, s);
  std::vector<double> next(max_size + 1);
  for (uint32_t m = 0; m < patterns; ++m) {
    std::vector<LogSumExp> acc(max_size + 1);
    for (uint64_t u = 0; u <= max_size; ++u) {
      if (current[u] == neg_inf) continue;
      // j new cells: j from the n - u outside, s - j from the u already in.
      const uint64_t j_lo = s > u ? s - u : 0;
      const uint64_t j_hi = std::min<uint64_t>(s, n - u);
      for (uint64_t j = j_lo; j <= j_hi; ++j) {
        acc[u + j].add(current[u] + lf.choose(n - u, j) + lf.choose(u, s - j) - log_subsets);
      }
    }
    for (uint64_t u = 0; u <= max_size; ++u) next[u] = acc[u].value();
    current.swap(next);
  }
  return current;
}

Probability union_false_match(uint32_t n, uint32_t a, uint32_t s, uint32_t theta,
                              uint32_t patterns) {
  require(s <= n && a <= n, "union_false_match needs s <= n and a <= n");
  const auto sizes = union_size_log_distribution(n, s, patterns);
  const LogFactorials lf(n);
  LogSumExp sum;
  for (uint32_t u = 0; u < sizes.size(); ++u) {
    if (sizes[u] == neg_inf) continue;
    sum.add(sizes[u] + log_false_match(lf, n, a, u, theta));
  }
  return from_log(sum.value());
}

Probability union_false_negative(uint32_t n, uint32_t a, uint32_t s, uint32_t theta, uint32_t v,
                                 uint32_t patterns) {
  require(a <= n, "union_false_negative needs a <= n");
  require(s <= a, "union_false_negative needs s <= a");
  require(v <= a && v <= n - a, "union_false_negative needs v <= a and v <= n - a");
  require(patterns >= 1, "union_false_negative needs at least one stored pattern");
  if (theta == 0) return from_log(neg_inf);
  const auto others = union_size_log_distribution(n, s, patterns - 1);
  const LogFactorials lf(n);
  LogSumExp sum;
  // K = removed bits that sat on the pattern's own synapses: C(s,k) C(a-s, v-k) / C(a, v).
  const double log_removals = lf.choose(a, v);
  for (uint32_t k = 0; k <= std::min(s, v); ++k) {
    if (v - k > a - s) continue;
    const double log_pk = lf.choose(s, k) + lf.choose(a - s, v - k) - log_removals;
    const int64_t own_active = int64_t{s} - k;
    const int64_t x_max = int64_t{theta} - 1 - own_active;  // fail iff |R ∩ T| <= x_max
    if (x_max < 0) continue;
    const uint64_t t = uint64_t{a} - s + k;  // presented cells without an own synapse
    for (uint64_t r = 0; r < others.size(); ++r) {
      if (others[r] == neg_inf) continue;
      const double log_r = lf.choose(n, r);
      const uint64_t x_hi = std::min<uint64_t>({static_cast<uint64_t>(x_max), t, r});
      for (uint64_t x = 0; x <= x_hi; ++x) {
        if (r - x > n - t) continue;
        sum.add(log_pk + others[r] + lf.choose(t, x) + lf.choose(n - t, r - x) - log_r);
      }
    }
  }
  return from_log(sum.value());
}

}  // namespace models::ahmad_hawkins
