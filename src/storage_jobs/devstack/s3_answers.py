"""The answers a FaultProxy makes up: S3 error documents, DeleteObjects results, resets."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from aiohttp import web
from multidict import CIMultiDict

__all__ = [
    "S3_NS",
    "delete_result",
    "error_response",
    "error_xml",
    "reset_connection",
    "text_of",
    "to_xml",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "AccessDenied": "Access Denied",
}


def error_xml(code: str, message: str, resource: str, request_id: str) -> bytes:
    """Return an S3-style ``<Error>`` document."""
    root = ET.Element("Error")
    fields = {"Code": code, "Message": message, "Resource": resource, "RequestId": request_id}
    for tag, text in fields.items():
        ET.SubElement(root, tag).text = text
    return to_xml(root)


def to_xml(root: ET.Element) -> bytes:
    """An XML document with its declaration, as S3 sends it."""
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def text_of(elem: ET.Element, tag: str) -> str:
    """The text of ``elem``'s child ``tag``, in S3's namespace or none ("" if absent)."""
    found = elem.find(f"{{{S3_NS}}}{tag}")
    if found is None:
        found = elem.find(tag)
    return (found.text or "") if found is not None else ""


def error_response(request: web.Request, status: int, code: str, request_id: str) -> web.Response:
    """S3's error answer with ``code`` (body-less for a HEAD, as S3 answers one)."""
    body = error_xml(code, _MESSAGES[code], request.path, request_id)
    headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    return web.Response(
        status=status, headers=headers, body=None if request.method == "HEAD" else body
    )


def delete_result(root: ET.Element, failed: dict[str, str]) -> web.Response:
    """A DeleteObjects answer: ``root`` (the upstream's result, or empty) plus one error a key."""
    ET.register_namespace("", S3_NS)
    for key, code in failed.items():
        err = ET.SubElement(root, f"{{{S3_NS}}}Error")
        ET.SubElement(err, f"{{{S3_NS}}}Key").text = key
        ET.SubElement(err, f"{{{S3_NS}}}Code").text = code
        ET.SubElement(err, f"{{{S3_NS}}}Message").text = "Injected by FaultProxy"
    return web.Response(status=200, body=to_xml(root), content_type="application/xml")


async def reset_connection(
    request: web.Request, status: int, headers: CIMultiDict[str], body: bytes
) -> web.StreamResponse:
    """Sends half of the upstream's answer, then aborts the connection."""
    # The upstream already did the work; the client just never sees the full answer.
    transport = request.transport
    if body and request.method != "HEAD":
        headers["Content-Length"] = str(len(body))
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        await resp.write(body[: max(1, len(body) // 2)])
        await asyncio.sleep(0.05)  # let the partial body reach the client first
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # nothing more can be sent on this connection
