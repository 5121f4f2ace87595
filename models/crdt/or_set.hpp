// The observed-remove set of list items (OR-set) shared by or-set-list, tombstone-ttl-list and
// union-set-list: the pure state type with its merge (for the RapidCheck laws), and the relay client
// and server, whose only difference between the three strategies is when tombstones are discarded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <boost/container/flat_map.hpp>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm::orset {

/// One add or update of an item: the tag is the writing operation's id, which is also its value.
struct Tag {
  KeyId key;
  std::uint64_t lamport = 0;  ///< Lamport time of the write; with the op id it orders concurrent writes
  NodeId origin;              ///< the client that wrote it (to tell own writes from remote ones)
  friend bool operator==(const Tag&, const Tag&) = default;
};

/// Why a tag is dead: the first operation (lowest id) that removed or superseded it.
struct Removal {
  OpId by;
  NodeId origin;
  friend bool operator==(const Removal&, const Removal&) = default;
};

/// A place in one server's log: the ops it accepted from its own clients, numbered from 1 in the
/// order it applied them, per incarnation (a server that lost its store starts a new log).
struct LogPosition {
  NodeId server;
  std::uint64_t incarnation = 0;
  std::uint64_t count = 0;  ///< 0: none (an op no server has accepted yet)
  friend bool operator==(const LogPosition&, const LogPosition&) = default;
};

/// How much of each server's log a replica holds: for each (server, incarnation), a count such that
/// the replica holds every op of that log up to it. It describes a state whose every op came by
/// way of a log held so: what a writer had seen, sent with its op, is what a server must hold before
/// applying the op (causal delivery across every item, not only the op's own).
class Frontier {
 public:
  /// Every entry, sorted by (server, incarnation); each count above 0.
  const std::vector<LogPosition>& entries() const { return entries_; }
  std::uint64_t count(NodeId server, std::uint64_t incarnation) const;
  /// Whether this holds every log through where `other` does.
  bool covers(const Frontier& other) const;
  /// Takes in that the log of `p` is held through `p` (the caller knows the ops before it are
  /// held too); true when it grew.
  bool advance(const LogPosition& p);
  /// advance(p) when `p` is the next place of its log or one already held, nothing otherwise (an op
  /// applied ahead of the one before it, only because too many waited, claims nothing).
  bool extend(const LogPosition& p) { return p.count <= count(p.server, p.incarnation) + 1 && advance(p); }
  /// Takes in every log `other` holds; true when anything grew.
  bool merge(const Frontier& other);
  void encode(Writer& w) const;
  /// False when the bytes are malformed.
  bool decode(Reader& r);
  friend bool operator==(const Frontier&, const Frontier&) = default;

 private:
  std::vector<LogPosition> entries_;
};

/// An operation as replicas exchange it: an add or update brings a new tag; a remove, an add and an
/// update all kill the tags of the same item their writer had observed.
struct Op {
  OpId id;
  NodeId origin;
  OpKind kind = OpKind::list_add;
  KeyId key;
  std::uint64_t lamport = 0;
  std::vector<OpId> observed;  ///< tags of `key` live at the writer when it wrote
  // What a server must hold before it applies the op (the writer's view of the item came from its
  // own server, which may be ahead of this one): the tags of `observed` that the writer had from
  // its server (its own unacknowledged writes travel with it: `observed` carries what they
  // killed), and the tags of `key` dead at the writer beyond `observed`, dead here too (a remove
  // leaves no tag, only its tombstones show it). Empty where servers do not wait.
  std::vector<OpId> present;
  std::vector<OpId> dead;
  /// What the writer's base held of the servers' logs (empty where servers do not wait): a server
  /// applies the op only once it holds as much, so no replica shows it ahead of a write, on any
  /// item, that its writer had seen.
  Frontier deps;
  /// The writer's previous operation still unacknowledged when it wrote (0 when none, and where
  /// servers do not wait): a server applies the op only after that one, so one user's operations
  /// are applied, and shown, in the order they were made, even when datagrams overtake each other.
  OpId after;
  LogPosition position;  ///< in the log of the server that accepted it from its client (set there)
  friend bool operator==(const Op&, const Op&) = default;
};

/// The state: every tag not yet discarded, and the tombstones. A tag is live when it has no
/// tombstone. Merge is a union of both maps, so it is commutative, associative and idempotent, and a
/// tombstone that arrives before its tag still kills it.
///
/// Both maps are sorted vectors (flat maps): replicas walk them whole to encode and show them and
/// insert a few entries, and tombstone collection keeps them to hundreds of entries, where a walk
/// over contiguous memory is several times faster than one over tree nodes and the insert's shift
/// costs about what a node allocation does. Every change goes through the methods below, which keep
/// the order-free content digest current.
class OrSet {
 public:
  using Tags = boost::container::flat_map<OpId, Tag>;
  using Removals = boost::container::flat_map<OpId, Removal>;

  const Tags& tags() const { return tags_; }
  const Removals& removed() const { return removed_; }
  bool live(OpId tag) const { return tags_.contains(tag) && !removed_.contains(tag); }
  /// Adds a tag unless it is already held; true when it was new.
  bool add(OpId id, const Tag& tag);
  /// Kills a tag (held or not yet arrived); true when its tombstone is new or now names a lower
  /// remover.
  bool remove(OpId tag, const Removal& removal);
  /// Forgets a tag and its tombstone entirely (tombstone collection).
  void discard(OpId tag);
  /// Discards every tag and tombstone whose id satisfies `predicate`.
  template <typename Predicate>
  void discard_where(Predicate predicate);
  void apply(const Op& op);
  void merge(const OrSet& other);
  /// Live tags of `key`, in id order.
  std::vector<OpId> live_tags(KeyId key) const;
  std::uint64_t max_lamport() const;
  /// The user-visible list: each item with a live tag, valued by its greatest (lamport, op id).
  State state() const;
  std::uint64_t metadata_bytes() const;
  /// A hash of the content, the same for equal sets whatever order their entries arrived in: what
  /// clients and servers compare to find that they differ. Kept current by every change.
  std::uint64_t digest() const { return digest_; }

  void encode(Writer& w) const;
  /// False (and a partial state) when the bytes are malformed.
  bool decode(Reader& r);
  friend bool operator==(const OrSet& a, const OrSet& b) { return a.tags_ == b.tags_ && a.removed_ == b.removed_; }

 private:
  static std::uint64_t term(OpId id, const Tag& tag);
  static std::uint64_t term(OpId id, const Removal& removal);

  Tags tags_;
  Removals removed_;
  std::uint64_t digest_ = 0;  ///< the sum of term() over every entry of both maps
};

template <typename Predicate>
void OrSet::discard_where(Predicate predicate) {
  // One pass over each sorted sequence, which stays sorted.
  auto discard_from = [&](auto& map) {
    auto sequence = map.extract_sequence();
    auto kept_end = std::remove_if(sequence.begin(), sequence.end(), [&](const auto& entry) {
      if (!predicate(entry.first)) return false;
      digest_ -= term(entry.first, entry.second);
      return true;
    });
    sequence.erase(kept_end, sequence.end());
    map.adopt_sequence(boost::container::ordered_unique_range, std::move(sequence));
  };
  discard_from(tags_);
  discard_from(removed_);
}

void encode_op(Writer& w, const Op& op);
std::optional<Op> decode_op(Reader& r);

/// When replicas discard tombstones: the one thing that differs between the three strategies.
enum class Collection : std::uint8_t {
  when_all_seen,  ///< correct: once every client and server has durably stored the tombstone
  after_ttl,      ///< buggy: after a fixed span of the node's local clock
  at_once,        ///< buggy: never kept (a plain union of live items)
};

struct Options {
  Collection collection = Collection::when_all_seen;
  Duration ttl = Duration::seconds(10);                 ///< after_ttl: how long a tombstone is kept
  Duration resend_interval = Duration::seconds(1);      ///< clients resend unacknowledged ops this often
  Duration server_sync_interval = Duration::seconds(2); ///< servers exchange full state this often
};

std::unique_ptr<Node> make_client(const Options& options);
std::unique_ptr<Node> make_server(const Options& options);

}  // namespace syncstorm::orset
