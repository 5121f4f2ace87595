// What replicas share and what users do to it: the four data types real apps share, the user
// operations on them, and the canonical user-visible state the checkers compare byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/base/enum_names.hpp"
#include "sim/base/ids.hpp"
#include "sim/base/time.hpp"

namespace syncstorm {

/// The shape of shared state a strategy syncs.
enum class DataType : std::uint8_t {
  map,      ///< fields with values: settings, forms, dashboard cards
  list,     ///< items with unique ids: a todo list, a board
  counter,  ///< a number users add to: likes, aggregates
  text,     ///< a character sequence edited collaboratively
};

inline constexpr std::pair<DataType, std::string_view> kDataTypeNames[] = {
    {DataType::map, "map"}, {DataType::list, "list"}, {DataType::counter, "counter"}, {DataType::text, "text"}};
std::string_view to_string(DataType type);
std::optional<DataType> parse_data_type(std::string_view text);

enum class OpKind : std::uint8_t {
  map_set,      ///< field `key` := this operation's id
  list_add,     ///< add item `key` with value := this operation's id
  list_update,  ///< item `key`'s value := this operation's id
  list_remove,  ///< remove item `key`; its replica reports the value it took away as the target
  counter_add,  ///< counter += amount
  text_insert,  ///< insert one element (named by this operation's id) at `position_ppm` of the length
  text_delete,  ///< delete the element at `position_ppm` of the length (if any)
};

/// The names scenario files, traces and repro files use for operations.
inline constexpr std::pair<OpKind, std::string_view> kOpKindNames[] = {
    {OpKind::map_set, "set"},         {OpKind::list_add, "add"},       {OpKind::list_update, "update"},
    {OpKind::list_remove, "remove"},  {OpKind::counter_add, "increment"}, {OpKind::text_insert, "insert"},
    {OpKind::text_delete, "delete"}};
std::string_view to_string(OpKind kind);
std::optional<OpKind> parse_op_kind(std::string_view text);
DataType data_type_of(OpKind kind);

/// A user's intent. Intents are drawn before the run from the seed alone, so every strategy faces
/// the same users; the value an operation writes is its own id, so every written value is unique.
struct Operation {
  OpId id;
  NodeId client;
  Instant issued_at;
  OpKind kind = OpKind::map_set;
  KeyId key;                      ///< the field or item (map and list)
  std::int64_t amount = 0;        ///< counter delta
  std::uint32_t position_ppm = 0; ///< text position as parts per million of the replica's current length

  /// Bytes a client would send for this operation on the wire, for size accounting of intents.
  std::string encode() const;
  static std::optional<Operation> decode(std::string_view bytes);
  friend bool operator==(const Operation&, const Operation&) = default;
};

/// One item of a list: its id and the operation whose value it holds.
struct Item {
  KeyId id;
  OpId value;
  friend bool operator==(const Item&, const Item&) = default;
};

/// A replica's user-visible state in canonical form. Two states that show the user the same thing
/// are equal here and encode to the same bytes.
struct State {
  DataType type = DataType::map;
  std::vector<std::pair<KeyId, OpId>> fields;  ///< map: sorted by key, one value per field
  std::vector<Item> items;                     ///< list: in list order (may be sorted by the model)
  std::int64_t counter = 0;                    ///< counter
  std::vector<OpId> text;                      ///< text: the inserting operation of each element, in order

  std::string encode() const;
  /// A hash of encode(): the value traces record for final states.
  std::uint64_t digest() const;
  /// Another hash of the same content, a word at a time and without encoding (several times faster
  /// than digest()'s byte-at-a-time FNV): for telling states apart within one run, as convergence
  /// sampling does after every touched node's change. Never recorded, so it may change freely.
  std::uint64_t fingerprint() const;
  /// A short human-readable rendering for violation reports.
  std::string describe(std::size_t max_entries = 12) const;
  friend bool operator==(const State&, const State&) = default;
};

/// What the user saw happen to an operation.
enum class Lifecycle : std::uint8_t {
  applied,       ///< visible to its own user
  acknowledged,  ///< the strategy told the user it is saved
  rejected,      ///< the user was told it failed
  seen,          ///< another user's operation became visible here (for remote latency only)
};
inline constexpr std::pair<Lifecycle, std::string_view> kLifecycleNames[] = {
    {Lifecycle::applied, "applied"}, {Lifecycle::acknowledged, "acknowledged"},
    {Lifecycle::rejected, "rejected"}, {Lifecycle::seen, "seen"}};
std::string_view to_string(Lifecycle lifecycle);

/// How a strategy says writes supersede one another. The checkers ask this, never the model's code.
enum class SupersedeRule : std::uint8_t {
  last_writer_wins,  ///< a concurrent or later write to the same field may win
  add_wins,          ///< a remove only removes the adds and updates it has seen
  remove_wins,       ///< a concurrent remove wins over an add
  server_order,      ///< the server serialises; any write it orders later wins
};
inline constexpr std::pair<SupersedeRule, std::string_view> kSupersedeRuleNames[] = {
    {SupersedeRule::last_writer_wins, "last-writer-wins"}, {SupersedeRule::add_wins, "add-wins"},
    {SupersedeRule::remove_wins, "remove-wins"}, {SupersedeRule::server_order, "server-order"}};
std::string_view to_string(SupersedeRule rule);
/// One line saying which writes the rule lets supersede which, for `syncstorm list`.
std::string_view describe(SupersedeRule rule);
inline constexpr SupersedeRule kAllSupersedeRules[] = {
    SupersedeRule::last_writer_wins, SupersedeRule::add_wins, SupersedeRule::remove_wins, SupersedeRule::server_order};

}  // namespace syncstorm
