#pragma once

#include <string>
#include <string_view>

namespace zlayer::base {

// Returns `in` with every invalid UTF-8 sequence replaced by U+FFFD, so that it can
// travel in a protobuf string field (which must be valid UTF-8).
std::string SanitizeUtf8(std::string_view in);

}  // namespace zlayer::base
