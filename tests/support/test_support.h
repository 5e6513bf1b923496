// Helpers shared by every suite.
#pragma once

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "base/fs_util.h"

namespace zlayer::testing {

// Polls `pred` until it holds or `timeout` passes; true if it held. For conditions
// with no event to wait on (a file appearing, a process state in /proc).
bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(5),
             absl::Duration poll = absl::Milliseconds(10));

// A fresh directory under /tmp, removed at the end of the test. Paths stay short so
// that unix sockets inside fit in sun_path.
base::TempDir MakeTempDir(const std::string& prefix = "zt-");

// Absolute path of a file in the source tree, e.g. "tests/fixtures/x".
std::string SourcePath(const std::string& relative);

// True when running as root (tests that mount or run containers need it).
bool IsRoot();

}  // namespace zlayer::testing
