#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "google/protobuf/util/message_differencer.h"
#include "proto/convert/convert.h"
#include "proto/convert/supervision.h"
#include "runtimes/oci/container_record.h"

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
  h->set_restart_on_unhealthy(true);
  s.mutable_restart()->set_policy("on-failure:3");
  s.mutable_restart()->mutable_backoff_base()->set_nanos(500'000'000);
  s.mutable_restart()->mutable_backoff_max()->set_seconds(60);
  s.mutable_restart()->mutable_reset_after()->set_seconds(600);
  auto* tcp = s.add_init();
  tcp->set_name("db");
  tcp->mutable_wait_tcp()->set_host("10.0.0.5");
  tcp->mutable_wait_tcp()->set_port(5432);
  tcp->mutable_timeout()->set_seconds(30);
  tcp->set_retries(2);
  auto* http = s.add_init();
  http->mutable_wait_http()->set_url("http://10.0.0.6:8080/ready");
  http->mutable_wait_http()->set_expect_status(204);
  auto* run = s.add_init();
  run->set_name("migrate");
  run->mutable_run()->add_command("sh");
  run->mutable_run()->add_command("-c");
  run->mutable_run()->add_command("migrate --up");
  s.set_init_process(false);
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
  CHECK(cpp->health->restart_on_unhealthy);
  CHECK(cpp->restart.mode == core::RestartPolicy::Mode::kOnFailure);
  CHECK(cpp->restart.max_retries == 3);
  CHECK(cpp->restart.backoff_base == absl::Milliseconds(500));
  CHECK(cpp->restart.backoff_max == absl::Minutes(1));
  CHECK(cpp->restart.reset_after == absl::Minutes(10));
  REQUIRE(cpp->init.size() == 3);
  CHECK(cpp->init[0].kind == core::InitAction::Kind::kWaitTcp);
  CHECK(cpp->init[0].name == "db");
  CHECK(cpp->init[0].host == "10.0.0.5");
  CHECK(cpp->init[0].port == 5432);
  CHECK(cpp->init[0].timeout == absl::Seconds(30));
  CHECK(cpp->init[0].retries == 2);
  CHECK(cpp->init[1].kind == core::InitAction::Kind::kWaitHttp);
  CHECK(cpp->init[1].expect_status == 204);
  CHECK(cpp->init[1].timeout == absl::ZeroDuration());
  CHECK(cpp->init[2].kind == core::InitAction::Kind::kRun);
  CHECK(cpp->init[2].command == std::vector<std::string>{"sh", "-c", "migrate --up"});
  CHECK(cpp->init_process == false);
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

TEST_CASE("a spec without supervision stays without it on the wire", "[unit]") {
  pb::ServiceSpec in;
  in.mutable_image()->set_name("x");
  auto cpp = proto::FromProto(in);
  REQUIRE(cpp.ok());
  CHECK(cpp->restart.mode == core::RestartPolicy::Mode::kNo);
  CHECK(cpp->init.empty());
  CHECK_FALSE(cpp->init_process.has_value());
  // Absent, not {policy: "no"}: specs applied before restart policies existed must
  // compare equal to what the agent reports for them (zlayerctl apply).
  const pb::ServiceSpec out = proto::ToProto(*cpp);
  CHECK_FALSE(out.has_restart());
  CHECK(out.init_size() == 0);
  CHECK_FALSE(out.has_init_process());
  in.mutable_restart()->set_policy("always");
  CHECK(proto::ToProto(*proto::FromProto(in)).restart().policy() == "always");
}

TEST_CASE("supervision mistakes on the wire are INVALID_ARGUMENT naming the field", "[unit]") {
  auto refused = [](const pb::ServiceSpec& spec, const std::string& field) {
    const absl::Status s = proto::FromProto(spec).status();
    INFO(s.ToString());
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(s.message(), field + ": "));
  };
  pb::ServiceSpec base;
  base.mutable_image()->set_name("x");
  for (const char* bad : {"sometimes", "on-failure:0", "on-failure:x", "Always", "on_failure"}) {
    INFO(bad);
    pb::ServiceSpec s = base;
    s.mutable_restart()->set_policy(bad);
    refused(s, "spec.restart.policy");
  }
  pb::ServiceSpec negative = base;
  negative.mutable_restart()->set_policy("always");
  negative.mutable_restart()->mutable_backoff_max()->set_seconds(-1);
  refused(negative, "spec.restart.backoff_max");
  pb::ServiceSpec inverted = base;
  inverted.mutable_restart()->set_policy("always");
  inverted.mutable_restart()->mutable_backoff_base()->set_seconds(60);
  inverted.mutable_restart()->mutable_backoff_max()->set_seconds(10);
  refused(inverted, "spec.restart");

  pb::ServiceSpec no_action = base;
  no_action.add_init()->set_name("nothing");
  refused(no_action, "spec.init[0]");
  pb::ServiceSpec port = base;
  port.add_init()->mutable_run()->add_command("true");
  port.add_init()->mutable_wait_tcp()->set_port(70000);
  refused(port, "spec.init[1].wait_tcp.port");
  pb::ServiceSpec url = base;
  url.add_init()->mutable_wait_http()->set_url("localhost:8080");
  refused(url, "spec.init[0].wait_http.url");
  pb::ServiceSpec status = base;
  status.add_init()->mutable_wait_http()->set_url("http://a/");
  status.mutable_init(0)->mutable_wait_http()->set_expect_status(42);
  refused(status, "spec.init[0].wait_http.expect_status");
  pb::ServiceSpec empty_run = base;
  empty_run.add_init()->mutable_run();
  refused(empty_run, "spec.init[0].run.command");
  pb::ServiceSpec timeout = base;
  auto* step = timeout.add_init();
  step->mutable_wait_tcp()->set_port(80);
  step->mutable_timeout()->set_seconds(-5);
  refused(timeout, "spec.init[0].timeout");

  pb::ServiceSpec unhealthy = base;
  unhealthy.mutable_health()->set_restart_on_unhealthy(true);  // no check to fail
  refused(unhealthy, "spec.health.restart_on_unhealthy");
}

TEST_CASE("the restart policy's report reaches ContainerInfo and the summary", "[unit]") {
  core::ContainerRecord r;
  r.id = {"web", 1};
  r.state = core::ContainerState::Exited(1);
  CHECK_FALSE(proto::ToInfo(r).has_supervision());
  CHECK(proto::ToSummary(r).restart_count() == 0);
  CHECK_FALSE(proto::ToSummary(r).has_next_restart_at());

  core::SupervisionDetail d;
  d.policy = "on-failure:3";
  d.restart_count = 2;
  d.next_restart_at = absl::FromUnixSeconds(1'700'000'004);
  core::RestartHistoryEntry first;
  first.outcome.exit_code = 1;
  first.outcome.finished_at = absl::FromUnixSeconds(1'700'000'000);
  first.restarted = true;
  core::RestartHistoryEntry second;
  second.outcome.exit_code = 137;
  second.outcome.reason = core::WaitReason::kSignal;
  second.outcome.signal = "SIGKILL";
  second.cause = "unhealthy";
  d.history = {first, second};
  r.supervision = d;

  const pb::ContainerInfo info = proto::ToInfo(r);
  REQUIRE(info.has_supervision());
  const pb::Supervision& s = info.supervision();
  CHECK(s.policy() == "on-failure:3");
  CHECK(s.restart_count() == 2);
  CHECK(s.next_restart_at().seconds() == 1'700'000'004);
  CHECK(s.not_restarting().empty());
  REQUIRE(s.history_size() == 2);
  CHECK(s.history(0).outcome().exit_code() == 1);
  CHECK(s.history(0).cause() == "exited");
  CHECK(s.history(0).restarted());
  CHECK(s.history(1).outcome().reason() == pb::WAIT_REASON_SIGNAL);
  CHECK(s.history(1).cause() == "unhealthy");
  CHECK_FALSE(s.history(1).restarted());
  const pb::ContainerSummary summary = proto::ToSummary(r);
  CHECK(summary.restart_count() == 2);
  CHECK(summary.next_restart_at().seconds() == 1'700'000'004);

  const core::SupervisionDetail back = proto::FromProto(s);
  CHECK(back.policy == d.policy);
  CHECK(back.restart_count == 2);
  CHECK(back.next_restart_at == d.next_restart_at);
  REQUIRE(back.history.size() == 2);
  CHECK(back.history[1].outcome.signal == "SIGKILL");
  CHECK(back.history[1].cause == "unhealthy");

  // Not waiting: next_restart_at stays unset rather than 1970.
  r.supervision->next_restart_at.reset();
  r.supervision->not_restarting = "stopped through the API";
  CHECK_FALSE(proto::ToInfo(r).supervision().has_next_restart_at());
  CHECK_FALSE(proto::ToSummary(r).has_next_restart_at());
  CHECK(proto::ToInfo(r).supervision().not_restarting() == "stopped through the API");
}

TEST_CASE("the stored spec (record.json) keeps supervision; old records read defaults", "[unit]") {
  auto cpp = proto::FromProto(FullSpec());
  REQUIRE(cpp.ok());
  cpp->image.auth.reset();  // never stored
  auto stored = oci::SpecFromJson(nlohmann::json::parse(oci::SpecToJson(*cpp).dump()));
  REQUIRE(stored.ok());
  // The same wire form: every field survived, supervision's included.
  google::protobuf::util::MessageDifferencer d;
  std::string diff;
  d.ReportDifferencesToString(&diff);
  CHECK(d.Compare(proto::ToProto(*cpp), proto::ToProto(*stored)));
  INFO(diff);
  CHECK(stored->init_process == false);
  CHECK(stored->restart.max_retries == 3);

  // A record written before supervision: no restart, init or init_process keys.
  nlohmann::json old = oci::SpecToJson(*cpp);
  old.erase("restart");
  old.erase("init");
  old.erase("init_process");
  old["health"].erase("restart_on_unhealthy");
  auto read = oci::SpecFromJson(old);
  REQUIRE(read.ok());
  CHECK(read->restart.mode == core::RestartPolicy::Mode::kNo);
  CHECK(read->init.empty());
  CHECK_FALSE(read->init_process.has_value());
  CHECK_FALSE(read->health->restart_on_unhealthy);

  old["restart"] = {{"policy", "sometimes"}};
  CHECK(oci::SpecFromJson(old).status().code() == absl::StatusCode::kInvalidArgument);
}
