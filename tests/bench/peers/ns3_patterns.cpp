// ns-3's event scheduler on syncstorm's two benchmark patterns:
//   hold N:        every node keeps one event pending; each firing schedules the next at an exponential
//                  delay (mean 100 ms), for about two million events;
//   peers N M:     every node sends M messages, one per millisecond, to random peers with a fixed
//                  10 ms latency (a delivery is one scheduled event).
// The same integer draws as syncstorm (sim/rng.cpp), with the PriorityQueue scheduler (ns-3's
// fastest here). Prints: ns3 <pattern> N events wall_seconds events_per_second
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ns3/core-module.h"
#include "tests/bench/peers/draws.hpp"

using namespace ns3;

static std::uint64_t events = 0;
static void* rng = draws_create(1, 0);
static std::uint32_t nodes = 10;

static void hold(std::uint32_t node) {
  ++events;
  Simulator::Schedule(MicroSeconds(draws_exponential_us(rng, 100'000)), &hold, node);
}

static void deliver(std::uint32_t) { ++events; }

static void send(std::uint32_t node, std::uint32_t left) {
  const auto to = static_cast<std::uint32_t>(draws_below(rng, nodes));
  Simulator::Schedule(MilliSeconds(10), &deliver, to);
  if (left > 1) Simulator::Schedule(MilliSeconds(1), &send, node, left - 1);
}

int main(int argc, char** argv) {
  const std::string pattern = argc > 1 ? argv[1] : "hold";
  nodes = argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 10;
  const std::uint32_t messages = argc > 3 ? static_cast<std::uint32_t>(std::stoul(argv[3])) : 1000;
  ObjectFactory scheduler;
  scheduler.SetTypeId("ns3::PriorityQueueScheduler");
  Simulator::SetScheduler(scheduler);
  if (pattern == "hold") {
    for (std::uint32_t n = 0; n < nodes; ++n) {
      Simulator::Schedule(MicroSeconds(draws_exponential_us(rng, 100'000)), &hold, n);
    }
    const std::int64_t length_us = std::max<std::int64_t>(2'000'000 / nodes, 1) * 100'000;
    Simulator::Stop(MicroSeconds(length_us));
  } else {
    for (std::uint32_t n = 0; n < nodes; ++n) Simulator::Schedule(MilliSeconds(0), &send, n, messages);
  }
  const auto start = std::chrono::steady_clock::now();
  Simulator::Run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Simulator::Destroy();
  std::printf("ns3 %s %u %lu %.6f %.0f\n", pattern.c_str(), nodes, events, wall, static_cast<double>(events) / wall);
  return 0;
}
