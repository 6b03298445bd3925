"""The Open Inference Protocol (KServe V2) on the wire: request tensors to columns, answers to output
tensors, every datatype read and checked, and the binary tensor data extension (tritonclient's default).

A request is JSON, or a JSON header of ``Inference-Header-Content-Length`` bytes followed by the raw
little-endian bytes of each input whose ``parameters.binary_data_size`` says so. The outputs are
``predict`` (the answers) and ``ids`` (their prediction ids, for ``/feedback``); each is answered as
JSON data, or as raw bytes when the output's ``binary_data`` (or the request's ``binary_data_output``)
asks. Anything wrong is a 400 naming the tensor and the fix.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from .payloads import PayloadError, Rows, is_numeric, parse_json

# Every datatype of the protocol, with the little-endian numpy dtype of its raw bytes (BYTES: length-prefixed).
DATATYPES = {
    "BOOL": "|b1", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "<i1", "INT16": "<i2",
    "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8", "BYTES": None,
}  # fmt: skip
INTEGERS = tuple(d for d in DATATYPES if "INT" in d)
FLOATS = ("FP16", "FP32", "FP64")
NUMERIC = ("BOOL", *INTEGERS, *FLOATS)
OUTPUTS = ("predict", "ids")
CONTENT_TYPES = ("pd", "np")  # one named tensor per column (pandas), or one [rows, columns] tensor (numpy)
_DTYPE_KIND = {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}


def answer_datatype(values: list) -> str:
    """The V2 datatype of answers as they are sent (plain values): BOOL, INT64, FP64, else BYTES."""
    return _DTYPE_KIND.get(np.asarray(values).dtype.kind, "BYTES")


def column_datatypes(dtype: str) -> tuple[str, ...]:
    """The datatypes a tensor for a column of ``dtype`` may have: numbers for numeric columns, BYTES for text."""
    if is_numeric(dtype):
        return NUMERIC
    return ("BYTES",) if dtype.lower() in ("str", "string", "category") else ("BYTES", *NUMERIC)


def parameters_of(value: Any, where: str) -> dict[str, Any]:
    """A ``parameters`` object: its values only strings, numbers or booleans (the protocol's rule)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise PayloadError(400, f"{where} parameters must be an object whose values are strings, numbers or booleans.")
    return value


@dataclass
class Tensor:
    name: str
    datatype: str
    values: np.ndarray  # of the tensor's shape


@dataclass
class Request:
    id: str | None
    parameters: dict[str, Any]
    inputs: list[Tensor]
    outputs: list[tuple[str, bool]]  # the outputs to answer, in order, and whether each goes as raw bytes


def read_request(body: bytes, header_length: str | None) -> Request:
    """Parse an infer body (JSON, or JSON and raw tensor bytes); check every field the protocol defines."""
    raw = memoryview(b"")
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise PayloadError(400, f"Inference-Header-Content-Length {header_length!r} is not a byte count within the {len(body)}-byte body.")
        raw, body = memoryview(body)[int(header_length) :], body[: int(header_length)]
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise PayloadError(400, "a V2 request is an object: {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...]}.")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise PayloadError(400, f"the request id is a {type(request_id).__name__}: send it as a string.")
    if request_id is not None and not request_id.isascii() and not _utf8(request_id):
        raise PayloadError(400, "the request id holds a lone UTF-16 surrogate (\\ud800-\\udfff): send text.")
    parameters = parameters_of(payload.get("parameters"), "the request's")
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors or not all(isinstance(t, dict) for t in tensors):
        raise PayloadError(400, "a V2 request needs \"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...].")
    inputs, offset = [], 0
    for tensor in tensors:
        tensor_input, offset = read_input(tensor, raw, offset)
        inputs.append(tensor_input)
    if offset != len(raw):
        raise PayloadError(400, f"the body has {len(raw) - offset} bytes of tensor data no input's binary_data_size accounts for.")
    return Request(request_id, parameters, inputs, requested_outputs(payload.get("outputs"), parameters.get("binary_data_output") is True))


def read_input(tensor: dict, raw: memoryview, offset: int) -> tuple[Tensor, int]:
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str):
        raise PayloadError(400, "each V2 input needs a \"name\" (a string).")
    if not isinstance(shape, list) or not all(whole(d) and d >= 0 for d in shape):
        raise PayloadError(400, f"V2 input {name!r}: \"shape\" must be a list of non-negative integers, e.g. [3] or [3, 1].")
    shape = [int(d) for d in shape]  # 3.0 is the integer 3 in JSON
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        got = "no datatype" if datatype is None else f"datatype {datatype!r}"
        raise PayloadError(400, f"V2 input {name!r} has {got}: give one of {', '.join(DATATYPES)}.")
    size = parameters_of(tensor.get("parameters"), f"V2 input {name!r}").get("binary_data_size")
    count = math.prod(shape)
    if size is None:
        if not isinstance(tensor.get("data"), list):
            raise PayloadError(400, f"V2 input {name!r} needs \"data\" (a list), or parameters.binary_data_size and the bytes after the JSON.")
        return Tensor(name, datatype, json_values(name, datatype, shape, count, tensor["data"])), offset
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or "data" in tensor:
        raise PayloadError(400, f"V2 input {name!r}: binary_data_size must be a byte count, and the input then has no \"data\".")
    if offset + size > len(raw):
        raise PayloadError(400, f"V2 input {name!r} declares {size} bytes of binary data; {len(raw) - offset} are left in the body.")
    return Tensor(name, datatype, binary_values(name, datatype, shape, count, raw[offset : offset + size])), offset + size


def whole(value: Any) -> bool:
    """An integer in JSON's sense (3 or 3.0; not true)."""
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()


def json_values(name: str, datatype: str, shape: list[int], count: int, data: list) -> np.ndarray:
    """The values of JSON ``data`` (flat or nested), checked against ``datatype`` and ``shape``."""
    try:
        values = np.asarray(data)
    except (ValueError, OverflowError):  # ragged nesting, or integers beyond 64 bits
        values = np.asarray(flatten(data), dtype=object)
    if values.size != count or (values.dtype.kind == "O" and any(isinstance(v, list) for v in values.ravel())):
        raise PayloadError(400, f"V2 input {name!r}: its data does not fit shape {shape} ({count} values, row-major, flat or nested).")
    values = values.reshape(shape)
    kind = values.dtype.kind
    if datatype == "BYTES":
        if kind != "U" and not (kind == "O" and all(isinstance(v, str) or v is None for v in values.ravel())):
            raise PayloadError(400, f"V2 input {name!r} is BYTES: its data must be strings (send numbers as a numeric datatype).")
        return values
    if datatype == "BOOL":
        if kind != "b":
            raise PayloadError(400, f"V2 input {name!r} is BOOL: its data must be true or false.")
        return values
    if datatype in INTEGERS:
        if kind not in "iu" and not (kind == "O" and all(isinstance(v, int) and not isinstance(v, bool) for v in values.ravel())):
            raise PayloadError(400, f"V2 input {name!r} is {datatype}: its data must be integers (send fractions as FP64).")
        info = np.iinfo(DATATYPES[datatype])
        if values.size and (values.min() < info.min or values.max() > info.max):
            raise PayloadError(400, f"V2 input {name!r} has a value outside {datatype}'s range {info.min}..{info.max}.")
        return values
    if kind in "fi" or kind == "u":
        return values
    if kind == "O" and all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.ravel()):
        return np.array([math.nan if v is None else float(v) for v in values.ravel()]).reshape(shape)  # null: a missing value
    raise PayloadError(400, f"V2 input {name!r} is {datatype}: its data must be numbers (null where a value is missing).")


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def flatten(data: list) -> list:
    out = []
    for item in data:
        out.extend(flatten(item) if isinstance(item, list) else [item])
    return out


def binary_values(name: str, datatype: str, shape: list[int], count: int, raw: memoryview) -> np.ndarray:
    """The values of an input sent as raw bytes (the binary tensor data extension)."""
    if datatype != "BYTES":
        dtype = np.dtype(DATATYPES[datatype])
        if len(raw) != count * dtype.itemsize:
            raise PayloadError(400, f"V2 input {name!r}: {len(raw)} bytes of {datatype} do not fit shape {shape} ({count} values of {dtype.itemsize} bytes).")
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    values, at = [], 0
    while at < len(raw):
        if at + 4 > len(raw) or at + 4 + (length := struct.unpack_from("<I", raw, at)[0]) > len(raw):
            raise PayloadError(400, f"V2 input {name!r}: BYTES data must be each element's 4-byte little-endian length, then its bytes.")
        try:
            values.append(bytes(raw[at + 4 : at + 4 + length]).decode())
        except UnicodeDecodeError:
            raise PayloadError(400, f"V2 input {name!r}: a BYTES element is not UTF-8 text.") from None
        at += 4 + length
    if len(values) != count:
        raise PayloadError(400, f"V2 input {name!r}: {len(values)} BYTES elements do not fit shape {shape} ({count} values).")
    return np.array(values, dtype=object).reshape(shape)


def requested_outputs(requested: Any, binary: bool) -> list[tuple[str, bool]]:
    """The outputs a request asks for (all of them when it names none), each with whether it goes as raw bytes."""
    if requested is None:
        return [(name, binary) for name in OUTPUTS]
    if not isinstance(requested, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested):
        raise PayloadError(400, "\"outputs\" must be a list of {\"name\": ...}: name predict, ids, or both.")
    names = [o["name"] for o in requested]
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown or len(set(names)) != len(names):
        problem = f"output {unknown[0]!r} does not exist" if unknown else "an output is requested twice"
        raise PayloadError(400, f"{problem}: this model answers {', '.join(OUTPUTS)}.")
    return [(o["name"], parameters_of(o.get("parameters"), f"output {o['name']!r}").get("binary_data", binary) is True) for o in requested]


def columns(request: Request, order: list[str], dtypes: dict[str, str]) -> dict[str, Any] | Rows:
    """The request's columns: one tensor per column (``content_type: pd``), or one ``[rows, columns]`` tensor (``np``)."""
    content_type = request.parameters.get("content_type")
    if content_type is not None and content_type not in CONTENT_TYPES:
        raise PayloadError(400, f"content_type {content_type!r} is not served: send pd (a tensor per column) or np (one [rows, columns] tensor).")
    matrix = content_type == "np" or (content_type is None and len(request.inputs) == 1 and request.inputs[0].name not in dtypes)
    if matrix:
        if len(request.inputs) != 1:
            raise PayloadError(400, f"content_type np takes one [rows, {len(order)}] tensor; {len(request.inputs)} were sent.")
        return matrix_rows(request.inputs[0], order, dtypes)
    by_column = {}
    for tensor in request.inputs:
        if tensor.name in dtypes and tensor.datatype not in column_datatypes(dtypes[tensor.name]):
            takes = "text (BYTES)" if column_datatypes(dtypes[tensor.name]) == ("BYTES",) else "numbers (BOOL, INT*, UINT*, FP*)"
            raise PayloadError(400, f"V2 input {tensor.name!r} is {tensor.datatype}, and column {tensor.name!r} takes {takes}: send it so.")
        values = tensor.values
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise PayloadError(400, f"V2 input {tensor.name!r} has shape {list(tensor.values.shape)}: send one column as shape [rows] or [rows, 1].")
        by_column[tensor.name] = values
    return by_column


def matrix_rows(tensor: Tensor, order: list[str], dtypes: dict[str, str]) -> Rows:
    if tensor.values.ndim != 2 or tensor.values.shape[1] != len(order):
        raise PayloadError(400, f"a single V2 input must have shape [rows, {len(order)}] (columns in order {', '.join(order)}); it has {list(tensor.values.shape)}.")
    refused = [c for c in order if tensor.datatype not in column_datatypes(dtypes[c])]
    if refused:
        raise PayloadError(400, f"a {tensor.datatype} tensor cannot hold column {refused[0]!r} ({dtypes[refused[0]]}): send one tensor per column (content_type pd).")
    return Rows(order, tensor.values.tolist(), "V2 input")


def output_bytes(datatype: str, values: list) -> bytes:
    if datatype != "BYTES":
        return np.asarray(values, dtype=DATATYPES[datatype]).tobytes()
    encoded = [str(v).encode() for v in values]
    return b"".join(struct.pack("<I", len(e)) + e for e in encoded)


def response(request: Request, answer: dict[str, Any], predictions: list, ids: list[str]) -> tuple[bytes, dict[str, str] | None]:
    """The body of an infer answer (``answer`` holds its other fields) and, with raw tensor bytes, its header length."""
    values = {"predict": predictions, "ids": ids}
    outputs, chunks = [], []
    for name, binary in request.outputs:
        datatype = answer_datatype(values[name]) if name == "predict" else "BYTES"
        tensor = {"name": name, "datatype": datatype, "shape": [len(values[name])]}
        if binary:
            chunks.append(output_bytes(datatype, values[name]))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            tensor["data"] = values[name]
        outputs.append(tensor)
    header = orjson.dumps({**answer, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return header, None
    return header + b"".join(chunks), {"Inference-Header-Content-Length": str(len(header))}
