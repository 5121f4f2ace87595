// The malicious-client fault's traffic: hostile messages the engine mixes into an attacker client's
// stream to its server. The engine, not the model, makes them, so every model meets the same attack
// and a model's own client code need not know about it. Every draw comes from the attacker's own
// stream, derived from (run seed, "malicious", node): adding an attacker shifts nothing else.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "sim/base/ids.hpp"
#include "sim/base/rng.hpp"

namespace syncstorm {

/// What a hostile message is. The four kinds a defensive server must survive without knowing the
/// attacker: bytes that decode to nothing, a cut-off real message, another user's message sent
/// again under the attacker's connection (a forged author at the transport level), and a message
/// far larger than any honest one.
enum class HostileKind : std::uint8_t { garbage, truncated, replayed, oversized };

class HostileTraffic {
 public:
  explicit HostileTraffic(std::uint64_t seed) : seed_(seed) {}

  /// Records a client's message as a server received it: the material for truncations and replays.
  void remember(NodeId from, NodeId to, std::string_view payload);

  /// One hostile message from `attacker` to `server`, at most `bytes_max` long (at least 64).
  /// `kind` receives what it is.
  std::string craft(NodeId attacker, NodeId server, std::uint64_t bytes_max, HostileKind& kind);

 private:
  struct Remembered {
    NodeId from;
    NodeId to;
    std::string payload;
  };
  /// How many received messages are kept; replays draw from the latest of them.
  static constexpr std::size_t kRemembered = 64;
  /// Longer messages are not kept (a snapshot of a large state): memory stays bounded.
  static constexpr std::size_t kRememberedBytesMax = 64 * 1024;
  /// The longest garbage message, in bytes.
  static constexpr std::int64_t kGarbageBytesMax = 256;

  Rng& rng_of(NodeId attacker);
  std::string garbage(Rng& rng, std::uint64_t bytes_max);
  const Remembered* latest_from(NodeId attacker) const;

  std::uint64_t seed_;
  std::deque<Remembered> remembered_;  ///< in arrival order, the oldest first
  std::map<NodeId, Rng> rngs_;  ///< per attacker; an ordered map, so no order depends on hashing
};

}  // namespace syncstorm
