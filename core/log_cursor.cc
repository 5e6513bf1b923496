#include "core/log_cursor.h"

#include <algorithm>

namespace zlayer::core {
namespace {

class VectorLogCursor final : public LogCursor {
 public:
  explicit VectorLogCursor(std::vector<LogEntry> entries) : entries_(std::move(entries)) {}

  absl::StatusOr<std::vector<LogEntry>> Next(size_t max) override {
    const size_t n = std::min(max, entries_.size() - next_);
    std::vector<LogEntry> out(std::make_move_iterator(entries_.begin() + next_),
                              std::make_move_iterator(entries_.begin() + next_ + n));
    next_ += n;
    return out;
  }
  bool Done() override { return next_ == entries_.size(); }
  // Everything is available now, so the caller never needs to wait.
  void Arm(std::function<void()> ready) override { ready(); }

 private:
  std::vector<LogEntry> entries_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<LogCursor> MakeVectorLogCursor(std::vector<LogEntry> entries) {
  return std::make_unique<VectorLogCursor>(std::move(entries));
}

}  // namespace zlayer::core
