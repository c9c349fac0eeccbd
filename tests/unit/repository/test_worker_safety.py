"""Parta's module runs in every Synapse process of the worker topology (``parta init --workers``):
a periodic job must run on one instance only.

``ModuleApi.looping_background_call`` runs a job only on the instance named by
``run_background_tasks_on`` unless ``run_on_all_instances=True`` (Synapse 1.163
``synapse/module_api/__init__.py``); Synapse's clock (``looping_call``, ``call_later``) used directly
would run it in every process. This check reads the module's source: a job scheduled any other way
fails here with the file and line, and the fix (looping_background_call, or a guard on
``hs.config.worker.run_background_tasks``)."""

from __future__ import annotations

import ast
from pathlib import Path

MODULE = Path(__file__).resolve().parents[3] / "synapse_module"
#: Ways to schedule work that run in every process.
EVERY_PROCESS = {"looping_call", "looping_call_now", "call_later", "LoopingCall"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            yield name, node


def _is_false(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is False


def test_periodic_jobs_run_on_one_instance():
    problems = []
    for path in sorted(MODULE.glob("*.py")):
        for name, node in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.name}:{node.lineno}"
            if name in EVERY_PROCESS:
                problems.append(f"{where}: {name} runs in every Synapse process; use "
                                "ModuleApi.looping_background_call (one instance: run_background_tasks_on)")
            if name == "looping_background_call" and any(
                    k.arg == "run_on_all_instances" and not _is_false(k.value) for k in node.keywords):
                problems.append(f"{where}: run_on_all_instances makes the job run in every worker")
    assert not problems, "\n".join(problems)
