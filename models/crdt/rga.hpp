// The replicated growable array (RGA) behind rga-text: the pure state type and its merge, exposed
// for the RapidCheck laws. Each element is named by the operation that inserted it and hangs after
// the element its writer saw to its left (its parent). Siblings are ordered newest first by
// (Lamport time, op id), so an insert lands right after its parent on every replica, whatever the
// delivery order. Deletes leave tombstones: a deleted element still anchors the ones after it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <boost/container/flat_map.hpp>

#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm::rga {

struct Element {
  OpId parent;                ///< the element to its left when it was inserted; 0 is the start
  std::uint64_t lamport = 0;  ///< orders siblings: a later insert after the same parent comes first
  NodeId origin;              ///< the client that inserted it
  friend bool operator==(const Element&, const Element&) = default;
};

struct Deletion {
  OpId by;  ///< the lowest id among the deletes of this element (merge order never matters)
  NodeId origin;
  friend bool operator==(const Deletion&, const Deletion&) = default;
};

/// An insert names its parent; a delete names its target (0: the text was empty, nothing to do).
struct Op {
  OpId id;
  NodeId origin;
  OpKind kind = OpKind::text_insert;
  OpId ref;                   ///< insert: the parent; delete: the target
  std::uint64_t lamport = 0;  ///< insert only
  friend bool operator==(const Op&, const Op&) = default;
};

/// The state keeps, beside its two maps, what replicas read after every change: the text order
/// (kept current insert by insert instead of re-walked on every read), a digest of the content and
/// the highest Lamport time. All three are functions of the two maps alone, whatever the order
/// the operations arrived in, so two states with the same maps are equal.
class Rga {
 public:
  // Sorted vectors (flat maps): replicas look up every op of every full state they receive, and a
  // new op's id is nearly always the highest yet, so an insert is an append.
  using Elements = boost::container::flat_map<OpId, Element>;
  using Deletions = boost::container::flat_map<OpId, Deletion>;

  const Elements& elements() const { return elements_; }
  /// Tombstones; kept, since a late insert may hang after them.
  const Deletions& deleted() const { return deleted_; }

  // Each returns whether the state grew: replicas skip their follow-up work when it did not.
  bool insert(OpId id, const Element& element);
  bool erase(OpId target, const Deletion& deletion);
  bool apply(const Op& op);
  bool merge(const Rga& other);
  /// The visible elements in order (elements whose parent has not arrived yet are not shown).
  std::vector<OpId> visible() const;
  std::uint64_t max_lamport() const { return max_lamport_; }
  /// A hash of the content that does not depend on the order operations arrived in: equal states
  /// have equal digests. O(1): kept current by insert and erase.
  std::uint64_t digest() const { return digest_; }
  State state() const;
  std::uint64_t metadata_bytes() const;

  void encode(Writer& w) const;
  bool decode(Reader& r);
  friend bool operator==(const Rga& a, const Rga& b) {
    return a.elements_ == b.elements_ && a.deleted_ == b.deleted_;
  }

 private:
  /// One element in text order. Depth-first order with the depth of each element is enough to
  /// find a subtree's end, which is what placing a new element needs.
  struct Slot {
    OpId id;
    std::uint64_t lamport = 0;
    std::uint32_t depth = 0;  ///< 1 for a child of the start
    bool dead = false;        ///< a tombstone
  };

  void place_with_waiting_children(OpId id);
  /// Puts `id` among its parent's children in sibling order; false when the parent is not placed.
  bool place(OpId id, const Element& element);

  Elements elements_;
  Deletions deleted_;
  std::vector<Slot> order_;  ///< every element reachable from the start, tombstones included
  /// Elements whose parent has not arrived (or is not reachable yet), by that parent.
  std::map<OpId, std::vector<OpId>> waiting_for_parent_;
  std::uint64_t digest_ = 0;
  std::uint64_t max_lamport_ = 0;
};

void encode_op(Writer& w, const Op& op);
std::optional<Op> decode_op(Reader& r);
/// A whole state (Rga::encode's bytes) as the operations that make it, in the order Rga::merge
/// applies them: inserts by op id (the first of duplicates), then deletes by target (the lowest
/// deleter of each). nullopt when the bytes are malformed. Cheaper than decoding into an Rga when
/// the operations only pass through: no text order is built.
std::optional<std::vector<Op>> decode_ops(Reader& r);

/// Where an operation at `position_ppm` of a text of `length` elements lands.
std::size_t index_at(std::uint32_t position_ppm, std::size_t length);

}  // namespace syncstorm::rga
