"""docs/module-graph.dot (and .png): the module graph drawn for docs/architecture.md."""

import os
import shutil
import subprocess

DOT_PATH = "docs/module-graph.dot"
PNG_PATH = "docs/module-graph.png"


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def render(g, clusters, leave_out):
    """The Graphviz text. Only structure goes in (file and include counts, never line
    counts), so that the file changes when the structure does and not on every edit."""
    out = [
        "// The module graph of zlayer-agentd (docs/architecture.md): an arrow points from",
        "// a module to one it depends on, labelled with the number of #include lines",
        '// ("link" where only a CMake link connects them); red arrows are not allowed.',
        "// Written by scripts/check_modules.py --write-docs; ctest's module_graph test fails",
        "// when it is out of date.",
        "digraph modules {",
        '  graph [fontname="Helvetica", fontsize=11, nodesep=0.3, ranksep=0.6];',
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    shown = sorted(m for m in g.modules if m not in leave_out)

    def node(m, indent):
        files = g.modules[m][0]
        out.append('%s"%s" [label="%s\\n%s"];' % (indent, m, m, _plural(files, "file")))

    placed = set()
    for i, (layer, members) in enumerate(clusters):
        present = [m for m in members if m in shown]
        if not present:
            continue
        out.append('  subgraph cluster_%d {' % i)
        out.append('    label="%s"; style=dashed; color="#999999";' % layer)
        for m in present:
            node(m, "    ")
            placed.add(m)
        out.append("  }")
    for m in shown:
        if m not in placed:
            node(m, "  ")
    for (a, b) in sorted(g.edges):
        if a in leave_out or b in leave_out:
            continue
        e = g.edges[(a, b)]
        attrs = ['label="%s"' % (len(e.includes) if e.includes else "link")]
        if not e.includes:
            attrs.append("style=dashed")
        if (a, b) in g.disallowed:
            attrs.append("color=red, fontcolor=red")
        out.append('  "%s" -> "%s" [%s];' % (a, b, ", ".join(attrs)))
    out.append("}")
    return "\n".join(out) + "\n"


def write(root, text):
    """Writes the .dot, and the .png when Graphviz is installed; returns what it wrote."""
    path = os.path.join(root, DOT_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    written = [DOT_PATH]
    dot = shutil.which("dot")
    if dot:
        r = subprocess.run([dot, "-Tpng", "-o", os.path.join(root, PNG_PATH), path],
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            written.append(PNG_PATH)
        else:
            print("warning: dot -Tpng failed: %s" % r.stderr.strip())
    return written


def is_current(root, text):
    try:
        with open(os.path.join(root, DOT_PATH), encoding="utf-8") as f:
            return f.read() == text
    except OSError:
        return False
