// Container logs: the monitor writes CRI files; these read them.
#include "absl/strings/str_cat.h"
#include "runtimes/oci/log_files.h"
#include "runtimes/oci/oci_container.h"

namespace zlayer::oci {
namespace {

// Knows from the state bus whether the container can still write.
class BusExitSignal final : public ExitSignal {
 public:
  BusExitSignal(runtimes::StateBus& bus, const core::ContainerId& id) {
    auto sub = bus.Subscribe(id, [this](const core::WatchEvent& ev) {
      if (!ev.state.IsTerminal() && ev.error.ok()) return;
      std::function<void()> fn;
      {
        absl::MutexLock lock(&mu_);
        exited_ = true;
        fn = std::exchange(fn_, nullptr);
      }
      if (fn) fn();
    });
    if (sub.ok()) {
      sub_ = std::move(*sub);
    } else {
      absl::MutexLock lock(&mu_);
      exited_ = true;
    }
  }
  // Ending the subscription is a barrier for the callback above.
  ~BusExitSignal() override { sub_.reset(); }

  bool Exited() override {
    absl::MutexLock lock(&mu_);
    return exited_;
  }
  void OnExit(std::function<void()> fn) override {
    {
      absl::MutexLock lock(&mu_);
      if (!exited_) {
        fn_ = std::move(fn);
        return;
      }
    }
    fn();
  }

 private:
  absl::Mutex mu_;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<core::Subscription> sub_;
};

}  // namespace

LogFileSet OciBackend::LogsOf(const Container& container) const {
  LogFileSet files;
  files.dir = container.LogDir();
  files.max_files = config_.log_max_files;
  files.source.kind = container.record.spec.rtype == core::ServiceType::kJob
                          ? core::LogSource::Kind::kJob
                          : core::LogSource::Kind::kContainer;
  files.source.name = container.name;
  files.service = container.id.service;
  if (!container.record.deployment.empty()) files.deployment = container.record.deployment;
  return files;
}

absl::StatusOr<std::vector<core::LogEntry>> OciBackend::ContainerLogs(const core::ContainerId& id,
                                                                      uint32_t tail) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  LogFileSet files;
  {
    absl::MutexLock lock(&mu_);
    files = LogsOf(**container);
  }
  return ReadLogs(files, tail, std::nullopt);
}

absl::StatusOr<std::unique_ptr<core::LogCursor>> OciBackend::OpenLogs(const core::ContainerId& id,
                                                                      const core::LogQuery& query) {
  auto container = Find(id);
  if (!container.ok()) return container.status();
  LogFileSet files;
  {
    absl::MutexLock lock(&mu_);
    files = LogsOf(**container);
  }
  return OpenLogCursor(std::move(files), query, log_notifier_.get(),
                       std::make_unique<BusExitSignal>(bus_, id));
}

}  // namespace zlayer::oci
