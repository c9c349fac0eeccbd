"""Checks that Synapse's internals still have the shape Parta's wraps rely on (pinned Synapse 1.163.2).

Some rules have no module callback in Synapse 1.163 (downloads, uploads by name, push staging), so the
module wraps a method on Synapse's own objects. Each wrap first calls :func:`check_method` (the method
exists and its leading parameters are the ones the wrap passes on) and :func:`check_callers` (the
servlets that must go through the method still call it), so that a Synapse upgrade that changes them
stops the homeserver from starting instead of letting requests pass around the rule.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any


def resolve(class_path: str, method: str) -> Any:
    """The function ``method`` of the class at ``class_path`` (``"synapse.x.y.Class"``), or None."""
    module, _, name = class_path.rpartition(".")
    return getattr(getattr(importlib.import_module(module), name, None), method, None)


def check_method(class_path: str, method: str, params: tuple[str, ...], *, error: type[Exception],
                 where: str) -> None:
    """Raise ``error`` unless ``class_path.method`` exists and its parameters after ``self`` begin with
    ``params``; ``where`` names the Parta file to update."""
    fn = resolve(class_path, method)
    if fn is None:
        raise error(f"Synapse has no {class_path}.{method}; Parta's wrap in {where} cannot be installed")
    actual = tuple(n for n in inspect.signature(fn).parameters if n != "self")[: len(params)]
    if actual != params:
        raise error(f"Synapse's {method}{actual} no longer starts with {params}; update {where}")


def check_callers(callers: tuple[tuple[str, str, str], ...], *, error: type[Exception], where: str) -> None:
    """Raise ``error`` unless each ``(class path, method, call text)`` of ``callers`` still contains the
    call text in its source: the requests it serves still reach the wrapped method."""
    for caller_class, caller, call in callers:
        source_fn = resolve(caller_class, caller)
        if source_fn is None or call not in inspect.getsource(source_fn):
            raise error(f"Synapse's {caller_class}.{caller} no longer calls {call}...); requests might be "
                        f"served around Parta's rule: update {where}")
