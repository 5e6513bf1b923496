#!/usr/bin/python3
"""Interop test with an independent gRPC client: Debian's python3-grpcio.

Starts zlayer-agentd (mock backend) on a private socket, then:
  1. lists services through server reflection (v1alpha, what gRPC C++ 1.51 serves),
  2. makes unary calls (CreateContainer, GetContainerState),
  3. reads a server stream (Wait) through to its outcome.
Messages are compiled from the project's .proto files with protoc; reflection.proto
comes from Debian's grpc-proto package. Debian has no grpc_reflection module, and the
generated module must not live in a directory named "grpc" (it would shadow grpcio).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

REFLECTION_PROTO_ROOT = "/usr/share/grpc-proto"


def compile_protos(proto_dir, out_dir):
    subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}",
         "zlayer/agent/v1/spec.proto", "zlayer/agent/v1/runtime.proto"],
        check=True)
    subprocess.run(
        ["protoc", f"--proto_path={REFLECTION_PROTO_ROOT}", f"--python_out={out_dir}",
         "grpc/reflection/v1alpha/reflection.proto"],
        check=True)
    # Rename the generated "grpc" package so it cannot shadow grpcio.
    os.rename(os.path.join(out_dir, "grpc"), os.path.join(out_dir, "grpc_gen"))
    for root, _, files in os.walk(out_dir):
        for name in files:
            if name.endswith("_pb2.py"):
                path = os.path.join(root, name)
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(text.replace("from grpc.reflection", "from grpc_gen.reflection"))
    sys.path.insert(0, out_dir)


def wait_for_socket(path, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"zlayer-agentd exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError("zlayer-agentd did not create its socket")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agentd", required=True)
    parser.add_argument("--proto-dir", required=True)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="zt-py-")
    agent = None
    try:
        gen = os.path.join(work, "gen")
        os.makedirs(gen)
        compile_protos(args.proto_dir, gen)
        from zlayer.agent.v1 import runtime_pb2, spec_pb2  # noqa: F401
        from grpc_gen.reflection.v1alpha import reflection_pb2

        sock = os.path.join(work, "agentd.sock")
        log = open(os.path.join(work, "agentd.log"), "w")
        agent = subprocess.Popen(
            [args.agentd, "--backend", "mock", "--socket", sock,
             "--data-dir", os.path.join(work, "data"), "--run-dir", os.path.join(work, "run")],
            stdout=log, stderr=log)
        wait_for_socket(sock, agent)

        channel = grpc.insecure_channel(f"unix:{sock}")
        grpc.channel_ready_future(channel).result(timeout=20)

        # 1. Reflection: list services.
        reflect = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        responses = list(reflect(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                 timeout=10))
        services = {s.name for s in responses[0].list_services_response.service}
        print("services:", sorted(services))
        for expected in ("zlayer.agent.v1.RuntimeService", "grpc.health.v1.Health",
                         "grpc.reflection.v1alpha.ServerReflection"):
            assert expected in services, f"{expected} missing from {services}"

        # Reflection also serves the file descriptor, so grpcurl can build requests.
        responses = list(reflect(iter([reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="zlayer.agent.v1.RuntimeService")]), timeout=10))
        assert responses[0].file_descriptor_response.file_descriptor_proto, "no descriptor"

        def unary(name, req, resp_type):
            call = channel.unary_unary(
                f"/zlayer.agent.v1.RuntimeService/{name}",
                request_serializer=type(req).SerializeToString,
                response_deserializer=resp_type.FromString)
            return call(req, timeout=10)

        # 2. Unary calls.
        cid = runtime_pb2.ContainerId(service="py", replica=1)
        req = runtime_pb2.CreateContainerRequest(id=cid, deployment="interop")
        req.spec.image.name = "test:latest"
        unary("CreateContainer", req, runtime_pb2.CreateContainerResponse)
        state = unary("GetContainerState", runtime_pb2.GetContainerStateRequest(id=cid),
                      runtime_pb2.GetContainerStateResponse).state
        assert state.phase == runtime_pb2.CONTAINER_PHASE_PENDING, state
        try:
            unary("GetContainerState",
                  runtime_pb2.GetContainerStateRequest(
                      id=runtime_pb2.ContainerId(service="nope", replica=1)),
                  runtime_pb2.GetContainerStateResponse)
            raise AssertionError("expected NOT_FOUND")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, e

        # 3. A server stream: Wait sees the state, the kill, then the outcome.
        unary("StartContainer", runtime_pb2.StartContainerRequest(id=cid),
              runtime_pb2.StartContainerResponse)
        wait = channel.unary_stream(
            "/zlayer.agent.v1.RuntimeService/Wait",
            request_serializer=runtime_pb2.WaitRequest.SerializeToString,
            response_deserializer=runtime_pb2.WaitEvent.FromString)
        stream = wait(runtime_pb2.WaitRequest(id=cid), timeout=20)
        first = next(stream)
        assert first.state.phase == runtime_pb2.CONTAINER_PHASE_RUNNING, first
        unary("KillContainer", runtime_pb2.KillContainerRequest(id=cid, signal="term"),
              runtime_pb2.KillContainerResponse)
        rest = list(stream)
        assert rest[-1].HasField("outcome"), rest
        assert rest[-1].outcome.exit_code == 137
        assert rest[-1].outcome.reason == runtime_pb2.WAIT_REASON_SIGNAL
        assert rest[-1].outcome.signal == "SIGKILL"

        # 4. Events: replay of the journal after a sequence, in order, then live.
        events = channel.unary_stream(
            "/zlayer.agent.v1.RuntimeService/Events",
            request_serializer=runtime_pb2.EventsRequest.SerializeToString,
            response_deserializer=runtime_pb2.Event.FromString)
        replay = events(runtime_pb2.EventsRequest(since_sequence=0, service="py"), timeout=20)
        got = [next(replay) for _ in range(3)]
        replay.cancel()
        assert [e.kind for e in got] == [runtime_pb2.EVENT_KIND_CONTAINER_CREATED,
                                         runtime_pb2.EVENT_KIND_CONTAINER_STARTED,
                                         runtime_pb2.EVENT_KIND_CONTAINER_EXITED], got
        assert got[0].sequence < got[1].sequence < got[2].sequence, got
        assert got[0].deployment == "interop", got[0]
        assert got[2].outcome.exit_code == 137, got[2]
        follow = events(runtime_pb2.EventsRequest(since_sequence=got[2].sequence,
                                                  service="py"), timeout=20)
        unary("RemoveContainer", runtime_pb2.RemoveContainerRequest(id=cid),
              runtime_pb2.RemoveContainerResponse)
        removed = next(follow)
        follow.cancel()
        assert removed.kind == runtime_pb2.EVENT_KIND_CONTAINER_REMOVED, removed
        assert removed.sequence > got[2].sequence, removed
        try:
            list(events(runtime_pb2.EventsRequest(since_sequence=10**9), timeout=10))
            raise AssertionError("expected OUT_OF_RANGE")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.OUT_OF_RANGE, e
        print("python3-grpcio interop: OK")
        return 0
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
