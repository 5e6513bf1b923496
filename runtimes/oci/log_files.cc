#include "runtimes/oci/log_files.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/fs_util.h"
#include "base/time_util.h"
#include "core/errors.h"

namespace zlayer::oci {
namespace {

using core::LogEntry;

void Stamp(const LogFileSet& files, LogEntry* e) {
  e->source = files.source;
  e->service = files.service;
  e->deployment = files.deployment;
}

// Splits a chunk of file content into entries; the unterminated tail stays in
// `carry` for the next chunk.
void SplitLines(const LogFileSet& files, std::string* carry, std::vector<LogEntry>* out) {
  size_t start = 0;
  for (;;) {
    const size_t nl = carry->find('\n', start);
    if (nl == std::string::npos) break;
    LogEntry e;
    if (ParseCriLine(std::string_view(*carry).substr(start, nl - start), &e)) {
      Stamp(files, &e);
      out->push_back(std::move(e));
    }
    start = nl + 1;
  }
  carry->erase(0, start);
}

}  // namespace

std::vector<std::string> LogFileSet::OldestFirst() const {
  std::vector<std::string> out;
  for (int i = max_files; i >= 1; --i) {
    const std::string p = absl::StrCat(Live(), ".", i);
    if (::access(p.c_str(), F_OK) == 0) out.push_back(p);
  }
  out.push_back(Live());
  return out;
}

absl::Status AppendLogMarker(const std::string& live_path, std::string_view text) {
  base::UniqueFd fd(::open(live_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return core::ErrnoError(absl::StrCat("open ", live_path));
  std::string line = absl::StrCat(base::FormatRfc3339Nano(base::NowRealtime()), " stdout F ");
  line.append(text.data(), text.size());
  line.push_back('\n');
  // One write of a short line to an O_APPEND file lands whole.
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return core::ErrnoError(absl::StrCat("write ", live_path));
  }
  return absl::OkStatus();
}

bool ParseCriLine(std::string_view line, LogEntry* entry) {
  const size_t s1 = line.find(' ');
  if (s1 == std::string_view::npos) return false;
  const size_t s2 = line.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return false;
  const size_t s3 = line.find(' ', s2 + 1);
  if (s3 == std::string_view::npos) return false;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(line.data(), s1), &t, &err)) {
    return false;
  }
  const std::string_view stream = line.substr(s1 + 1, s2 - s1 - 1);
  const std::string_view tag = line.substr(s2 + 1, s3 - s2 - 1);
  if (stream == "stdout") {
    entry->stream = core::LogStream::kStdout;
  } else if (stream == "stderr") {
    entry->stream = core::LogStream::kStderr;
  } else {
    return false;
  }
  entry->partial = tag == "P";
  entry->timestamp = t;
  entry->message = std::string(line.substr(s3 + 1));
  return true;
}

absl::StatusOr<std::vector<LogEntry>> ReadLogs(const LogFileSet& files, uint32_t tail,
                                               std::optional<absl::Time> since) {
  std::vector<LogEntry> out;
  // Newest file first, so a small tail reads only what it needs.
  auto names = files.OldestFirst();
  std::deque<std::vector<LogEntry>> per_file;
  size_t total = 0;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    auto text = base::ReadFile(*it);
    if (!text.ok()) {
      if (absl::IsNotFound(text.status())) continue;  // rotated away meanwhile
      return text.status();
    }
    std::vector<LogEntry> entries;
    SplitLines(files, &*text, &entries);
    if (!text->empty()) {
      // A last line without its newline is still being written: leave it for later.
    }
    total += entries.size();
    per_file.push_front(std::move(entries));
    if (tail != 0 && total >= tail && !since) break;
  }
  for (auto& v : per_file) {
    for (auto& e : v) {
      if (since && e.timestamp < *since) continue;
      out.push_back(std::move(e));
    }
  }
  if (tail != 0 && out.size() > tail) out.erase(out.begin(), out.end() - tail);
  return out;
}

// ---------------------------------------------------------------------------
// LogNotifier

absl::StatusOr<std::unique_ptr<LogNotifier>> LogNotifier::Create(base::EventLoop* loop) {
  std::unique_ptr<LogNotifier> n(new LogNotifier());
  n->loop_ = loop;
  n->inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!n->inotify_) return core::ErrnoError("inotify_init1");
  auto h = loop->Add(n->inotify_.get(), EPOLLIN, [raw = n.get()](uint32_t) { raw->OnEvents(); });
  if (!h.ok()) return h.status();
  n->handle_ = *h;
  return n;
}

LogNotifier::~LogNotifier() {
  if (handle_) loop_->Remove(handle_);
}

LogNotifier::Token LogNotifier::ArmOnce(const std::string& dir, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  int wd;
  auto it = wd_by_dir_.find(dir);
  if (it != wd_by_dir_.end()) {
    wd = it->second;
  } else {
    wd = ::inotify_add_watch(inotify_.get(), dir.c_str(),
                             IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
    if (wd < 0) {
      // Cannot watch (the directory is gone): wake the follower now so it notices.
      const Token t = next_++;
      loop_->Post(std::move(fn));
      return t;
    }
    wd_by_dir_[dir] = wd;
  }
  const Token t = next_++;
  armed_.emplace(t, Armed{wd, std::move(fn)});
  return t;
}

void LogNotifier::Disarm(Token token) {
  // Callbacks run on the loop thread with mu_ released; OnEvents takes them out of
  // armed_ under mu_ first, so a callback that already left armed_ may be running.
  // Removing an event-loop callback is a barrier only for the whole notifier, so we
  // make the loop thread itself confirm we are past any running callback.
  {
    absl::MutexLock lock(&mu_);
    armed_.erase(token);
  }
  if (loop_->InLoopThread()) return;
  absl::Notification done;
  loop_->Post([&done] { done.Notify(); });
  done.WaitForNotification();
}

void LogNotifier::OnEvents() {
  alignas(struct inotify_event) char buf[16384];
  std::vector<int> changed;
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(buf + off);
      changed.push_back(ev->wd);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  std::vector<std::function<void()>> fire;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = armed_.begin(); it != armed_.end();) {
      if (std::find(changed.begin(), changed.end(), it->second.wd) != changed.end()) {
        fire.push_back(std::move(it->second.fn));
        armed_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& fn : fire) fn();
}

// ---------------------------------------------------------------------------
// The follow cursor

namespace {

class FileLogCursor final : public core::LogCursor {
 public:
  FileLogCursor(LogFileSet files, const core::LogQuery& query, LogNotifier* notifier,
                std::unique_ptr<ExitSignal> exit_signal)
      : files_(std::move(files)),
        since_(query.since),
        follow_(query.follow),
        notifier_(notifier),
        exit_(std::move(exit_signal)) {
    // Open the live file before reading the backlog: everything past its size now
    // is new and comes from following, nothing is read twice or skipped.
    fd_.Reset(::open(files_.Live().c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (fd_ && ::fstat(fd_.get(), &st) == 0) {
      inode_ = st.st_ino;
      offset_ = st.st_size;
    }
    auto backlog = ReadLogs(files_, query.tail, since_);
    if (backlog.ok()) {
      backlog_ = std::move(*backlog);
      // ReadLogs read the live file to its current end; keep only what it saw up to
      // offset_, by dropping nothing: lines appended since are re-read below only
      // if they lie past offset_, and ReadLogs may have read a few of them. Trim
      // those by counting: re-reading from offset_ yields exactly them.
      if (follow_) TrimBacklogPastOffset();
    }
  }

  ~FileLogCursor() override {
    absl::MutexLock lock(&mu_);
    if (token_) notifier_->Disarm(token_);
  }

  absl::StatusOr<std::vector<core::LogEntry>> Next(size_t max) override {
    absl::MutexLock lock(&mu_);
    std::vector<core::LogEntry> out;
    while (!backlog_.empty() && out.size() < max && next_backlog_ < backlog_.size()) {
      out.push_back(std::move(backlog_[next_backlog_++]));
    }
    if (next_backlog_ == backlog_.size() && !backlog_.empty()) {
      backlog_.clear();
      next_backlog_ = 0;
    }
    if (!out.empty() || !follow_) return out;
    ReadNew(max, &out);
    return out;
  }

  bool Done() override {
    absl::MutexLock lock(&mu_);
    if (!backlog_.empty()) return false;
    if (!follow_) return true;
    // Finished when the container has exited (its monitor drained everything
    // before saying so) and we have read the live file to its end.
    if (!exit_->Exited()) return false;
    std::vector<core::LogEntry> more;
    ReadNew(1, &more);
    if (!more.empty()) {
      pending_.insert(pending_.end(), more.begin(), more.end());
      return false;
    }
    return pending_.empty() && !HasUnread();
  }

  void Arm(std::function<void()> ready) override {
    bool now = false;
    {
      absl::MutexLock lock(&mu_);
      if (!backlog_.empty() || !pending_.empty() || HasUnread() || !follow_) {
        now = true;
      } else {
        if (token_) notifier_->Disarm(token_);
        auto shared = std::make_shared<std::function<void()>>(std::move(ready));
        auto once = std::make_shared<std::atomic<bool>>(false);
        auto fire = [shared, once] {
          if (!once->exchange(true)) (*shared)();
        };
        token_ = notifier_->ArmOnce(files_.dir, fire);
        exit_->OnExit(fire);
        return;
      }
    }
    if (now) ready();
  }

 private:
  void TrimBacklogPastOffset() {
    // Count the complete lines beyond offset_ in the live file; ReadLogs returned
    // them at the end of the backlog, and following will return them again.
    if (!fd_) return;
    std::string extra;
    char buf[65536];
    off_t pos = offset_;
    for (;;) {
      const ssize_t n = ::pread(fd_.get(), buf, sizeof buf, pos);
      if (n <= 0) break;
      extra.append(buf, static_cast<size_t>(n));
      pos += n;
    }
    const size_t lines = static_cast<size_t>(std::count(extra.begin(), extra.end(), '\n'));
    const size_t drop = std::min(lines, backlog_.size());
    backlog_.resize(backlog_.size() - drop);
  }

  bool HasUnread() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!fd_) return ::access(files_.Live().c_str(), F_OK) == 0;
    struct stat st;
    if (::fstat(fd_.get(), &st) == 0 && st.st_size > offset_) return true;
    struct stat live;
    return ::stat(files_.Live().c_str(), &live) == 0 && live.st_ino != inode_;
  }

  // Reads what was appended since the last call; moves to the new live file once
  // the old one (rotated away) is finished.
  void ReadNew(size_t max, std::vector<core::LogEntry>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!pending_.empty() && out->size() < max) {
      out->push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    for (int rounds = 0; out->size() < max && rounds < 4; ++rounds) {
      if (!fd_) {
        fd_.Reset(::open(files_.Live().c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd_) return;
        struct stat st;
        ::fstat(fd_.get(), &st);
        inode_ = st.st_ino;
        offset_ = 0;
      }
      char buf[65536];
      const ssize_t n = ::pread(fd_.get(), buf, sizeof buf, offset_);
      if (n > 0) {
        offset_ += n;
        carry_.append(buf, static_cast<size_t>(n));
        std::vector<core::LogEntry> entries;
        SplitLines(files_, &carry_, &entries);
        for (auto& e : entries) {
          if (since_ && e.timestamp < *since_) continue;
          if (out->size() < max) {
            out->push_back(std::move(e));
          } else {
            pending_.push_back(std::move(e));
          }
        }
        continue;
      }
      // End of this file: if the live name now points elsewhere, it was rotated
      // and everything it will ever hold has been read. Go on with the file written
      // after it, which is not necessarily the live one: the writer may have rotated
      // more than once meanwhile.
      struct stat live;
      if (::stat(files_.Live().c_str(), &live) == 0 && live.st_ino != inode_) {
        const std::string next = NextFileAfter(inode_);
        fd_.Reset(::open(next.c_str(), O_RDONLY | O_CLOEXEC));
        carry_.clear();
        offset_ = 0;
        struct stat st;
        if (fd_ && ::fstat(fd_.get(), &st) == 0) inode_ = st.st_ino;
        continue;
      }
      return;
    }
  }

  // The file that follows the one with inode `inode` in write order: if that file
  // is now container.log.k, the next is .k-1 (or the live file). If it is gone,
  // everything left is newer, so the oldest remaining file comes next.
  std::string NextFileAfter(ino_t inode) const {
    for (int k = 1; k <= files_.max_files; ++k) {
      struct stat st;
      const std::string name = absl::StrCat(files_.Live(), ".", k);
      if (::stat(name.c_str(), &st) == 0 && st.st_ino == inode) {
        return k == 1 ? files_.Live() : absl::StrCat(files_.Live(), ".", k - 1);
      }
    }
    return files_.OldestFirst().front();
  }

  const LogFileSet files_;
  const std::optional<absl::Time> since_;
  const bool follow_;
  LogNotifier* const notifier_;
  std::unique_ptr<ExitSignal> exit_;

  absl::Mutex mu_;
  std::vector<core::LogEntry> backlog_ ABSL_GUARDED_BY(mu_);
  size_t next_backlog_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<core::LogEntry> pending_ ABSL_GUARDED_BY(mu_);
  base::UniqueFd fd_ ABSL_GUARDED_BY(mu_);
  ino_t inode_ ABSL_GUARDED_BY(mu_) = 0;
  off_t offset_ ABSL_GUARDED_BY(mu_) = 0;
  std::string carry_ ABSL_GUARDED_BY(mu_);
  LogNotifier::Token token_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<core::LogCursor> OpenLogCursor(LogFileSet files, const core::LogQuery& query,
                                               LogNotifier* notifier,
                                               std::unique_ptr<ExitSignal> exit_signal) {
  return std::make_unique<FileLogCursor>(std::move(files), query, notifier, std::move(exit_signal));
}

}  // namespace zlayer::oci
