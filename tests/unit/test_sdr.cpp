// SDR operations against brute-force references over the dense views.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "models/sdr.hpp"
#include "sim/rng.hpp"

using models::sdr::Sdr;
namespace sdr = models::sdr;

namespace {

sim::rng::Stream test_stream(uint32_t element) {
  return sim::rng::Stream(20240607, sim::rng::make_stream(sim::rng::Purpose::analysis, 1), element);
}

// Brute-force references: plain loops over all n bits of 0/1 vectors.
std::vector<uint8_t> to_bits(const Sdr& x) {
  std::vector<uint8_t> bits(x.size(), 0);
  for (const uint32_t i : x.sparse()) bits[i] = 1;
  return bits;
}

void check_views_consistent(const Sdr& x) {
  const auto dense = x.dense();
  REQUIRE(dense.size() == x.size());
  uint32_t count = 0;
  for (uint32_t i = 0; i < x.size(); ++i) {
    CHECK((dense[i] == 0 || dense[i] == 1));
    count += dense[i];
  }
  CHECK(count == x.active_count());
  for (size_t k = 0; k < x.sparse().size(); ++k) {
    CHECK(dense[x.sparse()[k]] == 1);
    if (k > 0) CHECK(x.sparse()[k - 1] < x.sparse()[k]);
  }
}

}  // namespace

TEST_CASE("from_sparse sorts, merges duplicates and rejects out-of-range indices") {
  const Sdr x = Sdr::from_sparse(10, {7, 2, 7, 0, 9});
  CHECK(std::vector<uint32_t>(x.sparse().begin(), x.sparse().end()) ==
        std::vector<uint32_t>{0, 2, 7, 9});
  CHECK(x.active_count() == 4);
  CHECK(x.contains(7));
  CHECK_FALSE(x.contains(8));
  CHECK_FALSE(x.contains(100));
  check_views_consistent(x);
  CHECK_THROWS_AS(Sdr::from_sparse(10, {10}), std::invalid_argument);

  const std::vector<uint8_t> dense = {0, 1, 0, 3, 0};
  const Sdr y = Sdr::from_dense(dense);
  CHECK(y == Sdr::from_sparse(5, {1, 3}));
  check_views_consistent(y);

  Sdr z = Sdr::from_sparse(10, {1, 2, 3});
  z.clear();
  CHECK(z.active_count() == 0);
  check_views_consistent(z);
  const std::vector<uint32_t> unsorted = {3, 1};
  CHECK_THROWS_AS(z.assign_sorted(unsorted), std::invalid_argument);
}

TEST_CASE("overlap and union agree with brute force on random SDRs") {
  auto rng = test_stream(0);
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t n = 1 + static_cast<uint32_t>(rng.below(300));
    const Sdr x = sdr::random(n, static_cast<uint32_t>(rng.below(n + 1)), rng);
    const Sdr y = sdr::random(n, static_cast<uint32_t>(rng.below(n + 1)), rng);
    const auto bx = to_bits(x), by = to_bits(y);
    uint32_t both = 0;
    std::vector<uint8_t> either(n, 0);
    for (uint32_t i = 0; i < n; ++i) {
      both += bx[i] & by[i];
      either[i] = bx[i] | by[i];
    }
    CHECK(sdr::overlap(x, y) == both);
    CHECK(sdr::overlap(y, x) == both);
    const Sdr u = sdr::set_union(x, y);
    CHECK(to_bits(u) == either);
    check_views_consistent(u);
    const std::vector<Sdr> list = {x, y, x};
    CHECK(sdr::set_union(list) == u);
  }
  CHECK_THROWS_AS(sdr::overlap(Sdr(5), Sdr(6)), std::invalid_argument);
}

TEST_CASE("random SDRs have exactly a bits, are reproducible and uniform over bits") {
  auto rng = test_stream(1);
  const uint32_t n = 64, a = 8;
  const int draws = 20000;
  std::vector<int> hits(n, 0);
  Sdr x(n);
  for (int d = 0; d < draws; ++d) {
    sdr::fill_random(x, a, rng);
    REQUIRE(x.active_count() == a);
    for (const uint32_t i : x.sparse()) ++hits[i];
  }
  check_views_consistent(x);
  // Each bit is on with probability a/n = 1/8: expected 2500 hits, binomial sd
  // sqrt(20000 * 1/8 * 7/8) = 46.8. Five sd is a loose, fixed-seed bound that a biased
  // sampler (e.g. one that favoured low indices) would break by far.
  const double expected = draws * double(a) / n;
  const double sd = std::sqrt(draws * (double(a) / n) * (1.0 - double(a) / n));
  for (uint32_t i = 0; i < n; ++i) CHECK(std::abs(hits[i] - expected) < 5.0 * sd);

  auto r1 = test_stream(2), r2 = test_stream(2), r3 = test_stream(3);
  const Sdr p = sdr::random(2048, 40, r1);
  CHECK(p == sdr::random(2048, 40, r2));
  CHECK_FALSE(p == sdr::random(2048, 40, r3));
  CHECK(sdr::random(10, 10, r1).active_count() == 10);
  CHECK(sdr::random(10, 0, r1).active_count() == 0);
  CHECK_THROWS_AS(sdr::random(10, 11, r1), std::invalid_argument);
}

TEST_CASE("noise swaps exactly k active bits for k inactive ones") {
  auto rng = test_stream(4);
  // Sparse (rejection) and dense (explicit inactive list) branches.
  for (const auto& [n, a] : std::vector<std::pair<uint32_t, uint32_t>>{{2048, 40}, {50, 40}}) {
    for (uint32_t k : {0u, 1u, 5u, 10u}) {
      const Sdr x = sdr::random(n, a, rng);
      const Sdr y = sdr::add_noise(x, k, rng);
      check_views_consistent(y);
      CHECK(y.active_count() == a);
      CHECK(sdr::overlap(x, y) == a - k);  // k removed, and no removed bit came back
      uint32_t changed = 0;
      const auto bx = to_bits(x), by = to_bits(y);
      for (uint32_t i = 0; i < n; ++i) changed += bx[i] != by[i];
      CHECK(changed == 2 * k);
    }
  }
  const Sdr x = sdr::random(50, 40, rng);
  CHECK_THROWS_AS(sdr::add_noise(x, 11, rng), std::invalid_argument);  // only 10 inactive
}

TEST_CASE("noise picks the removed and the added bits uniformly") {
  // n = 16, a = 4 fixed at bits {0,1,2,3}; k = 1. Each active bit is removed with
  // probability 1/4, each of the 12 inactive bits added with probability 1/12.
  auto rng = test_stream(5);
  const Sdr x = Sdr::from_sparse(16, {0, 1, 2, 3});
  const int draws = 24000;
  std::vector<int> removed(16, 0), added(16, 0);
  Sdr y(16);
  for (int d = 0; d < draws; ++d) {
    sdr::fill_noisy(x, 1, rng, y);
    const auto by = to_bits(y);
    for (uint32_t i = 0; i < 16; ++i) {
      if (i < 4 && by[i] == 0) ++removed[i];
      if (i >= 4 && by[i] == 1) ++added[i];
    }
  }
  // Binomial sds: removed 24000*1/4 = 6000 ± 67; added 2000 ± 43. Five-sd bounds.
  for (uint32_t i = 0; i < 4; ++i) CHECK(std::abs(removed[i] - 6000) < 5 * 67.1);
  for (uint32_t i = 4; i < 16; ++i) CHECK(std::abs(added[i] - 2000) < 5 * 43.0);
}
