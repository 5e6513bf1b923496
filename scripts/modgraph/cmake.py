"""CMake targets, their links and include directories, read from the CMakeLists.txt
files without running CMake: only what the module graph needs."""

import collections
import os
import re

Target = collections.namedtuple("Target", "name cmake line dir first_source")
Link = collections.namedtuple("Link", "cmake line target item")

_BRACKET = re.compile(r"\[(=*)\[")
_TARGET_FILE = re.compile(r"\$<TARGET(?:_LINKER)?_FILE:([^>]+)>")
_KEYWORDS = {
    "PUBLIC", "PRIVATE", "INTERFACE", "STATIC", "SHARED", "MODULE", "OBJECT", "UNKNOWN",
    "IMPORTED", "GLOBAL", "ALIAS", "EXCLUDE_FROM_ALL", "WIN32", "MACOSX_BUNDLE",
    "LINK_PUBLIC", "LINK_PRIVATE", "LINK_INTERFACE_LIBRARIES", "debug", "optimized",
    "general", "BEFORE", "AFTER", "SYSTEM"}


def _skip_bracket(text, i, line):
    """text[i] opens a bracket ([[ or [=[); the index after its close and the line."""
    m = _BRACKET.match(text, i)
    close = "]" + m.group(1) + "]"
    j = text.find(close, m.end())
    j = len(text) if j < 0 else j
    return j + len(close), line + text.count("\n", i, j), text[m.end():j]


def _skip_comment(text, i, line):
    if _BRACKET.match(text, i + 1):
        end, line, _ = _skip_bracket(text, i + 1, line)
        return end, line
    j = text.find("\n", i)
    return (len(text) if j < 0 else j), line


def _arguments(text, i, line):
    """Parse from just after a command's '('; (args as (text, line), index, line)."""
    args, buf, start, depth = [], [], None, 1

    def flush():
        if start is not None:
            args.append(("".join(buf), start))
        buf.clear()

    while i < len(text):
        c = text[i]
        if c in " \t\r\n":
            flush()
            start = None
            line += c == "\n"
            i += 1
        elif c == "#":
            flush()
            start = None
            i, line = _skip_comment(text, i, line)
        elif c == "(" or c == ")":
            depth += 1 if c == "(" else -1
            if depth == 0:
                flush()
                return args, i + 1, line
            start = line if start is None else start
            buf.append(c)
            i += 1
        elif c == '"':
            start = line if start is None else start
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            buf.append(text[i + 1:j])
            line += text.count("\n", i, j)
            i = j + 1
        elif c == "[" and _BRACKET.match(text, i):
            start = line if start is None else start
            i, line, content = _skip_bracket(text, i, line)
            buf.append(content)
        else:
            start = line if start is None else start
            buf.append(text[i:i + 2] if c == "\\" else c)
            i += 2 if c == "\\" else 1
    flush()
    return args, i, line


def commands(text):
    """(lowercased name, line, [(arg, line), ...]) for each command invocation."""
    out, i, line = [], 0, 1
    ident = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(")
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c == "#":
            i, line = _skip_comment(text, i, line)
        else:
            m = ident.match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                args, i, end_line = _arguments(text, m.end(), line)
                out.append((m.group(1).lower(), line, args))
                line = end_line
            else:
                i += 1
    return out


def _expand(arg, root, cmake_dir):
    """arg with the source-dir variables expanded, as a root-relative path, or None when
    anything else in it needs CMake to evaluate."""
    absdir = os.path.join(root, cmake_dir)
    for var, value in (("CMAKE_SOURCE_DIR", root), ("PROJECT_SOURCE_DIR", root),
                       ("CMAKE_CURRENT_SOURCE_DIR", absdir), ("CMAKE_CURRENT_LIST_DIR", absdir)):
        arg = arg.replace("${%s}" % var, value)
    if "${" in arg or "$<" in arg or not arg:
        return None
    rel = os.path.relpath(os.path.normpath(os.path.join(absdir, arg)), root)
    if rel.startswith(".."):
        return None
    return "" if rel == "." else rel.replace(os.sep, "/")


def read(root, cmake_files, read_text):
    """(targets by name, links, include directories) of the given CMakeLists files."""
    targets, links, include_dirs = {}, [], set()
    for path in cmake_files:
        cmake_dir = os.path.dirname(path)
        for name, line, args in commands(read_text(root, path)):
            words = [a for a, _ in args]
            if words and ("${" in words[0] or "$<" in words[0]):
                continue  # a target named by a variable (a function's body): unknowable here
            if name in ("add_library", "add_executable") and words:
                rest = [w for w in words[1:] if w not in _KEYWORDS]
                if "IMPORTED" in words[1:] or "ALIAS" in words[1:]:
                    continue  # not code of this tree
                first = _expand(rest[0], root, cmake_dir) if rest else None
                targets.setdefault(words[0], Target(words[0], path, line, cmake_dir, first))
            elif name == "target_link_libraries" and words:
                for item, item_line in args[1:]:
                    named = _TARGET_FILE.findall(item) or [item]
                    links.extend(Link(path, item_line, words[0], n) for n in named
                                 if n not in _KEYWORDS)
            elif name in ("include_directories", "target_include_directories"):
                for word in words[1 if name.startswith("target") else 0:]:
                    d = None if word in _KEYWORDS else _expand(word, root, cmake_dir)
                    if d is not None:
                        include_dirs.add(d)
    return targets, links, sorted(include_dirs)
