#include "cli/pull_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"

namespace zlayer::cli {
namespace {

const char* LayerStatusText(pb::LayerStatus status) {
  switch (status) {
    case pb::LAYER_STATUS_WAITING: return "waiting";
    case pb::LAYER_STATUS_DOWNLOADING: return "downloading";
    case pb::LAYER_STATUS_VERIFIED: return "verified";
    case pb::LAYER_STATUS_EXTRACTING: return "extracting";
    case pb::LAYER_STATUS_DONE: return "done";
    case pb::LAYER_STATUS_ALREADY_EXISTS: return "already exists";
    default: return "pending";
  }
}

std::string ShortLayer(const std::string& digest) {
  const size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

}  // namespace

PullProgressView::PullProgressView(FILE* out, bool tty, int width)
    : out_(out), tty_(tty), width_(width > 20 ? width : 80) {}

std::string PullProgressView::LayerLine(const pb::LayerProgress& layer, int width) {
  std::string line = absl::StrFormat("%-12s  %-14s", ShortLayer(layer.digest()),
                                     LayerStatusText(layer.status()));
  const bool moving = layer.status() == pb::LAYER_STATUS_DOWNLOADING ||
                      layer.status() == pb::LAYER_STATUS_EXTRACTING;
  if (layer.bytes_total() > 0 && moving) {
    const std::string amount =
        absl::StrCat(HumanBytes(layer.bytes_done()), "/", HumanBytes(layer.bytes_total()));
    const int bar = std::min(40, width - static_cast<int>(line.size() + amount.size()) - 6);
    if (bar >= 10) {
      const double frac = std::min(1.0, static_cast<double>(layer.bytes_done()) /
                                            static_cast<double>(layer.bytes_total()));
      const int filled = static_cast<int>(frac * bar);
      std::string b(static_cast<size_t>(bar), ' ');
      for (int i = 0; i < filled; ++i) b[static_cast<size_t>(i)] = '=';
      if (filled < bar) b[static_cast<size_t>(filled)] = '>';
      absl::StrAppend(&line, " [", b, "]");
    }
    absl::StrAppend(&line, " ", amount);
  } else if (layer.bytes_total() > 0) {
    absl::StrAppend(&line, " ", HumanBytes(layer.bytes_total()));
  }
  return line;
}

void PullProgressView::Print(const std::string& line) {
  if (!out_) return;
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

void PullProgressView::Redraw(bool force) {
  const absl::Time now = absl::Now();
  if (!force && now - last_draw_ < absl::Milliseconds(100)) return;
  last_draw_ = now;
  std::string text;
  // Back to the first bar, then every bar, each line cleared to its end.
  if (drawn_ > 0) absl::StrAppend(&text, "\033[", drawn_, "A");
  for (const auto& layer : layers_) {
    absl::StrAppend(&text, "\r", LayerLine(layer, width_), "\033[K\n");
  }
  drawn_ = static_cast<int>(layers_.size());
  Print(text);
}

void PullProgressView::OnEvent(const pb::PullImageEvent& event) {
  switch (event.event_case()) {
    case pb::PullImageEvent::kStatus:
      if (tty_ && drawn_ > 0) {
        // Above the bars: move up, write the status, and draw the bars again below it.
        Print(absl::StrCat("\033[", drawn_, "A\r", event.status(), "\033[K\n"));
        drawn_ = 0;
        Redraw(true);
      } else {
        Print(absl::StrCat(event.status(), "\n"));
      }
      break;
    case pb::PullImageEvent::kLayer: {
      const pb::LayerProgress& in = event.layer();
      pb::LayerProgress* slot = nullptr;
      for (auto& l : layers_) {
        if (l.digest() == in.digest()) slot = &l;
      }
      const bool is_new = slot == nullptr;
      if (is_new) {
        layers_.push_back(in);
        slot = &layers_.back();
      }
      const bool changed = is_new || slot->status() != in.status();
      *slot = in;
      if (tty_) {
        Redraw(changed);
      } else if (changed) {
        Print(absl::StrCat(LayerLine(in, 0), "\n"));
      }
      break;
    }
    default: break;
  }
}

void PullProgressView::Finish() {
  if (tty_ && !layers_.empty()) Redraw(true);
}

absl::StatusOr<pb::PullDone> PullWithProgress(Client& client, const pb::PullImageRequest& request,
                                              FILE* out) {
  int width = 80;
  const bool tty = out != nullptr && ::isatty(::fileno(out));
  if (tty) {
    winsize ws{};
    if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
  }
  PullProgressView view(out, tty, width);
  auto ctx = client.Stream();
  auto reader = client.stub().PullImage(ctx.get(), request);
  pb::PullImageEvent event;
  std::optional<pb::PullDone> done;
  while (reader->Read(&event)) {
    if (event.has_done()) {
      done = event.done();
    } else {
      view.OnEvent(event);
    }
  }
  view.Finish();
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return client.Error(status);
  if (!done) return absl::InternalError("the agent ended the pull without a result");
  return *done;
}

absl::StatusOr<pb::PullPolicy> ParsePullPolicy(const std::string& text) {
  if (text == "always") return pb::PULL_POLICY_ALWAYS;
  if (text == "if_not_present" || text == "missing") return pb::PULL_POLICY_IF_NOT_PRESENT;
  if (text == "never") return pb::PULL_POLICY_NEVER;
  return absl::InvalidArgumentError(absl::StrCat(
      "pull policy: expected always, if_not_present or never, got \"", text, "\""));
}

}  // namespace zlayer::cli
