// Fuzzes every shipped in-process model's message decoders. A small in-memory cluster (one server,
// two clients: tests/models/harness.hpp) runs a script read from the fuzz input: user operations,
// deliveries of the messages the model really sent, deliveries of those messages mutated (cut short,
// a byte flipped, delivered twice) and raw bytes from the input delivered to a client or the server,
// as a malicious client, a corrupting proxy or a buggy peer would send them, disconnections, and
// crashes with restarts from what the store kept. A model may ignore or
// reject any message; it must never crash, fail an assertion or hit undefined behaviour.
//
// Input: byte 0 picks the model (in registry order, external models left out); then commands, each
// one byte (see the switch) followed by its arguments. A missing argument reads as zero, so every
// input is a valid script.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "tests/models/harness.hpp"

namespace {

using namespace syncstorm;

/// Limits that keep one input cheap: the fuzzer runs thousands of them a second.
constexpr std::size_t kCommandsMax = 256;
constexpr std::size_t kDeliveriesPerFlush = 256;
constexpr std::size_t kQueueMax = 4'096;
constexpr std::uint32_t kClients = 2;
constexpr std::uint32_t kKeys = 8;

/// The fuzz input as a stream of bytes that reads zeros once it is used up.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::string bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    std::string out(reinterpret_cast<const char*>(data_) + at_, n);
    at_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

/// The shipped models that run in this process, in registry order.
const std::vector<const ModelInfo*>& in_process_models() {
  static const ModelRegistry registry = shipped_models();  // read only after it is built
  static const std::vector<const ModelInfo*> models = [] {
    std::vector<const ModelInfo*> out;
    for (const ModelInfo& m : registry.all()) {
      if (!m.external) out.push_back(&m);
    }
    return out;
  }();
  return models;
}

/// What the cluster's users do, fitted to the model's data type (as the engine's workload does).
class Users {
 public:
  explicit Users(DataType type) : type_(type) {}

  void act(testing::Cluster& cluster, Input& in) {
    const std::uint32_t client = in.u8() % kClients;
    const std::uint8_t choice = in.u8();
    const std::uint8_t arg = in.u8();
    switch (type_) {
      case DataType::map: cluster.user(client, OpKind::map_set, arg % kKeys); break;
      case DataType::counter: cluster.user(client, OpKind::counter_add, 0, static_cast<std::int8_t>(arg)); break;
      case DataType::text:
        cluster.user(client, choice % 2 == 0 ? OpKind::text_insert : OpKind::text_delete, 0, 0, arg * 3'922u);
        break;
      case DataType::list:
        if (choice % 3 == 0 || next_item_ == 0) {
          cluster.user(client, OpKind::list_add, next_item_++);
        } else {
          cluster.user(client, choice % 3 == 1 ? OpKind::list_update : OpKind::list_remove, arg % next_item_);
        }
        break;
    }
  }

 private:
  DataType type_;
  std::uint32_t next_item_ = 0;  ///< list items get new ids, as the workload gives them
};

/// Delivers the queued message at `index` with `payload` in place of its own.
void deliver(testing::Cluster& cluster, std::size_t index, const std::string& payload, bool keep) {
  const testing::Envelope e = cluster.queue[index];
  if (!keep) cluster.queue.erase(cluster.queue.begin() + static_cast<std::ptrdiff_t>(index));
  if (!cluster.link_up(e.from, e.to)) return;
  cluster.node(e.to).on_message(cluster.context(e.to), e.from, payload);
}

/// A queued message, cut short, with one byte changed, or delivered and kept for a second delivery.
void deliver_mutated(testing::Cluster& cluster, Input& in) {
  if (cluster.queue.empty()) return;
  const std::size_t index = in.u8() % cluster.queue.size();
  std::string payload = cluster.queue[index].payload;
  const std::uint8_t how = in.u8();
  const std::uint16_t where = in.u16();
  const std::uint8_t value = in.u8();
  switch (how % 3) {
    case 0: payload.resize(payload.empty() ? 0 : where % payload.size()); break;
    case 1:
      if (!payload.empty()) payload[where % payload.size()] ^= static_cast<char>(value | 1);
      break;
    case 2: break;  // a duplicate: delivered now and again later
  }
  deliver(cluster, index, payload, how % 3 == 2);
}

/// Raw bytes from the input, delivered to a node from a node that could send to it.
void deliver_raw(testing::Cluster& cluster, const ModelInfo& model, Input& in) {
  const std::uint8_t pick = in.u8();
  const std::uint16_t length = in.u16();
  const std::string payload = in.bytes(length);
  const NodeId client = cluster.client(pick % kClients);
  NodeId to = cluster.server();
  NodeId from = client;
  if ((pick >> 1) % 2 == 1) {  // to a client: from the server, or from the other peer
    to = client;
    from = model.topology == Topology::peer_to_peer ? cluster.client((pick + 1) % kClients) : cluster.server();
  }
  if (!cluster.link_up(from, to)) return;
  cluster.node(to).on_message(cluster.context(to), from, payload);
}

/// A node crashes and restarts at once, its store kept or lost, as the engine's crash fault does: its
/// connections close first and reopen after the restart, so the restarted node reads whatever the
/// mutated and raw messages before left in its store.
void crash(testing::Cluster& cluster, const std::vector<bool>& connected, Input& in) {
  const std::uint8_t pick = in.u8();
  const bool persistent = pick % 2 == 0;
  const std::uint32_t target = (pick / 2) % (kClients + 1);  // kClients picks the server
  std::vector<NodeId> dropped;
  for (std::uint32_t i = 0; i < kClients; ++i) {
    if (connected[i] && (target == kClients || target == i)) dropped.push_back(cluster.client(i));
  }
  for (NodeId c : dropped) cluster.disconnect(c);
  cluster.restart(target == kClients ? cluster.server() : cluster.client(target), persistent);
  for (NodeId c : dropped) cluster.reconnect(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const auto& models = in_process_models();
  const ModelInfo& model = *models[in.u8() % models.size()];
  testing::Cluster cluster(model, 1, kClients);
  for (std::uint32_t i = 0; i < kClients; ++i) cluster.reconnect(cluster.client(i));
  std::vector<bool> connected(kClients, true);
  Users users(model.data_type);
  for (std::size_t step = 0; step < kCommandsMax && !in.done(); ++step) {
    switch (in.u8() % 8) {
      case 0: users.act(cluster, in); break;
      case 1: cluster.deliver_all(1); break;
      case 2: deliver_mutated(cluster, in); break;
      case 3: deliver_raw(cluster, model, in); break;
      case 4: cluster.fire_timers(); break;
      case 5: {
        const std::uint32_t i = in.u8() % kClients;
        if (connected[i]) {
          cluster.disconnect(cluster.client(i));
        } else {
          cluster.reconnect(cluster.client(i));
        }
        connected[i] = !connected[i];
        break;
      }
      case 6: cluster.deliver_all(kDeliveriesPerFlush); break;
      case 7: crash(cluster, connected, in); break;
    }
    if (cluster.queue.size() > kQueueMax) cluster.queue.clear();  // a model that floods: start afresh
    if (cluster.timers.size() > kQueueMax) cluster.timers.clear();
  }
  return 0;
}
