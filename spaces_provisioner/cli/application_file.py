"""Reading an organization application from a file (the I/O half of ``policies.application``).

An application is a YAML file (``.yaml``/``.yml``, YAML 1.2 read with ruamel.yaml's safe
loader) or a JSON file (``.json``, RFC 8259), UTF-8 (a byte-order mark is tolerated). The
schema is ``policies/data/application.schema.json`` (:func:`policies.application.load_schema`).
Problems with the file itself (unreadable, not UTF-8, bad syntax, duplicate keys, not a
mapping) are reported like problems with its content: an
:class:`~policies.application.ApplicationError` with a problem at path ``""``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from policies.application import Application, ApplicationError, ApplicationProblem, load_schema, parse_application
from policies.i18n import _

__all__ = ["load_application_file", "read_application_data"]

_YAML_SUFFIXES = (".yaml", ".yml")
_JSON_SUFFIXES = (".json",)


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def load_application_file(path: Path) -> Application:
    """Read, check and normalize the application in ``path`` (``.yaml``, ``.yml`` or ``.json``).

    Returns an :class:`~policies.application.Application`. Raises
    :class:`~policies.application.ApplicationError`: with one problem at path ``""`` when the
    file cannot be used at all (see :func:`read_application_data`), else with every problem of
    the content (see :func:`policies.application.parse_application`).
    """
    path = Path(path)
    return parse_application(read_application_data(path), load_schema())


def read_application_data(path: Path) -> dict[str, Any]:
    """The document in ``path`` as plain data (a dict), not yet checked against the schema.

    Raises :class:`~policies.application.ApplicationError` (one problem, path ``""``) for an
    unknown extension, an unreadable file, bytes that are not UTF-8, a YAML or JSON syntax
    error (with its line and column), a key given twice, an empty file, or a top-level value
    that is not a mapping.
    """
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in _YAML_SUFFIXES + _JSON_SUFFIXES:
        _fail(_("{file}: unknown file type '{suffix}'; save the application as .yaml, .yml or "
                ".json").format(file=name, suffix=path.suffix))
    try:
        raw = path.read_bytes()
    except OSError as e:
        _fail(_("{file}: the file cannot be read ({reason}); check the path and the file's "
                "permissions").format(file=name, reason=e.strerror or e))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        _fail(_("{file}, line {line}: the file is not in UTF-8 (perhaps Windows-1251); open it in an "
                "editor and save it again in the UTF-8 encoding").format(file=name, line=line))
    if not text.strip():
        _fail(_("{file}: the file is empty; fill in the application as in the example that "
                "`parta org example` prints").format(file=name))

    data = _parse_yaml(text, name) if suffix in _YAML_SUFFIXES else _parse_json(text, name)
    if data is None:
        _fail(_("{file}: the file is empty; fill in the application as in the example that "
                "`parta org example` prints").format(file=name))
    if not isinstance(data, dict):
        _fail(_("{file}: the application must be a mapping of fields (field: value) at the top "
                "level, not {actual}; see the example that `parta org example` prints").format(
            file=name, actual=_("a list") if isinstance(data, list) else _("a single value")))
    return data


def _parse_yaml(text: str, name: str) -> Any:
    try:
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        column = mark.column + 1 if mark is not None else 1
        duplicate = re.search(r'found duplicate key "(.*?)"', e.problem or "")
        if duplicate:
            _fail(_("{file}, line {line}: the field {key} is given twice; keep only one of "
                    "them").format(file=name, line=line, key=duplicate.group(1)))
        _fail(_("{file}, line {line}, column {column}: this is not valid YAML ({reason}); check the "
                "indentation, the colons and the quotes on this line and the line "
                "before").format(file=name, line=line, column=column, reason=e.problem or e))
    except YAMLError as e:
        _fail(_("{file}: this is not valid YAML ({reason}); check the indentation, the colons and "
                "the quotes").format(file=name, reason=e))


def _parse_json(text: str, name: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        _fail(_("{file}, line {line}, column {column}: this is not valid JSON ({reason}); check the "
                "commas, brackets and quotes there").format(file=name, line=e.lineno, column=e.colno,
                                                            reason=e.msg))
    except _DuplicateKey as e:
        _fail(_("{file}: the field {key} is given twice; keep only one of them").format(
            file=name, key=e.key))


def _fail(message: str) -> NoReturn:
    raise ApplicationError([ApplicationProblem("", message)])
