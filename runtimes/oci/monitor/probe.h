#pragma once

namespace zlayer::monitor {

// `zlayer-monitor probe ...`: see probe.cc.
int RunProbe(int argc, char** argv);

}  // namespace zlayer::monitor
