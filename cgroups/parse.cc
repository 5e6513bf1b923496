#include "cgroups/parse.h"

#include <charconv>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace zlayer::cgroups {
namespace {

// Strict unsigned parse: digits only, no sign, no spaces, no overflow.
std::optional<uint64_t> ParseU64(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// Calls fn(key, value) for each "key value" line; the value is the rest of the line
// after the first run of spaces, with trailing spaces removed.
template <typename Fn>
void ForEachLine(absl::string_view content, Fn&& fn) {
  while (!content.empty()) {
    const size_t nl = content.find('\n');
    absl::string_view line = content.substr(0, nl);
    content = nl == absl::string_view::npos ? absl::string_view() : content.substr(nl + 1);
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty()) continue;
    fn(line);
  }
}

bool SplitKeyValue(absl::string_view line, absl::string_view& key, absl::string_view& value) {
  const size_t sp = line.find(' ');
  if (sp == absl::string_view::npos) return false;
  key = line.substr(0, sp);
  value = absl::StripLeadingAsciiWhitespace(line.substr(sp + 1));
  return true;
}

std::optional<double> ParseDouble(absl::string_view s) {
  double d = 0;
  if (!absl::SimpleAtod(s, &d)) return std::nullopt;
  return d;
}

// "8:0" -> major, minor.
bool ParseDevice(absl::string_view s, uint32_t& major, uint32_t& minor) {
  const size_t colon = s.find(':');
  if (colon == absl::string_view::npos) return false;
  auto maj = ParseU64(s.substr(0, colon));
  auto min = ParseU64(s.substr(colon + 1));
  if (!maj || !min || *maj > UINT32_MAX || *min > UINT32_MAX) return false;
  major = static_cast<uint32_t>(*maj);
  minor = static_cast<uint32_t>(*min);
  return true;
}

core::IoDeviceStats& FindOrAdd(std::vector<core::IoDeviceStats>& devices, uint32_t major,
                               uint32_t minor) {
  for (auto& d : devices) {
    if (d.major == major && d.minor == minor) return d;
  }
  core::IoDeviceStats d;
  d.major = major;
  d.minor = minor;
  devices.push_back(d);
  return devices.back();
}

void MergeBlkio(absl::string_view content, std::vector<core::IoDeviceStats>& devices, bool bytes) {
  ForEachLine(content, [&](absl::string_view line) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() != 3) return;  // "Total N" and anything unexpected
    uint32_t major, minor;
    if (!ParseDevice(f[0], major, minor)) return;
    auto v = ParseU64(f[2]);
    if (!v) return;
    const bool read = f[1] == "Read";
    if (!read && f[1] != "Write") return;  // Sync/Async/Discard/Total re-count the same I/O
    core::IoDeviceStats& d = FindOrAdd(devices, major, minor);
    if (bytes) {
      (read ? d.rbytes : d.wbytes) = *v;
    } else {
      (read ? d.rios : d.wios) = *v;
    }
  });
}

}  // namespace

std::optional<uint64_t> ParseSingleValue(absl::string_view content) {
  return ParseU64(absl::StripAsciiWhitespace(content));
}

std::optional<uint64_t> ParseLimit(absl::string_view content) {
  const absl::string_view s = absl::StripAsciiWhitespace(content);
  if (s == "max") return 0;
  auto v = ParseU64(s);
  if (!v) return std::nullopt;
  if (*v >= kV1UnlimitedThreshold) return 0;
  return v;
}

std::optional<uint64_t> FindKeyedValue(absl::string_view content, absl::string_view key) {
  std::optional<uint64_t> out;
  ParseKeyedValues(content, &key, &out, 1);
  return out;
}

void ParseKeyedValues(absl::string_view content, const absl::string_view* keys,
                      std::optional<uint64_t>* out, size_t count) {
  ForEachLine(content, [&](absl::string_view line) {
    absl::string_view key, value;
    if (!SplitKeyValue(line, key, value)) return;
    for (size_t i = 0; i < count; ++i) {
      if (keys[i] != key) continue;
      // The first occurrence wins; the kernel never repeats a key.
      if (!out[i]) out[i] = ParseU64(value);
      return;
    }
  });
}

std::optional<core::Pressure> ParsePressure(absl::string_view content) {
  core::Pressure p;
  ForEachLine(content, [&](absl::string_view line) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty() || (f[0] != "some" && f[0] != "full")) return;
    core::PressureLine pl;
    int seen = 0;
    for (size_t i = 1; i < f.size(); ++i) {
      const size_t eq = f[i].find('=');
      if (eq == absl::string_view::npos) continue;
      const absl::string_view k = f[i].substr(0, eq), v = f[i].substr(eq + 1);
      if (k == "total") {
        if (auto t = ParseU64(v)) {
          pl.total_usec = *t;
          seen |= 8;
        }
        continue;
      }
      auto d = ParseDouble(v);
      if (!d) continue;
      if (k == "avg10") {
        pl.avg10 = *d;
        seen |= 1;
      } else if (k == "avg60") {
        pl.avg60 = *d;
        seen |= 2;
      } else if (k == "avg300") {
        pl.avg300 = *d;
        seen |= 4;
      }
    }
    if (seen != 15) return;  // a partial line would report made-up zeros
    (f[0] == "some" ? p.some : p.full) = pl;
  });
  if (!p.some && !p.full) return std::nullopt;
  return p;
}

std::vector<core::IoDeviceStats> ParseIoStat(absl::string_view content) {
  std::vector<core::IoDeviceStats> out;
  ForEachLine(content, [&](absl::string_view line) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) return;
    core::IoDeviceStats d;
    if (!ParseDevice(f[0], d.major, d.minor)) return;
    for (size_t i = 1; i < f.size(); ++i) {
      const size_t eq = f[i].find('=');
      if (eq == absl::string_view::npos) continue;
      const absl::string_view k = f[i].substr(0, eq);
      auto v = ParseU64(f[i].substr(eq + 1));
      if (!v) continue;
      if (k == "rbytes") d.rbytes = *v;
      else if (k == "wbytes") d.wbytes = *v;
      else if (k == "rios") d.rios = *v;
      else if (k == "wios") d.wios = *v;
    }
    out.push_back(d);
  });
  return out;
}

void MergeBlkioBytes(absl::string_view content, std::vector<core::IoDeviceStats>& devices) {
  MergeBlkio(content, devices, /*bytes=*/true);
}

void MergeBlkioServiced(absl::string_view content, std::vector<core::IoDeviceStats>& devices) {
  MergeBlkio(content, devices, /*bytes=*/false);
}

}  // namespace zlayer::cgroups
