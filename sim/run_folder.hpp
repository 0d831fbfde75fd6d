#pragma once
// The folder a run writes: spikes.h5 (SONATA, with /run and result groups), config.toml
// (the fully resolved configuration) and run.log. Existing results are never replaced
// without --overwrite, and --overwrite only ever clears a folder that snnsim wrote.
#include <filesystem>
#include <string>

namespace sim {

struct RunFolder {
  std::filesystem::path dir;
  std::filesystem::path spikes() const { return dir / "spikes.h5"; }
  std::filesystem::path config() const { return dir / "config.toml"; }
  std::filesystem::path log() const { return dir / "run.log"; }
};

// Creates (or, with overwrite, clears) `dir`. Throws InputError (exit code 2) when the folder
// holds results and overwrite is false, when it holds something snnsim did not write, or
// when it cannot be created or written.
RunFolder prepare_run_folder(const std::filesystem::path& dir, bool overwrite);

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees a
// half-written file.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace sim
