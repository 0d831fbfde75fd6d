// The barrier between step phases: every thread passes generation g only after all arrived,
// and all get the same OR of the flags they arrived with (the simulation loop relies on that
// to leave at the same barrier when one thread failed).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "sim/rng.hpp"
#include "sim/step_barrier.hpp"

TEST_CASE("step barrier: no thread runs ahead, and all see the same OR of the flags") {
  for (int n : {1, 2, 3, 4}) {
    constexpr int kRounds = 5000;
    sim::StepBarrier barrier(n);
    std::vector<std::atomic<int>> reached(static_cast<size_t>(n));
    // seen[t][g]: what thread t got back from generation g
    std::vector<std::vector<char>> seen(static_cast<size_t>(n), std::vector<char>(kRounds));
    std::atomic<bool> ran_ahead{false}, missed_flag{false};  // checked on the main thread
    auto body = [&](int t) {
      sim::rng::Stream r(7, 1, static_cast<uint32_t>(t));
      for (int g = 0; g < kRounds; ++g) {
        reached[static_cast<size_t>(t)].store(g + 1);
        // Thread g % n raises its flag on every seventh generation; the others raise theirs
        // at random. Some arrivals come late (a short busy wait, or a yield).
        const bool flag = (g % 7 == 0 && t == g % n) || r.below(50) == 0;
        if (r.below(20) == 0) std::this_thread::yield();
        const bool any = barrier.wait(flag);
        seen[static_cast<size_t>(t)][static_cast<size_t>(g)] = any ? 1 : 0;
        for (int u = 0; u < n; ++u)  // everyone has arrived at generation g
          if (reached[static_cast<size_t>(u)].load() < g + 1) ran_ahead = true;
        if (g % 7 == 0 && !any) missed_flag = true;
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) threads.emplace_back(body, t);
    for (auto& th : threads) th.join();
    CHECK_FALSE(ran_ahead.load());
    CHECK_FALSE(missed_flag.load());
    for (int t = 1; t < n; ++t) CHECK(seen[static_cast<size_t>(t)] == seen[0]);
  }
}
