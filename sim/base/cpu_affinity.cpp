#include "sim/base/cpu_affinity.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <vector>

namespace syncstorm {
namespace {

thread_local std::optional<unsigned> t_worker_slot;  ///< none: not one of several workers

/// The CPUs the process could use when first asked (before any pin of ours), and the base.
struct WorkerCpus {
  std::vector<int> allowed;
  unsigned base = 0;
};

WorkerCpus& worker_cpus() {
  static WorkerCpus cpus;
  return cpus;
}

std::once_flag g_prepared;

void prepare_once() {
  WorkerCpus& cpus = worker_cpus();
  cpus.allowed = cpus_of_this_thread();
  cpus.base = static_cast<unsigned>(::getpid());  // determinism-ok: where workers run, never what they compute
}

}  // namespace

void set_worker_slot(unsigned slot) { t_worker_slot = slot; }

std::vector<int> cpus_of_this_thread() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

void prepare_worker_cpus() { std::call_once(g_prepared, prepare_once); }

std::optional<int> worker_cpu() {
  prepare_worker_cpus();
  // Read at every run, not once: a benchmark measures runs with and without the pin side by side.
  const char* unpinned = std::getenv(kExternalUnpinnedEnv);
  if (unpinned != nullptr && std::string_view(unpinned) == "1") return std::nullopt;
  const WorkerCpus& cpus = worker_cpus();
  if (cpus.allowed.size() < 2) return std::nullopt;
  if (t_worker_slot) return cpus.allowed[(cpus.base + *t_worker_slot) % cpus.allowed.size()];
  // A lone worker stays where the scheduler has put it: beside other busy processes (ctest running
  // two tests at once), that is a CPU they do not hold, where a fixed choice could share one.
  const int current = ::sched_getcpu();  // determinism-ok: where the run executes, never what it computes
  if (current >= 0 && std::find(cpus.allowed.begin(), cpus.allowed.end(), current) != cpus.allowed.end()) return current;
  return cpus.allowed.front();
}

ThreadCpuPin::ThreadCpuPin(int cpu) {
  prepare_worker_cpus();  // the CPUs this process may use are read before any pin of ours
  if (cpu < 0 || cpu >= CPU_SETSIZE) return;
  CPU_ZERO(&before_);
  if (pthread_getaffinity_np(pthread_self(), sizeof before_, &before_) != 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
}

ThreadCpuPin::~ThreadCpuPin() {
  if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof before_, &before_);
}

}  // namespace syncstorm
