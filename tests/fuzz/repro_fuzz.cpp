// Fuzzes the repro loader: any bytes as the text of a *.repro.toml file. It must return a repro or an
// error naming the file, never crash, assert or read past its input; a repro it accepts must also
// give a scenario that replay can run (repro_scenario) and survive a round trip through format_repro.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/sweep/repro.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto repro = syncstorm::parse_repro(text, "fuzz.repro.toml");
  if (!repro) {
    if (repro.error().file != "fuzz.repro.toml") __builtin_trap();
    return 0;
  }
  static_cast<void>(syncstorm::repro_scenario(repro.value()));
  // What the loader accepted, the writer writes and the loader reads back as the same file.
  const std::string written = syncstorm::format_repro(repro.value());
  const auto again = syncstorm::parse_repro(written, "fuzz.repro.toml");
  if (!again || syncstorm::format_repro(again.value()) != written) __builtin_trap();
  return 0;
}
