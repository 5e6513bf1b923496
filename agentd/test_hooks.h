// Fault injection for tests/systemd, compiled only into zlayer-agentd-testhooks, a
// test build of the agent that is never installed. The production binary contains
// none of this: main.cc registers the hooks only under ZLAYER_AGENTD_TEST_HOOKS.
//
// Methods (unary, served through a generic service; the request body is text):
//   /zlayer.agentd.testing.Hooks/WedgeEventLoop  body "NAME MS": the reaction thread
//       that runs this call blocks until MS milliseconds after the first call named
//       NAME arrived. Send more calls than gRPC has callback threads (2 to 16
//       "nexting" threads in 1.51) and the event loop stops turning, as it would if
//       a handler blocked (the bug "reactions must not block" warns of). The calls
//       return once released.
//   /zlayer.agentd.testing.Hooks/WedgeWorkQueue  body "MS": fills every worker of the
//       work queue, and one more task, with tasks that block for MS milliseconds.
//   /zlayer.agentd.testing.Hooks/Log             body "LEVEL TEXT": logs TEXT through
//       the "agentd" logger, to test the sinks with chosen key=value fields.
#pragma once

#include <grpcpp/generic/async_generic_service.h>

#include "base/work_queue.h"

namespace zlayer::agentd {

class TestHooksService final : public grpc::CallbackGenericService {
 public:
  TestHooksService(base::WorkQueue* queue, int work_threads)
      : queue_(queue), work_threads_(work_threads) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  base::WorkQueue* queue_;
  const int work_threads_;
};

}  // namespace zlayer::agentd
