#pragma once
// Throughput of the Code Selection Algorithm, for `snnsim bench`.
// A fresh field learns num_codes random SDRs (learning mode: select + store), then
// recognises them all again; both rates are reported. Wall-clock numbers: report them,
// never assert on them. Measured on the project machine (one core, Release): 20x20 with 1,000
// inputs and 50 active, 0.7-1.8 x 10^5 codes/s learning and 1.4-3.6 x 10^5/s recognition;
// 40x100 with 784 inputs and 49 active, 1.2-2.6 x 10^4/s learning (the machine is shared,
// hence the ranges). The cost per code is |active inputs| x Q K byte adds for the input
// sums plus Q K exponentials in learning mode.
#include "models/sparsey.hpp"

#include <cstdint>

namespace experiments::sparsey {

struct BenchConfig {
  models::sparsey::Params field = models::sparsey::similarity_preset();  // Q = K = 20, 1,000 inputs
  uint32_t active_bits = 50;
  uint32_t num_codes = 2000;
  uint64_t seed = 1;
};

struct BenchResult {
  double learn_codes_per_second = 0;
  double recognise_codes_per_second = 0;
  double mean_G_recognise = 0;  // keeps the work observable (and is 1: all were stored)
};

BenchResult codes_per_second(const BenchConfig& config);

}  // namespace experiments::sparsey
