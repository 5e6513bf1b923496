// CPU percent from two stats samples, for clients (ps/top-like views, the CLI).
//
//   percent = 100 * (usage_usec[later] - usage_usec[earlier])
//                  / (time[later] - time[earlier], in microseconds)
//
// Normalisation: 100 % is one core fully busy for the whole interval. A container
// saturating 4 cores shows 400 %; the ceiling is 100 * (CPUs it may use). Divide by
// the host's online CPU count for a share of the whole machine (what `top` shows
// with Irix mode off). usage_usec is the cgroup's total CPU time (user + system, all
// its processes and threads), so the result covers the whole container.
//
// Use the timestamps that came with the samples (ContainerStats.timestamp), not the
// time they were received: network delay would otherwise skew the interval. The
// counter only grows while the cgroup lives; a smaller later value means the
// container was recreated, and the pair is unusable.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace zlayer::cgroups {

struct CpuSample {
  uint64_t usage_usec = 0;
  absl::Time time;
};

// nullopt when the interval is not positive or the counter went backwards.
std::optional<double> CpuPercent(const CpuSample& earlier, const CpuSample& later);

}  // namespace zlayer::cgroups
