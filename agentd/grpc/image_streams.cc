// PullImage (server stream of progress) and ImportImage (client stream of a tar).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agentd/grpc/status_convert.h"
#include "agentd/grpc/stream_writer.h"
#include "agentd/grpc/streams.h"
#include "base/unique_fd.h"
#include "core/errors.h"
#include "proto/convert/convert.h"

namespace zlayer::agentd {
namespace {

// Progress beyond this many unsent messages is dropped: a slow client sees fewer
// updates, never an agent buffering megabytes of them. Status lines and the final
// result are always sent.
constexpr size_t kMaxProgressBacklog = 64;

class PullStream final : public StreamWriter<pb::PullImageEvent, PullStream> {
 public:
  PullStream(const ServiceContext& ctx, core::PullRequest request)
      : StreamWriter(ctx.streams), ctx_(ctx), request_(std::move(request)) {}

  void Begin() {
    auto self = shared_from_this();
    if (!ctx_.queue->Post([self] { self->Run(); })) {
      Close(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         "pull: the agent's work queue is full; retry shortly"));
    }
  }

 private:
  void Run() {
    const absl::Time start = absl::Now();
    // Bytes of layers fetched from the registry: the last count seen per layer that
    // was downloading (layers already present never are). Layers download in parallel, so progress
    // may arrive on several threads.
    absl::Mutex downloaded_mu;
    std::map<std::string, uint64_t> downloaded;
    // The pull goes on even if the client leaves: others may share it, and the
    // image is wanted either way.
    auto result = ctx_.images->PullImage(request_, [&](const core::PullProgress& p) {
      if (p.kind == core::PullProgress::Kind::kLayer) {
        using State = core::PullProgress::LayerState;
        {
          absl::MutexLock lock(&downloaded_mu);
          if (p.layer_state == State::kDownloading || downloaded.contains(p.digest)) {
            auto& bytes = downloaded[p.digest];
            bytes = std::max(bytes, p.bytes_done);
          }
        }
        if (Backlog() > kMaxProgressBacklog) return;
      }
      Send(proto::ToProto(p));
    });
    if (ctx_.pulls) {
      uint64_t bytes = 0;
      absl::MutexLock lock(&downloaded_mu);
      for (const auto& [digest, n] : downloaded) bytes += n;
      ctx_.pulls->Finished(result.ok(), bytes, absl::ToDoubleSeconds(absl::Now() - start));
    }
    if (!result.ok()) {
      Close(ToGrpcStatus(result.status()));
      return;
    }
    pb::PullImageEvent done;
    *done.mutable_done() = proto::ToProto(*result);
    Send(std::move(done));
    Close(grpc::Status::OK);
  }

  const ServiceContext& ctx_;
  const core::PullRequest request_;
};

// Spools the uploaded archive to an unnamed temp file, then hands it to the backend.
class ImportReader final : public grpc::ServerReadReactor<pb::ImportImageRequest> {
 public:
  ImportReader(const ServiceContext& ctx, pb::ImportImageResponse* response)
      : ctx_(ctx), response_(response) {
    spool_.Reset(::open(ctx_.spool_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!spool_) {
      auto status = core::ErrnoError(absl::StrCat("import: temp file in ", ctx_.spool_dir));
      Finish(ToGrpcStatus(status));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client finished sending (or went away).
      if (cancelled_.load()) {
        Finish(grpc::Status::CANCELLED);
        return;
      }
      if (!ctx_.queue->Post([this] { Import(); })) {
        Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "import: the agent's work queue is full; retry shortly"));
      }
      return;
    }
    if (first_) {
      reference_ = request_.reference();
      first_ = false;
    }
    // Writes run on the queue, one at a time: the next read starts after the write.
    auto chunk = std::make_shared<std::string>(std::move(*request_.mutable_chunk()));
    if (!ctx_.queue->Post([this, chunk] { WriteThenRead(*chunk); })) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "import: the agent's work queue is full; retry shortly"));
    }
  }

  void OnCancel() override { cancelled_.store(true); }
  void OnDone() override { delete this; }

 private:
  void WriteThenRead(const std::string& chunk) {
    size_t done = 0;
    while (done < chunk.size()) {
      const ssize_t n = ::write(spool_.get(), chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Finish(ToGrpcStatus(core::ErrnoError("import: spool the archive")));
        return;
      }
      done += static_cast<size_t>(n);
    }
    StartRead(&request_);  // last: OnReadDone may run before this returns
  }

  void Import() {
    if (::lseek(spool_.get(), 0, SEEK_SET) < 0) {
      Finish(ToGrpcStatus(core::ErrnoError("import: rewind the archive")));
      return;
    }
    auto result = ctx_.images->ImportImage(reference_, spool_.get());
    spool_.Reset();
    if (!result.ok()) {
      Finish(ToGrpcStatus(result.status()));
      return;
    }
    response_->set_reference(result->reference);
    response_->set_digest(result->digest);
    Finish(grpc::Status::OK);  // last: OnDone may delete *this
  }

  const ServiceContext& ctx_;
  pb::ImportImageResponse* response_;
  pb::ImportImageRequest request_;
  base::UniqueFd spool_;
  std::string reference_;
  bool first_ = true;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

grpc::ServerWriteReactor<pb::PullImageEvent>* StartPullStream(const ServiceContext& ctx,
                                                              const pb::PullImageRequest& request) {
  core::PullRequest req;
  req.image = request.image();
  auto policy = proto::FromProto(request.policy());
  if (!policy.ok() || req.image.empty()) {
    class Failed final : public grpc::ServerWriteReactor<pb::PullImageEvent> {
     public:
      explicit Failed(grpc::Status s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Failed(
        ToGrpcStatus(policy.ok() ? core::InvalidSpec("pull: image reference must not be empty")
                                 : policy.status()));
  }
  req.policy = *policy;
  if (request.has_auth() && !request.auth().username().empty()) {
    req.auth = core::RegistryAuth{request.auth().username(), request.auth().password()};
  }
  auto stream = PullStream::Adopt(std::make_shared<PullStream>(ctx, std::move(req)));
  stream->Begin();
  return stream.get();
}

grpc::ServerReadReactor<pb::ImportImageRequest>* StartImportReader(
    const ServiceContext& ctx, pb::ImportImageResponse* response) {
  return new ImportReader(ctx, response);
}

}  // namespace zlayer::agentd
