"""The OpenAPI document of the provisioning API (``spaces_provisioner/api/openapi.json``, issue 4 item 8).

It validates as OpenAPI 3.1; it documents exactly the routes the aiohttp application
registers (built with a dummy configuration, never started), with their parameters,
security and responses; and its application schema is ``config/application.schema.json``
(same validation keywords, English notes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate
from ruamel.yaml import YAML

from policies.application import EXAMPLE_PATH, SCHEMA_PATH

from spaces_provisioner.api.app import OPENAPI, build_app
from spaces_provisioner.errors import Errcode
from spaces_provisioner.settings import Settings

REPO = Path(__file__).resolve().parents[4]
APP_SCHEMA = SCHEMA_PATH
EXAMPLE_APPLICATION = EXAMPLE_PATH
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANNOTATIONS = ("title", "description", "$comment")


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every route of the service's aiohttp application (HEAD left out)."""
    root = tmp_path_factory.mktemp("openapi")
    settings = Settings(root=root, server_name="school.test", homeserver_url="http://127.0.0.1:9",
                        homeserver_config=root / "homeserver.yaml", database=f"sqlite:///{root}/parta.db",
                        provisioning_host="127.0.0.1", provisioning_port=9, operator_token="operator-token",
                        bot_user_id="@parta:school.test", bot_access_token="bot-token")
    app = build_app(settings)
    routes = {(r.method, r.resource.canonical) for r in app.router.routes()}
    heads = {path for method, path in routes if method == "HEAD"}
    assert heads <= {path for method, path in routes if method == "GET"}, "HEAD only comes with GET"
    # the web console (/console/...) is pages for a browser, not the API: spaces_provisioner/console documents it
    return {(m, p) for m, p in routes if m != "HEAD" and not (p == "/console" or p.startswith("/console/"))}


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_document_validates(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_every_route_is_documented(doc, app_routes):
    missing = app_routes - documented(doc)
    assert not missing, f"routes of the service missing from openapi.json: {sorted(missing)}"


def test_every_documented_operation_exists(doc, app_routes):
    extra = documented(doc) - app_routes
    assert not extra, f"operations in openapi.json that the service does not have: {sorted(extra)}"


def test_path_parameters_match_the_paths(doc):
    for path, method, op in operations(doc):
        declared = {p["name"] for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])
                    if "$ref" not in p and p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


def test_every_operation_says_who_may_call_it(doc):
    schemes = set(doc["components"]["securitySchemes"])
    assert schemes == {"operatorToken", "matrixAccessToken", "nudgeSecret"}
    for path, method, op in operations(doc):
        assert "security" in op, (method, path)
        for requirement in op["security"]:
            assert set(requirement) <= schemes
        assert op.get("operationId") and op.get("summary"), (method, path)
        assert re.search(r"operator|anyone|signed in|administrator|head|teacher", op["description"], re.I), \
            (method, path, "the description should say who may call it")
        if op["security"]:
            assert "401" in op["responses"], (method, path)


def test_api_errors_have_the_error_shape(doc):
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"errcode", "error", "details"}
    assert set(error["properties"]) == {"errcode", "error", "details", "org.parta.reason"}
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400 and path.startswith("/api/v1/"):
                assert response == {"$ref": f"#/components/responses/E{status}"}, (method, path, status)
        if path.startswith("/api/v1/") and "{" in path:
            assert "404" in op["responses"], (method, path)
    for name, response in doc["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, name


def test_errcodes_are_the_error_models(doc):
    """The document lists exactly the errcodes of spaces_provisioner.errors, their one home."""
    assert doc["components"]["schemas"]["Error"]["properties"]["errcode"]["enum"] == [e.value for e in Errcode]


def test_no_errcode_is_typed_as_a_literal():
    """Routes and operations name errcodes through errors.Errcode, never as string literals."""
    codes = tuple(f'"{e.value}"' for e in Errcode)
    offenders = [f"{p}:{n}" for p in sorted((REPO / "spaces_provisioner").rglob("*.py")) if p.name != "errors.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if any(code in line for code in codes)]
    assert not offenders, offenders


def test_the_registration_page_is_html(doc):
    for method in ("get", "post"):
        op = doc["paths"]["/register"][method]
        assert op["security"] == []
        for status, response in op["responses"].items():
            assert set(response["content"]) == {"text/html"}, (method, status)
    assert set(doc["paths"]["/register"]["post"]["requestBody"]["content"]) >= {"application/x-www-form-urlencoded"}


def _strip(node, refs: dict[str, str]):
    """A schema without annotations, its ``$ref`` targets renamed by ``refs``."""
    if isinstance(node, dict):
        return {k: (refs.get(v, v) if k == "$ref" else _strip(v, refs))
                for k, v in node.items() if k not in ANNOTATIONS}
    if isinstance(node, list):
        return [_strip(v, refs) for v in node]
    return node


def test_application_schema_is_the_repositorys(doc):
    source = json.loads(APP_SCHEMA.read_text(encoding="utf-8"))
    refs = {"#/$defs/setting_value": "#/components/schemas/SettingValue"}
    schemas = doc["components"]["schemas"]
    expected = _strip({k: v for k, v in source.items() if k not in ("$schema", "$id", "$defs")}, refs)
    assert _strip(schemas["Application"], {}) == expected
    assert _strip(schemas["SettingValue"], {}) == _strip(source["$defs"]["setting_value"], refs)
    assert doc["paths"]["/api/v1/applications"]["post"]["requestBody"]["content"]["application/json"]["schema"] \
        == {"$ref": "#/components/schemas/Application"}


def test_example_application_fits_the_documented_schema(doc):
    example = YAML(typ="safe").load(EXAMPLE_APPLICATION.read_text(encoding="utf-8"))
    schema = {**doc["components"]["schemas"]["Application"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(example, default=str)))
    bad = {**example, "unexpected": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(bad, default=str)))

