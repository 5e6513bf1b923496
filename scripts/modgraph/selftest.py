"""--self-test: small trees, each made to break one rule, and one clean tree. A checker
that is never seen to fail proves nothing about the tree it passes."""

import io
import os
import re
import shutil
import subprocess
import tempfile

from . import docs, graph

# A miniature of the real layout: every layer, a backend of each kind, the wire, a
# front end, tests; plus the lexer's traps (commented-out and in-string includes).
CLEAN = {
    "CMakeLists.txt": "include_directories(${CMAKE_SOURCE_DIR})\nadd_subdirectory(core)\n",
    "core/CMakeLists.txt": "add_library(zlayer_core STATIC types.cc)\n"
                           "target_link_libraries(zlayer_core PUBLIC absl::status)\n",
    "core/types.h": '#pragma once\n#include <string>\n#include "absl/status/status.h"\n',
    "core/types.cc": '#include "core/types.h"\nchar kQuote = \'"\';\n'
                     'int kBig = 1\'000; /* was:\n#include "base/fs.h"\n*/\n',
    "base/CMakeLists.txt": "add_library(zlayer_base STATIC fs.cc)  # [[not an arg]]\n"
                           "target_link_libraries(zlayer_base PUBLIC zlayer_core)\n",
    "base/fs.h": '#pragma once\n#include "core/types.h"\n',
    "base/fs.cc": '#include "fs.h"\n#include "spdlog/spdlog.h"\n',
    "images/CMakeLists.txt": "add_library(zlayer_images STATIC\n  store.cc\n)\n"
                             "target_link_libraries(zlayer_images\n  PUBLIC zlayer_base\n"
                             "  PRIVATE zlayer_core CURL::libcurl)\n",
    "images/store.h": '#pragma once\n#include "base/fs.h"\n'
                      '// #include "runtimes/oci/backend.h"\n'
                      '/* an old note:\n#include "tests/support.h"\n*/\n'
                      'const char* kGlob = "/sys/fs/cgroup/*"; const char* kAfter = "x";\n',
    "images/store.cc": '#include "images/store.h"\n#include <archive.h>\n#include "sqlite3.h"\n',
    "images/at_limit.cc": "// exactly at the limit\n" * 600,
    "runtimes/CMakeLists.txt": "add_library(zlayer_runtimes STATIC registry.cc)\n"
                               "target_link_libraries(zlayer_runtimes PUBLIC zlayer_images)\n"
                               "add_library(zlayer_runtime_mock STATIC mock/mock.cc)\n"
                               "target_link_libraries(zlayer_runtime_mock PUBLIC zlayer_runtimes)\n",
    "runtimes/registry.h": '#pragma once\n#include "images/store.h"\n',
    "runtimes/registry.cc": '#include "runtimes/registry.h"\n',
    "runtimes/mock/mock.cc": '#include "runtimes/registry.h"\n#include "core/types.h"\n',
    "runtimes/oci/CMakeLists.txt":
        "add_executable(zlayer-monitor monitor/main.cc)\n"
        "target_link_libraries(zlayer-monitor PRIVATE $<TARGET_FILE:zlayer_base> -pthread)\n"
        "add_library(zlayer_runtime_oci STATIC backend.cc)\n"
        "target_link_libraries(zlayer_runtime_oci PUBLIC zlayer_runtimes zlayer_images)\n",
    "runtimes/oci/backend.h": '#pragma once\n#include "runtimes/registry.h"\n'
                              'const char* kScript = R"sh(\n#include "tests/support.h"\n)sh";\n',
    "runtimes/oci/backend.cc": '#include "backend.h"\n#include "monitor/protocol.h"\n',
    "runtimes/oci/monitor/protocol.h": "#pragma once\n",
    "network/grpc/wire_free.h": "#pragma once\n",
    "network/net.cc": '#include "grpc/wire_free.h"\n',
    "runtimes/oci/monitor/main.cc": '#include "base/fs.h"\n',
    "proto/CMakeLists.txt": "add_library(zlayer_proto STATIC ${PROTO_SRCS})\n"
                            "target_link_libraries(zlayer_proto PUBLIC protobuf::libprotobuf)\n",
    "proto/zlayer/agent/v1/runtime.proto": 'syntax = "proto3";\n',
    "proto/convert/convert.h": '#include "google/protobuf/timestamp.pb.h"\n'
                               '#include "zlayer/agent/v1/runtime.pb.h"\n#include "core/types.h"\n',
    "agentd/CMakeLists.txt": "add_executable(zlayer-agentd main.cc)\n"
                             "target_link_libraries(zlayer-agentd PRIVATE zlayer_runtime_oci\n"
                             "  zlayer_runtime_mock zlayer_proto gRPC::grpc++)\n",
    "agentd/main.cc": '#include <grpcpp/grpcpp.h>\n#include "zlayer/agent/v1/runtime.grpc.pb.h"\n'
                      '#include "proto/convert/convert.h"\n#include "runtimes/oci/backend.h"\n',
    "tests/CMakeLists.txt": "add_library(test_support STATIC support.cc)\n"
                            "target_include_directories(test_support PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})\n"
                            "target_link_libraries(test_support PUBLIC zlayer_runtime_oci)\n",
    "tests/support.h": '#include "runtimes/oci/backend.h"\n',
    "tests/support.cc": '#include "support.h"\n',
    "tests/unit/a_test.cc": '#include "support.h"\n// reads /proc/*/status, "quoted\n'
                            '#include "agentd/main.cc"\n',
    "tests/cgroups/fixtures/big.c": "#include \"nowhere.h\"\n" * 700,
    "bench/containerd/api.proto": 'syntax = "proto3";\n',
    "bench/client.h": '#include "containerd/api.grpc.pb.h"\n#include "support.h"\n',
    "scripts/helper.py": "# a small helper\n",
    "tests/golden/table.h": "// @generated by gen_table.py\n" + "{1},\n" * 700,
    "build/gen/huge.pb.h": "// generated\n" * 900,
    "build-asan/scratch.cc": "// scratch\n" * 900,
}

# Each case: a name, files added or replaced over CLEAN, and the violation expected:
# (rule, file, line or None, a piece of the message).
CASES = [
    ("cycle images <-> runtimes/oci",
     {"images/store.cc": '#include "images/store.h"\n#include "runtimes/oci/backend.h"\n'},
     ("cycle", "images/store.cc", 2, "images -> runtimes/oci -> images")),
    ("grpcpp include in images/",
     {"images/store.cc": '#include "images/store.h"\n\n#include <grpcpp/grpcpp.h>\n'},
     ("grpc", "images/store.cc", 3, "<grpcpp/grpcpp.h> in images")),
    ("generated header in cgroups/",
     {"cgroups/stats.cc": '#include "zlayer/agent/v1/runtime.pb.h"\n'},
     ("grpc", "cgroups/stats.cc", 1, "runtime.pb.h")),
    ("gRPC link from images/",
     {"images/CMakeLists.txt": "add_library(zlayer_images STATIC store.cc)\n"
                               "target_link_libraries(zlayer_images PRIVATE gRPC::grpc++)\n"},
     ("grpc", "images/CMakeLists.txt", 2, "links gRPC::grpc++")),
    ("a 601-line file",
     {"images/big.cc": "// line\n" * 601},
     ("file-size", "images/big.cc", 601, "601 lines")),
    ("a 601-line script without a final newline",
     {"scripts/helper.py": "# line\n" * 600 + "pass"},
     ("file-size", "scripts/helper.py", 601, "601 lines")),
    ("core includes base",
     {"core/types.cc": '#include "core/types.h"\n#include "base/fs.h"\n'},
     ("layering", "core/types.cc", 2, "core -> base: not allowed (core may depend on: nothing)")),
    ("runtimes/mock includes runtimes/oci",
     {"runtimes/mock/mock.cc": '#include "runtimes/oci/backend.h"\n'},
     ("layering", "runtimes/mock/mock.cc", 1, "runtimes/mock -> runtimes/oci: not allowed")),
    ("images includes a peer",
     {"images/store.cc": '#include "deploy/spec.h"\n', "deploy/spec.h": "#pragma once\n"},
     ("layering", "images/store.cc", 1, "images -> deploy: not allowed (images may depend "
                                        "on: core, base)")),
    ("images includes tests/",
     {"images/store.cc": '#include "tests/support.h"\n'},
     ("layering", "images/store.cc", 1, "nothing outside bench and tests may depend on tests")),
    ("agentd includes bench/",
     {"agentd/main.cc": '#include "bench/client.h"\n'},
     ("layering", "agentd/main.cc", 1, "agentd -> bench: not allowed")),
    ("CMake link from images to a runtimes/oci target",
     {"images/CMakeLists.txt": "add_library(zlayer_images STATIC store.cc)\n"
                               "target_link_libraries(zlayer_images\n  PUBLIC zlayer_base\n"
                               "  PRIVATE zlayer_runtime_oci)\n"},
     ("layering", "images/CMakeLists.txt", 4, "images -> runtimes/oci: not allowed")),
    ("CMake link through $<TARGET_FILE:> from cgroups to images",
     {"cgroups/CMakeLists.txt": "add_executable(probe probe.cc)\n"
                                "target_link_libraries(probe PRIVATE $<TARGET_FILE:zlayer_images>)\n",
      "cgroups/probe.cc": "int main() {}\n"},
     ("layering", "cgroups/CMakeLists.txt", 2, "cgroups -> images: not allowed")),
    ("a module the table does not know",
     {"runtimes/kata/kata.cc": '#include "runtimes/registry.h"\n'},
     ("unknown-module", "runtimes/kata/kata.cc", 1, "runtimes/kata is not in the layering")),
]


def _make(base, files):
    for path, text in files.items():
        full = os.path.join(base, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)


def _found(g, expected):
    rule, file, line, text = expected
    return any(v.rule == rule and v.file == file and (line is None or v.line == line)
               and text in v.message for v in g.violations)


def _run_main(main, argv):
    buf = io.StringIO()
    return main(argv, out=buf), buf.getvalue()


def _check_clean(tmp, main, policy):
    root = os.path.join(tmp, "clean")
    _make(root, CLEAN)
    g = graph.analyze(root, policy)
    problems = ["unexpected: %s:%d: %s: %s" % v for v in g.violations]
    problems += ["unexpected warning: " + w for w in g.warnings]
    want = {("agentd", "proto"), ("runtimes/oci", "runtimes"), ("tests", "runtimes/oci"),
            ("runtimes/mock", "runtimes"), ("bench", "tests"), ("runtimes/oci", "base"),
            ("tests", "agentd")}
    problems += ["missing edge %s -> %s" % e for e in sorted(want - set(g.edges))]
    # The commented-out and in-string includes, the fixture, and build output.
    unwanted = {("images", "runtimes/oci"), ("images", "tests"), ("runtimes/oci", "tests"),
                ("bench", "proto")}
    problems += ["phantom edge %s -> %s" % e for e in sorted(unwanted & set(g.edges))]
    if "bench" not in g.modules or g.modules["runtimes/oci"][0] != 4:
        problems.append("module files wrong: %r" % g.modules)
    rc, text = _run_main(main, ["--root", root])
    if rc != 0 or "module graph: OK (" not in text:
        problems.append("main exited %d on the clean tree:\n%s" % (rc, text))
    return problems


def _check_docs(tmp, main, policy):
    root = os.path.join(tmp, "docs")
    _make(root, CLEAN)
    problems = []
    rc, text = _run_main(main, ["--root", root, "--check-docs"])
    if rc != 1 or "run scripts/check_modules.py --write-docs" not in text:
        problems.append("missing docs not reported (exit %d)" % rc)
    _run_main(main, ["--root", root, "--write-docs"])
    with open(os.path.join(root, docs.DOT_PATH), encoding="utf-8") as f:
        dot = f.read()
    for piece in ('subgraph cluster_', 'label="backends"', '"runtimes/oci" -> "runtimes"',
                  'label="core\\n2 files"'):
        if piece not in dot:
            problems.append("docs/module-graph.dot lacks %r" % piece)
    if '"tests"' in dot or '"bench"' in dot or re.search(r"\d+ lines", dot):
        problems.append("docs/module-graph.dot shows tests, bench or line counts")
    rc, text = _run_main(main, ["--root", root, "--check-docs"])
    if rc != 0:
        problems.append("fresh docs reported stale:\n" + text)
    # Lines change, structure does not: the graph must stay current.
    _make(root, {"images/store.cc": CLEAN["images/store.cc"] + "// more\n" * 20})
    if _run_main(main, ["--root", root, "--check-docs"])[0] != 0:
        problems.append("docs went stale on a change of line counts only")
    _make(root, {"auth/token.h": '#include "core/types.h"\n'})
    rc, text = _run_main(main, ["--root", root, "--check-docs"])
    if rc != 1 or "docs/module-graph.dot:1: docs:" not in text:
        problems.append("stale docs (a new module) not reported (exit %d)" % rc)
    return problems


def _check_git(tmp, policy):
    """In a checkout: untracked files count, ignored ones do not."""
    if shutil.which("git") is None:
        return []
    root = os.path.join(tmp, "git")
    _make(root, dict(CLEAN, **{".gitignore": "/scratch/\n",
                               "scratch/huge.cc": "// ignored\n" * 700}))
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    for cmd in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", "-C", root] + cmd, check=True, env=env, capture_output=True)
    _make(root, {"images/untracked.cc": "// new\n" * 601})
    g = graph.analyze(root, policy)
    sizes = sorted(v.file for v in g.violations if v.rule == "file-size")
    return [] if sizes == ["images/untracked.cc"] else ["git mode: size violations %r" % sizes]


def run(main, policy, out):
    results = []
    with tempfile.TemporaryDirectory(prefix="check_modules.") as tmp:
        results.append(("clean tree passes", _check_clean(tmp, main, policy)))
        for i, (name, change, expected) in enumerate(CASES):
            root = os.path.join(tmp, "case%d" % i)
            _make(root, dict(CLEAN, **change))
            g = graph.analyze(root, policy)
            problems = [] if _found(g, expected) else [
                "expected %s at %s:%s (%r); got:\n%s" % (
                    expected[0], expected[1], expected[2], expected[3],
                    "\n".join("    %s:%d: %s: %s" % v for v in g.violations) or "    nothing")]
            rc, text = _run_main(main, ["--root", root])
            if rc != 1 or "module graph: FAILED (" not in text:
                problems.append("main exited %d" % rc)
            results.append((name, problems))
        results.append(("docs written, checked, and found stale", _check_docs(tmp, main, policy)))
        results.append(("git checkout: untracked counted, ignored not", _check_git(tmp, policy)))
    failed = 0
    for name, problems in results:
        print("%s  %s" % ("FAIL" if problems else "ok  ", name), file=out)
        for p in problems:
            print("      " + p, file=out)
        failed += bool(problems)
    print("self-test: %s (%d cases, %d failed)" % (
        "FAILED" if failed else "OK", len(results), failed), file=out)
    return 1 if failed else 0
