// Monte Carlo with real segments (SegmentPool) against the Ahmad & Hawkins closed forms.
//
// Configurations are small (n of 128–2048) so that errors are common and at least 10
// events are expected; there the theory value must lie inside the 95 % Wilson interval of
// the measured rate. Seeds are fixed, so the outcome is reproducible.
//
// A 95 % interval misses the truth in 1 of 20 honest runs, so a single fixed-seed check
// can fail without any bug. That happened once while writing this file: the first seed
// tried for the first configuration (seed 11) gave 200 false positives where 150.9 were
// expected (z = +4.0). Repeating the same configuration over seeds 1..300 gave a mean z²
// of 1.03 and 12 of 300 runs outside ±1.96 (15 expected), i.e. a fluctuation, not a bias;
// that configuration now uses seed 1. The coverage test at the end checks exactly this
// property over 100 seeds, so a real bias cannot hide behind a lucky seed.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/nmda_threshold/monte_carlo.hpp"
#include "models/ahmad_hawkins.hpp"
#include "sim/error.hpp"

namespace nt = experiments::nmda_threshold;
namespace ah = models::ahmad_hawkins;

namespace {

void check_against_theory(const nt::RateEstimate& r, const std::string& what) {
  CAPTURE(what);
  CAPTURE(r.events);
  CAPTURE(r.trials);
  CAPTURE(r.rate);
  CAPTURE(r.theory);
  CAPTURE(r.ci95.lo);
  CAPTURE(r.ci95.hi);
  REQUIRE(r.expected_events >= 10.0);  // the configurations below are chosen for this
  CHECK(r.theory >= r.ci95.lo);
  CHECK(r.theory <= r.ci95.hi);
}

}  // namespace

TEST_CASE("Wilson interval matches hand-computed values") {
  // z = 1.959963984540054, z² = 3.841458820694124.
  // 0 of 10: [0, z²/(10 + z²)] = [0, 0.277533...].
  const auto zero = nt::wilson_interval(0, 10);
  CHECK(zero.lo == 0.0);
  CHECK(zero.hi == doctest::Approx(3.841458820694124 / 13.841458820694124).epsilon(1e-12));
  // 5 of 10: centre 0.5, half-width z/(10+z²) * sqrt(2.5 + z²/4) = 0.2633929...
  const auto half = nt::wilson_interval(5, 10);
  const double hw = 1.959963984540054 / 13.841458820694124 * std::sqrt(2.5 + 3.841458820694124 / 4);
  CHECK(half.lo == doctest::Approx(0.5 - hw).epsilon(1e-12));
  CHECK(half.hi == doctest::Approx(0.5 + hw).epsilon(1e-12));
  CHECK(half.lo == doctest::Approx(0.2366).epsilon(1e-3));  // the textbook 95 % value
}

TEST_CASE("one segment per pattern: Eq. (4) / Eq. (8) false positives, Eq. (6) false negatives") {
  SUBCASE("M = 1, n = 128, a = 16, s = 12, θ = 5, v = 8") {
    const auto r = nt::measure_point({.n = 128,
                                      .a = 16,
                                      .s = 12,
                                      .theta = 5,
                                      .noise_v = 8,
                                      .patterns_M = 1,
                                      .trials = 20000,
                                      .seed = 1});
    check_against_theory(r.false_positive, "FP");
    check_against_theory(r.false_negative, "FN");
    // fp(128, 16, 12, 5) and fn(16, 12, 5, 8) = 495/12870 from the reference script.
    CHECK(r.false_positive.theory == doctest::Approx(0.007545258117390321).epsilon(1e-9));
    CHECK(r.false_negative.theory == doctest::Approx(0.038461538461538464).epsilon(1e-9));
  }
  SUBCASE("paper-like s = 24, θ = 12 at small n: n = 128, a = 32, v = 16") {
    const auto r = nt::measure_point({.n = 128,
                                      .a = 32,
                                      .s = 24,
                                      .theta = 12,
                                      .noise_v = 16,
                                      .patterns_M = 1,
                                      .trials = 20000,
                                      .seed = 12});
    check_against_theory(r.false_positive, "FP");
    check_against_theory(r.false_negative, "FN");
  }
  SUBCASE("M = 10 segments: n = 256, a = 16, s = 12, θ = 4, v = 10") {
    const auto r = nt::measure_point({.n = 256,
                                      .a = 16,
                                      .s = 12,
                                      .theta = 4,
                                      .noise_v = 10,
                                      .patterns_M = 10,
                                      .trials = 20000,
                                      .seed = 13});
    check_against_theory(r.false_positive, "FP");
    check_against_theory(r.false_negative, "FN");
    CHECK(r.false_positive.theory ==
          doctest::Approx(1.0 - std::pow(1.0 - ah::false_match(256, 16, 12, 4).p, 10)));
  }
}

TEST_CASE("union segment: exact union closed forms") {
  SUBCASE("n = 256, a = 16, s = 8, θ = 4, v = 6, M = 5") {
    const auto r = nt::measure_point({.n = 256,
                                      .a = 16,
                                      .s = 8,
                                      .theta = 4,
                                      .noise_v = 6,
                                      .patterns_M = 5,
                                      .trials = 20000,
                                      .seed = 21,
                                      .storage = nt::Storage::union_segment});
    check_against_theory(r.false_positive, "FP");
    check_against_theory(r.false_negative, "FN");
    // union_fp(256, 16, 8, 4, 5) and union_fn(256, 16, 8, 4, 6, 5) from
    // tests/reference/ahmad_hawkins_exact.py (exact rationals).
    CHECK(r.false_positive.theory == doctest::Approx(0.19370859139190688).epsilon(1e-9));
    CHECK(r.false_negative.theory == doctest::Approx(0.011999896248918226).epsilon(1e-9));
    CHECK(r.union_expected_synapses ==
          doctest::Approx(256.0 * (1.0 - std::pow(1.0 - 8.0 / 256, 5))));
  }
  SUBCASE("paper scale: n = 2048, a = 40, s = 24, θ = 12, v = 20, M = 10") {
    const auto r = nt::measure_point({.n = 2048,
                                      .a = 40,
                                      .s = 24,
                                      .theta = 12,
                                      .noise_v = 20,
                                      .patterns_M = 10,
                                      .trials = 20000,
                                      .seed = 22,
                                      .storage = nt::Storage::union_segment});
    check_against_theory(r.false_positive, "FP");
    check_against_theory(r.false_negative, "FN");
  }
}

TEST_CASE("95 % Wilson intervals cover the theory in about 95 % of independent runs") {
  // 100 independent seeds of a configuration with ~15 expected false positives and ~77
  // expected false negatives per run (2000 trials). The exact coverage of the Wilson
  // interval here, summed over the binomial distribution (scipy.stats.binom, by hand):
  // 94.9 % (FP) and 94.5 % (FN) if the rates equal the theory; if the true rates were 20 %
  // higher it would be 85 % and 56 %, 50 % higher 50 % and 2 %. With a correct
  // implementation the count is ≈ Binomial(100, 0.945) (mean 94.5, sd 2.3), so the bound
  // of 88 fails by chance with probability ≈ 0.3 %; a biased FN rate fails it for sure and
  // a biased FP rate (>= 20 %) most of the time.
  int fp_covered = 0, fn_covered = 0;
  for (uint64_t seed = 1000; seed < 1100; ++seed) {
    const auto r = nt::measure_point({.n = 128,
                                      .a = 16,
                                      .s = 12,
                                      .theta = 5,
                                      .noise_v = 8,
                                      .patterns_M = 1,
                                      .trials = 2000,
                                      .seed = seed});
    fp_covered += r.false_positive.theory >= r.false_positive.ci95.lo &&
                  r.false_positive.theory <= r.false_positive.ci95.hi;
    fn_covered += r.false_negative.theory >= r.false_negative.ci95.lo &&
                  r.false_negative.theory <= r.false_negative.ci95.hi;
  }
  CHECK(fp_covered >= 88);
  CHECK(fn_covered >= 88);
}

TEST_CASE("noise up to s - θ bits never causes a miss (§3.2)") {
  const auto r = nt::measure_point({.n = 256,
                                    .a = 20,
                                    .s = 16,
                                    .theta = 10,
                                    .noise_v = 6,
                                    .patterns_M = 3,
                                    .trials = 2000,
                                    .seed = 5});
  CHECK(r.false_negative.events == 0);
  CHECK(r.false_negative.theory == 0.0);
}

TEST_CASE("fixed seed: identical results on repeat, different seed differs") {
  const nt::PointParams p{.n = 128,
                          .a = 16,
                          .s = 12,
                          .theta = 5,
                          .noise_v = 8,
                          .patterns_M = 2,
                          .trials = 3000,
                          .seed = 99};
  const auto r1 = nt::measure_point(p);
  const auto r2 = nt::measure_point(p);
  CHECK(r1.false_positive.events == r2.false_positive.events);
  CHECK(r1.false_negative.events == r2.false_negative.events);
  CHECK(r1.synapses_created == r2.synapses_created);
  auto q = p;
  q.seed = 100;
  const auto r3 = nt::measure_point(q);
  // Hundreds of events each: two independent runs agreeing on both counts would be a
  // sign that the seed is ignored.
  CHECK((r3.false_positive.events != r1.false_positive.events ||
         r3.false_negative.events != r1.false_negative.events));
}

TEST_CASE("trials are keyed by index: a run is the sum of its parts") {
  // Deterministic partitioning: trials 0..N-1 of one run are the same trials as in a run
  // with more trials, so the smaller run's counts never exceed the larger one's and a
  // run with one more trial changes a count by at most one.
  const nt::PointParams p{.n = 128,
                          .a = 16,
                          .s = 12,
                          .theta = 5,
                          .noise_v = 8,
                          .patterns_M = 1,
                          .trials = 1000,
                          .seed = 7};
  auto q = p;
  q.trials = 1001;
  const auto r = nt::measure_point(p);
  const auto s = nt::measure_point(q);
  CHECK(s.false_positive.events - r.false_positive.events <= 1);
  CHECK(s.false_negative.events - r.false_negative.events <= 1);
  CHECK(s.false_positive.events >= r.false_positive.events);
}

TEST_CASE("invalid points are input errors naming the field") {
  auto bad = [](nt::PointParams p) {
    try {
      nt::measure_point(p);
    } catch (const sim::InputError& e) {
      return e.key;
    }
    return std::string("no error");
  };
  CHECK(bad({.n = 100, .a = 101}) == "a");
  CHECK(bad({.n = 100, .a = 10, .s = 11}) == "s");
  CHECK(bad({.n = 100, .a = 10, .s = 5, .theta = 0}) == "theta");
  CHECK(bad({.n = 12, .a = 10, .s = 5, .theta = 2, .noise_v = 3}) == "noise_v");
  CHECK(bad({.n = 100, .a = 10, .s = 5, .theta = 2, .patterns_M = 0}) == "patterns_M");
  CHECK(bad({.n = 100, .a = 10, .s = 5, .theta = 2, .trials = 0}) == "trials");
}

TEST_CASE("activation benchmark reports consistent counts") {
  const auto b = nt::benchmark_segment_activation({.n = 512,
                                                   .a = 20,
                                                   .cells = 64,
                                                   .segments_per_cell = 4,
                                                   .synapses_per_segment = 10,
                                                   .theta = 5,
                                                   .activations = 50});
  CHECK(b.segments == 64u * 4u);
  CHECK(b.synapses == 64u * 4u * 10u);
  CHECK(b.activations == 50u);
  CHECK(b.synapse_visits > 0u);
  CHECK(b.segments_per_second > 0.0);
}
