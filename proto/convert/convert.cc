#include "proto/convert/convert.h"

#include "absl/strings/str_cat.h"
#include "base/utf8.h"
#include "core/errors.h"
#include "proto/convert/supervision.h"

namespace zlayer::proto {
namespace {

using core::ContainerState;

absl::Status UnknownEnum(absl::string_view field, int value) {
  return core::InvalidSpec(
      absl::StrCat(field, ": unknown value ", value, "; this agent may be older than the client"));
}

}  // namespace

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const timespec spec = absl::ToTimespec(t);
  ts.set_seconds(spec.tv_sec);
  ts.set_nanos(static_cast<int32_t>(spec.tv_nsec));
  return ts;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Duration ToProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out.set_seconds(ns / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  return out;
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

pb::ContainerId ToProto(const core::ContainerId& id) {
  pb::ContainerId out;
  out.set_service(id.service);
  out.set_replica(id.replica);
  return out;
}

absl::StatusOr<core::ContainerId> FromProto(const pb::ContainerId& id) {
  core::ContainerId out{id.service(), id.replica()};
  if (auto s = core::ValidateContainerId(out); !s.ok()) return s;
  return out;
}

absl::StatusOr<core::PullPolicy> FromProto(pb::PullPolicy policy) {
  switch (policy) {
    case pb::PULL_POLICY_UNSPECIFIED:
    case pb::PULL_POLICY_IF_NOT_PRESENT:
      return core::PullPolicy::kIfNotPresent;
    case pb::PULL_POLICY_ALWAYS:
      return core::PullPolicy::kAlways;
    case pb::PULL_POLICY_NEVER:
      return core::PullPolicy::kNever;
    default: return UnknownEnum("pull policy", policy);
  }
}

pb::PullPolicy ToProto(core::PullPolicy policy) {
  switch (policy) {
    case core::PullPolicy::kAlways:
      return pb::PULL_POLICY_ALWAYS;
    case core::PullPolicy::kNever:
      return pb::PULL_POLICY_NEVER;
    case core::PullPolicy::kIfNotPresent:
      return pb::PULL_POLICY_IF_NOT_PRESENT;
  }
  return pb::PULL_POLICY_IF_NOT_PRESENT;
}

absl::StatusOr<core::ServiceSpec> FromProto(const pb::ServiceSpec& in) {
  core::ServiceSpec out;
  switch (in.rtype()) {
    case pb::SERVICE_TYPE_UNSPECIFIED:
    case pb::SERVICE_TYPE_SERVICE:
      out.rtype = core::ServiceType::kService;
      break;
    case pb::SERVICE_TYPE_JOB:
      out.rtype = core::ServiceType::kJob;
      break;
    default: return UnknownEnum("spec.rtype", in.rtype());
  }
  out.image.name = in.image().name();
  auto policy = FromProto(in.image().pull_policy());
  if (!policy.ok()) return policy.status();
  out.image.pull_policy = *policy;
  if (in.image().has_auth()) {
    out.image.auth = core::RegistryAuth{in.image().auth().username(), in.image().auth().password()};
  }
  out.command.entrypoint.assign(in.command().entrypoint().begin(),
                                in.command().entrypoint().end());
  out.command.args.assign(in.command().args().begin(), in.command().args().end());
  out.command.workdir = in.command().workdir();
  out.env.insert(in.env().begin(), in.env().end());
  if (in.resources().has_cpu()) out.resources.cpu = in.resources().cpu();
  if (in.resources().has_memory_bytes()) out.resources.memory_bytes = in.resources().memory_bytes();
  if (in.resources().has_pids_limit()) out.resources.pids_limit = in.resources().pids_limit();
  for (const auto& e : in.endpoints()) {
    core::EndpointSpec ep;
    ep.name = e.name();
    switch (e.protocol()) {
      case pb::ENDPOINT_PROTOCOL_UNSPECIFIED:
      case pb::ENDPOINT_PROTOCOL_HTTP:
        ep.protocol = core::EndpointProtocol::kHttp;
        break;
      case pb::ENDPOINT_PROTOCOL_HTTPS:
        ep.protocol = core::EndpointProtocol::kHttps;
        break;
      case pb::ENDPOINT_PROTOCOL_TCP:
        ep.protocol = core::EndpointProtocol::kTcp;
        break;
      case pb::ENDPOINT_PROTOCOL_UDP:
        ep.protocol = core::EndpointProtocol::kUdp;
        break;
      default: return UnknownEnum(absl::StrCat("spec.endpoints[", e.name(), "].protocol"),
                                  e.protocol());
    }
    ep.port = e.port();
    ep.target_port = e.target_port();
    out.endpoints.push_back(std::move(ep));
  }
  out.replicas = in.scale().replicas();
  for (const auto& s : in.storage()) {
    core::StorageSpec st;
    switch (s.type()) {
      case pb::STORAGE_TYPE_BIND:
        st.type = core::StorageType::kBind;
        break;
      case pb::STORAGE_TYPE_NAMED:
        st.type = core::StorageType::kNamed;
        break;
      case pb::STORAGE_TYPE_TMPFS:
        st.type = core::StorageType::kTmpfs;
        break;
      default: return UnknownEnum(absl::StrCat("spec.storage[", s.target(), "].type"), s.type());
    }
    st.source = s.source();
    st.target = s.target();
    st.readonly = s.readonly();
    st.size_bytes = s.size_bytes();
    out.storage.push_back(std::move(st));
  }
  out.user = in.user();
  out.hostname = in.hostname();
  out.network = in.network();
  out.cap_add.assign(in.capabilities().begin(), in.capabilities().end());
  out.cap_drop.assign(in.cap_drop().begin(), in.cap_drop().end());
  out.privileged = in.privileged();
  out.read_only_root_fs = in.read_only_root_fs();
  out.stop_signal = in.stop_signal();
  if (in.has_stop_grace_period()) out.stop_grace_period = FromProto(in.stop_grace_period());
  out.labels.insert(in.labels().begin(), in.labels().end());
  if (in.has_health()) {
    auto health = FromProto(in.health(), "spec.health");
    if (!health.ok()) return health.status();
    out.health = *std::move(health);
  }
  auto restart = FromProto(in.restart(), "spec.restart");
  if (!restart.ok()) return restart.status();
  out.restart = *restart;
  auto init = FromProto(in.init(), "spec.init");
  if (!init.ok()) return init.status();
  out.init = *std::move(init);
  if (in.has_init_process()) out.init_process = in.init_process();
  return out;
}

pb::ServiceSpec ToProto(const core::ServiceSpec& in) {
  pb::ServiceSpec out;
  out.set_rtype(in.rtype == core::ServiceType::kJob ? pb::SERVICE_TYPE_JOB
                                                    : pb::SERVICE_TYPE_SERVICE);
  out.mutable_image()->set_name(in.image.name);
  out.mutable_image()->set_pull_policy(ToProto(in.image.pull_policy));
  if (in.image.auth) {
    out.mutable_image()->mutable_auth()->set_username(in.image.auth->username);
    out.mutable_image()->mutable_auth()->set_password(in.image.auth->password);
  }
  if (!in.command.entrypoint.empty() || !in.command.args.empty() || !in.command.workdir.empty()) {
    auto* c = out.mutable_command();
    for (const auto& a : in.command.entrypoint) c->add_entrypoint(a);
    for (const auto& a : in.command.args) c->add_args(a);
    c->set_workdir(in.command.workdir);
  }
  out.mutable_env()->insert(in.env.begin(), in.env.end());
  if (in.resources.cpu || in.resources.memory_bytes || in.resources.pids_limit) {
    auto* r = out.mutable_resources();
    if (in.resources.cpu) r->set_cpu(*in.resources.cpu);
    if (in.resources.memory_bytes) r->set_memory_bytes(*in.resources.memory_bytes);
    if (in.resources.pids_limit) r->set_pids_limit(*in.resources.pids_limit);
  }
  for (const auto& e : in.endpoints) {
    auto* ep = out.add_endpoints();
    ep->set_name(e.name);
    switch (e.protocol) {
      case core::EndpointProtocol::kHttp:
        ep->set_protocol(pb::ENDPOINT_PROTOCOL_HTTP);
        break;
      case core::EndpointProtocol::kHttps:
        ep->set_protocol(pb::ENDPOINT_PROTOCOL_HTTPS);
        break;
      case core::EndpointProtocol::kTcp:
        ep->set_protocol(pb::ENDPOINT_PROTOCOL_TCP);
        break;
      case core::EndpointProtocol::kUdp:
        ep->set_protocol(pb::ENDPOINT_PROTOCOL_UDP);
        break;
    }
    ep->set_port(e.port);
    ep->set_target_port(e.target_port);
  }
  if (in.replicas) out.mutable_scale()->set_replicas(in.replicas);
  for (const auto& s : in.storage) {
    auto* st = out.add_storage();
    switch (s.type) {
      case core::StorageType::kBind:
        st->set_type(pb::STORAGE_TYPE_BIND);
        break;
      case core::StorageType::kNamed:
        st->set_type(pb::STORAGE_TYPE_NAMED);
        break;
      case core::StorageType::kTmpfs:
        st->set_type(pb::STORAGE_TYPE_TMPFS);
        break;
    }
    st->set_source(s.source);
    st->set_target(s.target);
    st->set_readonly(s.readonly);
    st->set_size_bytes(s.size_bytes);
  }
  out.set_user(in.user);
  out.set_hostname(in.hostname);
  out.set_network(in.network);
  for (const auto& c : in.cap_add) out.add_capabilities(c);
  for (const auto& c : in.cap_drop) out.add_cap_drop(c);
  out.set_privileged(in.privileged);
  out.set_read_only_root_fs(in.read_only_root_fs);
  out.set_stop_signal(in.stop_signal);
  if (in.stop_grace_period) *out.mutable_stop_grace_period() = ToProto(*in.stop_grace_period);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  if (in.health) *out.mutable_health() = ToProto(*in.health);
  // The default policy ("no", the agent's backoff) stays absent, so that specs from
  // before restart policies compare equal to what the agent reports (zlayerctl apply).
  const core::RestartPolicy& rp = in.restart;
  const absl::Duration zero = absl::ZeroDuration();
  if (rp.mode != core::RestartPolicy::Mode::kNo || rp.backoff_base != zero ||
      rp.backoff_max != zero || rp.reset_after != zero) {
    *out.mutable_restart() = ToProto(rp);
  }
  for (const auto& step : in.init) *out.add_init() = ToProto(step);
  if (in.init_process) out.set_init_process(*in.init_process);
  return out;
}

pb::ContainerPhase ToProto(ContainerState::Phase phase) {
  switch (phase) {
    case ContainerState::Phase::kPending: return pb::CONTAINER_PHASE_PENDING;
    case ContainerState::Phase::kInitializing: return pb::CONTAINER_PHASE_INITIALIZING;
    case ContainerState::Phase::kRunning: return pb::CONTAINER_PHASE_RUNNING;
    case ContainerState::Phase::kStopping: return pb::CONTAINER_PHASE_STOPPING;
    case ContainerState::Phase::kExited: return pb::CONTAINER_PHASE_EXITED;
    case ContainerState::Phase::kFailed: return pb::CONTAINER_PHASE_FAILED;
  }
  return pb::CONTAINER_PHASE_UNSPECIFIED;
}

std::optional<ContainerState::Phase> FromProto(pb::ContainerPhase phase) {
  switch (phase) {
    case pb::CONTAINER_PHASE_PENDING: return ContainerState::Phase::kPending;
    case pb::CONTAINER_PHASE_INITIALIZING: return ContainerState::Phase::kInitializing;
    case pb::CONTAINER_PHASE_RUNNING: return ContainerState::Phase::kRunning;
    case pb::CONTAINER_PHASE_STOPPING: return ContainerState::Phase::kStopping;
    case pb::CONTAINER_PHASE_EXITED: return ContainerState::Phase::kExited;
    case pb::CONTAINER_PHASE_FAILED: return ContainerState::Phase::kFailed;
    default: return std::nullopt;
  }
}

pb::ContainerState ToProto(const ContainerState& state) {
  pb::ContainerState out;
  out.set_phase(ToProto(state.phase));
  if (state.phase == ContainerState::Phase::kExited) out.set_exit_code(state.exit_code);
  if (state.phase == ContainerState::Phase::kFailed) out.set_reason(state.reason);
  return out;
}

ContainerState FromProto(const pb::ContainerState& state) {
  ContainerState out;
  out.phase = FromProto(state.phase()).value_or(ContainerState::Phase::kPending);
  out.exit_code = state.exit_code();
  out.reason = state.reason();
  return out;
}

pb::WaitReason ToProto(core::WaitReason reason) {
  switch (reason) {
    case core::WaitReason::kExited:
      return pb::WAIT_REASON_EXITED;
    case core::WaitReason::kSignal:
      return pb::WAIT_REASON_SIGNAL;
    case core::WaitReason::kOomKilled:
      return pb::WAIT_REASON_OOM_KILLED;
    case core::WaitReason::kRuntimeError:
      return pb::WAIT_REASON_RUNTIME_ERROR;
  }
  return pb::WAIT_REASON_UNSPECIFIED;
}

pb::WaitOutcome ToProto(const core::WaitOutcome& outcome) {
  pb::WaitOutcome out;
  out.set_exit_code(outcome.exit_code);
  out.set_reason(ToProto(outcome.reason));
  if (outcome.signal) out.set_signal(*outcome.signal);
  if (outcome.finished_at) *out.mutable_finished_at() = ToProto(*outcome.finished_at);
  out.set_message(base::SanitizeUtf8(outcome.message));
  return out;
}

core::WaitOutcome FromProto(const pb::WaitOutcome& in) {
  core::WaitOutcome out;
  out.exit_code = in.exit_code();
  switch (in.reason()) {
    case pb::WAIT_REASON_SIGNAL:
      out.reason = core::WaitReason::kSignal;
      break;
    case pb::WAIT_REASON_OOM_KILLED:
      out.reason = core::WaitReason::kOomKilled;
      break;
    case pb::WAIT_REASON_RUNTIME_ERROR:
      out.reason = core::WaitReason::kRuntimeError;
      break;
    default:
      out.reason = core::WaitReason::kExited;
      break;
  }
  if (in.has_signal()) out.signal = in.signal();
  if (in.has_finished_at()) out.finished_at = FromProto(in.finished_at());
  out.message = in.message();
  return out;
}

pb::LogEntry ToProto(const core::LogEntry& entry) {
  pb::LogEntry out;
  *out.mutable_timestamp() = ToProto(entry.timestamp);
  out.set_stream(entry.stream == core::LogStream::kStderr ? pb::LOG_STREAM_STDERR
                                                          : pb::LOG_STREAM_STDOUT);
  out.set_message(base::SanitizeUtf8(entry.message));
  out.mutable_source()->set_kind(entry.source.kind == core::LogSource::Kind::kJob
                                     ? pb::LogSource::KIND_JOB
                                     : pb::LogSource::KIND_CONTAINER);
  out.mutable_source()->set_name(entry.source.name);
  if (entry.service) out.set_service(*entry.service);
  if (entry.deployment) out.set_deployment(*entry.deployment);
  out.set_partial(entry.partial);
  return out;
}

core::LogEntry FromProto(const pb::LogEntry& in) {
  core::LogEntry out;
  out.timestamp = FromProto(in.timestamp());
  out.stream =
      in.stream() == pb::LOG_STREAM_STDERR ? core::LogStream::kStderr : core::LogStream::kStdout;
  out.message = in.message();
  out.source.kind = in.source().kind() == pb::LogSource::KIND_JOB
                        ? core::LogSource::Kind::kJob
                        : core::LogSource::Kind::kContainer;
  out.source.name = in.source().name();
  if (in.has_service()) out.service = in.service();
  if (in.has_deployment()) out.deployment = in.deployment();
  out.partial = in.partial();
  return out;
}

namespace {

void SetPressure(const std::optional<core::Pressure>& in, pb::Pressure* out) {
  auto line = [](const core::PressureLine& l, pb::PressureLine* o) {
    o->set_avg10(l.avg10);
    o->set_avg60(l.avg60);
    o->set_avg300(l.avg300);
    o->set_total_usec(l.total_usec);
  };
  if (in->some) line(*in->some, out->mutable_some());
  if (in->full) line(*in->full, out->mutable_full());
}

}  // namespace

pb::ContainerStats ToProto(const core::ContainerStats& stats) {
  pb::ContainerStats out;
  const core::CgroupStats& c = stats.cgroup;
  *out.mutable_id() = ToProto(stats.id);
  out.set_cpu_usage_usec(c.cpu_usage_usec);
  out.set_memory_bytes(c.memory_bytes);
  out.set_memory_limit(c.memory_limit);
  *out.mutable_timestamp() = ToProto(stats.timestamp);
  if (c.cpu_user_usec) out.set_cpu_user_usec(*c.cpu_user_usec);
  if (c.cpu_system_usec) out.set_cpu_system_usec(*c.cpu_system_usec);
  if (c.cpu_nr_periods) out.set_cpu_nr_periods(*c.cpu_nr_periods);
  if (c.cpu_nr_throttled) out.set_cpu_nr_throttled(*c.cpu_nr_throttled);
  if (c.cpu_throttled_usec) out.set_cpu_throttled_usec(*c.cpu_throttled_usec);
  if (c.memory_anon) out.set_memory_anon(*c.memory_anon);
  if (c.memory_file) out.set_memory_file(*c.memory_file);
  if (c.memory_kernel) out.set_memory_kernel(*c.memory_kernel);
  if (c.memory_sock) out.set_memory_sock(*c.memory_sock);
  if (c.memory_shmem) out.set_memory_shmem(*c.memory_shmem);
  if (c.memory_oom_events) out.set_memory_oom_events(*c.memory_oom_events);
  if (c.memory_oom_kill) out.set_memory_oom_kill(*c.memory_oom_kill);
  if (c.pids_current) out.set_pids_current(*c.pids_current);
  if (c.pids_max) out.set_pids_max(*c.pids_max);
  for (const auto& d : c.io) {
    auto* io = out.add_io();
    io->set_major(d.major);
    io->set_minor(d.minor);
    io->set_rbytes(d.rbytes);
    io->set_wbytes(d.wbytes);
    io->set_rios(d.rios);
    io->set_wios(d.wios);
  }
  if (c.cpu_pressure) SetPressure(c.cpu_pressure, out.mutable_cpu_pressure());
  if (c.memory_pressure) SetPressure(c.memory_pressure, out.mutable_memory_pressure());
  if (c.io_pressure) SetPressure(c.io_pressure, out.mutable_io_pressure());
  out.set_cgroup_mode(core::CgroupModeName(c.mode));
  return out;
}

pb::ImageInfo ToProto(const core::ImageInfo& info) {
  pb::ImageInfo out;
  out.set_reference(info.reference);
  if (info.digest) out.set_digest(*info.digest);
  if (info.size_bytes) out.set_size_bytes(*info.size_bytes);
  if (info.created_at) *out.mutable_created_at() = ToProto(*info.created_at);
  out.set_containers(info.containers);
  return out;
}

pb::PullImageEvent ToProto(const core::PullProgress& p) {
  pb::PullImageEvent out;
  if (p.kind == core::PullProgress::Kind::kStatus) {
    out.set_status(p.status);
    return out;
  }
  auto* layer = out.mutable_layer();
  layer->set_digest(p.digest);
  layer->set_bytes_done(p.bytes_done);
  layer->set_bytes_total(p.bytes_total);
  using LS = core::PullProgress::LayerState;
  switch (p.layer_state) {
    case LS::kWaiting: layer->set_status(pb::LAYER_STATUS_WAITING); break;
    case LS::kDownloading: layer->set_status(pb::LAYER_STATUS_DOWNLOADING); break;
    case LS::kVerified: layer->set_status(pb::LAYER_STATUS_VERIFIED); break;
    case LS::kExtracting: layer->set_status(pb::LAYER_STATUS_EXTRACTING); break;
    case LS::kDone: layer->set_status(pb::LAYER_STATUS_DONE); break;
    case LS::kAlreadyExists: layer->set_status(pb::LAYER_STATUS_ALREADY_EXISTS); break;
  }
  return out;
}

pb::PullDone ToProto(const core::PullResult& result) {
  pb::PullDone out;
  out.set_reference(result.reference);
  out.set_digest(result.digest);
  out.set_already_present(result.already_present);
  out.set_size_bytes(result.size_bytes);
  return out;
}

pb::ContainerSummary ToSummary(const core::ContainerRecord& r) {
  pb::ContainerSummary out;
  *out.mutable_id() = ToProto(r.id);
  out.set_name(r.id.ToString());
  out.set_image(r.image);
  out.set_deployment(r.deployment);
  *out.mutable_state() = ToProto(r.state);
  if (r.created_at) *out.mutable_created_at() = ToProto(*r.created_at);
  if (r.started_at) *out.mutable_started_at() = ToProto(*r.started_at);
  if (r.pid) out.set_pid(*r.pid);
  out.mutable_labels()->insert(r.labels.begin(), r.labels.end());
  if (r.supervision) {
    out.set_restart_count(r.supervision->restart_count);
    if (r.supervision->next_restart_at) {
      *out.mutable_next_restart_at() = ToProto(*r.supervision->next_restart_at);
    }
  }
  return out;
}

pb::ContainerInfo ToInfo(const core::ContainerRecord& r) {
  pb::ContainerInfo out;
  *out.mutable_id() = ToProto(r.id);
  out.set_name(r.id.ToString());
  out.set_deployment(r.deployment);
  *out.mutable_state() = ToProto(r.state);
  out.set_image(r.image);
  out.set_image_digest(r.image_digest);
  if (r.pid) out.set_pid(*r.pid);
  if (r.created_at) *out.mutable_created_at() = ToProto(*r.created_at);
  if (r.started_at) *out.mutable_started_at() = ToProto(*r.started_at);
  if (r.outcome) *out.mutable_outcome() = ToProto(*r.outcome);
  *out.mutable_spec() = ToProto(r.spec);
  out.mutable_spec()->mutable_image()->clear_auth();
  out.mutable_labels()->insert(r.labels.begin(), r.labels.end());
  out.mutable_annotations()->insert(r.annotations.begin(), r.annotations.end());
  if (r.supervision) *out.mutable_supervision() = ToProto(*r.supervision);
  return out;
}

void AddDetails(const core::ContainerInspectDetails& d, pb::ContainerInfo* info) {
  for (const auto& p : d.ports) {
    auto* m = info->add_ports();
    m->set_container_port(p.container_port);
    m->set_host_port(p.host_port);
    m->set_protocol(p.protocol);
    m->set_host_ip(p.host_ip);
  }
  for (const auto& n : d.networks) {
    auto* a = info->add_networks();
    a->set_network(n.network);
    for (const auto& alias : n.aliases) a->add_aliases(alias);
    if (n.ipv4) a->set_ipv4(*n.ipv4);
  }
  if (d.ipv4) info->set_ipv4(*d.ipv4);
  if (d.health) {
    auto* h = info->mutable_health();
    h->set_status(d.health->status);
    if (d.health->failing_streak) h->set_failing_streak(*d.health->failing_streak);
    if (d.health->last_output) h->set_last_output(base::SanitizeUtf8(*d.health->last_output));
  }
  if (d.exit_code) info->set_exit_code(*d.exit_code);
}

absl::StatusOr<core::ExecRequest> FromProto(const pb::ExecRequest& in) {
  auto id = FromProto(in.id());
  if (!id.ok()) return id.status();
  if (in.command().empty()) return core::InvalidSpec("exec: command must not be empty");
  core::ExecRequest out;
  out.id = *id;
  out.command.assign(in.command().begin(), in.command().end());
  out.env.insert(in.env().begin(), in.env().end());
  out.workdir = in.workdir();
  out.user = in.user();
  if (in.has_timeout()) {
    const absl::Duration t = FromProto(in.timeout());
    if (t <= absl::ZeroDuration()) return core::InvalidSpec("exec: timeout must be positive");
    out.timeout = t;
  }
  return out;
}

absl::StatusOr<core::ContainerFilter> FromProto(const pb::ListContainersRequest& in) {
  core::ContainerFilter f;
  f.service = in.service();
  f.deployment = in.deployment();
  if (in.phase() != pb::CONTAINER_PHASE_UNSPECIFIED) {
    auto phase = FromProto(in.phase());
    if (!phase) return UnknownEnum("phase", in.phase());
    f.phase = *phase;
  }
  return f;
}

}  // namespace zlayer::proto
