#pragma once
// What the Sparsey experiments can hand back besides their metrics: one record per
// presentation of an input to the coding field (a code selection), in presentation order,
// so that a run can write the codes as spikes and the CSA's G and eta per presentation.
//
// Order is part of the result: experiments that run seeds (or draws) in parallel collect
// each seed's records separately and concatenate them in seed order, so the records do not
// depend on the number of threads.
#include "models/sparsey.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace experiments::sparsey {

// The phase a presentation belongs to. Stored as uint8 in result files, with the names of
// phase_names() beside them.
enum class Phase : uint8_t {
  learn = 0,         // learning-mode selection followed by storing (single trial)
  probe = 1,         // learning-mode selection, not stored (similarity probes)
  recall = 2,        // recognition of a stored input
  recall_noisy = 3,  // recognition of a stored input with noise added
  novel = 4,         // recognition of an input never stored
  test = 5,          // recognition of a test input (digits)
  next = 6,          // recognition through H from the stored previous code (sequences)
  replay = 7,        // recognition through H from the replayed previous code (sequences)
};
inline std::vector<std::string> phase_names() {  // indexed by the Phase value
  return {"learn", "probe", "recall", "recall_noisy", "novel", "test", "next", "replay"};
}

struct Presentation {
  uint32_t seed_index = 0;  // seed (similarity, capacity, sequences, episodic) or draw (digits)
  Phase phase = Phase::learn;
  int64_t item = 0;   // index of the input within its set (task specific, see the task)
  int64_t label = 0;  // task specific: shared bits, load, class, position (see the task)
  double G = 0;
  double eta = 1;
  models::sparsey::Code code;
};

using Presentations = std::vector<Presentation>;

// Appends every record of each part, parts in order.
inline void concatenate(Presentations& out, std::vector<Presentations>& parts) {
  for (auto& p : parts) {
    out.insert(out.end(), std::make_move_iterator(p.begin()), std::make_move_iterator(p.end()));
    p.clear();
  }
}

}  // namespace experiments::sparsey
