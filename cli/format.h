// Output helpers: tables, human sizes and durations, JSON of wire messages.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::cli {

namespace pb = ::zlayer::agent::v1;

// Columns padded to their widest cell, three spaces apart, like docker's tables.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size() - 1; }
  std::string ToString() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// 1536 -> "1.5KiB", 52428800 -> "50MiB", 0 -> "0B".
std::string HumanBytes(uint64_t bytes);
// "45s", "5m12s", "3h04m", "2d3h".
std::string HumanDuration(absl::Duration d);
// RFC 3339 in UTC with seconds: "2026-11-30T03:21:08Z"; "-" for an unset timestamp.
std::string FormatTime(const google::protobuf::Timestamp& ts);
absl::Time ToTime(const google::protobuf::Timestamp& ts);
// "sha256:0123456789ab" (12 hex digits); "-" when empty.
std::string ShortDigest(absl::string_view digest);
// "running", "exited (137)", "failed: reason".
std::string StateText(const pb::ContainerState& state);
// StateText plus, while the restart policy has a restart due at `restart_at`,
// ", restarting in 4s" ("restarting now" once it is due).
std::string StateText(const pb::ContainerState& state, std::optional<absl::Time> restart_at,
                      absl::Time now);
// "running", "exited", ... (the phase alone).
std::string PhaseText(pb::ContainerPhase phase);
// "exited", "signal", "oom_killed", "runtime_error".
std::string WaitReasonText(pb::WaitReason reason);
std::string ContainerName(const pb::ContainerId& id);

// The proto3 JSON mapping with the .proto field names ("exit_code") and every field,
// including zeros, so that scripts find each key.
std::string ToJson(const google::protobuf::Message& message);

// Writes to stdout and flushes. When stdout is gone (`zlayerctl logs -f | head`),
// exits quietly: gRPC ignores SIGPIPE, so the write error is the only sign.
void Out(absl::string_view text);
void Err(absl::string_view text);

}  // namespace zlayer::cli
