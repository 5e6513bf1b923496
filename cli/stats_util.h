// Stats sampling shared by ps and stats: CPU % needs two samples.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/client.h"

namespace zlayer::cli {

// 100 * CPU time used / wall time passed between two samples of one container, from
// the samples' own timestamps (cgroups::CpuPercent): 100 % is one core busy for the
// whole interval, four busy cores show 400 %. nullopt when the interval is not
// positive or the counter went backwards (the container was recreated in between).
std::optional<double> CpuPercent(const pb::ContainerStats& earlier, const pb::ContainerStats& later);

// "12.5%"; "-" for nullopt.
std::string CpuText(std::optional<double> percent);
// "50MiB / 256MiB", or "50MiB" without a limit.
std::string MemoryText(const pb::ContainerStats& stats);

// ListStats (running containers matching the filters), keyed by container name.
absl::StatusOr<std::map<std::string, pb::ContainerStats>> SampleRunning(
    Client& client, const std::string& service, const std::string& deployment);

}  // namespace zlayer::cli
