// Shows PullImage progress: on a terminal, one live bar per layer, redrawn in
// place; otherwise plain lines, one per status change (never one per chunk), so
// that logs and CI output stay readable.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "zlayer/agent/v1/runtime.pb.h"

namespace zlayer::cli {

class PullProgressView {
 public:
  // `width` is the terminal's width when `tty`.
  PullProgressView(FILE* out, bool tty, int width);

  void OnEvent(const pb::PullImageEvent& event);
  // Draws the final state of every bar.
  void Finish();

  // The text of one layer line, without escapes: "0123456789ab  downloading
  // [=====>     ]  1.2MiB/4.5MiB". Exposed for tests.
  static std::string LayerLine(const pb::LayerProgress& layer, int width);

 private:
  void Redraw(bool force);
  void Print(const std::string& line);

  FILE* out_;
  bool tty_;
  int width_;
  std::vector<pb::LayerProgress> layers_;  // in order of first appearance
  int drawn_ = 0;                          // layer lines currently on screen
  absl::Time last_draw_ = absl::InfinitePast();
};

// Pulls with progress on `out` (nullptr = silent). The final event's PullDone.
absl::StatusOr<pb::PullDone> PullWithProgress(Client& client, const pb::PullImageRequest& request,
                                              FILE* out);

// "always", "if_not_present", "never" -> the policy; INVALID_ARGUMENT otherwise.
absl::StatusOr<pb::PullPolicy> ParsePullPolicy(const std::string& text);

}  // namespace zlayer::cli
