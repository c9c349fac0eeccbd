"""The folder tree shows the architecture, and the import rules of docs/ARCHITECTURE.md hold.

Every module's imports are read with :mod:`ast` (imports inside functions too) and checked
against the layers: ``policies`` imports nothing of the project and nothing that talks to the
network or Synapse; ``synapse_module`` only ``policies``; each sub-package of
``spaces_provisioner`` only the layers its docstring names; HTTP routes and pages reach the
database only through operations. Each sub-package opens with a docstring saying its job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SP = "spaces_provisioner"

#: Layer → the project's packages it may import (besides itself and ``policies``).
SHARED = {f"{SP}.settings", f"{SP}.errors", f"{SP}.changes", f"{SP}.faults"}
ALLOWED: dict[str, set[str]] = {
    f"{SP}.db": set(),
    f"{SP}.homeserver": set(),
    f"{SP}.roster": set(),
    f"{SP}.reconcile": {f"{SP}.db", f"{SP}.homeserver"} | SHARED,
    f"{SP}.ops": {f"{SP}.db", f"{SP}.homeserver", f"{SP}.reconcile", f"{SP}.roster"} | SHARED,
    f"{SP}.web": {f"{SP}.ops", f"{SP}.homeserver", f"{SP}.api.keys"} | SHARED,
    f"{SP}.api": {f"{SP}.ops", f"{SP}.web", f"{SP}.homeserver", f"{SP}.roster"} | SHARED,
    # the web console: pages over the API's rules (api.auth, api.middleware) and the operations
    f"{SP}.console": {f"{SP}.api", f"{SP}.ops", f"{SP}.homeserver", f"{SP}.roster"} | SHARED,
    f"{SP}.install": {f"{SP}.homeserver", f"{SP}.reconcile"} | SHARED,
    f"{SP}.cli": {f"{SP}.api", f"{SP}.install", f"{SP}.roster", f"{SP}.homeserver", f"{SP}.ops"} | SHARED,
}
#: The composition root may also open the database.
EXTRA = {f"{SP}/api/app.py": {f"{SP}.db.schema", f"{SP}.console.app"}}
#: Shared contracts: the error model needs the policies' Decision only.
SHARED_ALLOWED: set[str] = set()
#: What ``policies`` must never import (it stays pure: no Synapse, no network, no database).
IMPURE = ("synapse", "aiohttp", "mautrix", "sqlalchemy", "psycopg2", "requests", "urllib.request", "socket",
          SP, "synapse_module", "bridge")


SKIP = {".git", ".venv", "build", "dist", "demo-data", "parta-data", "__pycache__", ".mypy_cache", ".ruff_cache",
        ".pytest_cache"}


def files(folder: str = "", suffixes: tuple[str, ...] = (".py",)) -> list[Path]:
    """The project's files under ``folder`` (not the virtual environment, caches or build output)."""
    out = []
    for p in (REPO / folder).rglob("*"):
        rel = p.relative_to(REPO).parts
        if p.is_file() and p.suffix in suffixes and not SKIP & set(rel) and not any(
                part.endswith(".egg-info") for part in rel):
            out.append(p)
    return sorted(out)


def tracked(folder: str) -> list[Path]:
    return files(folder)


def imports_of(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def layer_of(module: str) -> str | None:
    return next((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), None)


def project_module(name: str) -> str | None:
    """The project module ``name`` refers to (for ``from X import y``: X.y when that is a module)."""
    if not name.startswith(SP + "."):
        return None
    path = REPO / Path(*name.split("."))
    if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
        return name
    return None


@pytest.mark.parametrize("path", tracked(SP), ids=lambda p: str(p.relative_to(REPO)))
def test_layers_import_only_what_they_may(path):
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    layer = layer_of(module)
    if module in SHARED or layer is None:  # shared contracts and the package itself
        allowed = SHARED_ALLOWED | SHARED
    else:
        allowed = ALLOWED[layer] | {layer}
    allowed = allowed | EXTRA.get(str(path.relative_to(REPO)), set())
    wrong = sorted(m for name in imports_of(path) if (m := project_module(name)) is not None
                   and m != module and not any(m == a or m.startswith(a + ".") for a in allowed))
    assert not wrong, f"{module} may import {sorted(allowed)} of the project, not {wrong}"


@pytest.mark.parametrize("path", tracked("policies"), ids=lambda p: str(p.relative_to(REPO)))
def test_policies_stay_pure(path):
    bad = sorted(m for m in imports_of(path) if m.split(".")[0] in {x.split(".")[0] for x in IMPURE}
                 and any(m == x or m.startswith(x + ".") for x in IMPURE))
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", tracked("synapse_module"), ids=lambda p: str(p.relative_to(REPO)))
def test_synapse_module_uses_only_policies_of_the_project(path):
    bad = sorted(m for m in imports_of(path) if m.split(".")[0] in (SP, "bridge"))
    assert not bad, f"{path.name} imports {bad}"


def test_every_package_says_its_job():
    packages = sorted({p.parent for p in tracked(SP) + tracked("policies") + tracked("synapse_module")})
    silent = [str(p.relative_to(REPO)) for p in packages if not ast.get_docstring(
        ast.parse((p / "__init__.py").read_text(encoding="utf-8")))]
    assert not silent, f"packages without a docstring saying their job: {silent}"


def test_nothing_points_outside_the_repository():
    """Code and docs name no file outside the repository (tests may read the shared samples)."""
    pattern = re.compile(r"DESIGN\.md|\.\./shared|shared/data|shared/reference")
    texts = (".py", ".md", ".yaml", ".yml", ".json", ".cfg", ".toml", ".conf", ".html", ".po", ".csv", "")
    hits = [f"{p.relative_to(REPO)}:{n}" for p in files("", texts) if p.relative_to(REPO).parts[0] != "tests"
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if pattern.search(line)]
    assert not hits, hits
