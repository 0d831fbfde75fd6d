#include "experiments/registry.hpp"

#include <filesystem>

#include "experiments/network.hpp"
#include "experiments/nmda_threshold/experiment.hpp"
#include "experiments/sparsey/experiment.hpp"
#include "experiments/what_when/what_when.hpp"

namespace experiments {

const std::vector<Experiment>& all() {
  static const std::vector<Experiment> list = {
      network::experiment(),
      nmda_threshold::experiment(),
      sparsey::experiment(),
      what_when::experiment(),
  };
  return list;
}

const Experiment* find(std::string_view type) {
  for (const auto& e : all())
    if (e.type == type) return &e;
  return nullptr;
}

std::string read_experiment_header(sim::TableReader& root, const std::string& default_name) {
  sim::TableReader head = root.table("experiment");
  head.string("type", "network");
  const std::string name = head.string("name", default_name);
  head.string("description", "");
  head.finish();
  return name;
}

}  // namespace experiments
