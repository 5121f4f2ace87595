// SimGrid S4U on the peers pattern: N actors each send M small messages, one per millisecond of
// simulated time, to random peers over the Constant network model; a daemon receiver per host counts
// them. Prints: simgrid peers N messages wall_seconds messages_per_second
#include <simgrid/s4u.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/bench/peers/draws.hpp"

namespace sg4 = simgrid::s4u;

static long delivered = 0;

static void receiver(int id) {
  sg4::Mailbox* mb = sg4::Mailbox::by_name("mb" + std::to_string(id));
  while (true) {
    auto* payload = mb->get<long>();
    delete payload;
    ++delivered;
  }
}

static void sender(int id, int nodes, int messages) {
  void* rng = draws_create(1, static_cast<std::uint64_t>(id));
  for (int i = 0; i < messages; ++i) {
    const auto to = static_cast<int>(draws_below(rng, static_cast<std::uint64_t>(nodes)));
    sg4::Mailbox::by_name("mb" + std::to_string(to))->put_init(new long(i), 8)->detach();
    sg4::this_actor::sleep_for(0.001);
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
  char arg2[] = "--log=root.thres:critical";
  char* sg_argv[] = {arg0, arg1, arg2, nullptr};
  sg4::Engine engine(&sg_argc, sg_argv);
  engine.load_platform(platform);
  for (int i = 0; i < nodes; ++i) {
    sg4::Host* host = engine.host_by_name("h" + std::to_string(i));
    sg4::Actor::create("recv" + std::to_string(i), host, receiver, i)->daemonize();
    sg4::Actor::create("send" + std::to_string(i), host, sender, i, nodes, messages);
  }
  const auto start = std::chrono::steady_clock::now();
  engine.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("simgrid peers %d %ld %.6f %.0f\n", nodes, delivered, wall, static_cast<double>(delivered) / wall);
  return 0;
}
