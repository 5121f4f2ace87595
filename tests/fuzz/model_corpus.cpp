// Writes the seed corpus of the model harness (model_fuzz.cpp): for every in-process model, one
// script of user operations and deliveries, and one input per distinct message the model sent in
// it, captured and replayed as raw bytes to its receiver. So the fuzzer starts from the messages the
// models really send rather than from nothing. Usage: fuzz_model_corpus DIR (see README.md).
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "tests/models/harness.hpp"

namespace {

using namespace syncstorm;

/// The script: byte 0 (the model) is put in front of it. Commands as model_fuzz.cpp reads them.
const std::vector<std::uint8_t> kScript = {
    0, 0, 0, 1,  0, 1, 0, 2,  6,           // two users act, every message is delivered
    0, 0, 1, 3,  0, 1, 2, 1,  4, 6,        // two more, timers fire, deliveries
    5, 1,  0, 0, 0, 5,  6,  5, 1,  6, 4, 6 // client 1 away while client 0 acts, then back
};
constexpr std::size_t kMessagesPerModelMax = 12;

void write(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_model_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const ModelRegistry registry = shipped_models();
  std::uint8_t index = 0;
  for (const ModelInfo& model : registry.all()) {
    if (model.external) continue;
    std::vector<std::uint8_t> script{index};
    script.insert(script.end(), kScript.begin(), kScript.end());
    write(dir + "/" + model.name + "-script", script);
    // The same story, run here to see the messages: each is written as a raw delivery (command 3)
    // from a client to the server, or from the server (or the other peer) to client 0.
    testing::Cluster cluster(model, 1, 2);
    for (std::uint32_t i = 0; i < 2; ++i) cluster.reconnect(cluster.client(i));
    std::set<std::string> seen;
    for (int round = 0; round < 3 && seen.size() < kMessagesPerModelMax; ++round) {
      cluster.user(0, model.data_type == DataType::list ? OpKind::list_add : model.data_type == DataType::counter ? OpKind::counter_add : model.data_type == DataType::text ? OpKind::text_insert : OpKind::map_set,
                   static_cast<std::uint32_t>(round), 3);
      while (!cluster.queue.empty() && seen.size() < kMessagesPerModelMax) {
        const testing::Envelope e = cluster.queue.front();
        cluster.deliver_all(1);
        if (e.payload.size() > 0xffff || !seen.insert(e.payload).second) continue;
        const bool to_server = e.to == cluster.server();
        if (!to_server && e.to != cluster.client(0)) continue;
        std::vector<std::uint8_t> input{index, 3, static_cast<std::uint8_t>(to_server ? (e.from == cluster.client(1) ? 1 : 0) : 2),
                                        static_cast<std::uint8_t>(e.payload.size() & 0xff), static_cast<std::uint8_t>(e.payload.size() >> 8)};
        input.insert(input.end(), e.payload.begin(), e.payload.end());
        write(dir + "/" + model.name + "-message-" + std::to_string(seen.size()), input);
      }
      cluster.fire_timers();
    }
    ++index;
  }
  return 0;
}
