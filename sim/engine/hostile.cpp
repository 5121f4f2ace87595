#include "sim/engine/hostile.hpp"

#include <algorithm>
#include <vector>

namespace syncstorm {

void HostileTraffic::remember(NodeId from, NodeId to, std::string_view payload) {
  if (payload.size() > kRememberedBytesMax) return;
  remembered_.push_back(Remembered{from, to, std::string(payload)});
  if (remembered_.size() > kRemembered) remembered_.pop_front();
}

Rng& HostileTraffic::rng_of(NodeId attacker) {
  auto it = rngs_.find(attacker);
  if (it == rngs_.end()) it = rngs_.emplace(attacker, Rng::derive(seed_, "malicious", attacker.value)).first;
  return it->second;
}

std::string HostileTraffic::garbage(Rng& rng, std::uint64_t bytes_max) {
  const std::int64_t most = std::min<std::int64_t>(kGarbageBytesMax, static_cast<std::int64_t>(bytes_max));
  std::string junk(static_cast<std::size_t>(rng.between(1, most)), '\0');
  for (char& c : junk) c = static_cast<char>(rng.below(256));
  return junk;
}

const HostileTraffic::Remembered* HostileTraffic::latest_from(NodeId attacker) const {
  for (auto it = remembered_.rbegin(); it != remembered_.rend(); ++it) {
    if (it->from == attacker) return &*it;
  }
  return nullptr;
}

std::string HostileTraffic::craft(NodeId attacker, NodeId server, std::uint64_t bytes_max, HostileKind& kind) {
  Rng& rng = rng_of(attacker);
  kind = static_cast<HostileKind>(rng.below(4));
  const Remembered* own = latest_from(attacker);
  switch (kind) {
    case HostileKind::garbage: break;
    case HostileKind::truncated:
      if (own != nullptr && own->payload.size() >= 2) {
        const auto keep = rng.between(1, static_cast<std::int64_t>(own->payload.size()) - 1);
        return own->payload.substr(0, static_cast<std::size_t>(keep));
      }
      break;
    case HostileKind::replayed: {
      // Only messages the same server already received: it has merged their causal past, so the
      // engine's happens-before stays exact although the copy travels in the attacker's envelope.
      std::vector<const Remembered*> others;
      for (const Remembered& r : remembered_) {
        if (r.from != attacker && r.to == server) others.push_back(&r);
      }
      if (!others.empty()) return others[rng.below(others.size())]->payload;
      break;
    }
    case HostileKind::oversized: {
      // A real message (so a careless decoder reads a valid prefix) padded far beyond any honest size.
      std::string big = own != nullptr ? own->payload : garbage(rng, bytes_max);
      const auto total = rng.between(static_cast<std::int64_t>(bytes_max / 2), static_cast<std::int64_t>(bytes_max));
      big.resize(static_cast<std::size_t>(total), static_cast<char>(rng.below(256)));
      return big;
    }
  }
  kind = HostileKind::garbage;
  return garbage(rng, bytes_max);
}

}  // namespace syncstorm
