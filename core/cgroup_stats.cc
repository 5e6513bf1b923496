#include "core/cgroup_stats.h"

namespace zlayer::core {

const char* CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kV2:
      return "v2";
    case CgroupMode::kHybrid:
      return "hybrid";
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace zlayer::core
