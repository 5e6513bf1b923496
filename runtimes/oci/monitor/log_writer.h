// Writes a container's output as a CRI log file: one line per record,
//   <RFC 3339 nanosecond UTC time> <stdout|stderr> <P|F> <text>
// F ends a line; P is a piece of a line longer than the limit (or cut by the end of
// the stream). The file rotates at a size limit between records, so no line is ever
// lost or torn: readers find it either in the old file or in the new one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace zlayer::monitor {

struct LogOptions {
  std::string path;           // .../container.log; rotated files are path.1, path.2, ...
  uint64_t max_bytes = 10 << 20;
  int max_files = 3;          // rotated files kept besides the live one
  size_t max_line = 16 << 10;  // longer lines are split into P records
};

class LogWriter {
 public:
  explicit LogWriter(LogOptions options) : options_(std::move(options)) {}
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Opens (appending to) the live file. False with errno set on failure.
  bool Open();

  // Feeds bytes read from one stream (0 = stdout, 1 = stderr); complete lines are
  // written at once, a trailing partial line waits for more.
  void Feed(int stream, const char* data, size_t len);
  // The stream ended: a pending partial line is written as the end of its line.
  void Close(int stream);

 private:
  void Emit(int stream, const char* text, size_t len, bool partial);
  void Flush();
  void RotateIfNeeded(size_t incoming);

  LogOptions options_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string pending_[2];  // unterminated line per stream
  std::string out_;         // records built from one Feed, written with one write()
};

// "2026-11-30T03:21:08.123456789Z" for CLOCK_REALTIME now.
std::string NowRfc3339Nano();

}  // namespace zlayer::monitor
