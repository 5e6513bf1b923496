// Errors found in a deployment spec: where (file:line:column), which key, and what
// was expected. The parser collects all of them before giving up, so one run of
// `zlayerctl apply` shows every mistake in a file.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace zlayer::deploy {

struct SpecError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  // Key path, e.g. "services.web.resources.memory" or "services.web.endpoints[0].port";
  // empty for errors about the document as a whole.
  std::string path;
  // What is wrong and what is expected instead.
  std::string message;

  // "web.yaml:7:15: services.web.resources.memory: expected a size like 512Mi or 1Gi,
  // got \"lots\"" -- the compiler style editors and CI annotators understand.
  std::string ToString() const;
};

// At most this many errors are reported; the rest are summarised in one line.
inline constexpr size_t kMaxReportedErrors = 50;

// INVALID_ARGUMENT whose message is one error per line, in document order.
absl::Status ErrorsToStatus(const std::vector<SpecError>& errors);

}  // namespace zlayer::deploy
