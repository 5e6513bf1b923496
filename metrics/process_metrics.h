// The standard process_* families every Prometheus client library exports, for the
// agent's own process: CPU, resident and virtual memory, descriptors, start time.
#pragma once

#include "metrics/exposition.h"

namespace zlayer::metrics {

// Reads /proc/self; families whose source cannot be read are left out.
void WriteProcessMetrics(TextWriter& out);

}  // namespace zlayer::metrics
