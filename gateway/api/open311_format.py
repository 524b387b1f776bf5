"""Open311 GeoReport v2 wire formats: JSON and XML documents, and the spec's error document for every
failure of an endpoint."""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import Request, Response


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# Characters XML 1.0 cannot carry even escaped; a citizen's text may contain them.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def service_notice(hours: int | None) -> str:
    return f"Rok za rešavanje: {hours} h od prihvatanja prijave." if hours else ""


# -- rendering -----------------------------------------------------------------------------------
def xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, list):
        for item in value:
            xml_value(child, "value" if not isinstance(item, Mapping) else "attribute", item)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            xml_value(child, k, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = NOT_XML.sub("", str(value))


def to_xml(root: str, item: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    top = ET.Element(root)
    for entry in items:
        node = ET.SubElement(top, item)
        for key, value in entry.items():
            xml_value(node, key, value)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: str, root: str, item: str, items: list[dict[str, Any]], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, items), status, media_type="text/xml; charset=utf-8")
    body = json.dumps(items, ensure_ascii=False).encode()
    return Response(body, status, media_type="application/json; charset=utf-8")


def error_response(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", "error", [{"code": code, "description": description}], status=code)


def wire_format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown format {fmt!r}; use .json or .xml")
    return fmt


Handler = Callable[..., Awaitable[Response]]


def spec_errors(handler: Handler) -> Handler:
    """Every failure of an Open311 endpoint in the spec's error document, in the asked-for format."""

    @functools.wraps(handler)
    async def wrapped(request: Request, **kw: Any) -> Response:
        fmt = kw.get("fmt", "json") if kw.get("fmt") in ("json", "xml") else "json"
        kw = {k: NOT_XML.sub("", v) if isinstance(v, str) else v for k, v in kw.items()}
        try:
            return await handler(request, **kw)
        except Open311Error as exc:
            return error_response(fmt, exc.code, exc.description)

    return wrapped
