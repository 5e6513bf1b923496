// Every unary RPC of RuntimeService against a real zlayer-agentd (mock backend),
// through the generated C++ stubs.
#include <catch2/catch.hpp>

#include "support/agent_process.h"
#include "support/rpc_builders.h"

using namespace zlayer::testing;
namespace pb = zlayer::agent::v1;

namespace {

constexpr auto& Id = PbContainerId;

void Create(pb::RuntimeService::Stub& stub, const pb::ContainerId& id,
            const std::string& deployment = "dep") {
  pb::CreateContainerRequest req;
  *req.mutable_id() = id;
  req.mutable_spec()->mutable_image()->set_name("test:latest");
  (*req.mutable_spec()->mutable_labels())["team"] = "core";
  req.set_deployment(deployment);
  pb::CreateContainerResponse resp;
  auto s = stub.CreateContainer(Ctx().get(), req, &resp);
  REQUIRE(s.error_message() == "");
  REQUIRE(s.ok());
}

void Start(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::StartContainerRequest req;
  *req.mutable_id() = id;
  pb::StartContainerResponse resp;
  REQUIRE(stub.StartContainer(Ctx().get(), req, &resp).ok());
}

pb::ContainerState State(pb::RuntimeService::Stub& stub, const pb::ContainerId& id) {
  pb::GetContainerStateRequest req;
  *req.mutable_id() = id;
  pb::GetContainerStateResponse resp;
  auto s = stub.GetContainerState(Ctx().get(), req, &resp);
  REQUIRE(s.ok());
  return resp.state();
}

}  // namespace

TEST_CASE("lifecycle RPCs move a mock container through its states", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("web", 1);
  Create(*stub, id);
  CHECK(State(*stub, id).phase() == pb::CONTAINER_PHASE_PENDING);
  Start(*stub, id);
  CHECK(State(*stub, id).phase() == pb::CONTAINER_PHASE_RUNNING);

  SECTION("stop gives exited(0)") {
    pb::StopContainerRequest req;
    *req.mutable_id() = id;
    req.mutable_timeout()->set_seconds(1);
    pb::StopContainerResponse resp;
    REQUIRE(stub->StopContainer(Ctx().get(), req, &resp).ok());
    const auto st = State(*stub, id);
    CHECK(st.phase() == pb::CONTAINER_PHASE_EXITED);
    CHECK(st.exit_code() == 0);
  }
  SECTION("kill with no signal means SIGKILL: exited(137)") {
    pb::KillContainerRequest req;
    *req.mutable_id() = id;
    pb::KillContainerResponse resp;
    REQUIRE(stub->KillContainer(Ctx().get(), req, &resp).ok());
    CHECK(State(*stub, id).exit_code() == 137);
  }
  SECTION("kill with a bad signal is INVALID_ARGUMENT and changes nothing") {
    pb::KillContainerRequest req;
    *req.mutable_id() = id;
    req.set_signal("SIGSEGV");
    pb::KillContainerResponse resp;
    auto s = stub->KillContainer(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("SIGSEGV") != std::string::npos);
    CHECK(State(*stub, id).phase() == pb::CONTAINER_PHASE_RUNNING);
  }
  SECTION("remove makes it unknown") {
    pb::RemoveContainerRequest req;
    *req.mutable_id() = id;
    pb::RemoveContainerResponse resp;
    REQUIRE(stub->RemoveContainer(Ctx().get(), req, &resp).ok());
    pb::GetContainerStateRequest sreq;
    *sreq.mutable_id() = id;
    pb::GetContainerStateResponse sresp;
    CHECK(stub->GetContainerState(Ctx().get(), sreq, &sresp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("a missing container is NOT_FOUND on every container RPC", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  const auto id = Id("ghost", 9);
  auto expect_not_found = [](const grpc::Status& s) {
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(s.error_message().find("ghost-rep-9") != std::string::npos);
  };
  {
    pb::StartContainerRequest r; *r.mutable_id() = id; pb::StartContainerResponse o;
    expect_not_found(stub->StartContainer(Ctx().get(), r, &o));
  }
  {
    pb::StopContainerRequest r; *r.mutable_id() = id; pb::StopContainerResponse o;
    expect_not_found(stub->StopContainer(Ctx().get(), r, &o));
  }
  {
    pb::KillContainerRequest r; *r.mutable_id() = id; pb::KillContainerResponse o;
    expect_not_found(stub->KillContainer(Ctx().get(), r, &o));
  }
  {
    pb::RemoveContainerRequest r; *r.mutable_id() = id; pb::RemoveContainerResponse o;
    expect_not_found(stub->RemoveContainer(Ctx().get(), r, &o));
  }
  {
    pb::GetContainerStateRequest r; *r.mutable_id() = id; pb::GetContainerStateResponse o;
    expect_not_found(stub->GetContainerState(Ctx().get(), r, &o));
  }
  {
    pb::InspectContainerRequest r; *r.mutable_id() = id; pb::ContainerInfo o;
    expect_not_found(stub->InspectContainer(Ctx().get(), r, &o));
  }
  {
    pb::GetContainerPidRequest r; *r.mutable_id() = id; pb::GetContainerPidResponse o;
    expect_not_found(stub->GetContainerPid(Ctx().get(), r, &o));
  }
  {
    pb::GetContainerIpRequest r; *r.mutable_id() = id; pb::GetContainerIpResponse o;
    expect_not_found(stub->GetContainerIp(Ctx().get(), r, &o));
  }
  {
    pb::ExecRequest r; *r.mutable_id() = id; r.add_command("true"); pb::ExecResponse o;
    expect_not_found(stub->Exec(Ctx().get(), r, &o));
  }
  {
    pb::GetStatsRequest r; *r.mutable_id() = id; pb::ContainerStats o;
    expect_not_found(stub->GetStats(Ctx().get(), r, &o));
  }
  {
    pb::SyncVolumesRequest r; *r.mutable_id() = id; pb::SyncVolumesResponse o;
    expect_not_found(stub->SyncVolumes(Ctx().get(), r, &o));
  }
}

TEST_CASE("bad input is INVALID_ARGUMENT, duplicates ALREADY_EXISTS, wrong state "
          "FAILED_PRECONDITION", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  SECTION("a service name that is not safe") {
    pb::CreateContainerRequest req;
    *req.mutable_id() = Id("../etc", 1);
    pb::CreateContainerResponse resp;
    CHECK(stub->CreateContainer(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("duplicate create") {
    Create(*stub, Id("web", 1));
    pb::CreateContainerRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::CreateContainerResponse resp;
    auto s = stub->CreateContainer(Ctx().get(), req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
    CHECK(s.error_message().find("web-rep-1") != std::string::npos);
  }
  SECTION("exec before start") {
    Create(*stub, Id("web", 2));
    pb::ExecRequest req;
    *req.mutable_id() = Id("web", 2);
    req.add_command("true");
    pb::ExecResponse resp;
    CHECK(stub->Exec(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);
  }
  SECTION("exec without a command") {
    Create(*stub, Id("web", 3));
    pb::ExecRequest req;
    *req.mutable_id() = Id("web", 3);
    pb::ExecResponse resp;
    CHECK(stub->Exec(Ctx().get(), req, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("an unknown pull policy") {
    pb::PullImageRequest req;
    req.set_image("x");
    req.set_policy(static_cast<pb::PullPolicy>(77));
    auto ctx = Ctx();
    auto reader = stub->PullImage(ctx.get(), req);
    pb::PullImageEvent ev;
    while (reader->Read(&ev)) {
    }
    CHECK(reader->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("import is UNIMPLEMENTED on the mock") {
    auto ctx = Ctx();
    pb::ImportImageResponse resp;
    auto writer = stub->ImportImage(ctx.get(), &resp);
    pb::ImportImageRequest chunk;
    chunk.set_reference("local/x:1");
    chunk.set_chunk("not really a tar");
    writer->Write(chunk);
    writer->WritesDone();
    CHECK(writer->Finish().error_code() == grpc::StatusCode::UNIMPLEMENTED);
  }
}

TEST_CASE("query RPCs: list, inspect, pid, ip, port override", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  Create(*stub, Id("web", 1), "shop");
  Create(*stub, Id("web", 2), "shop");
  Create(*stub, Id("db", 1), "data");
  Start(*stub, Id("web", 1));

  SECTION("list with and without filters") {
    pb::ListContainersRequest req;
    pb::ListContainersResponse resp;
    REQUIRE(stub->ListContainers(Ctx().get(), req, &resp).ok());
    REQUIRE(resp.containers_size() == 3);
    CHECK(resp.containers(0).name() == "db-rep-1");
    req.set_deployment("shop");
    resp.Clear();
    REQUIRE(stub->ListContainers(Ctx().get(), req, &resp).ok());
    CHECK(resp.containers_size() == 2);
    req.set_phase(pb::CONTAINER_PHASE_RUNNING);
    resp.Clear();
    REQUIRE(stub->ListContainers(Ctx().get(), req, &resp).ok());
    REQUIRE(resp.containers_size() == 1);
    CHECK(resp.containers(0).name() == "web-rep-1");
    CHECK(resp.containers(0).image() == "test:latest");
    CHECK(resp.containers(0).labels().at("team") == "core");
    CHECK(resp.containers(0).has_pid());
  }
  SECTION("inspect") {
    pb::InspectContainerRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::ContainerInfo info;
    REQUIRE(stub->InspectContainer(Ctx().get(), req, &info).ok());
    CHECK(info.name() == "web-rep-1");
    CHECK(info.deployment() == "shop");
    CHECK(info.state().phase() == pb::CONTAINER_PHASE_RUNNING);
    CHECK(info.ip() == "172.17.0.3");
    CHECK_FALSE(info.has_port_override());
    CHECK(info.spec().image().name() == "test:latest");
    CHECK(info.has_created_at());
    CHECK(info.has_started_at());
  }
  SECTION("pid is set after start, absent before") {
    pb::GetContainerPidRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::GetContainerPidResponse resp;
    REQUIRE(stub->GetContainerPid(Ctx().get(), req, &resp).ok());
    CHECK(resp.has_pid());
    CHECK(resp.pid() == static_cast<uint32_t>(agent.pid()));
    *req.mutable_id() = Id("web", 2);
    resp.Clear();
    REQUIRE(stub->GetContainerPid(Ctx().get(), req, &resp).ok());
    CHECK_FALSE(resp.has_pid());
  }
  SECTION("ip is 172.17.0.<replica+2>") {
    pb::GetContainerIpRequest req;
    *req.mutable_id() = Id("web", 2);
    pb::GetContainerIpResponse resp;
    REQUIRE(stub->GetContainerIp(Ctx().get(), req, &resp).ok());
    CHECK(resp.ip() == "172.17.0.4");
  }
  SECTION("no port override on Linux") {
    pb::GetContainerPortOverrideRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::GetContainerPortOverrideResponse resp;
    REQUIRE(stub->GetContainerPortOverride(Ctx().get(), req, &resp).ok());
    CHECK_FALSE(resp.has_port());
  }
}

TEST_CASE("exec, stats, list stats and sync volumes", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  Create(*stub, Id("web", 1));
  Create(*stub, Id("web", 2));
  Start(*stub, Id("web", 1));
  {
    pb::ExecRequest req;
    *req.mutable_id() = Id("web", 1);
    req.add_command("echo");
    req.add_command("hello");
    pb::ExecResponse resp;
    REQUIRE(stub->Exec(Ctx().get(), req, &resp).ok());
    CHECK(resp.exit_code() == 0);
    CHECK(resp.stdout() == "echo hello");
    CHECK(resp.stderr().empty());
  }
  {
    pb::GetStatsRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::ContainerStats resp;
    REQUIRE(stub->GetStats(Ctx().get(), req, &resp).ok());
    CHECK(resp.cpu_usage_usec() == 1'000'000);
    CHECK(resp.memory_bytes() == 50u * 1024 * 1024);
    CHECK(resp.memory_limit() == 256u * 1024 * 1024);
    CHECK(resp.has_timestamp());
    CHECK(resp.id().service() == "web");
  }
  {
    pb::ListStatsRequest req;
    pb::ListStatsResponse resp;
    REQUIRE(stub->ListStats(Ctx().get(), req, &resp).ok());
    // Running containers only.
    REQUIRE(resp.stats_size() == 1);
    CHECK(resp.stats(0).id().replica() == 1);
  }
  {
    pb::SyncVolumesRequest req;
    *req.mutable_id() = Id("web", 1);
    pb::SyncVolumesResponse resp;
    CHECK(stub->SyncVolumes(Ctx().get(), req, &resp).ok());
  }
}

TEST_CASE("image RPCs on the mock: list, remove, prune, tag", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  {
    pb::ListImagesRequest req;
    pb::ListImagesResponse resp;
    REQUIRE(stub->ListImages(Ctx().get(), req, &resp).ok());
    CHECK(resp.images_size() == 0);
  }
  {
    pb::RemoveImageRequest req;
    req.set_image("test:latest");
    pb::RemoveImageResponse resp;
    CHECK(stub->RemoveImage(Ctx().get(), req, &resp).ok());
    req.set_image("");
    CHECK(stub->RemoveImage(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    pb::PruneImagesRequest req;
    pb::PruneImagesResponse resp;
    REQUIRE(stub->PruneImages(Ctx().get(), req, &resp).ok());
    CHECK(resp.deleted_size() == 0);
    CHECK(resp.space_reclaimed() == 0);
  }
  {
    pb::TagImageRequest req;
    req.set_source("test:latest");
    req.set_target("test:v2");
    pb::TagImageResponse resp;
    CHECK(stub->TagImage(Ctx().get(), req, &resp).ok());
    req.clear_target();
    CHECK(stub->TagImage(Ctx().get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("GetAgentInfo describes the agent", "[integration]") {
  AgentProcess agent;
  auto stub = agent.Stub();
  Create(*stub, Id("web", 1));
  pb::GetAgentInfoRequest req;
  pb::GetAgentInfoResponse resp;
  REQUIRE(stub->GetAgentInfo(Ctx().get(), req, &resp).ok());
  CHECK(resp.backend() == "mock");
  CHECK(resp.containers() == 1);
  CHECK_FALSE(resp.version().empty());
  CHECK(resp.has_started_at());
}
