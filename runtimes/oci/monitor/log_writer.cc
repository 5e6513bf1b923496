#include "runtimes/oci/monitor/log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace zlayer::monitor {

std::string NowRfc3339Nano() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  return buf;
}

LogWriter::~LogWriter() {
  Flush();
  if (fd_ >= 0) close(fd_);
}

bool LogWriter::Open() {
  fd_ = open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return true;
}

void LogWriter::Feed(int stream, const char* data, size_t len) {
  std::string& pending = pending_[stream];
  size_t start = 0;
  for (size_t i = 0; i < len; ++i) {
    if (data[i] != '\n') continue;
    if (pending.empty()) {
      Emit(stream, data + start, i - start, false);
    } else {
      pending.append(data + start, i - start);
      Emit(stream, pending.data(), pending.size(), false);
      pending.clear();
    }
    start = i + 1;
  }
  pending.append(data + start, len - start);
  Flush();
}

void LogWriter::Close(int stream) {
  std::string& pending = pending_[stream];
  if (!pending.empty()) {
    Emit(stream, pending.data(), pending.size(), false);
    pending.clear();
  }
  Flush();
}

void LogWriter::Emit(int stream, const char* text, size_t len, bool partial) {
  // Over-long lines become P pieces, the last piece F.
  while (len > options_.max_line) {
    Emit(stream, text, options_.max_line, true);
    text += options_.max_line;
    len -= options_.max_line;
  }
  const std::string ts = NowRfc3339Nano();
  std::string record;
  record.reserve(ts.size() + len + 12);
  record += ts;
  record += stream == 0 ? " stdout " : " stderr ";
  record += partial ? "P " : "F ";
  record.append(text, len);
  record += '\n';
  RotateIfNeeded(out_.size() + record.size());
  out_ += record;
}

void LogWriter::RotateIfNeeded(size_t incoming) {
  if (size_ + incoming <= options_.max_bytes || size_ + out_.size() == 0) return;
  // Whole records only: what is buffered goes to the old file first.
  Flush();
  if (size_ == 0) return;
  for (int i = options_.max_files; i >= 1; --i) {
    const std::string from = i == 1 ? options_.path : options_.path + "." + std::to_string(i - 1);
    const std::string to = options_.path + "." + std::to_string(i);
    rename(from.c_str(), to.c_str());  // a missing file is fine
  }
  if (options_.max_files < 1) unlink(options_.path.c_str());
  close(fd_);
  fd_ = open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  size_ = 0;
}

void LogWriter::Flush() {
  size_t done = 0;
  while (done < out_.size() && fd_ >= 0) {
    const ssize_t n = write(fd_, out_.data() + done, out_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // disk full: drop rather than block the container
    done += static_cast<size_t>(n);
  }
  size_ += done;
  out_.clear();
}

}  // namespace zlayer::monitor
