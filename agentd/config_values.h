// Value parsing and checks shared by the config file reader and the flags. Each
// Check* returns what is wrong with a value, or "" when it is fine.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace zlayer::agentd {

// "512Mi", "1Gi", "10M", "4096" -> bytes.
bool ParseByteSize(absl::string_view text, uint64_t* out);
// The inverse, in the largest binary unit that is exact.
std::string ByteSize(uint64_t bytes);
// "0660" -> 0660; at most four octal digits.
bool ParseMode(absl::string_view text, unsigned* out);
std::string Octal(unsigned mode);

std::string CheckAbsolutePath(absl::string_view v);
std::string CheckSocketPath(absl::string_view v);
std::string CheckGroup(absl::string_view v);
std::string CheckHostPort(absl::string_view v, bool port_required);
std::string CheckRuntime(absl::string_view v);
std::string CheckHttpUrl(absl::string_view v);
// A Linux interface name (1-15 characters, no '/', no space).
std::string CheckInterfaceName(absl::string_view v);
// "A.B.C.D/N" with N from 8 to 30.
std::string CheckIpv4Subnet(absl::string_view v);

}  // namespace zlayer::agentd
