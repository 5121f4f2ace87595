// What a run leaves for the checkers: every operation with its causal past and what its user saw,
// and every node's final state. The simulator fills it from its own envelopes, never from a model's
// internals, so the checkers judge every strategy by the same facts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sim/base/data.hpp"
#include "sim/base/ids.hpp"
#include "sim/base/time.hpp"

namespace syncstorm {

/// A node's knowledge of user operations: for each client, how many of its operations the node could
/// have seen (through the messages delivered to it), less the gaps among them it could not. Sparse
/// and sorted by node: only clients that issued operations appear, so its size grows with writers,
/// not with nodes. Gaps are rare: a message that carries a newer write of its sender without an
/// older one (a Yjs delete needs nothing before it), declared by the sender
/// (Context::send_without_own_writes).
class CausalPast {
 public:
  using Entry = std::pair<NodeId, std::uint32_t>;
  /// Operations `first` to `last` of `client` (1-based, inclusive), which the past lacks although
  /// it holds a later one of the same client.
  struct Gap {
    NodeId client;
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    bool operator==(const Gap&) const = default;
  };

  /// The highest operation number of `client` the node could have seen (gaps below it aside).
  std::uint32_t seen_from(NodeId client) const;
  /// Whether the node could have seen operation number `sequence` (1-based) of `client`.
  bool sees(NodeId client, std::uint32_t sequence) const;
  /// Takes in everything `other` could have seen; returns whether anything grew. `*became_other`
  /// (when given) says whether the result equals `other`.
  bool merge(const CausalPast& other, bool* became_other = nullptr);
  /// Records the next operation of `client`; returns its 1-based sequence number.
  std::uint32_t advance(NodeId client);
  /// Lowers `client`'s count to at most `count` (a message that carries only some of its writes).
  void lower(NodeId client, std::uint32_t count);
  /// Takes operations `sequences` of `client` out of the past (a message that carries some of its
  /// sender's writes but not these). Numbers above the client's count are ignored.
  void exclude(NodeId client, std::vector<std::uint32_t> sequences);
  /// Keeps only the operations `other` could have seen too (a message that carries one operation's
  /// past, as far as its sender holds it).
  void intersect_with(const CausalPast& other);
  std::size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }
  /// Sorted by client, then by first; disjoint and not adjacent; each below its client's count.
  const std::vector<Gap>& gaps() const { return gaps_; }
  bool operator==(const CausalPast&) const = default;

 private:
  /// merge() for pasts of which at least one has gaps: rare, so it builds the result afresh.
  bool merge_with_gaps(const CausalPast& other, bool* became_other);
  /// Entry-wise maximum of the counts, gaps aside (merge's fast path).
  bool merge_counts(const CausalPast& other, bool* became_other);
  /// Restores the gaps' invariant for `client`: a gap that reaches its count lowers the count.
  void settle(NodeId client);

  std::vector<Entry> entries_;
  std::vector<Gap> gaps_;
};

struct OpRecord {
  Operation op;
  bool issued = false;                   ///< false when its client was down and the intent was lost
  std::uint32_t sequence = 0;            ///< 1-based among its client's operations
  std::shared_ptr<const CausalPast> past;  ///< what its client had seen when it issued it (itself included)
  std::optional<Instant> applied;
  std::optional<Instant> acknowledged;
  std::optional<Instant> rejected;
  OpId target;  ///< text delete: the element it removed (as its replica reported)
  /// Map and list runs: writes of the same field or item its client had reported `seen`
  /// before it issued this one, the latest kSeenBeforeMax of them. The server had applied each of
  /// them before this write existed, so none may be ordered after it.
  std::vector<OpId> seen_before;
  /// Runs of a model that promises writes follow reads: writes of other fields or items that its
  /// user had read before issuing this one (other users' writes and removes its client reported
  /// `seen`, and its own its client applied), the latest of each key, at most kReadBeforeMax. A
  /// replica that shows this write must show them too, or a value that may supersede them; for a
  /// remove, not the value it took away (its target) nor one ordered before that.
  std::vector<OpId> read_before;
};

/// How many seen writes per client and key OpRecord::seen_before keeps. A bound on memory, not on
/// soundness: a write the record forgot is only treated as one the server could have ordered later,
/// or that a view may show after this one, unless a chain through the writes still recorded orders
/// it first; a finding may be missed, a false one is never raised.
inline constexpr std::size_t kSeenBeforeMax = 4;

/// How many reads of other keys OpRecord::read_before keeps, the latest first. A bound on memory, not
/// on soundness: a read the record forgot is only not judged; a false finding is never raised.
inline constexpr std::size_t kReadBeforeMax = 8;

/// A client replica's view of a field or item going from one write's value to an earlier-issued
/// write's value, or to nothing, between two samples: the raw material of the session checks
/// (monotonic reads, read-your-writes), which decide whether the strategy's rule allows it.
struct ViewRegression {
  NodeId node;
  Instant at;     ///< the sample that saw the new view
  KeyId key;
  OpId from;      ///< the value shown at the sample before
  OpId to;        ///< the value shown now; zero when the field or item vanished
  /// What the messages delivered to the node by that sample carried (held ones included): only a
  /// remove in it (or the node's own) can explain a vanished item. Null in a hand-built history:
  /// anything.
  std::shared_ptr<const CausalPast> past{};
};

/// How many view regressions a run records; later ones are not judged. A bound on memory for runs
/// that go badly wrong, not on soundness: a regression not recorded is only a finding missed.
inline constexpr std::size_t kViewRegressionsMax = 4'096;

/// A sampled client view that shows another user's write (`shown`) beside something other than
/// a write that user had read before making it (`read`, of another key): the key shows `instead`, an
/// earlier-issued write, or nothing. The raw material of the writes-follow-reads check, which asks
/// whether users saw `instead` ordered before `read`, or a remove that had reached the node explains
/// the absence (`read` by the writer's own earlier write: judged as monotonic writes; a remove read,
/// the writer's own or one it saw, is recorded only when the view still shows a value of its item,
/// and breaks the promise when that is the value it took away or older). Recorded only
/// for a model that promises writes follow reads or writes in order.
struct ReadGap {
  NodeId node;
  Instant at;       ///< the sample
  OpId shown;       ///< another user's write the view shows
  OpId read;        ///< what that user had read before writing it
  OpId instead;     ///< what the view shows for read's key; zero when nothing
  std::shared_ptr<const CausalPast> past{};  ///< as ViewRegression::past
};

/// How many read gaps a run records; later ones are not judged (a bound on memory, as
/// kViewRegressionsMax).
inline constexpr std::size_t kReadGapsMax = 4'096;

/// What a node held at one moment: its sync metadata beside the state that metadata serves.
struct MetadataSample {
  bool taken = false;            ///< false when the node was down (or is untrusted) at that moment
  std::uint64_t bytes = 0;       ///< Node::metadata_bytes()
  std::uint32_t visible = 0;     ///< visible_elements() of its state
  std::uint32_t writers = 0;     ///< clients whose operations it could have seen (its causal past)
};

/// Fields of a map, items of a list, elements of a text; a counter is one element.
inline std::uint32_t visible_elements(const std::optional<State>& state) {
  if (!state) return 0;
  switch (state->type) {
    case DataType::map: return static_cast<std::uint32_t>(state->fields.size());
    case DataType::list: return static_cast<std::uint32_t>(state->items.size());
    case DataType::text: return static_cast<std::uint32_t>(state->text.size());
    case DataType::counter: return 1;
  }
  return 0;
}

/// Every node's metadata just before one operation of the schedule was due, for the growth check.
struct MetadataSampling {
  OpId before;                         ///< taken just before this operation was due
  std::vector<MetadataSample> nodes;   ///< by node index
};

struct NodeFinal {
  NodeId node;
  bool server = false;
  bool live = true;               ///< up at the end of the run
  std::optional<State> state;     ///< nullopt for nodes that hold no state
  std::uint64_t metadata_bytes = 0;
  std::uint32_t writers = 0;      ///< clients whose operations it could have seen, at the end
  /// Everything the messages delivered to it over the run carried, held ones included (a past only
  /// grows): an operation outside it can have changed nothing it shows, unless it is the node's own.
  /// Null in a hand-built history: anything.
  std::shared_ptr<const CausalPast> past{};
};

struct History {
  DataType type = DataType::map;
  SupersedeRule rule = SupersedeRule::last_writer_wins;
  std::vector<OpRecord> ops;  ///< ops[i].op.id.value == i + 1
  std::vector<NodeFinal> finals;
  Instant last_heal;
  Instant end;
  std::optional<Instant> converged_at;  ///< first moment after the heal from which all states agreed
  /// When the last client that was without its stream connection at the heal (waiting out its
  /// reconnect backoff, or a connect attempt begun inside the fault) had one again; none when no
  /// client was without it. The backoff is the scenario's, the same for every strategy: the
  /// convergence bound runs from here, so that it judges the strategy's resync, not the wait.
  std::optional<Instant> clients_back;
  /// Clients a malicious fault turns hostile (sorted). Their users are not honest: the checkers
  /// promise them nothing (their own writes may be lost, their replicas are not judged), but their
  /// issued operations stay real writes that may appear in, and supersede values on, honest replicas.
  std::vector<NodeId> untrusted;
  /// Client views sampled every 100 ms of the run (map and list only), in sample order.
  std::vector<ViewRegression> view_regressions;
  /// Whether the model promises writes follow reads (ModelInfo::writes_follow_reads), and, when it
  /// does, the sampled views that showed a write without something its writer had read.
  bool writes_follow_reads = false;
  /// Whether the model promises one user's writes of different keys are seen in the order they were
  /// made (ModelInfo::writes_in_order). Either promise records read gaps; this one's are judged as
  /// monotonic writes.
  bool writes_in_order = false;
  std::vector<ReadGap> read_gaps;

  /// Samples taken during the writes (MetadataSampling), oldest first, and which nodes the model's
  /// MetadataGrowth declaration lets the growth check judge.
  std::vector<MetadataSampling> metadata_samples;
  bool metadata_bound_applies = true;  ///< false: the model keeps every change by design (MetadataGrowth)
  bool growth_judges_clients = true;
  bool growth_judges_servers = true;

  const OpRecord& record(OpId id) const { return ops.at(id.value - 1); }
  /// Whether `a` happened before `b`: `b`'s client could have seen `a` when it issued `b`.
  bool happened_before(OpId a, OpId b) const;
  bool concurrent(OpId a, OpId b) const { return !happened_before(a, b) && !happened_before(b, a); }
  bool is_untrusted(NodeId node) const { return std::binary_search(untrusted.begin(), untrusted.end(), node); }
};

}  // namespace syncstorm
