#pragma once
// Batched Gaussian noise for the per-step hot path.
//
// The scalar path (rng::bits + std::log/std::cos) costs ~40 ns per normal, which would
// dominate a 1000-neuron network. Here Philox4x32-10 runs on 16 counters at once in a
// structure-of-arrays form the compiler vectorises, and Box–Muller uses polynomial log and
// sin/cos built only from +, -, *, / and sqrt. Those operations are correctly rounded in
// IEEE arithmetic whether done in a vector lane or a scalar register (the build disables
// FMA contraction), so a neuron's noise is bitwise the same whichever loop body computes
// it — a requirement for thread-count invariance.
//
// The generator is exactly Random123's Philox4x32-10 (checked against it in the tests);
// only the uniform -> normal transform differs from rng::box_muller, by < 1e-13 absolute.
#include <cstdint>
#include <cstring>

#include "sim/rng.hpp"

namespace sim::rng {

namespace detail {

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // Salmon et al. 2011, Philox4x32 multipliers
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt 3)
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

// Natural log for x in (0, 1], from +, *, / and bit manipulation only.
// x = 2^e * m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f), f = (m-1)/(m+1), |f| <= 0.1716,
// summed to f^17 (next term < 1e-15 relative).
inline double log_poly(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int64_t e = static_cast<int64_t>((bits >> 52) & 0x7FF) - 1023;
  bits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;  // m in [1, 2)
  double m;
  std::memcpy(&m, &bits, sizeof m);
  const bool big = m > 1.4142135623730951;
  m = big ? 0.5 * m : m;
  e = big ? e + 1 : e;
  const double f = (m - 1.0) / (m + 1.0);
  const double s = f * f;
  double p = 1.0 / 17.0;
  p = p * s + 1.0 / 15.0;
  p = p * s + 1.0 / 13.0;
  p = p * s + 1.0 / 11.0;
  p = p * s + 1.0 / 9.0;
  p = p * s + 1.0 / 7.0;
  p = p * s + 1.0 / 5.0;
  p = p * s + 1.0 / 3.0;
  p = p * s + 1.0;
  return static_cast<double>(e) * 0.69314718055994530942 + 2.0 * f * p;
}

// sin and cos of 2*pi*t for t in [0, 1): quadrant from 4t, Taylor series on [0, pi/2)
// (to a^17 and a^18: truncation < 5e-14).
inline void sincos_2pi(double t, double& s_out, double& c_out) {
  const double q4 = 4.0 * t;
  const int q = static_cast<int>(q4);  // 0..3
  const double a = (q4 - static_cast<double>(q)) * 1.5707963267948966;
  const double a2 = a * a;
  double s = 1.0 / 355687428096000.0;          // 1/17!
  s = s * a2 - 1.0 / 1307674368000.0;          // 1/15!
  s = s * a2 + 1.0 / 6227020800.0;             // 1/13!
  s = s * a2 - 1.0 / 39916800.0;               // 1/11!
  s = s * a2 + 1.0 / 362880.0;                 // 1/9!
  s = s * a2 - 1.0 / 5040.0;                   // 1/7!
  s = s * a2 + 1.0 / 120.0;                    // 1/5!
  s = s * a2 - 1.0 / 6.0;                      // 1/3!
  s = (s * a2 + 1.0) * a;
  double c = 1.0 / 6402373705728000.0;         // 1/18!
  c = c * a2 - 1.0 / 20922789888000.0;         // 1/16!
  c = c * a2 + 1.0 / 87178291200.0;            // 1/14!
  c = c * a2 - 1.0 / 479001600.0;              // 1/12!
  c = c * a2 + 1.0 / 3628800.0;                // 1/10!
  c = c * a2 - 1.0 / 40320.0;                  // 1/8!
  c = c * a2 + 1.0 / 720.0;                    // 1/6!
  c = c * a2 - 1.0 / 24.0;                     // 1/4!
  c = c * a2 + 0.5;                            // 1/2!
  c = 1.0 - c * a2;
  // Rotate by q quarter turns.
  const double s1 = (q == 0) ? s : (q == 1) ? c : (q == 2) ? -s : -c;
  const double c1 = (q == 0) ? c : (q == 1) ? -s : (q == 2) ? -c : s;
  s_out = s1;
  c_out = c1;
}

}  // namespace detail

// Box–Muller with the polynomial functions: the scalar twin of the batched transform.
inline void box_muller_fast(uint32_t a, uint32_t b, double& z0, double& z1) {
  const double r = std::sqrt(-2.0 * detail::log_poly(uniform_open(a)));
  double s, c;
  detail::sincos_2pi(uniform53(b, 0) , s, c);
  z0 = r * c;
  z1 = r * s;
}

// Normal deviates for blocks [first_block, first_block + n_blocks) of one stream at one
// index (step): block j gives out[4j .. 4j+3] from Philox(counter = {stream, block, index},
// key = seed), words (0,1) and (2,3) each through box_muller_fast.
inline void normals_batch(uint64_t seed, uint32_t stream, uint32_t first_block, uint64_t index,
                          uint32_t n_blocks, double* out) {
  constexpr uint32_t kLanes = 16;
  const uint32_t k0_init = static_cast<uint32_t>(seed), k1_init = static_cast<uint32_t>(seed >> 32);
  const uint32_t i_lo = static_cast<uint32_t>(index), i_hi = static_cast<uint32_t>(index >> 32);
  for (uint32_t base = 0; base < n_blocks; base += kLanes) {
    const uint32_t lanes = n_blocks - base < kLanes ? n_blocks - base : kLanes;
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
#pragma omp simd
    for (uint32_t l = 0; l < kLanes; ++l) {
      c0[l] = stream;
      c1[l] = first_block + base + l;
      c2[l] = i_lo;
      c3[l] = i_hi;
    }
    uint32_t k0 = k0_init, k1 = k1_init;
    for (int round = 0; round < 10; ++round) {
#pragma omp simd
      for (uint32_t l = 0; l < kLanes; ++l) {
        const uint64_t p0 = static_cast<uint64_t>(detail::kPhiloxM0) * c0[l];
        const uint64_t p1 = static_cast<uint64_t>(detail::kPhiloxM1) * c2[l];
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
        c1[l] = static_cast<uint32_t>(p1);
        c3[l] = static_cast<uint32_t>(p0);
        c0[l] = n0;
        c2[l] = n2;
      }
      k0 += detail::kPhiloxW0;
      k1 += detail::kPhiloxW1;
    }
    double z[4][kLanes];
#pragma omp simd
    for (uint32_t l = 0; l < kLanes; ++l) {
      const double r0 = std::sqrt(-2.0 * detail::log_poly(uniform_open(c0[l])));
      const double r1 = std::sqrt(-2.0 * detail::log_poly(uniform_open(c2[l])));
      double s0, co0, s1, co1;
      detail::sincos_2pi(uniform53(c1[l], 0), s0, co0);
      detail::sincos_2pi(uniform53(c3[l], 0), s1, co1);
      z[0][l] = r0 * co0;
      z[1][l] = r0 * s0;
      z[2][l] = r1 * co1;
      z[3][l] = r1 * s1;
    }
    for (uint32_t l = 0; l < lanes; ++l) {
      double* o = out + 4 * static_cast<size_t>(base + l);
      o[0] = z[0][l];
      o[1] = z[1][l];
      o[2] = z[2][l];
      o[3] = z[3][l];
    }
  }
}

}  // namespace sim::rng
