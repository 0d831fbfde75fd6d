#include "experiments/sparsey/bench.hpp"

#include "experiments/sparsey/inputs.hpp"

#include <chrono>

namespace experiments::sparsey {

namespace ms = models::sparsey;

BenchResult codes_per_second(const BenchConfig& cfg) {
  using clock = std::chrono::steady_clock;
  sim::rng::Stream stimulus(cfg.seed, sim::rng::make_stream(sim::rng::Purpose::stimulus, 0), 0);
  sim::rng::Stream choice(cfg.seed, sim::rng::make_stream(sim::rng::Purpose::model, 0), 0);
  const PatternSet items =
      random_sdrs(cfg.num_codes, cfg.field.num_inputs_U, cfg.active_bits, stimulus);
  ms::Field field = ms::make_field(cfg.field);
  ms::Workspace work;
  BenchResult r;
  auto t0 = clock::now();
  for (size_t i = 0; i < items.size(); ++i) ms::learn(field, {.U = items[i]}, choice, work);
  auto t1 = clock::now();
  for (size_t i = 0; i < items.size(); ++i)
    r.mean_G_recognise +=
        ms::select_code(field, {.U = items[i]}, ms::Mode::recognise, choice, work).G /
        static_cast<double>(items.size());
  auto t2 = clock::now();
  const double n = cfg.num_codes;
  r.learn_codes_per_second = n / std::chrono::duration<double>(t1 - t0).count();
  r.recognise_codes_per_second = n / std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace experiments::sparsey
