// Fuzzes how an external replica reads its adapter's answer lines (models/adapters/PROTOCOL.md): the
// JSON, every action's fields, base64 payloads and store values, canonical states and the describe
// answer. An adapter is a program we do not control; whatever it writes must end the run with a
// protocol error, never crash syncstorm. The first byte picks the data type a state is read as.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "models/external/external.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  constexpr syncstorm::DataType kTypes[] = {syncstorm::DataType::map, syncstorm::DataType::list,
                                            syncstorm::DataType::counter, syncstorm::DataType::text};
  const syncstorm::DataType type = kTypes[data[0] % 4];
  const std::string_view line(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto error = syncstorm::protocol_line_error(line, type);
  if (error && error->empty()) __builtin_trap();  // an error must say what is wrong
  return 0;
}
