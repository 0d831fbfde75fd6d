#pragma once
// Drawing per-element values from a Distribution with a counter-based stream.
#include <cmath>

#include "sim/rng.hpp"
#include "sim/spec.hpp"

namespace sim {

inline double draw(const Distribution& dist, rng::Stream& r) {
  using K = Distribution::Kind;
  switch (dist.kind) {
    case K::constant: return dist.p1;
    case K::uniform: return r.uniform(dist.p1, dist.p2);
    case K::normal: return r.normal(dist.p1, dist.p2);
    case K::lognormal: return std::exp(r.normal(dist.p1, dist.p2));
    case K::loguniform: return std::exp(r.uniform(std::log(dist.p1), std::log(dist.p2)));
    case K::uniform_int: {
      const auto lo = static_cast<int64_t>(std::llround(dist.p1));
      const auto hi = static_cast<int64_t>(std::llround(dist.p2));
      return static_cast<double>(lo + static_cast<int64_t>(r.below(static_cast<uint64_t>(hi - lo + 1))));
    }
  }
  return dist.p1;
}

}  // namespace sim
