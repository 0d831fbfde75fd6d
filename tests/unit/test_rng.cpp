// The counter-based generators: Philox against Random123, the batched normals against
// their scalar twin and against the normal distribution.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/rng.hpp"
#include "sim/rng_batch.hpp"

using namespace sim::rng;

TEST_CASE("the batched normals equal their scalar definition bit for bit") {
  // Reference: normal_at, i.e. rng::bits (Random123's philox4x32, checked below) then
  // box_muller_fast, one element at a time, with the element -> (counter, word) map written
  // out again here.
  for (uint64_t seed : {0ull, 1ull, 0xDEADBEEFCAFEF00Dull}) {
    for (uint64_t step : {0ull, 1ull, 12345ull, (1ull << 40) + 7}) {
      const uint32_t stream = make_stream(Purpose::noise, 3);
      const uint64_t first = 5 * kNormalChunk, n = 3 * kNormalChunk;
      std::vector<double> batch(n);
      normals_batch(seed, stream, first, step, n, batch.data());
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t e = first + i;
        CHECK(batch[i] == normal_at(seed, stream, e, step));  // exact, not approximate
        const auto w = bits(seed, stream, static_cast<uint32_t>(e / 64 * 16 + e % 16), step);
        double z[4];
        box_muller_fast(w[0], w[1], z[0], z[1]);
        box_muller_fast(w[2], w[3], z[2], z[3]);
        CHECK(batch[i] == z[e % 64 / 16]);
      }
    }
  }
}

TEST_CASE("every Philox round kernel equals Random123's Philox4x32-10 on 16 counters") {
  // The generic kernel runs where AVX-512 is missing; check it here too, lane by lane,
  // against rng::bits (itself checked against Random123 below).
  using Kernel = void (*)(uint64_t*, uint64_t*, uint64_t*, uint64_t*, uint64_t, uint64_t);
  std::vector<Kernel> kernels = {detail::philox16_rounds_generic, detail::philox16_rounds};
#if defined(__AVX512F__)
  kernels.push_back(detail::philox16_rounds_avx512);
#endif
  const uint64_t seed = 0x0123456789ABCDEFull, step = (1ull << 33) + 5;
  const uint32_t stream = 77;
  for (Kernel kernel : kernels) {
    uint64_t c0[16], c1[16], c2[16], c3[16];
    for (uint32_t l = 0; l < 16; ++l)
      c0[l] = stream, c1[l] = 1000 + l, c2[l] = static_cast<uint32_t>(step), c3[l] = step >> 32;
    kernel(c0, c1, c2, c3, static_cast<uint32_t>(seed), seed >> 32);
    for (uint32_t l = 0; l < 16; ++l) {
      const auto w = bits(seed, stream, 1000 + l, step);
      CHECK(static_cast<uint32_t>(c0[l]) == w[0]);
      CHECK(static_cast<uint32_t>(c1[l]) == w[1]);
      CHECK(static_cast<uint32_t>(c2[l]) == w[2]);
      CHECK(static_cast<uint32_t>(c3[l]) == w[3]);
    }
  }
}

TEST_CASE("Random123 Philox4x32-10 known-answer vector") {
  // Known-answer test from Random123's kat_vectors: philox4x32 R=10, counter and key all
  // zero -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
  r123::Philox4x32_R<10> philox;
  const auto out = philox({{0, 0, 0, 0}}, {{0, 0}});
  CHECK(out.v[0] == 0x6627e8d5u);
  CHECK(out.v[1] == 0xe169c58du);
  CHECK(out.v[2] == 0xbc57ac4cu);
  CHECK(out.v[3] == 0x9b00dbd8u);
  const auto mine = bits(0, 0, 0, 0);
  CHECK(mine[0] == 0x6627e8d5u);
  CHECK(mine[3] == 0x9b00dbd8u);
}

TEST_CASE("polynomial log and sincos agree with the C library to float precision") {
  // Bounds: a few float ulps (float epsilon 1.2e-7) relative for log, absolute for sin/cos.
  for (int i = 0; i < 100000; ++i) {
    const uint32_t x = static_cast<uint32_t>(i) * 42949u + 17u;
    const float u = detail::uniform24(x);
    CHECK(u > 0.0f);
    CHECK(u < 1.0f);
    const double ref = std::log(static_cast<double>(u));
    CHECK(std::abs(detail::log_poly(u) - ref) <= 4e-7 * std::max(1.0, std::abs(ref)));
    float s, c;
    const float t = static_cast<float>(x >> 8) * 0x1p-24f;
    detail::sincos_2pi(t, s, c);
    CHECK(std::abs(s - std::sin(2 * M_PI * t)) < 5e-7);
    CHECK(std::abs(c - std::cos(2 * M_PI * t)) < 5e-7);
  }
}

TEST_CASE("batched normals are N(0,1): moments and a Kolmogorov-Smirnov test") {
  std::vector<double> z(200000);  // a multiple of the 64-element chunk
  normals_batch(99, make_stream(Purpose::noise, 0), 0, 7, z.size(), z.data());
  double m = 0, m2 = 0;
  for (double x : z) m += x, m2 += x * x;
  const double n = static_cast<double>(z.size());
  m /= n;
  m2 = m2 / n - m * m;
  // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
  CHECK(std::abs(m) < 5 * 0.0022);
  CHECK(std::abs(m2 - 1) < 5 * 0.0032);
  std::sort(z.begin(), z.end());
  double d = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    const double cdf = 0.5 * std::erfc(-z[i] / std::sqrt(2.0));
    d = std::max({d, std::abs(cdf - static_cast<double>(i) / n), std::abs(cdf - static_cast<double>(i + 1) / n)});
  }
  // KS critical value at alpha = 0.001: 1.95 / sqrt(n) (asymptotic Kolmogorov distribution).
  CHECK(d < 1.95 / std::sqrt(n));
}

TEST_CASE("Stream draws are reproducible and keyed by element") {
  Stream a(5, 1, 10), b(5, 1, 10), c(5, 1, 11);
  for (int i = 0; i < 100; ++i) {
    const double x = a.uniform();
    CHECK(x == b.uniform());
    CHECK(x != c.uniform());
  }
  Stream r(1, 2, 3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[r.below(7)];
  // Each count ~ Binomial(70000, 1/7): mean 10000, sd 92.6; 5 sd bound.
  for (int k : counts) CHECK(std::abs(k - 10000) < 5 * 92.6);
}

TEST_CASE("poisson_count is Poisson(lambda): mean, variance and P(0), keyed by its counter") {
  // Expected values: the Poisson distribution's mean = variance = lambda, P(0) = exp(-lambda).
  // Tolerances: 5 standard errors over n draws (the variance of a sample variance of a
  // Poisson variable is (lambda + 2 lambda^2) / n, the fourth central moment minus the
  // squared variance).
  const uint32_t stream = make_stream(Purpose::poisson, 4);
  for (double lambda : {0.02, 0.5, 5.0}) {
    const double p0 = std::exp(-lambda);
    const int n = 200000;
    double s = 0, ss = 0, zeros = 0;
    for (int i = 0; i < n; ++i) {
      const double k = poisson_count(7, stream, static_cast<uint32_t>(i % 1000),
                                     static_cast<uint64_t>(i / 1000), lambda, p0);
      s += k, ss += k * k, zeros += k == 0;
    }
    const double mean = s / n, var = ss / n - mean * mean;
    CHECK(std::abs(mean - lambda) < 5 * std::sqrt(lambda / n));
    CHECK(std::abs(var - lambda) < 5 * std::sqrt((lambda + 2 * lambda * lambda) / n));
    CHECK(std::abs(zeros / n - p0) < 5 * std::sqrt(p0 * (1 - p0) / n));
  }
  // A pure function of (seed, stream, element, index): the same counter gives the same
  // count, and the counts of other streams are other draws.
  int same = 0, differ = 0;
  for (uint32_t e = 0; e < 2000; ++e) {
    const uint32_t a = poisson_count(3, stream, e, 11, 2.0, std::exp(-2.0));
    same += a == poisson_count(3, stream, e, 11, 2.0, std::exp(-2.0));
    differ += a != poisson_count(3, make_stream(Purpose::poisson, 5), e, 11, 2.0, std::exp(-2.0));
  }
  CHECK(same == 2000);
  CHECK(differ > 1000);  // two independent Poisson(2) draws differ with probability 0.79
}
