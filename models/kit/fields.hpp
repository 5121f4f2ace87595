// The map data type as the map models hold and send it: each field shows the id of the operation
// whose value it holds. One definition of its canonical state and of its wire form, shared by the
// map models' clients and servers.
#pragma once

#include <cstdint>
#include <string>

#include <boost/container/flat_map.hpp>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm {

/// Sorted in one block: every replica's state() copies it and every snapshot is read into one, both
/// in key order, far more often than a field is added. A reference into it holds until the next
/// field is added.
using Fields = boost::container::flat_map<KeyId, OpId>;

/// The user-visible state of `fields` in canonical form.
State to_state(const Fields& fields);

/// The wire form: a u32 count, then (u32 key, u64 op id) pairs in key order.
void write_fields(Writer& w, const Fields& fields);
/// A message of `tag` followed by write_fields' form of `fields`.
std::string fields_message(std::uint8_t tag, const Fields& fields);
/// Reads what write_fields wrote into `out`; false (and a partial `out`) on malformed bytes.
bool read_fields(Reader& r, Fields& out);

}  // namespace syncstorm
