"""The module graph of a tree (modules, and edges from #include lines and CMake links)
and what in it breaks the policy given by scripts/check_modules.py."""

import collections
import os

from . import cmake, scan

Violation = collections.namedtuple("Violation", "file line rule message")
# One include or CMake link behind an edge: where it is and what it says.
Use = collections.namedtuple("Use", "file line what")


class Edge:
    def __init__(self):
        self.includes, self.links = [], []

    def example(self):
        return min(self.includes) if self.includes else min(self.links)


class Graph:
    def __init__(self):
        self.modules = {}  # name -> [files, lines]
        self.edges = collections.defaultdict(Edge)  # (from, to) -> Edge
        self.violations, self.warnings = [], []
        self.disallowed = set()  # edges the layering forbids

    def file_count(self):
        return sum(files for files, _ in self.modules.values())


def module_of(path):
    """runtimes/<dir>/... is a module of its own (a backend); otherwise the first path
    component is the module. Files at the root belong to no real module."""
    parts = path.split("/")
    if len(parts) == 1:
        return "(root)"
    if parts[0] == "runtimes" and len(parts) >= 3:
        return "runtimes/" + parts[1]
    return parts[0]


def _generated_module(inc, protos):
    """The module of a generated *.pb.h: where its .proto lives (proto/ for the wire
    contract, bench/ for the containerd API the bench speaks), proto/ if none is found."""
    stem = inc[:-len(".grpc.pb.h")] if inc.endswith(".grpc.pb.h") else inc[:-len(".pb.h")]
    for p in protos:
        if p[:-len(".proto")] == stem or p[:-len(".proto")].endswith("/" + stem):
            return module_of(p)
    return "proto"


def _why_not(policy, a, b):
    """None if module a may depend on module b, else the reason it may not."""
    if a not in policy.layers:
        return None  # reported once as an unknown module rather than per include
    if b in policy.leaves and a not in policy.leaves:
        return "nothing outside %s may depend on %s" % (" and ".join(policy.leaves), b)
    allowed = policy.layers[a]
    if allowed == policy.any or b in allowed:
        return None
    return "%s may depend on: %s" % (a, ", ".join(allowed) or "nothing")


def _sccs(nodes, adj):
    """Tarjan's strongly connected components, in a deterministic order."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in nodes:
        if v not in index:
            visit(v)
    return out


def _shortest_cycle(comp, adj):
    """A shortest cycle through the component's least module, as a list of modules
    starting and ending with it."""
    start = min(comp)
    parent, queue = {start: None}, collections.deque([start])
    while queue:
        u = queue.popleft()
        for w in adj[u]:
            if w == start:
                path = [u]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if w in comp and w not in parent:
                parent[w] = u
                queue.append(w)
    return [start]


def _check_cycles(g):
    nodes = sorted(set(g.modules) | {m for e in g.edges for m in e})
    adj = collections.defaultdict(list)
    for a, b in sorted(g.edges):
        adj[a].append(b)
    for comp in _sccs(nodes, adj):
        if len(comp) < 2:
            continue
        cycle = _shortest_cycle(comp, adj)
        steps = list(zip(cycle, cycle[1:]))
        first = g.edges[steps[0]].example()
        detail = "; ".join("%s -> %s: %s:%d %s" % (a, b, *g.edges[(a, b)].example())
                           for a, b in steps)
        rest = sorted(comp - set(cycle))
        if rest:
            detail += "; also tangled in it: " + ", ".join(rest)
        g.violations.append(Violation(first.file, first.line, "cycle",
                                      "%s (%s)" % (" -> ".join(cycle), detail)))


def analyze(root, policy):
    root = os.path.abspath(root)
    files = scan.list_files(root)
    fileset = set(files)
    g = Graph()
    texts = {}

    def text(_root, path):
        if path not in texts:
            texts[path] = scan.read_text(root, path)
        return texts[path]

    # Size: every hand-written source file, wherever it lives.
    for p in files:
        name = os.path.basename(p)
        if not (name.endswith(policy.size_exts) or name == "CMakeLists.txt"):
            continue
        if scan.is_fixture(p) or (p.split("/")[0].startswith("build") and "/" in p):
            continue
        t = text(root, p)
        n = scan.line_count(t)
        if n > policy.max_lines and not scan.is_generated(p, t):
            g.violations.append(Violation(
                p, policy.max_lines + 1, "file-size",
                "%d lines, over the %d-line limit" % (n, policy.max_lines)))

    # Fixtures are data the tests read, never compiled into the modules.
    code = [p for p in files if p.endswith(scan.CPP_EXTS + (".proto",)) and not scan.is_fixture(p)]
    protos = [p for p in code if p.endswith(".proto")]
    first_seen = {}
    for p in code:
        m = module_of(p)
        counts = g.modules.setdefault(m, [0, 0])
        counts[0] += 1
        counts[1] += scan.line_count(text(root, p))
        first_seen.setdefault(m, (p, 1))

    cmake_files = [p for p in files if os.path.basename(p) == "CMakeLists.txt"]
    targets, links, include_dirs = cmake.read(root, cmake_files, text)

    for p in code:
        if p.endswith(".proto"):
            continue
        a = module_of(p)
        for line, delim, inc in scan.includes(text(root, p)):
            what = "#include " + ('"%s"' % inc if delim == '"' else "<%s>" % inc)
            found = scan.resolve(inc, delim, p, fileset, include_dirs)
            # A header of the tree's own that merely sits in a grpc/ directory is not gRPC.
            wire = inc.endswith(".pb.h") or (found is None and inc.startswith(policy.grpc_includes))
            if wire and a not in policy.grpc_modules:
                g.violations.append(Violation(p, line, "grpc", "%s in %s: %s" % (
                    what, a, policy.grpc_reason)))
            if found is not None:
                b = module_of(found)
            elif inc.startswith(policy.external):
                continue
            elif inc.endswith(".pb.h"):
                b = _generated_module(inc, protos)
            elif delim == "<":
                continue  # the system's and the toolchain's headers
            else:
                g.warnings.append("%s:%d: %s: not in the tree, not generated, not a known "
                                  "third-party prefix" % (p, line, what))
                continue
            if a != b:
                g.edges[(a, b)].includes.append(Use(p, line, what))

    def target_module(t):
        return module_of(t.first_source) if t.first_source else module_of(t.dir + "/x")

    for t in targets.values():
        m = target_module(t)
        g.modules.setdefault(m, [0, 0])
        first_seen.setdefault(m, (t.cmake, t.line))
    for link in links:
        t = targets.get(link.target)
        if t is None:
            continue  # a target this tree does not define
        a = target_module(t)
        if link.item in targets:
            b = target_module(targets[link.item])
            if a != b:
                g.edges[(a, b)].links.append(Use(link.cmake, link.line, "links " + link.item))
        elif link.item.startswith(policy.grpc_links) and a not in policy.grpc_modules:
            g.violations.append(Violation(link.cmake, link.line, "grpc", "%s (%s) links %s: %s" % (
                link.target, a, link.item, policy.grpc_reason)))

    for m in sorted(g.modules):
        if m not in policy.layers:
            f, line = first_seen[m]
            g.violations.append(Violation(f, line, "unknown-module",
                                          "%s is not in the layering table (LAYERS in "
                                          "scripts/check_modules.py)" % m))
    for (a, b), e in sorted(g.edges.items()):
        why = _why_not(policy, a, b)
        if why is None:
            continue
        g.disallowed.add((a, b))
        for use in sorted(e.includes + e.links):
            g.violations.append(Violation(use.file, use.line, "layering",
                                          "%s -> %s: not allowed (%s); %s" % (a, b, why, use.what)))
    _check_cycles(g)
    g.violations.sort()
    return g
