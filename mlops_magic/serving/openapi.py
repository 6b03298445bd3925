"""The serving process's OpenAPI document, true to what it answers: built from the served version's input schema.

FastAPI derives operations from the handlers; this module states what they cannot know: the request
bodies each form takes (every input column, its JSON type, NaN allowed or not), every status code
and content type a handler answers, and the link from a prediction's ids to ``/feedback``. What JSON
Schema cannot relate (a V2 tensor's shape to its data, the lengths of columns sent as lists) is
said in the descriptions and answered 400.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST

from .payloads import InputSchema
from .security import OPEN_PATHS
from .v2 import CONTENT_TYPES, DATATYPES, FLOATS, OUTPUTS, column_datatypes

ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string", "description": "what is wrong and how to fix it"}, "status": {"type": "integer"}},
}
_REASONS = {
    400: "A body the model cannot take: malformed (empty, not JSON, not CSV), or its columns, types, lengths, shapes, datatypes or values.",
    401: "Missing or wrong bearer token (Authorization: Bearer <token>).",
    404: "Unknown model, version or prediction id.",
    405: "Method not allowed on this path.",
    413: "Body over the size limit.",
    415: "Content type other than those declared.",
    503: "Cannot be served now (the store, or the prediction log, is unavailable): retry after Retry-After seconds.",
}
_FEEDBACK_BODY = {
    "type": "object",
    "required": ["ids", "labels"],
    "properties": {
        "ids": {"type": "array", "minItems": 1, "items": {"type": "string"}, "description": "ids /invocations answered"},
        "labels": {"type": "array", "minItems": 1, "description": "one label per id, in the same order"},
    },
}


def cell(schema: InputSchema, column: str) -> dict[str, Any]:
    """The JSON Schema of one value of ``column``: numbers (true/false count as 1/0) or text; null where missing is allowed."""
    if column in schema.numeric:
        types = ["number", "boolean"] + (["null"] if schema.allow_nan else [])
    elif schema.columns[column].lower() in ("str", "string", "category"):
        types = ["string", "null"]
    else:  # object columns take numbers as they are
        types = ["string", "number", "boolean", "null"]
    return {"type": types}


def any_cell(schema: InputSchema) -> dict[str, Any]:
    """A value of any of the columns (a positional row's cells, a V2 tensor's data)."""
    return {"anyOf": [cell(schema, c) for c in schema.order]} if schema.text else cell(schema, schema.order[0])


def request_bodies(schema: InputSchema) -> dict[str, Any]:
    """The JSON Schema of ``/invocations`` bodies: exactly one of MLflow's four forms (plus optional ``params``)."""
    n = len(schema.order)
    record = {"type": "object", "required": list(schema.order), "additionalProperties": False, "properties": {c: cell(schema, c) for c in schema.order}}
    row = {"type": "array", "minItems": n, "maxItems": n, "items": any_cell(schema)}
    columns = {
        "type": "object",
        "required": list(schema.order),
        "additionalProperties": False,
        "description": "every column's values, lists of one length (a single value is a list of one)",
        "properties": {c: {"anyOf": [{"type": "array", "minItems": 1, "items": cell(schema, c)}, cell(schema, c)]} for c in schema.order},
    }
    split = {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "minItems": n, "maxItems": n, "uniqueItems": True, "items": {"enum": list(schema.order)}},
            "data": {"type": "array", "minItems": 1, "items": row},
            "index": {"type": "array"},
        },
    }
    tensor_like = {"anyOf": [{"type": "array", "minItems": 1, "items": record}, {"type": "array", "minItems": 1, "items": row}, columns]}
    if n == 1:
        tensor_like["anyOf"].append({"type": "array", "minItems": 1, "items": cell(schema, schema.order[0])})
    forms = {"dataframe_split": split, "dataframe_records": {"type": "array", "minItems": 1, "items": record}, "instances": tensor_like, "inputs": tensor_like}
    return {
        "oneOf": [
            {"type": "object", "required": [form], "additionalProperties": False, "properties": {form: body, "params": {"type": "object"}}}
            for form, body in forms.items()
        ]
    }


def nested(value: dict[str, Any]) -> dict[str, Any]:
    """Tensor data of ``value``s, flat or nested one level (a [rows, columns] tensor as rows)."""
    return {"type": "array", "minItems": 1, "items": {"anyOf": [value, {"type": "array", "minItems": 1, "items": value}]}}


def tensor_value(datatype: str, allow_nan: bool) -> dict[str, Any]:
    """The JSON Schema of one element of a ``datatype`` tensor: strings, booleans, integers in range, or numbers."""
    if datatype == "BYTES":
        return {"type": "string"}
    if datatype == "BOOL":
        return {"type": "boolean"}
    if datatype in FLOATS:
        return {"type": ["number", "null"] if allow_nan else "number"}
    info = np.iinfo(DATATYPES[datatype])
    return {"type": "integer", "minimum": int(info.min), "maximum": int(info.max)}


def v2_body(schema: InputSchema) -> dict[str, Any]:
    """The JSON Schema of a V2 infer body: per datatype the values its data takes, and the datatypes each column takes."""
    scalar = {"type": ["string", "number", "boolean"]}
    parameters = {"type": "object", "additionalProperties": scalar}
    datatypes = sorted({d for c in schema.order for d in column_datatypes(schema.columns[c])}, key=list(DATATYPES).index)
    tensors = [
        {
            "type": "object",
            "required": ["name", "shape", "datatype", "data"],
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
                "datatype": {"const": datatype},
                "data": nested(tensor_value(datatype, schema.allow_nan)),
                "parameters": parameters,
            },
        }
        for datatype in datatypes
    ]
    return {
        "type": "object",
        "required": ["inputs"],
        "description": "One tensor per input column (shape [rows] or [rows, 1], a datatype the column takes: see GET /v2/models/{model}), or one "
        "tensor of shape [rows, columns] with the columns in the model's order; the data of each fits its shape. Or, with an "
        "Inference-Header-Content-Length header, this JSON then the tensors' raw bytes (the binary tensor data extension).",
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "minItems": 1, "items": {"oneOf": tensors} if len(tensors) > 1 else tensors[0]},
            "outputs": {
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"enum": list(OUTPUTS)}, "parameters": parameters}},
            },
            "parameters": {**parameters, "properties": {"content_type": {"enum": list(CONTENT_TYPES)}}},
        },
    }


def _json(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"application/json": {"schema": schema or {"type": "object"}}}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    answers = {"200": {"description": "Successful Response", "content": ok}}
    answers.update({str(code): {"description": _REASONS[code], "content": _json({"$ref": "#/components/schemas/Error"})} for code in errors})
    return answers


def document(app, endpoint) -> dict[str, Any]:
    """The OpenAPI document of ``app`` serving ``endpoint`` now (built on each request: a swapped version may take other columns)."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    current = endpoint.slots.current
    schema = current[endpoint.target.variants[0].label].schema
    versions = sorted({str(current[v.label].version) for v in endpoint.target.variants})
    n = len(schema.order)
    csv = {"type": "string", "description": f"a header row naming the {n} input columns ({', '.join(schema.order)}), then one line per row"}
    scoring = {"$ref": "#/components/schemas/Predictions"}
    errors = {"/invocations": (400, 413, 415, 503), "/feedback": (400, 404, 413, 503), "/ready": (503,), "/ping": (503,), "/v2/health/ready": (503,)}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            codes = errors.get(path, ())
            if path.startswith("/v2/models/"):
                codes = (404,) + ((400, 413, 503) if path.endswith("/infer") else ())
            if endpoint.token is not None and path not in OPEN_PATHS:
                codes = (401, *codes)
                operation["security"] = [{"bearer": []}]
            content = (
                {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}
                if path == "/metrics"
                else _json(scoring if path == "/invocations" else None)
            )
            operation["responses"] = _responses(content, *codes)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = {"type": "string", "enum": [endpoint.target.name] if parameter["name"] == "model" else versions}
            if method != "post":
                continue
            if path == "/invocations":
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Invocation"}}, "text/csv": {"schema": csv}},
                }
                operation["responses"]["200"]["links"] = {
                    "Feedback": {"operationId": "feedback", "requestBody": {"ids": "$response.body#/ids", "labels": "$response.body#/predictions"}}
                }
            elif path == "/feedback":
                operation["operationId"] = "feedback"
                operation["requestBody"] = {"required": True, "content": _json(_FEEDBACK_BODY)}
            else:
                operation["requestBody"] = {"required": True, "content": _json(v2_body(schema))}
    if endpoint.token is not None:
        doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    doc.setdefault("components", {})["schemas"] = {
        "Error": ERROR,
        "Invocation": request_bodies(schema),
        "Predictions": {
            "type": "object",
            "required": ["predictions", "ids"],
            "properties": {"predictions": {"type": "array"}, "ids": {"type": "array", "items": {"type": "string"}}},
        },
    }
    return doc
