#pragma once
// SonataSink writes one run to one HDF5 file in the SONATA spike-file layout, plus the
// run's metadata and traces. One writer, streamed by epoch: a crash loses at most the
// epoch in progress, and a file is marked complete only by a clean end().
//
// Layout (analysis/ reads exactly this):
//   /                      attrs magic = uint32 0x0A7A, version = uint32[2] {0, 1}
//   /spikes/<population>   attr  sorting = enum(uint8){none: 0, by_id: 1, by_time: 2} = by_time
//     timestamps           float64[n], ms (attr units = "ms"), time = step * dt_ms
//     node_ids             uint64[n], population-local ids
//   /run                   attrs seed u64, dt_ms f64, duration_ms f64 (= steps_done * dt_ms),
//                          steps_done u64, steps_planned u64, complete u8, engine_version str,
//                          git_hash str, experiment str, threads i32, config_toml str
//     population_names     string[P]
//     population_sizes     uint32[P]
//   /traces/<population>   (or /traces/<population>/<i> when a population has several
//                          trace sets: i = 0, 1, ... in the order of RunInfo::traces)
//                          attrs start_step, stop_step u64
//     node_ids             uint64[k]
//     time_ms              float64[T]
//     v_mV, u, input       float64[T, k]
//
// Spikes arrive in step order with ascending ids (Sink's contract, checked here), so each
// population is sorted by time with ties broken by node id.
//
// Durability: at every epoch_done() (or every options.flush_every_epochs) the buffered spikes and
// trace rows are appended, /run steps_done and duration_ms are updated, and the file is flushed
// (H5Fflush). `complete` is 0 from creation and becomes 1 only in end(steps_done, true), after a
// flush of everything else. Without end() (a crash, an exception) the file keeps complete = 0 and
// steps_done = the last flushed epoch boundary. The writer takes no HDF5 file lock, so
// `snnsim info` or h5py can look at a running run (and see it as of the last epoch).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/h5.hpp"
#include "sim/sink.hpp"

namespace sim {

struct SonataSinkOptions {
  // Elements per chunk of timestamps / node_ids. Every flush rewrites each partly filled
  // chunk whole, so the per-epoch cost grows with the chunk. Measured (Release, one
  // population, 10 spikes per epoch, 10^4 epochs, a shared 2-core machine): 65536 (512 kB
  // chunks) costs ~220 us per epoch, 8192 ~50 us, 1024 ~40 us (mostly the metadata flush).
  hsize_t chunk_spikes = 8192;
  hsize_t chunk_trace_values = 8192;  // values per chunk of a trace table (rows = this / k)
  // Write and flush every this many epochs (1: a crash loses at most the epoch in
  // progress). Larger values trade durability for less flushing on tiny epochs.
  uint32_t flush_every_epochs = 1;
};

class SonataSink final : public Sink {
 public:
  // Creates the file at once (so an unwritable path fails before any simulation), with
  // the root attributes and /run complete = 0. Fails if the file exists already.
  explicit SonataSink(const std::string& path, SonataSinkOptions options = {});

  void begin(const RunInfo& info) override;
  void spikes(Step step, uint32_t population, std::span<const uint32_t> local_ids) override;
  void trace(Step step, uint32_t trace_index, std::span<const double> v_mV,
             std::span<const double> u, std::span<const double> input) override;
  void epoch_done(Step next_step) override;
  // Writes what is buffered and closes the file; complete = 1 only when `complete`.
  void end(Step steps_done, bool complete) override;

  // The open file, for experiments that add result groups (/trials, /readouts, /metrics,
  // ...). Valid from construction until end(); they are flushed with the next epoch.
  h5::File& file();
  const std::string& path() const { return path_; }

 private:
  struct PopulationWriter {
    h5::Group group;
    h5::Appendable<double> timestamps;
    h5::Appendable<uint64_t> node_ids;
    std::vector<double> pending_ms;
    std::vector<uint64_t> pending_ids;
    bool any = false;  // whether a spike was seen, for the order check
    Step last_step = 0;
    uint32_t last_id = 0;
  };
  struct TraceWriter {
    h5::Group group;
    size_t width = 0;  // recorded neurons k
    h5::Appendable<double> time_ms;
    h5::AppendableRows v_mV, u, input;
    std::vector<double> pending_time_ms, pending_v_mV, pending_u, pending_input;
  };

  void write_pending();
  void write_progress(Step steps_done);

  std::string path_;
  SonataSinkOptions options_;
  h5::File file_;
  h5::Group run_;
  double dt_ms_ = 1.0;
  bool begun_ = false;
  bool ended_ = false;
  uint64_t epochs_since_flush_ = 0;
  std::vector<PopulationWriter> populations_;
  std::vector<TraceWriter> traces_;
};

}  // namespace sim
