#include <catch2/catch.hpp>

#include "google/protobuf/util/message_differencer.h"
#include "proto/convert/convert.h"

using namespace zlayer;
namespace pb = zlayer::agent::v1;

namespace {

pb::ServiceSpec FullSpec() {
  pb::ServiceSpec s;
  s.set_rtype(pb::SERVICE_TYPE_JOB);
  s.mutable_image()->set_name("registry.local:5000/app:1");
  s.mutable_image()->set_pull_policy(pb::PULL_POLICY_ALWAYS);
  s.mutable_image()->mutable_auth()->set_username("u");
  s.mutable_image()->mutable_auth()->set_password("p");
  s.mutable_command()->add_entrypoint("/bin/sh");
  s.mutable_command()->add_args("-c");
  s.mutable_command()->add_args("echo hi");
  s.mutable_command()->set_workdir("/srv");
  (*s.mutable_env())["A"] = "1";
  s.mutable_resources()->set_cpu(0.5);
  s.mutable_resources()->set_memory_bytes(64 << 20);
  s.mutable_resources()->set_pids_limit(100);
  auto* ep = s.add_endpoints();
  ep->set_name("http");
  ep->set_protocol(pb::ENDPOINT_PROTOCOL_TCP);
  ep->set_port(80);
  ep->set_target_port(8080);
  s.mutable_scale()->set_replicas(3);
  auto* st = s.add_storage();
  st->set_type(pb::STORAGE_TYPE_TMPFS);
  st->set_target("/tmp");
  st->set_size_bytes(1 << 20);
  s.set_user("nobody");
  s.set_hostname("h");
  s.add_capabilities("NET_ADMIN");
  s.add_cap_drop("CHOWN");
  s.set_privileged(false);
  s.set_read_only_root_fs(true);
  s.set_stop_signal("SIGINT");
  s.mutable_stop_grace_period()->set_seconds(5);
  (*s.mutable_labels())["team"] = "core";
  auto* h = s.mutable_health();
  h->mutable_interval()->set_seconds(10);
  h->mutable_timeout()->set_seconds(2);
  h->mutable_start_grace()->set_seconds(1);
  h->set_retries(3);
  h->mutable_command()->add_command("true");
  return s;
}

}  // namespace

TEST_CASE("ServiceSpec survives proto -> C++ -> proto", "[unit]") {
  const pb::ServiceSpec in = FullSpec();
  auto cpp = proto::FromProto(in);
  REQUIRE(cpp.ok());
  CHECK(cpp->rtype == core::ServiceType::kJob);
  CHECK(cpp->image.pull_policy == core::PullPolicy::kAlways);
  CHECK(cpp->resources.memory_bytes == 64u << 20);
  CHECK(cpp->storage.at(0).type == core::StorageType::kTmpfs);
  CHECK(cpp->health->check == core::HealthSpec::Check::kCommand);
  CHECK(*cpp->stop_grace_period == absl::Seconds(5));
  const pb::ServiceSpec out = proto::ToProto(*cpp);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  CHECK(d.Compare(in, out));
  INFO(diff);
}

TEST_CASE("unknown enum values from newer clients are INVALID_ARGUMENT", "[unit]") {
  pb::ServiceSpec s;
  s.mutable_image()->set_name("x");
  s.add_storage()->set_type(static_cast<pb::StorageType>(42));
  CHECK(proto::FromProto(s).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(proto::FromProto(static_cast<pb::PullPolicy>(9)).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("timestamps and durations keep nanoseconds", "[unit]") {
  const absl::Time t = absl::FromUnixNanos(1'700'000'000'123'456'789);
  CHECK(proto::FromProto(proto::ToProto(t)) == t);
  CHECK(proto::ToProto(t).nanos() == 123'456'789);
  const absl::Duration d = absl::Milliseconds(1500);
  CHECK(proto::FromProto(proto::ToProto(d)) == d);
}

TEST_CASE("states and outcomes map to the wire enums", "[unit]") {
  CHECK(proto::ToProto(core::ContainerState::Exited(3)).exit_code() == 3);
  CHECK(proto::ToProto(core::ContainerState::Exited(3)).phase() == pb::CONTAINER_PHASE_EXITED);
  CHECK(proto::ToProto(core::ContainerState::Failed("x")).reason() == "x");
  core::WaitOutcome o;
  o.exit_code = 137;
  o.reason = core::WaitReason::kSignal;
  o.signal = "SIGKILL";
  o.finished_at = absl::FromUnixSeconds(5);
  const pb::WaitOutcome w = proto::ToProto(o);
  CHECK(w.reason() == pb::WAIT_REASON_SIGNAL);
  CHECK(w.signal() == "SIGKILL");
  CHECK(w.finished_at().seconds() == 5);
  const auto back = proto::FromProto(w);
  CHECK(back.reason == core::WaitReason::kSignal);
  CHECK(*back.signal == "SIGKILL");
  CHECK(proto::ToProto(core::WaitReason::kOomKilled) == pb::WAIT_REASON_OOM_KILLED);
  CHECK(proto::ToProto(core::WaitReason::kRuntimeError) == pb::WAIT_REASON_RUNTIME_ERROR);
}

TEST_CASE("log messages that are not UTF-8 still serialise", "[unit]") {
  core::LogEntry e;
  e.timestamp = absl::FromUnixSeconds(1);
  e.message = std::string("ok \xff\xfe end");
  e.stream = core::LogStream::kStderr;
  const pb::LogEntry p = proto::ToProto(e);
  CHECK(p.message() == "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  std::string wire;
  CHECK(p.SerializeToString(&wire));
  CHECK(p.stream() == pb::LOG_STREAM_STDERR);
}

TEST_CASE("container ids are validated on the way in", "[unit]") {
  pb::ContainerId id;
  CHECK(proto::FromProto(id).status().code() == absl::StatusCode::kInvalidArgument);
  id.set_service("../../etc");
  CHECK(proto::FromProto(id).status().code() == absl::StatusCode::kInvalidArgument);
  id.set_service("web");
  id.set_replica(2);
  CHECK(proto::FromProto(id)->ToString() == "web-rep-2");
}
