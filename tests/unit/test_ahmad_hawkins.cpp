// Closed forms of Ahmad & Hawkins 2016 (arXiv 1601.00720) against exact rational values.
//
// Every expected number below was computed with big-integer rational arithmetic
// (fractions.Fraction over math.comb) by tests/reference/ahmad_hawkins_exact.py, run with
// /usr/bin/python3; the comment next to each value is the expression in that script.
// No logarithms or floating point are involved there until the final printing, so these
// values are independent of the lgamma / log-sum-exp code under test.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "models/ahmad_hawkins.hpp"

namespace ah = models::ahmad_hawkins;

namespace {

constexpr double rel_tol = 1e-6;  // the contract; the implementation is ~1e-12

void check_relative(const ah::Probability& got, double exact) {
  CAPTURE(got.p);
  CAPTURE(exact);
  REQUIRE(exact > 0.0);
  CHECK(std::abs(got.p - exact) <= rel_tol * exact);
  // The logarithm must agree too (to an absolute 1e-6, i.e. a relative 1e-6 on p).
  CHECK(std::abs(got.log_p - std::log(exact)) <= rel_tol);
}

}  // namespace

TEST_CASE("log_choose matches exact small binomials and handles k > n") {
  // C(10, 3) = 120, C(52, 5) = 2598960, C(2048, 40): compared through exp for the small ones.
  CHECK(std::exp(ah::log_choose(10, 3)) == doctest::Approx(120.0).epsilon(1e-12));
  CHECK(std::exp(ah::log_choose(52, 5)) == doctest::Approx(2598960.0).epsilon(1e-12));
  CHECK(ah::log_choose(5, 0) == doctest::Approx(0.0));
  CHECK(ah::log_choose(3, 5) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("Eq. (4) false match: n = 2048, a = 40, s = 24 over the NMDA threshold range") {
  // fp(2048, 40, 24, theta) = Fraction(sum(comb(24,b)*comb(2024,40-b) for b in
  // range(theta, 25)), comb(2048, 40))
  check_relative(ah::false_match(2048, 40, 24, 8), 5.9645961451444964e-09);
  check_relative(ah::false_match(2048, 40, 24, 10), 3.932628141581323e-12);
  check_relative(ah::false_match(2048, 40, 24, 12), 1.177272571314418e-15);
  check_relative(ah::false_match(2048, 40, 24, 14), 1.6108664331764858e-19);
  check_relative(ah::false_match(2048, 40, 24, 15), 1.3944823820313758e-21);
  check_relative(ah::false_match(2048, 40, 24, 16), 9.7913083858704377e-24);
  check_relative(ah::false_match(2048, 40, 24, 20), 2.2351483970500092e-33);
}

TEST_CASE("Eq. (4) false match: other regimes") {
  check_relative(ah::false_match(4000, 128, 24, 12), 1.3432393647255414e-12);  // fp(4000,128,24,12)
  check_relative(ah::false_match(10000, 300, 30, 12),
                 2.2790794202651465e-11);  // fp(10000,300,30,12)
  check_relative(ah::false_match(100000, 2000, 10, 10),
                 1.0016321617811334e-17);  // fp(100000,2000,10,10)
  // Dense case where a - b must fit into n - s (lower summation limit a - (n - s) = 0 here,
  // but only 40 of 64 cells are off-segment): fp(64, 40, 24, 20)
  check_relative(ah::false_match(64, 40, 24, 20), 0.0070375602896617815);
  // Union-size argument larger than a: fp(2048, 40, 229, 12)
  check_relative(ah::false_match(2048, 40, 229, 12), 0.00091586914188987066);
}

TEST_CASE("Eq. (4) against numbers printed in the paper") {
  // Fig. 5A caption: "if 128 out of 4000 cells are active ... the error rate is a little
  // higher than 10^-12" (s = 24, θ = 12).
  const double fig5a = ah::false_match(4000, 128, 24, 12).p;
  CHECK(fig5a > 1e-12);
  CHECK(fig5a < 2e-12);
}

TEST_CASE("Eq. (4) limits: θ = 0 is certain, θ > min(s, a) is impossible") {
  CHECK(ah::false_match(100, 10, 5, 0).p == 1.0);
  CHECK(ah::false_match(100, 10, 5, 0).log_p == 0.0);
  const auto never = ah::false_match(100, 10, 5, 6);
  CHECK(never.p == 0.0);
  CHECK(never.log_p == -std::numeric_limits<double>::infinity());
  // Far below the double range: s = θ = a gives P = 1 / C(n, a); for n = 100000, a = 100
  // that is e^-787.5, which underflows, while log_p stays right.
  // Reference: -math.log(comb(100000, 100)) = -787.5036545157869 (math.log of a big
  // integer is exact to double rounding).
  const auto tiny = ah::false_match(100000, 100, 100, 100);
  CHECK(tiny.p == 0.0);
  CHECK(tiny.log_p == doctest::Approx(-787.5036545157869).epsilon(1e-12));
  CHECK_THROWS_AS(ah::false_match(10, 5, 11, 1), std::invalid_argument);
}

TEST_CASE("Eq. (6) false negative under noise (Fig. 4B settings a = 128, n = 6000, s = 30)") {
  // fn(a, s, theta, v) = Fraction(sum(comb(s,b)*comb(a-s,a-v-b) for b in range(0, theta)),
  // comb(a, a-v))
  check_relative(ah::false_negative(6000, 128, 30, 12, 64), 0.071698516040356361);
  check_relative(ah::false_negative(6000, 128, 30, 16, 32), 0.00059007891223692333);
  check_relative(ah::false_negative(6000, 128, 30, 20, 20), 0.00084740040202653532);
  check_relative(ah::false_negative(6000, 128, 30, 10, 80), 0.22685464349434209);
  check_relative(ah::false_negative(6000, 128, 30, 8, 32), 2.2324344322868599e-12);
  check_relative(ah::false_negative(6000, 200, 40, 10, 40), 2.0424880663569436e-20);
  check_relative(ah::false_negative(100, 40, 24, 16, 16), 0.76597520768822214);
}

TEST_CASE("Eq. (6) limits") {
  // No noise: all s synapses stay active, so θ <= s never fails and θ > s always fails.
  CHECK(ah::false_negative(1000, 50, 20, 20, 0).p == 0.0);
  CHECK(ah::false_negative(1000, 50, 20, 21, 0).p == doctest::Approx(1.0));
  // Noise up to s - θ bits cannot cause a miss (§3.2: "the number of noise bits ≤ s - θ").
  CHECK(ah::false_negative(1000, 50, 20, 12, 8).p == 0.0);
  CHECK(ah::false_negative(1000, 50, 20, 12, 9).p > 0.0);
  CHECK_THROWS_AS(ah::false_negative(1000, 50, 60, 12, 8), std::invalid_argument);
  CHECK_THROWS_AS(ah::false_negative(60, 50, 20, 12, 11), std::invalid_argument);
}

TEST_CASE("Eq. (8): M segments, 1 - (1 - P)^M, keeps digits for tiny P") {
  // any_of(fp(2048, 40, 24, 12), 1000) = 1 - (1 - P)^1000 in Fractions
  check_relative(ah::any_of_segments(ah::false_match(2048, 40, 24, 12), 1000),
                 1.1772725713137257e-12);
  // any_of(fp(256, 16, 12, 4), 10)
  check_relative(ah::any_of_segments(ah::false_match(256, 16, 12, 4), 10), 0.037075270467081894);
  // Below the double range the result is M P: log(M) + log P.
  // math.log(1000) - math.log(comb(100000, 100)) = -780.5958992368048
  const auto tiny = ah::false_match(100000, 100, 100, 100);
  CHECK(ah::any_of_segments(tiny, 1000).log_p ==
        doctest::Approx(-780.5958992368048).epsilon(1e-12));
  CHECK(ah::any_of_segments(ah::false_match(100, 10, 5, 0), 3).p == 1.0);
  CHECK(ah::any_of_segments(ah::false_match(100, 10, 5, 3), 0).p == 0.0);
}

TEST_CASE("§3.3 union: bit-off probability and Eq. (13) against the paper's example") {
  // §3.3: n = 20000, s = 25, M = 10: "98.75% of the bits in the vector representing this
  // segment are zero" and "on average you would get fewer than 250 synapses".
  CHECK(ah::union_bit_off(20000, 25, 10).p == doctest::Approx(0.9875).epsilon(1e-4));
  const double size = ah::union_expected_size(20000, 25, 10);
  CHECK(size < 250.0);
  // E|union|(20000, 25, 10) = 20000 * (1 - (1 - Fraction(25, 20000))**10)
  CHECK(size == doctest::Approx(248.5984272614586).epsilon(1e-12));
  // The paper's evaluation plugs the rounded Eq. (13) size into Eq. (4):
  // E|union|(2048, 24, 10) = 2048 * (1 - (1 - Fraction(24, 2048))**10) = 227.73125976692728,
  // rounded 228; fp(2048, 40, 228, 12) = 0.00087996781476249049
  CHECK(ah::union_expected_size(2048, 24, 10) ==
        doctest::Approx(227.73125976692728).epsilon(1e-12));
  check_relative(ah::union_false_match_expected_size(2048, 40, 24, 12, 10), 0.00087996781476249049);
}

TEST_CASE("union size distribution is a distribution with the Eq. (13) mean") {
  const auto logs = ah::union_size_log_distribution(300, 12, 7);
  double total = 0.0, mean = 0.0;
  for (size_t u = 0; u < logs.size(); ++u) {
    total += std::exp(logs[u]);
    mean += static_cast<double>(u) * std::exp(logs[u]);
  }
  CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
  // E|U| = n (1 - (1 - s/n)^M) holds exactly for uniform s-subsets (each cell is in one
  // subset with probability s/n, independently across subsets).
  CHECK(mean == doctest::Approx(300.0 * (1.0 - std::pow(1.0 - 12.0 / 300.0, 7))).epsilon(1e-10));
  // One pattern: exactly s cells.
  const auto one = ah::union_size_log_distribution(300, 12, 1);
  CHECK(one[12] == doctest::Approx(0.0));
  CHECK(std::exp(one[11]) == 0.0);
}

TEST_CASE("exact union false match and false negative") {
  // union_fp(n, a, s, theta, M) = sum over u of P(|union| = u) * fp(n, a, u, theta), with
  // P(|union| = u) built in Fractions by union_sizes() in the reference script.
  check_relative(ah::union_false_match(2048, 40, 24, 12, 10), 0.00087677946812496149);
  check_relative(ah::union_false_match(2048, 40, 24, 16, 20), 0.0045444819701036566);
  check_relative(ah::union_false_match(256, 16, 8, 4, 5), 0.19370859139190688);
  check_relative(ah::union_false_match(20000, 100, 25, 15, 10), 1.6983732432378225e-12);
  // One pattern reduces to Eq. (4).
  CHECK(ah::union_false_match(2048, 40, 24, 12, 1).p ==
        doctest::Approx(ah::false_match(2048, 40, 24, 12).p).epsilon(1e-12));

  // union_fn(n, a, s, theta, v, M): see the reference script for the sum.
  check_relative(ah::union_false_negative(256, 16, 8, 4, 6, 5), 0.011999896248918226);
  check_relative(ah::union_false_negative(2048, 40, 24, 12, 20, 10), 0.052515643564392707);
  // One pattern reduces to Eq. (6); more patterns can only help recognition.
  CHECK(ah::union_false_negative(6000, 128, 30, 12, 64, 1).p ==
        doctest::Approx(ah::false_negative(6000, 128, 30, 12, 64).p).epsilon(1e-12));
  CHECK(ah::union_false_negative(2048, 40, 24, 12, 20, 10).p <=
        ah::false_negative(2048, 40, 24, 12, 20).p);
}
