#include "network/network.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace zlayer::network {

absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text, absl::string_view fallback) {
  absl::string_view name = absl::StripAsciiWhitespace(text);
  if (name.empty()) name = fallback;
  if (name == "none") return NetworkMode{NetworkMode::Kind::kNone, {}};
  if (name == "host") return NetworkMode{NetworkMode::Kind::kHost, {}};
  // CNI network names become file names and iptables comments: keep them plain.
  const bool plain = name.size() <= 64 && absl::ascii_isalnum(name.front()) &&
                     std::all_of(name.begin(), name.end(), [](char ch) {
                       return absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.';
                     });
  if (!plain) {
    return core::InvalidSpec(absl::StrCat(
        "network '", name,
        "': use none, host, bridge or the name of a configured network (letters, digits, "
        "'-', '_', '.'; at most 64)"));
  }
  return NetworkMode{NetworkMode::Kind::kNetwork, std::string(name)};
}

}  // namespace zlayer::network
