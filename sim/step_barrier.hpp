#pragma once
// The barrier between the phases of a step, for the threads of one parallel region.
//
// Why not `#pragma omp barrier`: with OMP_WAIT_POLICY unset, libgomp's waiting threads spin
// for ~300,000 iterations before they sleep. When another process holds one of the cores, a
// waiting thread burns the time slice its descheduled partner needs: a 2-thread run on this
// 2-core machine became 10-70x slower than on one thread (benchmark (b): 0.49 s -> 45 s).
// This barrier spins for about as long as the usual wait between two phases lasts (a few
// microseconds; a pause instruction per check), then yields the core on each check, then
// sleeps on the generation counter (a Linux futex; elsewhere short sleeps), so a descheduled
// partner gets to run. (Not std::atomic::wait: libstdc++ 12's version can miss a wake-up,
// which hung a 2-thread run here about once in a few hundred.)
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sim {

class StepBarrier {
 public:
  explicit StepBarrier(int n_threads) : n_(n_threads) {}
  StepBarrier(const StepBarrier&) = delete;
  StepBarrier& operator=(const StepBarrier&) = delete;

  // Returns once all n_threads have called it, with the OR of the flags they arrived with:
  // every thread gets the same answer (a flag read after the barrier could already have
  // been changed by a faster thread in the next phase). What a thread wrote before it
  // arrived is visible to every thread after it returns (the arrivals are acquire-release on
  // one counter; the last arrival publishes a new generation with release, waiters acquire it).
  bool wait(bool flag = false) {
    const uint32_t generation = generation_.load(std::memory_order_acquire);
    const uint32_t parity = generation & 1;
    if (flag) any_[parity].store(true, std::memory_order_relaxed);  // released by the add below
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);  // ordered before the store below
      // This generation's answer; the other parity's flag is reset for the next one (nobody
      // writes it now: the previous generation is over and the next has not begun).
      result_[parity] = any_[parity].load(std::memory_order_relaxed);
      any_[parity ^ 1].store(false, std::memory_order_relaxed);
      // Sequentially consistent with the sleepers' count (Dekker): either this thread sees a
      // sleeper and wakes it, or the sleeper sees the new generation and does not sleep
      // (and the kernel re-checks the value before it blocks).
      generation_.store(generation + 1, std::memory_order_seq_cst);
      if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_all();
      return result_[parity];
    }
    for (uint32_t check = 0; generation_.load(std::memory_order_acquire) == generation; ++check) {
      if (check < kSpinChecks) {
        pause();
      } else if (check < kSpinChecks + kYieldChecks) {
        std::this_thread::yield();
      } else {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if (generation_.load(std::memory_order_seq_cst) == generation) sleep_while(generation);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    // Rewritten only when the generation after next completes, which needs this thread.
    return result_[parity];
  }

 private:
  static constexpr uint32_t kSpinChecks = 1000;  // 1000 pauses: ~5-40 microseconds
  static constexpr uint32_t kYieldChecks = 100;
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

  // Blocks while the generation is still `generation` (may return early: callers re-check).
  void sleep_while(uint32_t generation) {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&generation_), FUTEX_WAIT_PRIVATE, generation,
            nullptr, nullptr, 0);
#else
    (void)generation;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
#endif
  }
  void wake_all() {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&generation_), FUTEX_WAKE_PRIVATE, INT32_MAX,
            nullptr, nullptr, 0);
#endif
  }
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                    std::atomic<uint32_t>::is_always_lock_free,
                "the futex works on the atomic's own 32 bits");

  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> any_[2] = {false, false};  // per generation parity
  bool result_[2] = {false, false};
  int n_;
};

}  // namespace sim
