// SimGrid S4U on the peers pattern: N actors each send M small messages (blocking puts) to random peers (drawn before the run with syncstorm's generator) over the Constant
// network model; a receiver per host takes the messages addressed to it. Prints: simgrid peers N messages wall_seconds messages_per_second
#include <simgrid/s4u.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/bench/peers/draws.hpp"

namespace sg4 = simgrid::s4u;

static long delivered = 0;
static std::vector<std::vector<int>> destinations;  // per sender, drawn before the run
static std::vector<int> expected;                   // per receiver

static void receiver(int id, int count) {
  sg4::Mailbox* mb = sg4::Mailbox::by_name("mb" + std::to_string(id));
  for (int i = 0; i < count; ++i) {
    auto* payload = mb->get<long>();
    delete payload;
    ++delivered;
  }
}

static void sender(int id) {
  // A blocking put per message: SimGrid's natural messaging loop (a detached or asynchronous send per
  // message with sleeps in between measured 50 times slower here).
  for (std::size_t i = 0; i < destinations[id].size(); ++i) {
    long value = static_cast<long>(i);
    sg4::Mailbox::by_name("mb" + std::to_string(destinations[id][i]))->put(new long(value), 8);
  }
}

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::stoi(argv[1]) : 10;
  const int messages = argc > 2 ? std::stoi(argv[2]) : 1000;
  const std::string platform = "/tmp/syncstorm-simgrid-" + std::to_string(nodes) + ".xml";
  {
    std::ofstream xml(platform);
    xml << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
        << "<platform version=\"4.1\">\n<zone id=\"world\" routing=\"None\">\n";
    for (int i = 0; i < nodes; ++i) xml << "<host id=\"h" << i << "\" speed=\"1Gf\"/>\n";
    xml << "</zone>\n</platform>\n";
  }
  int sg_argc = 3;
  char arg0[] = "simgrid_peers";
  char arg1[] = "--cfg=network/model:Constant";
  char arg2[] = "--log=root.thres:warning";
  char* sg_argv[] = {arg0, arg1, arg2, nullptr};
  sg4::Engine engine(&sg_argc, sg_argv);
  engine.load_platform(platform);
  destinations.assign(nodes, {});
  expected.assign(nodes, 0);
  for (int i = 0; i < nodes; ++i) {
    void* rng = draws_create(1, static_cast<std::uint64_t>(i));
    for (int m = 0; m < messages; ++m) {
      const auto to = static_cast<int>(draws_below(rng, static_cast<std::uint64_t>(nodes)));
      destinations[i].push_back(to);
      ++expected[to];
    }
  }
  for (int i = 0; i < nodes; ++i) {
    sg4::Host* host = engine.host_by_name("h" + std::to_string(i));
    sg4::Actor::create("recv" + std::to_string(i), host, receiver, i, expected[i]);
    sg4::Actor::create("send" + std::to_string(i), host, sender, i);
  }
  const auto start = std::chrono::steady_clock::now();
  engine.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("simgrid peers %d %ld %.6f %.0f\n", nodes, delivered, wall, static_cast<double>(delivered) / wall);
  return 0;
}
