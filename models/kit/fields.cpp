#include "models/kit/fields.hpp"

namespace syncstorm {

State to_state(const Fields& fields) {
  State s;
  s.type = DataType::map;
  s.fields.assign(fields.begin(), fields.end());
  return s;
}

void write_fields(Writer& w, const Fields& fields) {
  w.u32(static_cast<std::uint32_t>(fields.size()));
  for (const auto& [key, value] : fields) w.u32(key.value).u64(value.value);
}

bool read_fields(Reader& r, Fields& out) {
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    const KeyId key{r.u32()};
    out[key] = OpId{r.u64()};
  }
  return r.ok();
}

std::string fields_message(std::uint8_t tag, const Fields& fields) {
  Writer w;
  w.u8(tag);
  write_fields(w, fields);
  return w.take();
}

}  // namespace syncstorm
