"""A small blocking HTTP client over ``wasi:http/outgoing-handler``.

Every request leaves through the worker, which allows only the hosts the asset's
egress policy names and refuses private and metadata addresses; Python's ``requests``
and ``urllib`` cannot work in the sandbox (there are no sockets)::

    from outpost_app import http

    response = http.get(f"{base_url}/v1/ip/{ip}", headers={"key": config["api_key"]})
    if response.status == 404:
        raise ValueError(f"no record for {ip}")
    record = response.json()

Any status is a response; only transport problems raise :class:`HttpError`. Redirects
are followed (up to ``max_redirects``, 5 by default), each target passing the egress
policy again; when a redirect leaves the origin, only ``accept``, ``accept-language``
and ``user-agent`` headers are kept, so a key in a header never reaches another host.
URLs in messages leave out the query string: put secrets in headers, not URLs.
"""

import json as _json
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urljoin, urlsplit

# Imported at build time (componentize-py's snapshot): an import inside a call would
# search the filesystem, which the sandbox denies. Natively they do not exist.
try:
    from componentize_py_types import Err as _Err
    from wit_world.imports import http_types as _t
    from wit_world.imports import outgoing_handler as _outgoing_handler
    from wit_world.imports import streams as _streams
except ImportError:  # pragma: no cover - only natively
    _Err = _t = _outgoing_handler = _streams = None

__all__ = ["HttpError", "Response", "request", "get", "post", "put", "patch", "delete"]

#: Largest response body read, in bytes, unless a call asks for another cap.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_KEPT_ACROSS_ORIGINS = ("accept", "accept-language", "user-agent")


class HttpError(Exception):
    """A request that got no response: denied by the sandbox, timed out, refused, ..."""


class Response:
    """A response, its body read whole."""

    def __init__(self, url: str, status: int, headers: Dict[str, str], body: bytes) -> None:
        #: The URL that answered (after redirects).
        self.url = url
        self.status = status
        #: Lowercase names; several values of one header joined with ``, ``.
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return _json.loads(self.body)
        except ValueError as error:
            raise ValueError(f"the response of {_shown(self.url)} is not JSON: {error}") from None


def _shown(url: str) -> str:
    """The URL without its query string or user info, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def _origin(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _describe(url: str, code: Any) -> str:
    name = type(code).__name__.replace("ErrorCode_", "")
    reasons = {
        "HttpRequestDenied": "denied by the sandbox (the asset's egress does not allow it)",
        "DestinationIpProhibited": "denied by the sandbox (the host resolves to an address connectors may not reach)",
        "DnsTimeout": "timed out looking up the host",
        "DnsError": "failed: the host name does not resolve",
        "ConnectionRefused": "failed: connection refused",
        "ConnectionTimeout": "timed out connecting",
        "ConnectionReadTimeout": "timed out waiting for the response",
        "HttpResponseTimeout": "timed out waiting for the response",
        "HttpResponseBodySize": "failed: the response body is larger than the worker allows",
        "TlsCertificateError": "failed: the server's TLS certificate is not trusted",
        "TlsProtocolError": "failed: TLS error",
    }
    return f"request to {_shown(url)} {reasons.get(name, f'failed ({name})')}"


def _method(t: Any, method: str) -> Any:
    known = {
        "GET": t.Method_Get,
        "HEAD": t.Method_Head,
        "POST": t.Method_Post,
        "PUT": t.Method_Put,
        "DELETE": t.Method_Delete,
        "OPTIONS": t.Method_Options,
        "PATCH": t.Method_Patch,
    }
    upper = method.upper()
    return known[upper]() if upper in known else t.Method_Other(upper)


def _exchange(method: str, url: str, headers: Dict[str, str], body: bytes, timeout: float, max_bytes: int) -> Response:
    Err, t, outgoing_handler, streams = _Err, _t, _outgoing_handler, _streams
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError(f"cannot request {url!r}: only http:// and https:// URLs")
    fields = t.Fields.from_list([(name.lower(), str(value).encode()) for name, value in headers.items()])
    outgoing = t.OutgoingRequest(fields)
    outgoing.set_method(_method(t, method))
    outgoing.set_scheme(t.Scheme_Https() if parts.scheme == "https" else t.Scheme_Http())
    outgoing.set_authority(parts.netloc)
    outgoing.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    outgoing_body = outgoing.body()
    options = t.RequestOptions()
    nanos = int(timeout * 1_000_000_000)
    options.set_connect_timeout(nanos)
    options.set_first_byte_timeout(nanos)
    options.set_between_bytes_timeout(nanos)
    try:
        future = outgoing_handler.handle(outgoing, options)
    except Err as refused:
        raise HttpError(_describe(url, refused.value)) from None
    if body:
        with outgoing_body.write() as stream:
            for start in range(0, len(body), 4096):
                stream.blocking_write_and_flush(body[start : start + 4096])
    t.OutgoingBody.finish(outgoing_body, None)

    with future:
        answer = future.get()
        while answer is None:
            with future.subscribe() as ready:
                ready.block()
            answer = future.get()
    inner = answer.value
    if isinstance(answer, Err) or isinstance(inner, Err):
        raise HttpError(_describe(url, inner.value if isinstance(inner, Err) else None))
    incoming = inner.value
    with incoming:
        status = incoming.status()
        found: Dict[str, str] = {}
        with incoming.headers() as header_fields:
            for name, value in header_fields.entries():
                text = value.decode("latin-1")
                found[name.lower()] = f"{found[name.lower()]}, {text}" if name.lower() in found else text
        incoming_body = incoming.consume()
        chunks = []
        size = 0
        with incoming_body.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(65536)
                except Err as ended:
                    if isinstance(ended.value, streams.StreamError_Closed):
                        break
                    raise HttpError(f"request to {_shown(url)} failed while reading the response") from None
                size += len(chunk)
                if size > max_bytes:
                    raise HttpError(f"the response of {_shown(url)} is larger than {max_bytes} bytes")
                chunks.append(chunk)
        with t.IncomingBody.finish(incoming_body):
            pass
    return Response(url, status, found, b"".join(chunks))


def request(
    method: str,
    url: str,
    *,
    headers: Optional[Dict[str, str]] = None,
    body: Optional[bytes] = None,
    json: Any = None,
    timeout: float = 30.0,
    max_redirects: int = 5,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Response:
    """Sends one request (``json`` is serialized, with ``content-type:
    application/json``) and follows redirects; ``timeout`` (seconds) bounds connecting,
    the first byte and every pause between bytes, clamped by the worker."""
    sent_headers = dict(headers or {})
    payload = body or b""
    if json is not None:
        payload = _json.dumps(json).encode()
        if not any(name.lower() == "content-type" for name in sent_headers):
            sent_headers["content-type"] = "application/json"
    for _ in range(max_redirects + 1):
        response = _exchange(method, url, sent_headers, payload, timeout, max_bytes)
        location = response.headers.get("location")
        if response.status not in _REDIRECTS or not location:
            return response
        target = urljoin(url, location)
        if _origin(target) != _origin(url):
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() in _KEPT_ACROSS_ORIGINS}
        if response.status == 303 or (response.status in (301, 302) and method.upper() == "POST"):
            method, payload = "GET", b""
        url = target
    raise HttpError(f"request to {_shown(url)} redirected more than {max_redirects} times")


def get(url: str, **options: Any) -> Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> Response:
    return request("POST", url, **options)


def put(url: str, **options: Any) -> Response:
    return request("PUT", url, **options)


def patch(url: str, **options: Any) -> Response:
    return request("PATCH", url, **options)


def delete(url: str, **options: Any) -> Response:
    return request("DELETE", url, **options)
