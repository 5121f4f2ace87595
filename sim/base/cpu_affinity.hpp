// Which CPU a thread that drives an external replica runs on. An external run is a ping-pong: the
// simulator writes an event and waits, the adapter answers and waits; never both at once. Left to
// the scheduler, each turn wakes the other process on the idle CPU (an inter-processor interrupt,
// dear on a virtual machine), and half of a run's time is spent waking up. On one CPU each turn is
// a plain context switch: on a 2-core VM that doubles the seeds per second of an adapter (the
// figures are in tests/bench/README.md). So a thread pins itself to one CPU for an external run and
// the adapter process it starts inherits that CPU; the workers of a sweep (threads of run_parallel,
// children of run_isolated, when there are several) each get their own worker slot, hence their own
// CPU; a lone worker stays on the CPU it runs on.
//
// Nothing here changes what a run computes, only where it runs.
#pragma once

#include <sched.h>

#include <optional>
#include <vector>

namespace syncstorm {

/// Environment variable: set to 1 to leave external runs and their adapter processes wherever the
/// scheduler puts them (for measuring what pinning saves, and on machines where it hurts).
inline constexpr const char* kExternalUnpinnedEnv = "SYNCSTORM_EXTERNAL_UNPINNED";

/// The CPUs the calling thread may run on, in increasing order (empty if the system will not say).
std::vector<int> cpus_of_this_thread();

/// Says which of several workers of a sweep the calling thread (or forked child) is. A thread that
/// is no such worker (the main thread, a sweep's only worker) has no slot.
void set_worker_slot(unsigned slot);

/// Reads, once per process tree, the CPUs this process may use and where its workers start on them.
/// Call it before forking workers, so that they share one base and spread over different CPUs;
/// calling it again does nothing.
void prepare_worker_cpus();

/// The CPU for the calling thread's external runs. A worker slot's is the slot's turn in the CPUs
/// this process may use, counted from a base drawn from the process id (so that two syncstorm
/// processes side by side do not both start on the first CPU); a thread with no slot gets the CPU it
/// runs on now. nullopt when there is only one CPU to use, or kExternalUnpinnedEnv says not to pin
/// (read at every call).
std::optional<int> worker_cpu();

/// Pins the calling thread to one CPU for its lifetime and puts back the CPUs it could use before.
/// Processes the thread starts meanwhile inherit the CPU. A pin the system refuses (a container that
/// forbids it) leaves the thread as it was: pinning is for speed only.
class ThreadCpuPin {
 public:
  explicit ThreadCpuPin(int cpu);
  ~ThreadCpuPin();
  ThreadCpuPin(const ThreadCpuPin&) = delete;
  ThreadCpuPin& operator=(const ThreadCpuPin&) = delete;

  /// Whether the thread is pinned now.
  bool pinned() const { return pinned_; }

 private:
  bool pinned_ = false;
  cpu_set_t before_{};  ///< the CPUs the thread could use before the pin
};

}  // namespace syncstorm
