#pragma once
// Command-line checks shared by the subcommands.
#include <CLI/CLI.hpp>

#include <string>

namespace snnsim_cli {

// A seed: an integer >= 0. (CLI::NonNegativeNumber would print the range up to the
// largest double.)
inline CLI::Validator non_negative_seed() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return !text.empty() && text[0] == '-' ? "expected an integer >= 0, got " + text : "";
      },
      "INT>=0");
}

}  // namespace snnsim_cli
