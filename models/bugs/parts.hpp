// The correct strategies the bug suite's models deviate from, restated with seams: each bug file
// derives from one of these and overrides the one method its team got wrong, so the distance from
// the correct code is the override and nothing else.
//
// - MapClient and MapServer are outbox-map (models/strategies/outbox_map.cpp): a server-ordered map;
//   clients keep unanswered writes in a durable outbox and resend them oldest first on every connect;
//   the server applies each write once (per-client marks), flushes, acknowledges, and pushes it to
//   every connected client; a client that connects receives the whole state. The only addition is a
//   mutation number on the wire (the operation id, which grows with issue time): the number the
//   server de-duplicates by, as Replicache's mutation ids are.
// - CounterClient and CounterServer are a delta counter with de-duplication (what counter-no-dedup
//   lacks): clients send each increment as a delta, keep it until acknowledged and resend it on
//   every connect; the server counts each delta once (per-client marks), flushes, acknowledges with
//   its total and pushes the total to every connected client. One server: the counter bugs are meant
//   for single-server scenarios, and a client talks only to the server it is connected to.
//
// Every model here is a deliberately buggy baseline registered in the bug-suite group
// (ModelInfo::bug_suite): `list` shows them under their own heading, and commands that run every
// model by default leave them out unless named. bug_suite_model() builds that ModelInfo.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "models/kit/client_marks.hpp"
#include "models/kit/fields.hpp"
#include "models/kit/server_mirror.hpp"
#include "models/model.hpp"
#include "sim/base/codec.hpp"

namespace syncstorm::bugs {

// ---- the map: outbox-map with seams ----

enum MapTag : std::uint8_t { kMapOp = 1, kMapAck = 2, kMapSnapshot = 3, kMapUpdate = 4 };

/// kMapOp: the mutation number the server de-duplicates by, then the operation.
std::string map_op_message(std::uint64_t mutation, const Operation& op);

class MapClient : public Node {
 public:
  void on_start(Context& ctx) override { mirror_.restore(ctx); }
  void on_user_operation(Context& ctx, const Operation& op) override;
  void on_message(Context& ctx, NodeId from, std::string_view payload) override;
  /// Resends every unanswered write, oldest first.
  void on_connected(Context& ctx, NodeId peer) override;
  std::optional<State> state() const override { return mirror_.state(); }
  std::uint64_t metadata_bytes() const override { return mirror_.outbox().size() * sizeof(Operation); }

 protected:
  /// The mutation number of a new write, kept with it in the outbox (Outbox::Entry::base).
  virtual std::uint64_t next_mutation(Context& ctx, const Operation& op);
  /// Sends one pending write; false when the connection is down.
  bool send_pending(Context& ctx, NodeId server, const Outbox::Entry& entry);

  ServerMirror mirror_;
};

class MapServer : public Node {
 public:
  void on_start(Context& ctx) override;
  void on_message(Context& ctx, NodeId from, std::string_view payload) override;
  void on_connected(Context& ctx, NodeId peer) override;
  std::optional<State> state() const override { return to_state(fields_); }
  std::uint64_t metadata_bytes() const override { return marks_.metadata_bytes(); }

 protected:
  /// Applies `op` unless its mutation was applied before; writes the records, does not flush.
  virtual bool apply(Context& ctx, std::uint64_t mutation, const Operation& op);
  /// Makes the applied write durable before anyone hears of it.
  virtual void make_durable(Context& ctx) { ctx.store().flush(); }
  void broadcast(Context& ctx, const std::string& message) const;

  Fields fields_;
  ClientMarks marks_;
};

// ---- the counter: a delta counter with de-duplication ----

enum CounterTag : std::uint8_t {
  kDelta = 1,  ///< client -> server: u64 op, i64 amount
  kCounted = 2,  ///< server -> sender: u64 op, i64 total after counting it
  kTotal = 3,  ///< server -> clients: i64 total, u64 op that changed it (0 on connect), u32 writer
};

class CounterClient : public Node {
 public:
  void on_start(Context& ctx) override;
  void on_user_operation(Context& ctx, const Operation& op) override;
  void on_message(Context& ctx, NodeId from, std::string_view payload) override;
  /// Resends every unacknowledged delta, oldest first.
  void on_connected(Context& ctx, NodeId peer) override;
  std::optional<State> state() const override;
  std::uint64_t metadata_bytes() const override { return pending_.size() * (sizeof(OpId) + sizeof(std::int64_t)); }

 protected:
  /// The server's total arrived (on connect, op is invalid).
  virtual void on_total(Context& ctx, std::int64_t total, OpId op, NodeId writer);
  void persist_pending(Context& ctx, OpId op, std::int64_t amount);
  void erase_pending(Context& ctx, OpId op);

  std::int64_t server_total_ = 0;           ///< the last total the server sent
  std::map<OpId, std::int64_t> pending_;  ///< applied here, not yet acknowledged; durable
};

class CounterServer : public Node {
 public:
  void on_start(Context& ctx) override;
  void on_message(Context& ctx, NodeId from, std::string_view payload) override;
  void on_connected(Context& ctx, NodeId peer) override;
  std::optional<State> state() const override;
  std::uint64_t metadata_bytes() const override { return marks_.metadata_bytes(); }

 protected:
  /// Whether the delta `op` of `writer` is counted for the first time (then it is remembered).
  virtual bool first_time(Context& ctx, NodeId writer, OpId op) { return marks_.first_time(ctx, writer, op); }
  /// Records the counted delta (not flushed: on_message flushes before acknowledging).
  virtual void record(Context& ctx, OpId op, std::int64_t amount);
  void broadcast(Context& ctx, const std::string& message) const;

  std::int64_t total_ = 0;
  ClientMarks marks_;
};

/// A bug-suite ModelInfo: server-ordered map or last-writer-wins counter, breaking `breaks`.
ModelInfo bug_suite_model(std::string name, std::string description, DataType type, Invariant breaks,
                          std::function<std::unique_ptr<Node>(NodeId)> make_client,
                          std::function<std::unique_ptr<Node>(NodeId)> make_server);

/// The correct strategies above as models of their own, registered nowhere: the bug-suite tests run
/// them on the seeds that catch each bug, to show the seams alone change nothing.
ModelInfo reference_map_model();
ModelInfo reference_counter_model();

}  // namespace syncstorm::bugs
