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
// the uniform -> normal transform is Box–Muller in single precision (see detail::uniform24).
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "sim/rng.hpp"

namespace sim::rng {

namespace detail {

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // Salmon et al. 2011, Philox4x32 multipliers
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt 3)
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

// The transform works in single precision: noise currents need no more than float's 24
// bits, and float doubles the lanes per vector. Uniforms take the top 24 bits of a word,
// u = (x + 1/2) / 2^24, rounded to float: never 0, so log(u) is finite (the largest values
// round to 1, giving z = 0); |z| is at most sqrt(-2 ln(2^-25)) = 5.9 (the tail beyond has
// probability 4e-9).
inline float uniform24(uint32_t x) { return (static_cast<float>(x >> 8) + 0.5f) * 0x1p-24f; }

// Natural log for x in (0, 1], from +, *, / and bit manipulation only.
// x = 2^e * m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f), f = (m-1)/(m+1), |f| <= 0.1716,
// summed to f^9 (next term < 3e-9 relative, below float's 6e-8).
inline float log_poly(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF) - 127;
  bits = (bits & 0x007FFFFFu) | 0x3F800000u;  // m in [1, 2)
  float m;
  std::memcpy(&m, &bits, sizeof m);
  const bool big = m > 1.41421356f;
  m = big ? 0.5f * m : m;
  e = big ? e + 1 : e;
  const float f = (m - 1.0f) / (m + 1.0f);
  const float s = f * f;
  float p = 1.0f / 9.0f;
  p = p * s + 1.0f / 7.0f;
  p = p * s + 1.0f / 5.0f;
  p = p * s + 1.0f / 3.0f;
  p = p * s + 1.0f;
  return static_cast<float>(e) * 0.693147180559945f + 2.0f * f * p;
}

// sin and cos of 2*pi*t for t in [0, 1): quadrant from 4t, Taylor series on [0, pi/2)
// (to a^11 and a^12: truncation < 4e-8).
inline void sincos_2pi(float t, float& s_out, float& c_out) {
  const float q4 = 4.0f * t;
  const int q = static_cast<int>(q4);  // 0..3
  const float a = (q4 - static_cast<float>(q)) * 1.57079632679f;
  const float a2 = a * a;
  float s = -1.0f / 39916800.0f;               // 1/11!
  s = s * a2 + 1.0f / 362880.0f;               // 1/9!
  s = s * a2 - 1.0f / 5040.0f;                 // 1/7!
  s = s * a2 + 1.0f / 120.0f;                  // 1/5!
  s = s * a2 - 1.0f / 6.0f;                    // 1/3!
  s = (s * a2 + 1.0f) * a;
  float c = 1.0f / 479001600.0f;               // 1/12!
  c = c * a2 - 1.0f / 3628800.0f;              // 1/10!
  c = c * a2 + 1.0f / 40320.0f;                // 1/8!
  c = c * a2 - 1.0f / 720.0f;                  // 1/6!
  c = c * a2 + 1.0f / 24.0f;                   // 1/4!
  c = c * a2 - 0.5f;                           // 1/2!
  c = c * a2 + 1.0f;
  // Rotate by q quarter turns.
  s_out = (q == 0) ? s : (q == 1) ? c : (q == 2) ? -s : -c;
  c_out = (q == 0) ? c : (q == 1) ? -s : (q == 2) ? -c : s;
}

// The ten Philox4x32 rounds on 16 counters. The 32-bit words live in the low halves of
// 64-bit lanes, so each 32x32 -> 64-bit product is one unsigned multiply of low halves per
// lane (vpmuludq on x86). The high halves are never cleaned: every product reads only the
// low half, and the caller truncates the outputs, which saves a third of the operations.
inline void philox16_rounds_generic(uint64_t* c0, uint64_t* c1, uint64_t* c2, uint64_t* c3,
                                    uint64_t k0, uint64_t k1) {
  constexpr uint64_t kLow = 0xFFFFFFFFu;
  for (int round = 0; round < 10; ++round) {
#pragma omp simd
    for (uint32_t l = 0; l < 16; ++l) {
      const uint64_t p0 = kPhiloxM0 * (c0[l] & kLow);
      const uint64_t p1 = kPhiloxM1 * (c2[l] & kLow);
      const uint64_t n0 = (p1 >> 32) ^ c1[l] ^ k0;
      const uint64_t n2 = (p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = p1;
      c3[l] = p0;
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

#if defined(__AVX512F__)
// GCC 12's _mm512_mul_epu32 passes an undefined vector as its merge source, which
// -Wuninitialized reports inside the compiler's own header; the value is never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The same rounds with the multiply spelled out: the compiler turns the masked product
// above into a full 64x64 multiply (vpmullq), and keeping the 16 lanes in registers across
// the rounds halves the time of the generic version (tested equal to it).
inline void philox16_rounds_avx512(uint64_t* c0, uint64_t* c1, uint64_t* c2, uint64_t* c3,
                                   uint64_t k0, uint64_t k1) {
  __m512i x0[2], x1[2], x2[2], x3[2];
  for (int h = 0; h < 2; ++h) {
    x0[h] = _mm512_loadu_si512(c0 + 8 * h);
    x1[h] = _mm512_loadu_si512(c1 + 8 * h);
    x2[h] = _mm512_loadu_si512(c2 + 8 * h);
    x3[h] = _mm512_loadu_si512(c3 + 8 * h);
  }
  const __m512i m0 = _mm512_set1_epi64(kPhiloxM0), m1 = _mm512_set1_epi64(kPhiloxM1);
  for (int round = 0; round < 10; ++round) {
    const __m512i key0 = _mm512_set1_epi64(static_cast<long long>(k0));
    const __m512i key1 = _mm512_set1_epi64(static_cast<long long>(k1));
    for (int h = 0; h < 2; ++h) {
      const __m512i p0 = _mm512_mul_epu32(x0[h], m0);
      const __m512i p1 = _mm512_mul_epu32(x2[h], m1);
      // 0x96: three-way exclusive or
      const __m512i n0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1[h], key0, 0x96);
      const __m512i n2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3[h], key1, 0x96);
      x1[h] = p1;
      x3[h] = p0;
      x0[h] = n0;
      x2[h] = n2;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  for (int h = 0; h < 2; ++h) {
    _mm512_storeu_si512(c0 + 8 * h, x0[h]);
    _mm512_storeu_si512(c1 + 8 * h, x1[h]);
    _mm512_storeu_si512(c2 + 8 * h, x2[h]);
    _mm512_storeu_si512(c3 + 8 * h, x3[h]);
  }
}
#pragma GCC diagnostic pop
#endif

inline void philox16_rounds(uint64_t* c0, uint64_t* c1, uint64_t* c2, uint64_t* c3, uint64_t k0,
                            uint64_t k1) {
#if defined(__AVX512F__)
  philox16_rounds_avx512(c0, c1, c2, c3, k0, k1);
#else
  philox16_rounds_generic(c0, c1, c2, c3, k0, k1);
#endif
}

}  // namespace detail

// Box–Muller with the polynomial functions: the scalar twin of the batched transform.
inline void box_muller_fast(uint32_t a, uint32_t b, double& z0, double& z1) {
  const float r = std::sqrt(-2.0f * detail::log_poly(detail::uniform24(a)));
  float s, c;
  detail::sincos_2pi(static_cast<float>(b >> 8) * 0x1p-24f, s, c);
  z0 = static_cast<double>(r * c);
  z1 = static_cast<double>(r * s);
}

// Normal deviates come in chunks of 64 elements: Philox on 16 counters gives 16 x 4 words,
// and Box–Muller turns words (0,1) and (2,3) of each counter into two normals each. Element
// i of a stream at one index (step) is normal q = (i mod 64) / 16 of counter
// {stream, (i / 64) * 16 + i mod 16, index} under key = seed, q = 0..3 being
// (r0 cos, r0 sin, r1 cos, r1 sin): a chunk's normals then land in four contiguous runs of 16,
// which the vector code stores directly.
inline constexpr uint32_t kNormalChunk = 64;

// The scalar definition (the reference for the batch, and for single elements).
inline double normal_at(uint64_t seed, uint32_t stream, uint64_t element, uint64_t index) {
  const auto block = static_cast<uint32_t>((element / kNormalChunk) * 16 + element % 16);
  const auto w = bits(seed, stream, block, index);
  double z[4];
  box_muller_fast(w[0], w[1], z[0], z[1]);
  box_muller_fast(w[2], w[3], z[2], z[3]);
  return z[(element % kNormalChunk) / 16];
}

// The 64 normals of chunk `chunk` (elements 64 chunk .. 64 chunk + 63) into out[0..63].
inline void normals_chunk(uint64_t seed, uint32_t stream, uint32_t chunk, uint64_t index,
                          double* out) {
  constexpr uint32_t kLanes = 16;
  const uint32_t i_lo = static_cast<uint32_t>(index), i_hi = static_cast<uint32_t>(index >> 32);
  uint64_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
#pragma omp simd
  for (uint32_t l = 0; l < kLanes; ++l) {
    c0[l] = stream;
    c1[l] = chunk * kLanes + l;
    c2[l] = i_lo;
    c3[l] = i_hi;
  }
  detail::philox16_rounds(c0, c1, c2, c3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
#pragma omp simd
  for (uint32_t l = 0; l < kLanes; ++l) {
    const auto w0 = static_cast<uint32_t>(c0[l]), w1 = static_cast<uint32_t>(c1[l]);
    const auto w2 = static_cast<uint32_t>(c2[l]), w3 = static_cast<uint32_t>(c3[l]);
    const float r0 = std::sqrt(-2.0f * detail::log_poly(detail::uniform24(w0)));
    const float r1 = std::sqrt(-2.0f * detail::log_poly(detail::uniform24(w2)));
    float s0, co0, s1, co1;
    detail::sincos_2pi(static_cast<float>(w1 >> 8) * 0x1p-24f, s0, co0);
    detail::sincos_2pi(static_cast<float>(w3 >> 8) * 0x1p-24f, s1, co1);
    out[l] = static_cast<double>(r0 * co0);
    out[kLanes + l] = static_cast<double>(r0 * s0);
    out[2 * kLanes + l] = static_cast<double>(r1 * co1);
    out[3 * kLanes + l] = static_cast<double>(r1 * s1);
  }
}

// Elements [first, first + n) of one stream at one index; first and n multiples of 64.
inline void normals_batch(uint64_t seed, uint32_t stream, uint64_t first, uint64_t index,
                          uint64_t n, double* out) {
  for (uint64_t e = 0; e < n; e += kNormalChunk)
    normals_chunk(seed, stream, static_cast<uint32_t>((first + e) / kNormalChunk), index, out + e);
}

}  // namespace sim::rng
