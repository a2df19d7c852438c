"""The dependency rule of core/ (see core/__init__.py and docs/outputs.md, Layout), enforced by reading
the imports of every module, function-level imports included: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each subpackage of core/ and the ones it imports (besides itself), exactly: an edge nothing uses
# fails too, so a new dependency is a deliberate change here. The order is the layering: a package
# only ever imports packages listed above it.
ALLOWED = {
    "base": set(),
    "data": {"base"},
    "model": {"base"},
    "dist": {"base", "data"},
    "predict": {"base", "data", "model", "dist"},
    "report": {"base", "data", "predict"},
    "train": {"base", "data", "model", "dist", "report"},
    "kaggle": {"base", "data"},
    "run": {"base", "data", "model", "dist", "predict", "train", "kaggle"},
}
# core/api.py, the public face, sits above every subpackage: it may import any of them, none imports it.
ALLOWED["api"] = set(ALLOWED)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module of ours that `path` imports, at any depth of its code."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from core.model import ensemble` imports the module core.model.ensemble.
            found.update(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                         for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("core", "jobs")}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph(packages=("core", "jobs")) -> dict[str, set[str]]:
    modules = {module_name(p): p for top in packages for p in (ROOT / top).rglob("*.py")}
    return {name: imports_of(path) for name, path in modules.items()}


def layer(module: str) -> str | None:
    """The core subpackage a module belongs to ("base", "data", ...), None for core's root and jobs."""
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 else None


def violations(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(edges.items()):
        if not module.startswith("core"):
            continue
        for target in sorted(targets):
            if target.startswith("jobs"):
                found.append(f"{module} imports {target}: nothing in core imports jobs")
                continue
            source, dest = layer(module), layer(target)
            if dest == "api" and source != "api":
                found.append(f"{module} imports {target}: nothing in core imports core.api, the public face")
                continue
            if source is None or dest is None or source == dest:
                continue  # core/__init__ holds only the version; same-package imports are free
            if dest not in ALLOWED[source]:
                found.append(f"{module} imports {target}: core/{source} may import only "
                             f"{sorted(ALLOWED[source]) or 'nothing of ours'}")
    return found


def unused(edges: dict[str, set[str]], allowed: dict[str, set[str]] = ALLOWED) -> list[str]:
    """Allowed edges between subpackages that no module uses (core.api, free to import any, aside)."""
    used = {(layer(module), layer(target)) for module, targets in edges.items() for target in targets}
    return [f"core/{source} may import core/{dest} but nothing does: drop the edge from ALLOWED"
            for source, dests in allowed.items() if source != "api" for dest in sorted(dests)
            if (source, dest) not in used]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), as sorted lists."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_every_subpackage_of_core_is_in_the_rule():
    packages = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").is_file()}
    assert packages | {"api"} == set(ALLOWED)
    assert not [p.name for p in (ROOT / "core").glob("*.py") if p.name not in ("__init__.py", "api.py")], \
        "modules belong in a subpackage of core/ (api.py, the public face, aside)"


def test_imports_follow_the_dependency_rule():
    assert violations(graph()) == []


def test_every_allowed_edge_is_used():
    assert unused(graph()) == []


def test_the_check_catches_an_unused_edge():
    loose = {**ALLOWED, "kaggle": ALLOWED["kaggle"] | {"model"}}
    assert unused(graph(), loose) == ["core/kaggle may import core/model but nothing does: drop the edge from ALLOWED"]
    edges = {module: {t for t in targets if layer(t) != "report"} if layer(module) == "train" else targets
             for module, targets in graph().items()}
    assert unused(edges) == ["core/train may import core/report but nothing does: drop the edge from ALLOWED"]


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_rule_is_written_where_newcomers_read():
    doc = (ROOT / "core" / "__init__.py").read_text() + (ROOT / "README.md").read_text()
    for package in ALLOWED:
        assert f"core/{package}" in doc


@pytest.mark.parametrize("source, line, expected", [
    ("core/predict/stream.py", "import core.train.loop", "core/predict may import only"),
    ("core/base/log.py", "from core.data import reader", "core/base may import only nothing of ours"),
    ("core/model/spec.py", "from jobs.cli import app", "nothing in core imports jobs"),
    ("core/run/lock.py", "from core.api import load", "nothing in core imports core.api"),
    ("core/kaggle/api.py", "from core.predict import stream", "core/kaggle may import only"),  # a pure client
])
def test_the_check_catches_a_forbidden_import(source, line, expected):
    edges = graph()
    module = module_name(ROOT / source)
    tree_line = ast.parse(line).body[0]
    target = tree_line.names[0].name if isinstance(tree_line, ast.Import) else \
        f"{tree_line.module}.{tree_line.names[0].name}"
    edges[module] = edges[module] | {target}
    assert any(expected in v for v in violations(edges))


def test_the_check_catches_a_cycle():
    edges = graph()
    edges["core.base.errors"] = edges["core.base.errors"] | {"core.base.log"}  # log imports errors
    assert any({"core.base.errors", "core.base.log"} <= set(cycle) for cycle in cycles(edges))


def test_the_cli_imports_only_the_public_api_and_base():
    """jobs/ is a shell over core.api: a command that reaches into core's subpackages is doing the library's work."""
    reached = {target for module, targets in graph().items() if module.startswith("jobs") for target in targets}
    beyond = sorted(t for t in reached if t.startswith("core") and t != "core.api" and not t.startswith("core.base"))
    assert beyond == []
    assert sorted(p.name for p in (ROOT / "jobs").glob("*.py")) == ["__init__.py", "__main__.py", "cli.py"]
