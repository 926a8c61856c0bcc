"""Measure the import graph of ``handover`` against the declared order of the apps (docs/architecture.md).

Prints, as Markdown: the circles (import cycles between apps, and between modules), the upward imports
(an app importing one declared above it, or an independent sibling), and the largest modules by lines.
Function-level imports count: they are dependencies all the same. Run from the repository root:

    PYTHONPATH=$PWD/src .venv/bin/python bench/import_graph.py

It reads the package that Python imports, so PYTHONPATH chooses the tree (another checkout's ``src``
measures that checkout). Not a benchmark: nothing is timed; it needs only grimp (import-linter's engine).
"""

from __future__ import annotations

import argparse
import importlib.util
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import grimp

PACKAGE = "handover"
# The declared order, lowest first, as in pyproject.toml [tool.importlinter] "apps". Apps of one rank that
# are independent may not import each other; accounts and org may.
RANKS: dict[str, float] = {
    "core": 0,
    "audit": 1,
    "accounts": 2,
    "org": 2,
    "notifications": 2.5,
    "registers": 3,
    "workflow": 4,
    "connectors": 4.25,
    "fixity": 4.5,
    "vault": 5,
    "backups": 5,
    "discovery": 5.5,
    "risk": 5,
    "reports": 6,
    "demo": 6.5,
    "web": 7,
    "api": 7,
    "cli": 7,
}
INTERDEPENDENT = {frozenset({"accounts", "org"})}
# A domain app's own pages, API and commands are faces (review §2): they may import any app below the faces.
FACE_PARTS = {"views", "api", "urls", "forms", "serializers", "management"}


def app_of(module: str) -> str | None:
    """The app a module belongs to, or None for the project's own modules (settings, urls, wsgi)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else None


def is_face(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 2 and (parts[1] in {"web", "api", "cli"} or parts[2] in FACE_PARTS)


def upward(importer: str, imported: str) -> bool:
    """Whether the import runs against the declared order, each app's package counted as the app (as the
    import-linter contract counts it)."""
    a, b = app_of(importer), app_of(imported)
    if a is None or b is None or a == b:
        return False
    if RANKS[a] == RANKS[b]:
        return frozenset({a, b}) not in INTERDEPENDENT
    return RANKS[a] < RANKS[b]


def strongly_connected(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one node (the circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def largest_modules(modules: Iterable[str], most: int) -> list[tuple[int, str]]:
    """The longest modules by lines, read from the files without importing them."""
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.submodule_search_locations is not None
    root = Path(next(iter(spec.submodule_search_locations))).parent
    sizes = []
    for module in modules:
        base = root.joinpath(*module.split("."))
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        sizes.append((len(path.read_text(encoding="utf-8").splitlines()), module))
    return sorted(sizes, reverse=True)[:most]


def app_cycles(modules: set[str], edges: dict[str, set[str]], faces: bool) -> list[list[str]]:
    """Circles between apps; without ``faces``, an app's own pages, API and commands are left out."""
    arrows: dict[str, set[str]] = defaultdict(set)
    for importer, imported_set in edges.items():
        for imported in imported_set:
            a, b = app_of(importer), app_of(imported)
            if a and b and a != b and (faces or not is_face(importer)):
                arrows[a].add(b)
    return strongly_connected({app_of(m) or "" for m in modules}, arrows)


def short(module: str) -> str:
    return module.removeprefix(PACKAGE + ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--most", type=int, default=15, help="how many of the largest modules to list")
    args = parser.parse_args()
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    modules = {m for m in graph.modules if app_of(m) is not None and ".migrations" not in m}
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    print(
        f"- modules: {len(modules)} (migrations left out), imports between them: {sum(map(len, edges.values()))}"
    )
    for faces in (False, True):
        cycles = app_cycles(modules, edges, faces)
        label = "all modules" if faces else "each app's pages, API and commands left out"
        print(f"- circles between apps ({label}): {len(cycles)}")
        for cycle in cycles:
            print(f"  - {' ↔ '.join(cycle)}")
    module_cycles = strongly_connected(modules, edges)
    print(f"- circles between modules: {len(module_cycles)}")
    for cycle in module_cycles:
        print(f"  - {len(cycle)} modules: {', '.join(short(m) for m in cycle)}")
    ups = sorted((i, j) for i, imported_set in edges.items() for j in imported_set if upward(i, j))
    pairs = sorted({(app_of(i), app_of(j)) for i, j in ups})
    from_faces = [(i, j) for i, j in ups if is_face(i)]
    print(
        f"- upward imports: {len(ups)} module imports over {len(pairs)} app pairs; {len(from_faces)} of them "
        f"from an app's own pages or API (marked *), {len(ups) - len(from_faces)} from its domain modules"
    )
    for a, b in pairs:
        which = [
            f"{short(i)}{'*' if is_face(i) else ''} → {short(j)}"
            for i, j in ups
            if (app_of(i), app_of(j)) == (a, b)
        ]
        print(f"  - {a} → {b}: {'; '.join(which)}")
    print(f"- the {args.most} largest modules (lines, migrations left out):")
    for lines, module in largest_modules(modules, args.most):
        print(f"  - {lines:5d} {short(module)}")


if __name__ == "__main__":
    main()
