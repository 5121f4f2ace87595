// Fuzzes the scenario loader: any bytes as the text of a scenario file. The loader must return a
// scenario or an error naming the file, never crash, assert or read past its input. It parses from
// memory only (parse_scenario), so the fuzzer never touches the disk.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/scenario/scenario_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto scenario = syncstorm::parse_scenario(text, "fuzz.toml");
  // An error must say where it is: the file name at least (a user reads it on exit code 2).
  if (!scenario && scenario.error().file != "fuzz.toml") __builtin_trap();
  return 0;
}
