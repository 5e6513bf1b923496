#!/usr/bin/python3
"""The module graph of zlayer-agentd, checked (docs/architecture.md).

Reads the #include lines of the tree's C++ files and the CMake targets and links, and
fails on: a cycle between modules; protobuf or gRPC headers below the front ends; a
source file over 600 lines; a dependency the layering table below does not allow.

  scripts/check_modules.py [--root DIR] [--write-docs] [--check-docs] [--self-test]

Run by ctest (tests/modules): module_graph on the tree, module_graph_selftest on
small trees made to break each rule, so that the checker is seen to fail.
"""

import argparse
import os
import sys
import types

# The script is run from the source tree by ctest; no bytecode left beside it.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from modgraph import docs, graph, selftest  # noqa: E402

ANY = "*"

# The layering: each module and the modules it may depend on, by #include or CMake
# link. This table is the architecture; a change to it is a change of design.
LAYERS = {
    # The contract: ids, states, errors, ServiceSpec, the runtime and image interfaces.
    "core": [],
    # Platform plumbing: event loop, processes, files, work queue, scheduler, logging.
    "base": ["core"],
    # Container stats read from cgroup files (v1, v2, hybrid).
    "cgroups": ["core", "base"],
    # Image references, the registry client, the content store, snapshots, rootfs mounts.
    "images": ["core", "base"],
    # Deployment specs in YAML, parsed into core::ServiceSpec.
    "deploy": ["core", "base", "supervise"],
    # Container networking: the NetworkManager interface and its CNI implementation.
    "network": ["core", "base"],
    # The credentials handed to containers for calling back into the API.
    "auth": ["core", "base"],
    # The node's event journal (SQLite) behind the Events RPC; backends reach it
    # only through core::EventSink.
    "events": ["core", "base"],
    # Prometheus metrics: the text format, RPC and pull counters, the cAdvisor-named
    # container families over core::ContainerRuntime, and the /metrics HTTP listener.
    "metrics": ["core", "base"],
    # Supervision: restart policies and backoff, judged apart from any backend.
    "supervise": ["core"],
    # What backends share (files directly in runtimes/): state bus, registry, settings.
    "runtimes": ["core", "base", "auth", "images", "network"],
    # MockRuntime: the in-memory backend that behaves like the contract's reference mock.
    "runtimes/mock": ["core", "base", "runtimes"],
    # OciBackend: real containers through runc, and zlayer-monitor (runtimes/oci/monitor).
    "runtimes/oci": ["core", "base", "runtimes", "auth", "cgroups", "images", "network",
                     "supervise"],
    # The wire contract (zlayer.agent.v1 .proto, generated code) and pb <-> domain types.
    "proto": ["core", "base", "deploy", "cgroups", "supervise"],
    # The CRI front end, when it comes: kubelet's API over the same backends.
    "cri": ["core", "base", "runtimes", "images", "network", "cgroups", "proto"],
    # zlayer-agentd: config, the gRPC services, systemd, watchdog; over every layer.
    "agentd": ["core", "base", "cgroups", "images", "deploy", "network", "auth", "events",
               "metrics", "supervise", "runtimes", "runtimes/mock", "runtimes/oci", "proto"],
    # zlayerctl, the command-line client over the generated stubs.
    "cli": ["core", "base", "cgroups", "deploy", "supervise", "proto"],
    # Benchmarks; they drive real agents with the test fixtures (bench/CMakeLists.txt).
    "bench": ANY,
    # The test suites.
    "tests": ANY,
}
# May use anything, and nothing else may use them (they use each other: see bench).
LEAVES = ("bench", "tests")

# Nothing below the front ends sees the wire: these alone may include protobuf/gRPC.
GRPC_MODULES = ("agentd", "cli", "proto", "cri", "bench", "tests")
GRPC_INCLUDES = ("grpcpp/", "grpc/", "grpc++/", "google/protobuf/", "zlayer/agent/v1/")
GRPC_LINKS = ("gRPC::", "protobuf::")  # the same, said in a CMakeLists

# Quoted includes of these are third-party headers, not modules of the tree.
EXTERNAL = ("absl/", "nlohmann/", "spdlog/", "fmt/", "yaml-cpp/", "catch2/", "grpcpp/",
            "google/", "systemd/", "curl/", "archive", "openssl/", "sqlite3")

MAX_LINES = 600
SIZE_EXTS = (".cc", ".h", ".hpp", ".c", ".py", ".sh", ".proto")

# How docs/module-graph.dot groups the modules; tests and bench are left out of it.
CLUSTERS = [
    ("contract", ["core"]),
    ("platform", ["base"]),
    ("peers", ["cgroups", "images", "deploy", "network", "auth", "events", "metrics",
               "supervise"]),
    ("backends", ["runtimes", "runtimes/mock", "runtimes/oci"]),
    ("wire", ["proto"]),
    ("front ends", ["agentd", "cli", "cri"]),
]
DOCS_LEAVE_OUT = ("tests", "bench")

POLICY = types.SimpleNamespace(
    layers=LAYERS, any=ANY, leaves=LEAVES, grpc_modules=GRPC_MODULES,
    grpc_includes=GRPC_INCLUDES, grpc_links=GRPC_LINKS,
    grpc_reason="protobuf/gRPC belong to %s only" % ", ".join(GRPC_MODULES),
    external=EXTERNAL, max_lines=MAX_LINES, size_exts=SIZE_EXTS,
    clusters=CLUSTERS, docs_leave_out=DOCS_LEAVE_OUT)


def report(g, out):
    print("modules (files, lines):", file=out)
    for m in sorted(g.modules):
        files, lines = g.modules[m]
        print("  %-16s %4d %7d" % (m, files, lines), file=out)
    print("edges (includes, links):", file=out)
    for (a, b) in sorted(g.edges):
        e = g.edges[(a, b)]
        mark = "   NOT ALLOWED" if (a, b) in g.disallowed else ""
        print("  %-31s %4d %3d%s" % ("%s -> %s" % (a, b), len(e.includes), len(e.links), mark),
              file=out)
    for w in g.warnings:
        print("warning: " + w, file=out)
    if g.violations:
        print("violations:", file=out)
        for v in g.violations:
            print("%s:%d: %s: %s" % v, file=out)
        print("module graph: FAILED (%d violation%s)" % (
            len(g.violations), "" if len(g.violations) == 1 else "s"), file=out)
    else:
        print("module graph: OK (%d modules, %d edges, %d files)" % (
            len(g.modules), len(g.edges), g.file_count()), file=out)


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=here, help="source tree (default: this script's)")
    parser.add_argument("--write-docs", action="store_true",
                        help="write docs/module-graph.dot (and .png with Graphviz's dot)")
    parser.add_argument("--check-docs", action="store_true",
                        help="also fail when docs/module-graph.dot is out of date")
    parser.add_argument("--self-test", action="store_true",
                        help="check the checker on small trees made to break each rule")
    args = parser.parse_args(argv)
    if args.self_test:
        return selftest.run(main, POLICY, out)
    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        print("check_modules: no such directory: %s" % root, file=out)
        return 2
    g = graph.analyze(root, POLICY)
    dot = docs.render(g, CLUSTERS, DOCS_LEAVE_OUT)
    if args.write_docs:
        for path in docs.write(root, dot):
            print("wrote %s" % path, file=out)
    if args.check_docs and not docs.is_current(root, dot):
        g.violations.append(graph.Violation(
            docs.DOT_PATH, 1, "docs",
            "missing or out of date; run scripts/check_modules.py --write-docs"))
    report(g, out)
    return 1 if g.violations else 0


if __name__ == "__main__":
    sys.exit(main())
