#pragma once
// The barrier between the phases of a step, for the threads of one parallel region.
//
// Why not `#pragma omp barrier`: with OMP_WAIT_POLICY unset, libgomp's waiting threads spin
// for ~300,000 iterations before they sleep. When another process holds one of the cores, a
// waiting thread burns the time slice its descheduled partner needs: a 2-thread run on this
// 2-core machine became 10-70x slower than on one thread (benchmark (b): 0.49 s -> 45 s).
// This barrier spins for about as long as the usual wait between two phases lasts (a few
// microseconds; a pause instruction per check), then yields the core on each check, then
// sleeps on the generation counter (futex), so a descheduled partner gets to run.
#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sim {

class StepBarrier {
 public:
  explicit StepBarrier(int n_threads) : n_(n_threads) {}
  StepBarrier(const StepBarrier&) = delete;
  StepBarrier& operator=(const StepBarrier&) = delete;

  // Returns once all n_threads have called it. What a thread wrote before it arrived is
  // visible to every thread after it returns (the arrivals are acquire-release on one
  // counter; the last arrival publishes a new generation with release, waiters acquire it).
  void wait() {
    const uint32_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);  // ordered before the release below
      generation_.store(generation + 1, std::memory_order_release);
      generation_.notify_all();
      return;
    }
    for (uint32_t check = 0; generation_.load(std::memory_order_acquire) == generation; ++check) {
      if (check < kSpinChecks)
        pause();
      else if (check < kSpinChecks + kYieldChecks)
        std::this_thread::yield();
      else
        generation_.wait(generation, std::memory_order_acquire);
    }
  }

 private:
  static constexpr uint32_t kSpinChecks = 1000;  // 1000 pauses: ~5-40 microseconds
  static constexpr uint32_t kYieldChecks = 100;
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
  int n_;
};

}  // namespace sim
