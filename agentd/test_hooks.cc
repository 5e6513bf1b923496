#include "agentd/test_hooks.h"

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"

namespace zlayer::agentd {
namespace {

using HookFn = std::function<grpc::Status(const std::string& body)>;

// Reads one request, runs the handler on the reaction thread, answers with an
// empty message.
class HookReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit HookReactor(HookFn handler) : handler_(std::move(handler)) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
    std::vector<grpc::Slice> slices;
    std::string body;
    if (request_.Dump(&slices).ok()) {
      for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    const grpc::Status status = handler_(body);
    if (!status.ok()) return Finish(status);
    // An empty message; a default ByteBuffer would be "no message" (API misuse).
    grpc::Slice empty("");
    response_ = grpc::ByteBuffer(&empty, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  HookFn handler_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

// A wedge is named by the caller: every WedgeEventLoop call with the same name
// blocks until the same moment, the first call's arrival plus its delay. Calls
// that get a thread only after that moment (gRPC had no free thread for them
// during the wedge) return at once instead of starting another wedge.
absl::Mutex g_wedge_mu;
absl::flat_hash_map<std::string, absl::Time> g_wedges ABSL_GUARDED_BY(g_wedge_mu);

grpc::Status WedgeEventLoop(const std::string& body) {
  const auto space = body.find(' ');
  int ms;
  if (space == std::string::npos || !absl::SimpleAtoi(body.substr(space + 1), &ms) || ms <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "body: NAME MILLISECONDS");
  }
  absl::Time until;
  {
    absl::MutexLock lock(&g_wedge_mu);
    auto [it, fresh] = g_wedges.try_emplace(body.substr(0, space));
    if (fresh) it->second = absl::Now() + absl::Milliseconds(ms);
    until = it->second;
  }
  if (until <= absl::Now()) return grpc::Status::OK;
  base::Logger("agentd")->warn("test hook: wedging a gRPC callback thread for {}",
                               absl::FormatDuration(until - absl::Now()));
  absl::SleepFor(until - absl::Now());  // deliberately blocking a reaction
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerGenericBidiReactor* TestHooksService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  const std::string method = ctx->method();
  HookFn handler;
  if (method == "/zlayer.agentd.testing.Hooks/WedgeEventLoop") {
    handler = WedgeEventLoop;
  } else if (method == "/zlayer.agentd.testing.Hooks/WedgeWorkQueue") {
    handler = [this](const std::string& body) {
      int ms;
      if (!absl::SimpleAtoi(body, &ms) || ms <= 0) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "body: milliseconds");
      }
      const absl::Time until = absl::Now() + absl::Milliseconds(ms);
      base::Logger("agentd")->warn("test hook: wedging the work queue for {}ms", ms);
      for (int i = 0; i <= work_threads_; ++i) {
        if (!queue_->Post([until] { absl::SleepFor(until - absl::Now()); })) {
          return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
        }
      }
      return grpc::Status::OK;
    };
  } else if (method == "/zlayer.agentd.testing.Hooks/Log") {
    handler = [](const std::string& body) {
      const auto space = body.find(' ');
      spdlog::level::level_enum level;
      if (space == std::string::npos || !base::ParseLogLevel(body.substr(0, space), &level)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "body: LEVEL TEXT");
      }
      base::Logger("agentd")->log(level, "{}", body.substr(space + 1));
      return grpc::Status::OK;
    };
  } else {
    handler = [method](const std::string&) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, absl::StrCat("unknown method ", method));
    };
  }
  return new HookReactor(std::move(handler));
}

}  // namespace zlayer::agentd
