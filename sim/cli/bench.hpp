#pragma once
#include <CLI/CLI.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace snnsim_cli {

struct BenchOptions {
  std::vector<int> threads = {1, 2};
  std::vector<std::string> only;  // case names; empty = all
  bool quick = false;             // a tenth of the model time, for a smoke run
  int repeat = 1;                 // runs per case and thread count; the fastest is reported
  bool phases = false;            // also print where the threads' time went
};

void add_bench_options(CLI::App& app, BenchOptions& options);
// Runs each benchmark case in a child process (so peak memory is per case) and prints a
// table of neuron updates/s, synaptic events/s, real-time factor, peak memory and bytes
// per synapse.
int run_bench(const BenchOptions& options, const std::atomic<bool>* stop);

}  // namespace snnsim_cli
