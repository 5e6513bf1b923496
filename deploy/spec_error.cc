#include "deploy/spec_error.h"

#include "absl/strings/str_cat.h"

namespace zlayer::deploy {

std::string SpecError::ToString() const {
  std::string out = file.empty() ? "<input>" : file;
  if (line > 0) absl::StrAppend(&out, ":", line, ":", column);
  absl::StrAppend(&out, ": ");
  if (!path.empty()) absl::StrAppend(&out, path, ": ");
  absl::StrAppend(&out, message);
  return out;
}

absl::Status ErrorsToStatus(const std::vector<SpecError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  std::string text;
  const size_t shown = std::min(errors.size(), kMaxReportedErrors);
  for (size_t i = 0; i < shown; ++i) {
    if (i) text += '\n';
    text += errors[i].ToString();
  }
  if (errors.size() > shown) {
    absl::StrAppend(&text, "\n", errors.front().file.empty() ? "<input>" : errors.front().file,
                    ": ... and ", errors.size() - shown, " more errors");
  }
  return absl::InvalidArgumentError(text);
}

}  // namespace zlayer::deploy
