// The map data type as the map models hold and send it: each field shows the id of the operation
// whose value it holds. One definition of its canonical state and of its wire form, shared by the
// map models' clients and servers.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {

using Fields = std::map<KeyId, OpId>;

/// The user-visible state of `fields` in canonical form.
State to_state(const Fields& fields);

/// The wire form: a u32 count, then (u32 key, u64 op id) pairs in key order.
void write_fields(Writer& w, const Fields& fields);
/// A message of `tag` followed by write_fields' form of `fields`.
std::string fields_message(std::uint8_t tag, const Fields& fields);
/// Reads what write_fields wrote into `out`; false (and a partial `out`) on malformed bytes.
bool read_fields(Reader& r, Fields& out);

}  // namespace syncstorm
