#!/usr/bin/env python3
"""Check the import layers: ``lint-imports`` (import-linter) on blur4d as it installs.

``adapters/`` lives at the top of the repository but installs as ``blur4d.adapters``
(pyproject's ``package-dir``), and grimp, import-linter's graph builder, reads a package from
one folder. So this script copies the Python files into a temporary tree laid out the way
pyproject installs them and runs import-linter there with the contract in pyproject.toml
(``[tool.importlinter]``). Imports inside functions count, like any other.

    python scripts/lint_imports.py            # exit status 0 when every contract is kept
    python scripts/lint_imports.py --cycles   # also list import cycles among the modules

The tests run it (tests/test_architecture.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def stage(dest: Path, repo: Path = REPO) -> Path:
    """Copy the .py files of every package in pyproject's ``packages`` to ``dest`` as installed."""
    cfg = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg.get("package-dir", {})
    for pkg in cfg["packages"]:
        parent = next((p for p in sorted(dirs, key=len, reverse=True) if pkg == p or pkg.startswith(p + ".")), None)
        src = repo / (Path(dirs[parent]) / Path(*pkg[len(parent):].split(".")[1:]) if parent else Path(*pkg.split(".")))
        out = dest / Path(*pkg.split("."))
        out.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.py"):
            shutil.copy2(f, out / f.name)
    return dest


_CYCLES = """
import ast, importlib.util, sys, grimp
g = grimp.build_graph("blur4d", cache_dir=None)
def reexports_only(m):  # a package __init__ that defines nothing: importing it = importing what it imports
    origin = importlib.util.find_spec(m).origin
    if not origin.endswith("__init__.py"):
        return False
    tree = ast.parse(open(origin).read())
    return not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)
direct = {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}
hollow = {m for m in g.modules if reexports_only(m)}
def through(d, seen=()):  # see through re-exporting __init__ modules
    if d not in hollow:
        return {d}
    return set().union(*[through(x, seen + (d,)) for x in direct[d] if x not in seen], set())
mods = set(g.modules) - hollow
edges = {m: set().union(*[through(d) for d in direct[m]], set()) - {m} for m in mods}
index, low, stack, on, sccs = {}, {}, [], set(), []
def visit(v):  # Tarjan's strongly connected components
    index[v] = low[v] = len(index); stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in sorted(mods):
    if v not in index: visit(v)
print(f"{len(mods)} modules ({len(hollow)} re-exporting __init__ seen through), "
      f"{sum(map(len, edges.values()))} imports, {len(sccs)} cycles")
for c in sccs:
    print("cycle: " + " <-> ".join(c))
    for a in c:
        for b in sorted(direct[a]):
            hit = through(b) & set(c)
            if hit:
                lines = [d["line_number"] for d in g.get_import_details(importer=a, imported=b)]
                via = f" = {', '.join(sorted(hit))}" if b in hollow else ""
                print(f"  {a} -> {b} (line {', '.join(map(str, lines))}){via}")
sys.exit(1 if sccs else 0)
"""


def run(args: list[str], *, cycles: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="blur4d-lint-") as tmp:
        root = stage(Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(root)}
        env.pop("PYTHONSAFEPATH", None)
        rc = subprocess.call([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                              str(REPO / "pyproject.toml"), "--no-cache", "--no-logo", *args], cwd=root, env=env)
        if cycles:
            rc = subprocess.call([sys.executable, "-c", _CYCLES], cwd=root, env=env) or rc
        return rc


if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(run([a for a in argv if a != "--cycles"], cycles="--cycles" in argv))
