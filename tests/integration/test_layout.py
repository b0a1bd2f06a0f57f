"""The layout shows the architecture: every libcore folder is one CMake library, the folders'
includes form layers (no folder includes a folder that includes it back, directly or through
others), and each library links the libraries of the folders it includes."""
import os
import re

TOP = os.path.join(os.path.dirname(__file__), "../..")
LIBCORE = os.path.join(TOP, "libcore")


def folders():
    """Each folder of libcore that holds sources, as 'util' or 'apps/pub'."""
    out = []
    for root, _, files in os.walk(LIBCORE):
        if any(f.endswith((".cpp", ".hpp")) for f in files):
            out.append(os.path.relpath(root, LIBCORE))
    return sorted(out)


def includes(folder):
    """The other folders that `folder`'s files include."""
    found = set()
    known = folders()
    for f in os.listdir(os.path.join(LIBCORE, folder)):
        if not f.endswith((".cpp", ".hpp")):
            continue
        for inc in re.findall(r'#include "([^"]+)/[^/"]+"', open(os.path.join(LIBCORE, folder, f)).read()):
            assert inc in known, f"{folder}/{f} includes {inc}/, which is not a libcore folder"
            if inc != folder:
                found.add(inc)
    return found


def declared():
    """folder -> the m2m_* libraries its m2m_library() line links."""
    text = open(os.path.join(LIBCORE, "CMakeLists.txt")).read()
    libs = {}
    for folder, deps in re.findall(r"^m2m_library\(([\w/]+)([^)]*)\)", text, re.M):
        libs[folder] = {d for d in deps.split() if d.startswith("m2m_")}
    return libs


def lib(folder):
    return "m2m_" + folder.replace("/", "_")


def test_every_folder_is_one_library():
    assert sorted(declared()) == folders()
    assert "GLOB_RECURSE" not in open(os.path.join(LIBCORE, "CMakeLists.txt")).read()
    assert "REGEX" not in open(os.path.join(LIBCORE, "CMakeLists.txt")).read()


def test_the_folders_form_layers_without_cycles():
    graph = {f: includes(f) for f in folders()}
    state = {}

    def visit(f, path):
        if state.get(f) == "done":
            return
        assert state.get(f) != "open", "include cycle: " + " -> ".join(path + [f])
        state[f] = "open"
        for g in sorted(graph[f]):
            visit(g, path + [f])
        state[f] = "done"

    for f in graph:
        visit(f, [])


def test_each_library_links_what_its_folder_includes():
    libs = declared()
    by_name = {lib(f): f for f in libs}

    def reach(f, seen=None):
        seen = set() if seen is None else seen
        for d in libs[f]:
            g = by_name[d]
            if g not in seen:
                seen.add(g)
                reach(g, seen)
        return seen

    for f in folders():
        missing = includes(f) - reach(f)
        assert not missing, f"{lib(f)} includes {sorted(missing)} but does not link them"
