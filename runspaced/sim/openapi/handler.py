"""HTTP handler for /openapi/v3 (the index) and /openapi/v3/<group-version>.

The index maps ``api/v1`` and ``apis/<group>/<version>`` to URLs that carry the
document's hash. As on the real server (kube-openapi's handler3), a request with the
current hash gets immutable caching headers, a request with a stale hash is redirected
(301) to the current URL, and a matching If-None-Match gets 304.

The documents are built on the first request and cached for the life of the process.
That first request blocks the event loop while the models load (see `models`).
"""

from __future__ import annotations

import functools
import time
from email.utils import formatdate

import orjson
import structlog
from aiohttp import web

from ..status import ApiError
from .document import GroupVersionDocument, build_documents

__all__ = ["OPENAPI_V3_ROOT", "serve_openapi"]

log = structlog.get_logger("runspaced.sim.openapi")

OPENAPI_V3_ROOT = "/openapi/v3"
_ONE_YEAR_S = 365 * 24 * 3600
_JSON_RANGES = ("application/json", "application/*", "*/*")


@functools.cache
def _documents() -> dict[str, GroupVersionDocument]:
    started = time.perf_counter()
    documents = build_documents()
    log.info(
        "sim.openapi.built",
        documents=sorted(documents),
        size_bytes=sum(len(d.body) for d in documents.values()),
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    return documents


def _accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    ranges = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    return any(media_range in _JSON_RANGES for media_range in ranges)


def _json(body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=headers or {})


def serve_openapi(request: web.Request, path: str) -> web.StreamResponse:
    """Serve the index or one group-version document for a path under /openapi/v3.

    `path` is the request path without a trailing slash. Raises ApiError 405 for methods
    other than GET and HEAD, 406 when the Accept header excludes JSON (the protobuf form
    is not served), and 404 for a group-version that is not served.
    """
    if request.method not in ("GET", "HEAD"):
        raise ApiError(405, "the server does not allow this method", "MethodNotAllowed")
    if not _accepts_json(request.headers.get("Accept", "")):
        raise ApiError(
            406, "only the following media types are accepted: application/json", "NotAcceptable"
        )
    documents = _documents()
    if path == OPENAPI_V3_ROOT:
        index = {"paths": {key: {"serverRelativeURL": d.url} for key, d in documents.items()}}
        return _json(orjson.dumps(index))

    document = documents.get(path.removeprefix(OPENAPI_V3_ROOT + "/"))
    if document is None:
        raise ApiError(404, "the server could not find the requested resource", "NotFound")
    requested_hash = request.query.get("hash")
    if requested_hash and requested_hash != document.hash:
        raise web.HTTPMovedPermanently(document.url)

    etag = f'"{document.hash}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    headers = {"ETag": etag}
    if requested_hash:
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = formatdate(time.time() + _ONE_YEAR_S, usegmt=True)
    return _json(document.body, headers)
