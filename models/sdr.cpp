#include "models/sdr.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace models::sdr {

Sdr Sdr::from_sparse(uint32_t size, std::vector<uint32_t> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  Sdr out(size);
  out.assign_sorted(indices);
  return out;
}

Sdr Sdr::from_dense(std::span<const uint8_t> dense) {
  Sdr out(static_cast<uint32_t>(dense.size()));
  for (uint32_t i = 0; i < out.size_; ++i) {
    if (dense[i] != 0) {
      out.dense_[i] = 1;
      out.sparse_.push_back(i);
    }
  }
  return out;
}

void Sdr::clear() {
  for (const uint32_t i : sparse_) dense_[i] = 0;
  sparse_.clear();
}

void Sdr::assign_sorted(std::span<const uint32_t> indices) {
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] >= size_) {
      throw std::invalid_argument("Sdr: index " + std::to_string(indices[k]) +
                                  " is outside an SDR of size " + std::to_string(size_));
    }
    if (k > 0 && indices[k] <= indices[k - 1]) {
      throw std::invalid_argument("Sdr::assign_sorted: indices must be sorted and unique");
    }
  }
  clear();
  sparse_.assign(indices.begin(), indices.end());
  for (const uint32_t i : sparse_) dense_[i] = 1;
}

namespace {
void require_same_size(const Sdr& x, const Sdr& y, const char* what) {
  if (x.size() != y.size()) {
    throw std::invalid_argument(std::string(what) + ": SDR sizes differ (" +
                                std::to_string(x.size()) + " vs " + std::to_string(y.size()) + ")");
  }
}
}  // namespace

uint32_t overlap(const Sdr& x, const Sdr& y) {
  require_same_size(x, y, "overlap");
  // Walk the shorter sparse list and test membership in the other's dense view.
  const Sdr& small = x.active_count() <= y.active_count() ? x : y;
  const Sdr& large = &small == &x ? y : x;
  const auto dense = large.dense();
  uint32_t count = 0;
  for (const uint32_t i : small.sparse()) count += dense[i];
  return count;
}

Sdr set_union(const Sdr& x, const Sdr& y) {
  require_same_size(x, y, "set_union");
  std::vector<uint32_t> merged;
  merged.reserve(x.active_count() + y.active_count());
  std::set_union(x.sparse().begin(), x.sparse().end(), y.sparse().begin(), y.sparse().end(),
                 std::back_inserter(merged));
  Sdr out(x.size());
  out.assign_sorted(merged);
  return out;
}

Sdr set_union(std::span<const Sdr> sdrs) {
  if (sdrs.empty()) return Sdr(0);
  std::vector<uint8_t> dense(sdrs.front().size(), 0);
  for (const Sdr& x : sdrs) {
    require_same_size(sdrs.front(), x, "set_union");
    for (const uint32_t i : x.sparse()) dense[i] = 1;
  }
  return Sdr::from_dense(dense);
}

void fill_random(Sdr& out, uint32_t active, sim::rng::Stream& rng) {
  const uint32_t n = out.size_;
  if (active > n) {
    throw std::invalid_argument("fill_random: " + std::to_string(active) +
                                " active bits do not fit in an SDR of size " + std::to_string(n));
  }
  out.clear();
  // Floyd: for j = n-a .. n-1 pick t uniform in [0, j]; if t was already taken, take j
  // (which cannot have been taken yet). Every a-subset comes out with equal probability.
  for (uint32_t j = n - active; j < n; ++j) {
    uint32_t t = static_cast<uint32_t>(rng.below(uint64_t{j} + 1));
    if (out.dense_[t] != 0) t = j;
    out.dense_[t] = 1;
    out.sparse_.push_back(t);
  }
  std::sort(out.sparse_.begin(), out.sparse_.end());
}

Sdr random(uint32_t size, uint32_t active, sim::rng::Stream& rng) {
  Sdr out(size);
  fill_random(out, active, rng);
  return out;
}

void fill_noisy(const Sdr& in, uint32_t swaps, sim::rng::Stream& rng, Sdr& out) {
  if (&in == &out) throw std::invalid_argument("fill_noisy: out may not alias in");
  const uint32_t n = in.size_;
  const uint32_t a = in.active_count();
  if (swaps > a || swaps > n - a) {
    throw std::invalid_argument("fill_noisy: cannot swap " + std::to_string(swaps) +
                                " bits of an SDR with " + std::to_string(a) + " of " +
                                std::to_string(n) + " bits active");
  }
  if (out.size_ != n) out = Sdr(n);
  out.clear();
  for (const uint32_t i : in.sparse_) out.dense_[i] = 1;

  // 1. Switch off `swaps` of the active bits: Floyd over positions 0..a-1 of in.sparse_;
  //    a position is "taken" once its bit has been cleared in out.
  for (uint32_t j = a - swaps; j < a; ++j) {
    uint32_t t = static_cast<uint32_t>(rng.below(uint64_t{j} + 1));
    if (out.dense_[in.sparse_[t]] == 0) t = j;
    out.dense_[in.sparse_[t]] = 0;
  }
  // 2. Switch on `swaps` bits that were inactive in `in`, uniformly without replacement.
  //    Sparse inputs: rejection (each accepted draw is uniform over the remaining
  //    candidates, expected < 2 draws per bit when a <= n/2). Dense inputs: Floyd over
  //    the explicit list of inactive bits, so the loop cannot crawl.
  auto& added = out.sparse_;  // scratch: collects the added bits, rebuilt below
  if (2 * uint64_t{a} <= n) {
    for (uint32_t k = 0; k < swaps;) {
      const uint32_t t = static_cast<uint32_t>(rng.below(n));
      if (in.dense_[t] != 0 || out.dense_[t] != 0) continue;
      out.dense_[t] = 1;
      added.push_back(t);
      ++k;
    }
  } else {
    std::vector<uint32_t> inactive;
    inactive.reserve(n - a);
    for (uint32_t i = 0; i < n; ++i) {
      if (in.dense_[i] == 0) inactive.push_back(i);
    }
    const uint32_t m = n - a;
    for (uint32_t j = m - swaps; j < m; ++j) {
      uint32_t t = static_cast<uint32_t>(rng.below(uint64_t{j} + 1));
      if (out.dense_[inactive[t]] != 0) t = j;
      out.dense_[inactive[t]] = 1;
      added.push_back(inactive[t]);
    }
  }
  // 3. Rebuild the sparse view: surviving original bits plus the added ones.
  for (const uint32_t i : in.sparse_) {
    if (out.dense_[i] != 0) added.push_back(i);
  }
  std::sort(added.begin(), added.end());
}

Sdr add_noise(const Sdr& in, uint32_t swaps, sim::rng::Stream& rng) {
  Sdr out(in.size());
  fill_noisy(in, swaps, rng, out);
  return out;
}

}  // namespace models::sdr
