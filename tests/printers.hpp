// How Catch2 prints our types when an assertion fails: `op7 == op9` instead of `{?} == {?}`. Every
// test file includes this header, so that a type prints the same way in all of them (a file that
// printed it Catch's default way would break the one-definition rule). The words are the ones the
// violation reports use: op7, k3, item3, node 2, durations in milliseconds to the microsecond.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "models/model.hpp"
#include "sim/base/data.hpp"
#include "sim/base/ids.hpp"
#include "sim/base/time.hpp"
#include "sim/checkers/invariants.hpp"
#include "sim/scenario/scenario.hpp"

namespace syncstorm::testing {

/// Microseconds as milliseconds with three decimals, exact: 1500 -> "1.500 ms".
inline std::string milliseconds(std::int64_t us) {
  const std::uint64_t magnitude = us < 0 ? 0 - static_cast<std::uint64_t>(us) : static_cast<std::uint64_t>(us);
  std::string fraction = std::to_string(magnitude % 1'000);
  fraction.insert(0, 3 - fraction.size(), '0');
  return (us < 0 ? "-" : "") + std::to_string(magnitude / 1'000) + "." + fraction + " ms";
}

/// What an operation does, in the words of the violation reports: "set k3", "increment by 5".
inline std::string action(const Operation& op) {
  const std::string verb(to_string(op.kind));
  switch (data_type_of(op.kind)) {
    case DataType::map: return verb + " k" + std::to_string(op.key.value);
    case DataType::list: return verb + " item" + std::to_string(op.key.value);
    case DataType::counter: return verb + " by " + std::to_string(op.amount);
    case DataType::text: return verb + " at " + std::to_string(op.position_ppm) + " ppm of the length";
  }
  return verb;
}

/// A printer for an enum that has a to_string().
template <typename E>
struct EnumPrinter {
  static std::string convert(E value) { return std::string(to_string(value)); }
};

}  // namespace syncstorm::testing

namespace Catch {

template <>
struct StringMaker<syncstorm::OpId> {
  static std::string convert(syncstorm::OpId id) { return "op" + std::to_string(id.value); }
};

template <>
struct StringMaker<syncstorm::NodeId> {
  static std::string convert(syncstorm::NodeId id) { return "node " + std::to_string(id.value); }
};

template <>
struct StringMaker<syncstorm::KeyId> {
  static std::string convert(syncstorm::KeyId id) { return "k" + std::to_string(id.value); }
};

template <>
struct StringMaker<syncstorm::Duration> {
  static std::string convert(syncstorm::Duration d) {
    return d == syncstorm::Duration::max() ? "Duration::max()" : syncstorm::testing::milliseconds(d.us);
  }
};

template <>
struct StringMaker<syncstorm::Instant> {
  static std::string convert(syncstorm::Instant at) {
    return at == syncstorm::Instant::never() ? "never" : "at " + syncstorm::testing::milliseconds(at.us);
  }
};

template <>
struct StringMaker<syncstorm::Item> {
  static std::string convert(const syncstorm::Item& item) {
    return "item" + std::to_string(item.id.value) + "=op" + std::to_string(item.value.value);
  }
};

template <>
struct StringMaker<syncstorm::State> {
  static std::string convert(const syncstorm::State& state) {
    return std::string(to_string(state.type)) + " " + state.describe(std::numeric_limits<std::size_t>::max());
  }
};

template <>
struct StringMaker<syncstorm::Operation> {
  static std::string convert(const syncstorm::Operation& op) {
    return StringMaker<syncstorm::OpId>::convert(op.id) + " by " + StringMaker<syncstorm::NodeId>::convert(op.client) +
           " " + StringMaker<syncstorm::Instant>::convert(op.issued_at) + ": " + syncstorm::testing::action(op);
  }
};

template <>
struct StringMaker<syncstorm::Target> {
  static std::string convert(const syncstorm::Target& target) { return to_string(target); }
};

template <>
struct StringMaker<syncstorm::Involved> {
  static std::string convert(const syncstorm::Involved& involved) {
    return StringMaker<syncstorm::OpId>::convert(involved.op) + " (" + involved.role + ")";
  }
};

template <>
struct StringMaker<syncstorm::Violation> {
  static std::string convert(const syncstorm::Violation& v) {
    return std::string(to_string(v.invariant)) + " on " + v.subject + ": " + v.detail;
  }
};

template <>
struct StringMaker<syncstorm::Topology> {
  // The words of `syncstorm list`, which has no to_string() to call for this one.
  static std::string convert(syncstorm::Topology topology) {
    return topology == syncstorm::Topology::peer_to_peer ? "peer-to-peer" : "client-server";
  }
};

template <> struct StringMaker<syncstorm::Invariant> : syncstorm::testing::EnumPrinter<syncstorm::Invariant> {};
template <> struct StringMaker<syncstorm::Lifecycle> : syncstorm::testing::EnumPrinter<syncstorm::Lifecycle> {};
template <> struct StringMaker<syncstorm::DataType> : syncstorm::testing::EnumPrinter<syncstorm::DataType> {};
template <> struct StringMaker<syncstorm::OpKind> : syncstorm::testing::EnumPrinter<syncstorm::OpKind> {};
template <> struct StringMaker<syncstorm::SupersedeRule> : syncstorm::testing::EnumPrinter<syncstorm::SupersedeRule> {};
template <> struct StringMaker<syncstorm::FaultKind> : syncstorm::testing::EnumPrinter<syncstorm::FaultKind> {};
template <> struct StringMaker<syncstorm::PartitionShape> : syncstorm::testing::EnumPrinter<syncstorm::PartitionShape> {};

}  // namespace Catch
