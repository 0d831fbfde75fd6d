#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random
// numbers: as easy as 1, 2, 3", via Debian's Random123 headers).
//
// Why counter-based: a draw is a pure function of (seed, stream, element, index), so
// it does not matter which thread asks for it or in which order. That is what makes
// spike trains bit-identical for any thread count. Never use std::*_distribution
// here: their algorithms differ between standard libraries.
//
// Counter layout (4 x 32 bit): [stream, element, index_lo, index_hi]; key = seed.
//   stream  — what the numbers are for (noise of population 3, connectivity of
//             projection 7, ...): see make_stream().
//   element — the id the numbers belong to (neuron, source neuron, block of neurons).
//   index   — the step, or the position in a sequence of draws for that element.
#include <Random123/philox.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>

namespace sim::rng {

using Philox = r123::Philox4x32_R<10>;

// What a stream of numbers is for. The high byte of a stream id is its purpose; the
// low 24 bits are the index of the object it belongs to (population or projection).
enum class Purpose : uint32_t {
  noise = 1,          // Gaussian current noise, per population
  poisson = 2,        // Poisson spike input, per population
  heterogeneity = 3,  // per-neuron parameter draws, per population
  initial_state = 4,  // initial v, u, per population
  connectivity = 5,   // which synapses exist, per projection
  weights = 6,        // synaptic weights, per projection
  delays = 7,         // synaptic delays, per projection
  stimulus = 8,       // experiment stimuli (trial order, jitter), per experiment
  model = 9,          // model-internal randomness (winner sampling, segment growth)
  analysis = 10,      // Monte Carlo estimates inside experiments
};

constexpr uint32_t make_stream(Purpose purpose, uint32_t object_index) {
  return (static_cast<uint32_t>(purpose) << 24) | (object_index & 0x00FFFFFFu);
}

// Four raw 32-bit words for (seed, stream, element, index).
inline std::array<uint32_t, 4> bits(uint64_t seed, uint32_t stream, uint32_t element,
                                    uint64_t index) {
  Philox philox;
  Philox::ctr_type ctr = {{stream, element, static_cast<uint32_t>(index),
                           static_cast<uint32_t>(index >> 32)}};
  Philox::key_type key = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  const auto out = philox(ctr, key);
  return {out.v[0], out.v[1], out.v[2], out.v[3]};
}

// Uniform on the open interval (0, 1): (x + 0.5) / 2^32 is never 0 or 1, so log(u) is finite.
inline double uniform_open(uint32_t x) { return (static_cast<double>(x) + 0.5) * 0x1p-32; }

// Uniform on [0, 1) with 53 random bits from two words.
inline double uniform53(uint32_t hi, uint32_t lo) {
  const uint64_t m = (static_cast<uint64_t>(hi) << 21) ^ (static_cast<uint64_t>(lo) >> 11);
  return static_cast<double>(m & ((uint64_t{1} << 53) - 1)) * 0x1p-53;
}

// A Poisson(lambda) count for (seed, stream, element, index), by inversion of the CDF with
// one 53-bit uniform (the count k is the first with F(k) > u); p0 = exp(-lambda), passed in
// so a caller drawing many counts of one lambda computes it once. Meant for small lambda
// (input spikes per step); the count is capped at 1000, where F is 1 to double precision
// for any lambda the configs admit (<= 30 per step).
inline uint32_t poisson_count(uint64_t seed, uint32_t stream, uint32_t element, uint64_t index,
                              double lambda, double p0) {
  const auto b = bits(seed, stream, element, index);
  const double x = uniform53(b[0], b[1]);
  double p = p0, cdf = p0;
  uint32_t count = 0;
  while (x >= cdf && count < 1000) {
    ++count;
    p *= lambda / count;
    cdf += p;
  }
  return count;
}

// Box–Muller (Box & Muller 1958): two uniforms on (0,1) give two independent N(0,1).
inline void box_muller(uint32_t a, uint32_t b, double& z0, double& z1) {
  const double r = std::sqrt(-2.0 * std::log(uniform_open(a)));
  const double theta = 2.0 * std::numbers::pi * uniform_open(b);
  z0 = r * std::cos(theta);
  z1 = r * std::sin(theta);
}

// A sequential generator for one (seed, stream, element): draw k uses counter index k/4
// (four words per Philox call). For set-up work (connectivity, heterogeneity, stimuli)
// and models; the per-step hot paths call bits() or the batch helpers directly.
class Stream {
 public:
  Stream(uint64_t seed, uint32_t stream, uint32_t element, uint64_t first_index = 0)
      : seed_(seed), stream_(stream), element_(element), index_(first_index) {}

  uint32_t next_u32() {
    if (pos_ == 4) {
      buf_ = bits(seed_, stream_, element_, index_++);
      pos_ = 0;
    }
    return buf_[pos_++];
  }
  // Uniform on [0, 1), 53 bits.
  double uniform() {
    const uint32_t hi = next_u32();
    return uniform53(hi, next_u32());
  }
  // Uniform on [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform on the open interval (0, 1), 32 bits.
  double uniform_open01() { return uniform_open(next_u32()); }
  // Uniform on the open interval (0, 1), 53 bits: for log(u) where tiny u matter (geometric
  // gaps at small probabilities).
  double uniform_open53() { return uniform() + 0x1p-54; }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const uint32_t a = next_u32();
    double z0 = 0, z1 = 0;
    box_muller(a, next_u32(), z0, z1);
    spare_ = z1;
    has_spare_ = true;
    return z0;
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // Uniform integer in [0, n), without modulo bias (Lemire 2019, "Fast random integer
  // generation in an interval", with rejection).
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    if (n <= 0xFFFFFFFFull) {
      const uint32_t n32 = static_cast<uint32_t>(n);
      const uint32_t threshold = static_cast<uint32_t>(-n32) % n32;
      for (;;) {
        const uint64_t m = static_cast<uint64_t>(next_u32()) * n32;
        if (static_cast<uint32_t>(m) >= threshold) return m >> 32;
      }
    }
    // Rare: ranges above 2^32 use 64-bit rejection sampling.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
      const uint64_t x = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
      if (x < limit) return x % n;
    }
  }
  // Poisson(lambda) by sequential inversion of the CDF: exact, with cost growing like
  // lambda, which suits per-step input counts (lambda = rate * dt, usually below 1).
  uint32_t poisson(double lambda) {
    // exp(-lambda) underflows above ~745; callers keep lambda small (the config bounds it).
    if (!(lambda >= 0.0 && lambda <= 700.0))
      throw std::invalid_argument("rng::Stream::poisson: lambda must be in [0, 700]");
    const double u = uniform();
    double p = std::exp(-lambda);
    double cdf = p;
    uint32_t k = 0;
    while (u >= cdf && k < 100000) {
      ++k;
      p *= lambda / k;
      cdf += p;
      if (p == 0.0) break;  // the tail is below double precision
    }
    return k;
  }

 private:
  uint64_t seed_;
  uint32_t stream_;
  uint32_t element_;
  uint64_t index_;
  std::array<uint32_t, 4> buf_{};
  int pos_ = 4;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Derives an independent 64-bit seed for a sub-run (a sweep point, a trial block) from a
// master seed: a Philox draw keyed by the master seed, so nearby points get unrelated seeds.
inline uint64_t derive_seed(uint64_t master_seed, uint32_t purpose, uint64_t index) {
  const auto w = bits(master_seed, 0xFFFFFFFFu, purpose, index);
  return (static_cast<uint64_t>(w[0]) << 32) | w[1];
}

}  // namespace sim::rng
