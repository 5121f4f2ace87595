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

#include "models/model.hpp"
#include "sim/codec.hpp"

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

struct Rga {
  std::map<OpId, Element> elements;
  std::map<OpId, Deletion> deleted;  ///< tombstones; kept, since a late insert may hang after them

  // Each returns whether the state grew: replicas skip their follow-up work when it did not.
  bool insert(OpId id, const Element& element);
  bool erase(OpId target, const Deletion& deletion);
  bool apply(const Op& op);
  bool merge(const Rga& other);
  /// The visible elements in order (elements whose parent has not arrived yet are not shown).
  std::vector<OpId> visible() const;
  std::uint64_t max_lamport() const;
  State state() const;
  std::uint64_t metadata_bytes() const;

  void encode(Writer& w) const;
  bool decode(Reader& r);
  friend bool operator==(const Rga&, const Rga&) = default;
};

void encode_op(Writer& w, const Op& op);
std::optional<Op> decode_op(Reader& r);

/// Where an operation at `position_ppm` of a text of `length` elements lands.
std::size_t index_at(std::uint32_t position_ppm, std::size_t length);

}  // namespace syncstorm::rga
