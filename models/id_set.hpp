// A set of op ids as one sorted vector. Replicas ask "reported yet?" for every id they hold after
// every change, and add few: a binary search over contiguous memory answers that several times
// faster than a tree, and iteration is in id order, as std::set's is.
#pragma once

#include <algorithm>
#include <vector>

#include "sim/ids.hpp"

namespace syncstorm {

class IdSet {
 public:
  /// Adds `id`; returns whether it was new.
  bool insert(OpId id) {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it != ids_.end() && *it == id) return false;
    ids_.insert(it, id);
    return true;
  }
  bool contains(OpId id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  std::size_t size() const { return ids_.size(); }
  auto begin() const { return ids_.begin(); }
  auto end() const { return ids_.end(); }

 private:
  std::vector<OpId> ids_;
};

}  // namespace syncstorm
