// Dendritic segment pool: activation against a brute-force count over all synapses,
// learning rules on hand-worked permanence arithmetic, eviction, index consistency.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>

#include "models/dendrites.hpp"
#include "sim/rng.hpp"

namespace dd = models::dendrites;

namespace {

sim::rng::Stream test_stream(uint32_t element) {
  return sim::rng::Stream(777, sim::rng::make_stream(sim::rng::Purpose::analysis, 2), element);
}

// The index invariant: every live synapse is listed exactly once, under its own
// presynaptic cell, and nothing else is listed.
void check_index_consistent(const dd::SegmentPool& pool) {
  std::multiset<dd::SynapseId> indexed;
  for (dd::PresynapticId p = 0; p < pool.presynaptic_count(); ++p) {
    for (const dd::IndexEntry& e : pool.synapses_from(p)) {
      const dd::SynapseId y = e.synapse;
      CHECK(pool.presynaptic_of(y) == p);
      CHECK(pool.alive(pool.segment_of(y)));
      CHECK(e.segment == pool.segment_of(y));
      CHECK(e.permanence == pool.permanence(y));
      indexed.insert(y);
    }
  }
  std::multiset<dd::SynapseId> owned;
  uint32_t segments = 0;
  for (dd::CellId c = 0; c < pool.cell_count(); ++c) {
    for (const dd::SegmentId s : pool.segments_of(c)) {
      ++segments;
      CHECK(pool.cell_of(s) == c);
      for (const dd::SynapseId y : pool.synapses_of(s)) {
        CHECK(pool.segment_of(y) == s);
        owned.insert(y);
      }
    }
  }
  CHECK(indexed == owned);
  CHECK(indexed.size() == pool.synapse_count());
  CHECK(segments == pool.segment_count());
}

// Brute force: walk every synapse of every segment and count.
void check_activation(const dd::SegmentPool& pool, const std::vector<uint32_t>& active) {
  std::vector<uint8_t> is_active(pool.presynaptic_count(), 0);
  for (const uint32_t p : active) is_active[p] = 1;
  dd::Activity act;
  pool.activate(active, act);
  std::vector<dd::SegmentId> spiking, matching;
  for (dd::SegmentId s = 0; s < pool.segment_capacity(); ++s) {
    if (!pool.alive(s)) continue;
    uint32_t connected = 0, potential = 0;
    for (const dd::SynapseId y : pool.synapses_of(s)) {
      if (is_active[pool.presynaptic_of(y)] == 0) continue;
      ++potential;
      if (pool.permanence(y) >= pool.params().connected_permanence) ++connected;
    }
    CHECK(act.active_connected[s] == connected);
    CHECK(act.active_potential[s] == potential);
    if (connected >= pool.params().nmda_threshold) spiking.push_back(s);
    if (potential >= pool.params().matching_threshold) matching.push_back(s);
  }
  CHECK(act.spiking == spiking);
  CHECK(act.matching == matching);
}

}  // namespace

TEST_CASE("activation equals a brute-force count, also after destroying synapses") {
  const dd::Params params{.nmda_threshold = 3,
                          .matching_threshold = 2,
                          .max_synapses_per_segment = 40,
                          .max_segments_per_cell = 8};
  const uint32_t n = 200, cells = 30;
  dd::SegmentPool pool(params, cells, n);
  auto rng = test_stream(0);
  // Permanences from a small set straddling the threshold 0.5, so both kinds occur.
  const float perms[] = {0.0625f, 0.25f, 0.4375f, 0.5f, 0.5625f, 1.0f};
  for (dd::CellId c = 0; c < cells; ++c) {
    const uint32_t nseg = 1 + static_cast<uint32_t>(rng.below(6));
    for (uint32_t k = 0; k < nseg; ++k) {
      const dd::SegmentId s = pool.create_segment(c, 0);
      std::vector<uint8_t> used(n, 0);
      const uint32_t nsyn = static_cast<uint32_t>(rng.below(40));
      for (uint32_t j = 0; j < nsyn; ++j) {
        const uint32_t p = static_cast<uint32_t>(rng.below(n));
        if (used[p]) continue;
        used[p] = 1;
        pool.create_synapse(s, p, perms[rng.below(6)]);
      }
    }
  }
  check_index_consistent(pool);
  auto random_active = [&](uint32_t count) {
    std::vector<uint32_t> active;
    std::vector<uint8_t> used(n, 0);
    while (active.size() < count) {
      const uint32_t p = static_cast<uint32_t>(rng.below(n));
      if (!used[p]) {
        used[p] = 1;
        active.push_back(p);  // deliberately unsorted
      }
    }
    return active;
  };
  for (int round = 0; round < 5; ++round) {
    for (int t = 0; t < 20; ++t) check_activation(pool, random_active(10 + 10 * round));
    // Destroy a third of the synapses (through both routes) and a few segments.
    std::vector<dd::SynapseId> victims;
    for (dd::PresynapticId p = 0; p < n; ++p) {
      for (const dd::IndexEntry& e : pool.synapses_from(p)) {
        if (rng.below(3) == 0) victims.push_back(e.synapse);
      }
    }
    for (const dd::SynapseId y : victims) pool.destroy_synapse(y);
    // Learning moves permanences across the threshold and destroys synapses at 0.
    std::vector<uint8_t> dense(n, 0);
    for (const uint32_t p : random_active(60)) dense[p] = 1;
    for (dd::CellId c = 1; c < cells; c += 3) {
      for (const dd::SegmentId s : pool.segments_of(c)) pool.adapt_segment(s, dense, 2);
    }
    for (dd::CellId c = 0; c < cells; c += 7) {
      if (!pool.segments_of(c).empty()) pool.destroy_segment(pool.segments_of(c).front());
    }
    check_index_consistent(pool);
    // Recycled ids must work too: regrow some synapses on new segments.
    for (dd::CellId c = 0; c < cells; c += 5) {
      const dd::SegmentId s = pool.create_segment(c, 1);
      for (uint32_t p = 0; p < 12; ++p) pool.create_synapse(s, (p * 17 + round) % n, 0.75f);
    }
    check_index_consistent(pool);
  }
}

TEST_CASE("the hot path reuses its buffers and only touches active segments") {
  const dd::Params params{.nmda_threshold = 2, .matching_threshold = 1};
  dd::SegmentPool pool(params, 4, 100);
  const auto s0 = pool.create_segment(0, 0);
  const auto s1 = pool.create_segment(1, 0);
  for (uint32_t p : {1u, 2u, 3u}) pool.create_synapse(s0, p, 1.0f);
  for (uint32_t p : {50u, 51u}) pool.create_synapse(s1, p, 1.0f);
  dd::Activity act;
  const std::vector<uint32_t> a1 = {1, 2, 60};
  pool.activate(a1, act);
  CHECK(act.touched == std::vector<dd::SegmentId>{s0});
  CHECK(act.spiking == std::vector<dd::SegmentId>{s0});
  const auto* counts = act.active_connected.data();
  const auto* touched = act.touched.data();
  const std::vector<uint32_t> a2 = {50, 51, 3};
  pool.activate(a2, act);
  // Same storage (no reallocation), and the previous call's counts were reset.
  CHECK(act.active_connected.data() == counts);
  CHECK(act.touched.data() == touched);
  CHECK(act.active_connected[s0] == 1);
  CHECK(act.active_connected[s1] == 2);
  CHECK(act.spiking == std::vector<dd::SegmentId>{s1});
  const std::vector<uint32_t> bad = {100};
  CHECK_THROWS_AS(pool.activate(bad, act), std::out_of_range);
}

TEST_CASE("adapt_segment: hand-worked permanence arithmetic, clamping and destruction at 0") {
  // Defaults: increment 0.125, decrement 0.0625, connected at 0.5 (all exact in float).
  const dd::Params params{.nmda_threshold = 2, .matching_threshold = 1};
  dd::SegmentPool pool(params, 1, 8);
  const auto seg = pool.create_segment(0, 0);
  const auto y0 = pool.create_synapse(seg, 0, 0.5f);
  const auto y1 = pool.create_synapse(seg, 1, 0.0625f);
  const auto y2 = pool.create_synapse(seg, 2, 0.9375f);
  const auto y3 = pool.create_synapse(seg, 3, 0.4375f);
  std::vector<uint8_t> active = {1, 0, 1, 1, 0, 0, 0, 0};  // cells 0, 2, 3

  pool.adapt_segment(seg, active, 5);
  // 0.5 + 0.125 = 0.625; 0.0625 - 0.0625 = 0 -> destroyed; 0.9375 + 0.125 = 1.0625 -> 1;
  // 0.4375 + 0.125 = 0.5625 (now connected).
  CHECK(pool.permanence(y0) == 0.625f);
  CHECK(pool.permanence(y2) == 1.0f);
  CHECK(pool.permanence(y3) == 0.5625f);
  CHECK(pool.connected(y3));
  CHECK(pool.synapse_count() == 3);
  CHECK(pool.synapses_of(seg).size() == 3);
  CHECK(pool.synapses_from(1).empty());
  CHECK(pool.last_used(seg) == 5);
  (void)y1;
  check_index_consistent(pool);

  std::vector<uint8_t> none(8, 0);
  pool.adapt_segment(seg, none, 6);
  // 0.625 - 0.0625 = 0.5625; 1 - 0.0625 = 0.9375; 0.5625 - 0.0625 = 0.5 (still connected:
  // the threshold is inclusive).
  CHECK(pool.permanence(y0) == 0.5625f);
  CHECK(pool.permanence(y2) == 0.9375f);
  CHECK(pool.permanence(y3) == 0.5f);
  CHECK(pool.connected(y3));
  pool.adapt_segment(seg, none, 7);
  CHECK(pool.permanence(y3) == 0.4375f);
  CHECK_FALSE(pool.connected(y3));
  check_index_consistent(pool);
  // Cells 0, 2, 3 active: 0 and 2 connected, 3 not -> 2 connected, 3 potential.
  dd::Activity act;
  const std::vector<uint32_t> a = {0, 2, 3};
  pool.activate(a, act);
  CHECK(act.active_connected[seg] == 2);
  CHECK(act.active_potential[seg] == 3);
  CHECK(act.spiking == std::vector<dd::SegmentId>{seg});
}

TEST_CASE("grow_synapses samples new active cells, skips existing ones, respects the cap") {
  const dd::Params params{
      .nmda_threshold = 2, .matching_threshold = 1, .max_synapses_per_segment = 6};
  dd::SegmentPool pool(params, 1, 20);
  const auto seg = pool.create_segment(0, 0);
  pool.create_synapse(seg, 0, 0.75f);
  pool.create_synapse(seg, 1, 0.75f);
  auto rng = test_stream(1);
  const std::vector<uint32_t> candidates = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK(pool.grow_synapses(seg, candidates, 3, rng) == 3);
  CHECK(pool.synapses_of(seg).size() == 5);
  std::set<uint32_t> pres;
  for (const auto y : pool.synapses_of(seg)) {
    pres.insert(pool.presynaptic_of(y));
    if (pool.presynaptic_of(y) >= 2) CHECK(pool.permanence(y) == params.initial_permanence);
  }
  CHECK(pres.size() == 5);  // no duplicates
  // Room for one more only (cap 6), even though 3 are desired and 3 eligible remain.
  CHECK(pool.grow_synapses(seg, candidates, 3, rng) == 1);
  CHECK(pool.synapses_of(seg).size() == 6);
  CHECK(pool.grow_synapses(seg, candidates, 3, rng) == 0);
  check_index_consistent(pool);

  // Uniform sampling: growing 1 synapse from 4 candidates on a fresh segment picks each
  // with probability 1/4 (4000 draws: 1000 ± 27.4 each; five-sd bound, fixed seed).
  dd::SegmentPool fresh(params, 1, 20);
  std::vector<int> picks(20, 0);
  const std::vector<uint32_t> four = {3, 8, 9, 15};
  for (int d = 0; d < 4000; ++d) {
    fresh.clear();
    const auto s = fresh.create_segment(0, 0);
    REQUIRE(fresh.grow_synapses(s, four, 1, rng) == 1);
    ++picks[fresh.presynaptic_of(fresh.synapses_of(s)[0])];
  }
  for (const uint32_t p : four) CHECK(std::abs(picks[p] - 1000) < 5 * 27.4);
}

TEST_CASE("per-cell segment limit evicts the least recently used segment") {
  const dd::Params params{.nmda_threshold = 1, .matching_threshold = 1, .max_segments_per_cell = 3};
  dd::SegmentPool pool(params, 2, 10);
  const auto a = pool.create_segment(0, 1);
  const auto b = pool.create_segment(0, 2);
  const auto c = pool.create_segment(0, 3);
  const auto other = pool.create_segment(1, 0);  // another cell: never a victim for cell 0
  pool.create_synapse(b, 4, 1.0f);
  pool.create_synapse(b, 5, 1.0f);
  pool.mark_used(a, 10);  // a is now the most recent; b (time 2) is the LRU
  const auto d = pool.create_segment(0, 11);
  // Handles are recycled (d may reuse b's id), so identify segments by their contents.
  std::multiset<uint64_t> times;
  for (const auto s : pool.segments_of(0)) times.insert(pool.last_used(s));
  CHECK(times == std::multiset<uint64_t>{3, 10, 11});  // a (10), c (3), d (11); b (2) gone
  CHECK(pool.alive(other));
  CHECK(pool.synapses_from(4).empty());  // the victim's synapses left the index
  CHECK(pool.synapse_count() == 0);
  check_index_consistent(pool);
  // Tie on last_used: the smaller id goes first. Give c and d time 3 and tell them apart by
  // one synapse each.
  pool.mark_used(d, 3);
  pool.create_synapse(c, 7, 1.0f);
  pool.create_synapse(d, 8, 1.0f);
  const uint32_t loser_cell = c < d ? 7u : 8u, winner_cell = c < d ? 8u : 7u;
  pool.create_segment(0, 12);
  CHECK(pool.synapses_from(loser_cell).empty());
  CHECK(pool.synapses_from(winner_cell).size() == 1);
  CHECK(pool.alive(a));
  check_index_consistent(pool);
}

TEST_CASE("structural errors are reported") {
  const dd::Params params{.max_synapses_per_segment = 2};
  dd::SegmentPool pool(params, 1, 10);
  const auto s = pool.create_segment(0, 0);
  pool.create_synapse(s, 1, 0.5f);
  CHECK_THROWS_AS(pool.create_synapse(s, 1, 0.5f), std::logic_error);  // duplicate pair
  CHECK_THROWS_AS(pool.create_synapse(s, 10, 0.5f), std::out_of_range);
  pool.create_synapse(s, 2, 0.5f);
  CHECK_THROWS_AS(pool.create_synapse(s, 3, 0.5f), std::logic_error);  // full
  pool.destroy_segment(s);
  CHECK_THROWS_AS(pool.destroy_segment(s), std::out_of_range);
  CHECK_THROWS_AS(dd::validate(dd::Params{.nmda_threshold = 0}), std::invalid_argument);
  CHECK_THROWS_AS(dd::validate(dd::Params{.connected_permanence = 1.5f}), std::invalid_argument);
}
