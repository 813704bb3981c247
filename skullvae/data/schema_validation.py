"""A small JSON Schema (draft 2020-12) validator for the keywords our schemas use.

``jsonschema`` is not a dependency of skullvae, so this module checks the subset of
keywords that ``skullvae/data/schema/*.json`` use: ``$ref`` (local ``#/$defs/...``),
``type``, ``const``, ``enum``, ``required``, ``properties``, ``additionalProperties``,
``items``, ``minItems``, ``maxItems``, ``uniqueItems``, ``minLength``, ``pattern``,
``minimum`` and ``exclusiveMinimum``. Any other keyword in a schema is an error, so
the schema file can never silently promise more than is checked.

Errors name the offending field as a path such as ``cases[3].skull_id``.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

_ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs", "$comment", "default", "examples"}
_CHECKED = {
    "$ref", "type", "const", "enum", "required", "properties", "additionalProperties", "items",
    "minItems", "maxItems", "uniqueItems", "minLength", "pattern", "minimum", "exclusiveMinimum",
}


def load_schema(name: str) -> dict:
    """Load a schema shipped in ``skullvae/data/schema/``.

    Args:
        name: file name, e.g. ``"manifest.schema.json"``.

    Returns:
        The schema as a dict.
    """
    text = resources.files("skullvae.data").joinpath("schema", name).read_text(encoding="utf-8")
    return json.loads(text)


def validate(instance: Any, schema: dict) -> list[str]:
    """Validate ``instance`` against ``schema``.

    Args:
        instance: decoded JSON value.
        schema: JSON Schema (the subset described in the module docstring).

    Returns:
        One message per problem, ``"<path>: <what is wrong>"``; empty when valid.
    """
    errors: list[str] = []
    _check(instance, schema, schema, "", errors)
    return errors


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, name: str) -> bool:
    actual = _type_name(value)
    if name == "number":
        return actual in ("integer", "number")
    if name == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == name


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _where(path: str) -> str:
    return path or "(top level)"


def _check(value: Any, schema: dict, root: dict, path: str, errors: list[str]) -> None:
    unknown = set(schema) - _CHECKED - _ANNOTATIONS
    if unknown:
        raise ValueError(f"schema keyword(s) not supported by this validator: {sorted(unknown)}")
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, path, errors)
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in allowed):
            errors.append(f"{_where(path)}: expected {' or '.join(allowed)}, got {_type_name(value)}")
            return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{_where(path)}: must be {json.dumps(schema['const'])}, got {json.dumps(value)}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{_where(path)}: must be one of {json.dumps(schema['enum'])}, got {json.dumps(value)}")
    if isinstance(value, dict):
        _check_object(value, schema, root, path, errors)
    elif isinstance(value, list):
        _check_array(value, schema, root, path, errors)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{_where(path)}: must not be empty" if schema["minLength"] == 1
                          else f"{_where(path)}: shorter than {schema['minLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{_where(path)}: {value!r} does not match {schema['pattern']}")
    elif _is_type(value, "number") and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{_where(path)}: must be >= {schema['minimum']}, got {value}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{_where(path)}: must be > {schema['exclusiveMinimum']}, got {value}")


def _check_object(value: dict, schema: dict, root: dict, path: str, errors: list[str]) -> None:
    for key in schema.get("required", []):
        if key not in value:
            errors.append(f"{_join(path, key)}: required key is missing")
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            _check(item, props[key], root, _join(path, key), errors)
        elif extra is False:
            errors.append(f"{_join(path, key)}: unknown key (allowed: {', '.join(props)})")
        elif isinstance(extra, dict):
            _check(item, extra, root, _join(path, key), errors)


def _check_array(value: list, schema: dict, root: dict, path: str, errors: list[str]) -> None:
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{_where(path)}: needs at least {schema['minItems']} item(s), got {len(value)}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{_where(path)}: allows at most {schema['maxItems']} item(s), got {len(value)}")
    if schema.get("uniqueItems"):
        seen = set()
        for item in value:
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                errors.append(f"{_where(path)}: duplicate item {key}")
            seen.add(key)
    if "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], root, f"{path}[{i}]", errors)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
