#include "cgroups/cpu_percent.h"

namespace zlayer::cgroups {

std::optional<double> CpuPercent(const CpuSample& earlier, const CpuSample& later) {
  const int64_t wall_usec = absl::ToInt64Microseconds(later.time - earlier.time);
  if (wall_usec <= 0 || later.usage_usec < earlier.usage_usec) return std::nullopt;
  const double used = static_cast<double>(later.usage_usec - earlier.usage_usec);
  return 100.0 * used / static_cast<double>(wall_usec);
}

}  // namespace zlayer::cgroups
