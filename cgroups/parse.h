// Parsers for the text formats of cgroup files. Pure functions over file contents:
// no I/O, so fixtures and fuzzers can drive them directly.
//
// Leniency rules, shared by every parser here:
// - unknown keys are ignored (kernels add keys: memory.stat grew "kernel" in 5.18,
//   "zswap" in 5.19);
// - a line whose value is not a number is skipped as if its key were unknown;
// - a missing key is reported as nullopt, never as 0, so callers can tell "the kernel
//   said 0" from "the kernel said nothing".
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/cgroup_stats.h"

namespace zlayer::cgroups {

// The single unsigned number in a file such as memory.current or pids.current,
// trailing newline allowed. nullopt when the content is anything else.
std::optional<uint64_t> ParseSingleValue(absl::string_view content);

// A limit file: memory.max / pids.max ("max" = unlimited) or v1
// memory.limit_in_bytes (a huge sentinel = unlimited). Unlimited maps to 0, the data
// model's "no limit". nullopt when malformed.
std::optional<uint64_t> ParseLimit(absl::string_view content);

// v1 writes "unlimited" as PAGE_COUNTER_MAX pages: LONG_MAX rounded down to the page
// size (9223372036854771712 with 4 KiB pages). Anything at or above 2^62 bytes
// (4 EiB) is treated as unlimited, which covers every page size.
inline constexpr uint64_t kV1UnlimitedThreshold = uint64_t{1} << 62;

// The value of `key` in a flat keyed file ("key value" per line: cpu.stat,
// memory.stat, memory.events, memory.oom_control, cpuacct.stat).
std::optional<uint64_t> FindKeyedValue(absl::string_view content, absl::string_view key);

// Looks up several keys in one pass. `keys` and `out` have the same length; each
// out[i] is set when keys[i] is found with a numeric value.
void ParseKeyedValues(absl::string_view content, const absl::string_view* keys,
                      std::optional<uint64_t>* out, size_t count);

// A PSI file (cpu.pressure, memory.pressure, io.pressure):
//   some avg10=0.12 avg60=0.02 avg300=0.00 total=36207
//   full avg10=0.12 avg60=0.02 avg300=0.00 total=22044
// nullopt when neither line parses.
std::optional<core::Pressure> ParsePressure(absl::string_view content);

// v2 io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..".
// Lines without a device number are skipped; missing fields stay 0 (the kernel
// prints all four for every device it lists).
std::vector<core::IoDeviceStats> ParseIoStat(absl::string_view content);

// v1 blkio.throttle.io_service_bytes[_recursive] and io_serviced[_recursive]:
//   8:0 Read 1234
//   8:0 Write 5678
//   ...
//   Total 6912
// Merges into `devices` (found by major:minor, appended when new): Read/Write of the
// bytes file go to rbytes/wbytes, those of the serviced file to rios/wios.
void MergeBlkioBytes(absl::string_view content, std::vector<core::IoDeviceStats>& devices);
void MergeBlkioServiced(absl::string_view content, std::vector<core::IoDeviceStats>& devices);

}  // namespace zlayer::cgroups
