#include "network/network.h"

#include "absl/strings/ascii.h"

namespace zlayer::network {

absl::StatusOr<NetworkMode> ParseNetworkMode(absl::string_view text, absl::string_view fallback) {
  absl::string_view name = absl::StripAsciiWhitespace(text);
  if (name.empty()) name = fallback;
  if (name == "none") return NetworkMode{NetworkMode::Kind::kNone, {}};
  if (name == "host") return NetworkMode{NetworkMode::Kind::kHost, {}};
  if (auto valid = core::ValidateNetworkName(name); !valid.ok()) return valid;
  return NetworkMode{NetworkMode::Kind::kNetwork, std::string(name)};
}

}  // namespace zlayer::network
