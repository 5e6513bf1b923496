#include "cli/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/types.h"

namespace zlayer::cli {

absl::StatusOr<pb::ContainerId> ParseContainerName(absl::string_view name) {
  core::ContainerId id;
  if (absl::StrContains(name, "-rep-")) {
    auto parsed = core::ContainerId::Parse(name);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name, "\" is not a container name; expected <service>-rep-<N> or <service>"));
    }
    id = *parsed;
  } else {
    id = core::ContainerId{std::string(name), 1};
    if (auto s = core::ValidateContainerId(id); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name, "\" is not a container name; expected <service>-rep-<N> or <service>: ",
          s.message()));
    }
  }
  pb::ContainerId out;
  out.set_service(id.service);
  out.set_replica(id.replica);
  return out;
}

std::string ServiceNameForImage(absl::string_view image) {
  absl::string_view name = image;
  if (const size_t at = name.find('@'); at != absl::string_view::npos) name = name.substr(0, at);
  if (const size_t slash = name.rfind('/'); slash != absl::string_view::npos) {
    name = name.substr(slash + 1);
  }
  if (const size_t colon = name.find(':'); colon != absl::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string out;
  for (char c : name) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                    c == '.';
    out.push_back(ok ? c : '-');
  }
  out = absl::StrReplaceAll(out, {{"-rep-", "-"}});
  while (!out.empty() && !absl::ascii_isalnum(static_cast<unsigned char>(out.front()))) {
    out.erase(out.begin());
  }
  if (out.size() > 50) out.resize(50);
  return out.empty() ? "container" : out;
}

}  // namespace zlayer::cli
