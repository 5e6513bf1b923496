#include "cli/stats_util.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cgroups/cpu_percent.h"
#include "cli/format.h"

namespace zlayer::cli {

std::optional<double> CpuPercent(const pb::ContainerStats& earlier, const pb::ContainerStats& later) {
  return cgroups::CpuPercent({earlier.cpu_usage_usec(), ToTime(earlier.timestamp())},
                             {later.cpu_usage_usec(), ToTime(later.timestamp())});
}

std::string CpuText(std::optional<double> percent) {
  return percent ? absl::StrFormat("%.1f%%", *percent) : "-";
}

std::string MemoryText(const pb::ContainerStats& stats) {
  if (stats.memory_limit() == 0) return HumanBytes(stats.memory_bytes());
  return absl::StrCat(HumanBytes(stats.memory_bytes()), " / ", HumanBytes(stats.memory_limit()));
}

absl::StatusOr<std::map<std::string, pb::ContainerStats>> SampleRunning(
    Client& client, const std::string& service, const std::string& deployment) {
  pb::ListStatsRequest request;
  request.set_service(service);
  request.set_deployment(deployment);
  pb::ListStatsResponse response;
  auto ctx = client.Call();
  if (auto s = client.Error(client.stub().ListStats(ctx.get(), request, &response)); !s.ok()) {
    return s;
  }
  std::map<std::string, pb::ContainerStats> out;
  for (const auto& stats : response.stats()) out[ContainerName(stats.id())] = stats;
  return out;
}

}  // namespace zlayer::cli
