"""`/docs`: the API reference, rendered on the server from the OpenAPI document.

FastAPI's default pages load Swagger UI from a CDN, which breaks offline and under a strict
Content-Security-Policy; this page needs neither. The raw document stays at `/openapi.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kassa.web.i18n import negotiate
from kassa.web.templating import Pages

router = APIRouter(include_in_schema=False)


@dataclass
class Field_:
    name: str
    type: str
    required: bool
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    parameters: list[Field_] = field(default_factory=list)
    body: list[Field_] = field(default_factory=list)
    responses: list[tuple[str, str]] = field(default_factory=list)


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def type_name(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    """A short human name for a JSON schema: `integer`, `string or null`, `array of Refund`."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in schema:
        return " or ".join(type_name(option, spec) for option in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    if schema.get("type") == "array":
        return "array of " + type_name(schema.get("items", {}), spec)
    return str(schema.get("type", "any"))


def operations(spec: dict[str, Any]) -> dict[str, list[Operation]]:
    """The document's operations grouped by tag, in the order they are declared."""
    groups: dict[str, list[Operation]] = {}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            operation = Operation(
                method=method.upper(),
                path=path,
                summary=op.get("summary", ""),
                description=op.get("description", ""),
                anchor=op.get("operationId", f"{method}-{path}"),
            )
            for parameter in op.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] == "authorization":
                    continue
                operation.parameters.append(
                    Field_(
                        name=f"{parameter['name']} ({parameter['in']})",
                        type=type_name(parameter.get("schema", {}), spec),
                        required=parameter.get("required", False),
                        description=parameter.get("description", ""),
                    )
                )
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = _resolve(content["application/json"]["schema"], spec)
                if "anyOf" in body:
                    body = _resolve(body["anyOf"][0], spec)
                required = set(body.get("required", []))
                for name, prop in body.get("properties", {}).items():
                    operation.body.append(
                        Field_(
                            name=name,
                            type=type_name(prop, spec),
                            required=name in required,
                            description=prop.get("description", ""),
                        )
                    )
            for status, response in op.get("responses", {}).items():
                operation.responses.append((status, response.get("description", "")))
            groups.setdefault(tag, []).append(operation)
    return groups


def models(spec: dict[str, Any]) -> list[tuple[str, list[Field_]]]:
    """The response objects (names ending in Out) with their fields."""
    result = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        if not name.endswith("Out") or name == "ErrorOut":
            continue
        required = set(schema.get("required", []))
        fields = [
            Field_(key, type_name(prop, spec), key in required, prop.get("description", ""))
            for key, prop in schema.get("properties", {}).items()
        ]
        result.append((name.removesuffix("Out"), fields))
    return result


@router.get("/docs")
async def docs(request: Request, lang: str | None = None) -> HTMLResponse:
    spec = request.app.openapi()
    pages: Pages = request.app.state.pages
    return pages.render(
        "docs.html",
        locale=negotiate(lang, request.headers.get("accept-language")),
        spec=spec,
        groups=operations(spec),
        models=models(spec),
    )
