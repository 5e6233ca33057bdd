"""The labeling page's HTTP server: stdlib ``ThreadingHTTPServer`` plus a small router.

No web framework: one local user, a handful of routes. What matters is that nothing a request
says can hurt: files are served from a fixed table (never from a URL path), audio only by clip
id, and every POST must carry the page's secret token, a JSON body of bounded size and (when a
browser sends one) a same-origin ``Origin``. The ``Host`` header is checked on every request, so
a DNS-rebinding page cannot read the token. Bad requests get a 4xx JSON ``{"error": ...}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from tagger.label.api import ApiError, LabelApp

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024  # a submit is ~30 bytes per instrument; anything bigger is not the page
TOKEN_HEADER = "X-CSRF-Token"
STATIC = {  # URL -> (package file, content type): the only files the server ever sends
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
_CLIP_ROUTE = re.compile(r"/api/clips/([^/]{1,64})/(audio\.wav|spectrogram\.png)")
_RANGE = re.compile(r"bytes=([0-9]{0,15})-([0-9]{0,15})")


def _read_static(name: str) -> bytes:
    return resources.files("tagger.label").joinpath("static", name).read_bytes()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: the only binds that need no warning."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LabelServer(ThreadingHTTPServer):
    """Holds the ``LabelApp``, the page (token baked in) and the Host names it answers to."""

    daemon_threads = True
    request_queue_size = 128  # listen backlog: a page loads several resources at once (stdlib: 5)

    def __init__(self, app: LabelApp, host: str, port: int):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host.strip("[]"), port), LabelHandler)
        self.app = app
        self.host = host
        self.port = int(self.server_address[1])
        page = _read_static("index.html").decode("utf-8")
        self.page = page.replace("{{CSRF_TOKEN}}", app.token).encode("utf-8")
        self.static = {url: (_read_static(name), ctype) for url, (name, ctype) in STATIC.items()}
        bare = host.strip("[]")
        wildcard = bare in ("0.0.0.0", "::", "")
        shown = f"[{bare}]" if ":" in bare else bare
        self.allowed_hosts: set[str] | None = None if wildcard else {
            f"{shown}:{self.port}", f"localhost:{self.port}", f"127.0.0.1:{self.port}",
            f"[::1]:{self.port}"}

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line for a client that went away; a traceback only for a real bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.info("%s went away mid-request (%s)", client_address[0], type(exc).__name__)
        else:
            log.exception("error serving %s", client_address[0])

    @property
    def url(self) -> str:
        bare = self.host.strip("[]")
        if bare in ("0.0.0.0", "::", ""):
            bare = "127.0.0.1"
        return f"http://{f'[{bare}]' if ':' in bare else bare}:{self.port}/"


class LabelHandler(BaseHTTPRequestHandler):
    """Parses, checks and routes one request; never lets an exception escape as a crash."""

    server: LabelServer
    server_version = "tagger-label"
    sys_version = ""
    timeout = 30  # seconds; a client that stalls mid-request is dropped, not waited for

    # -- responses ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Content-Security-Policy", CSP)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error, the server's own parse errors included, as JSON (never an HTML page)."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparsable request line: still say why
            self.request_version = "HTTP/1.0"
        if code == HTTPStatus.NOT_IMPLEMENTED:  # the stdlib's answer to an unknown method
            code, message = 405, f"method {str(self.command)[:20]!r} not allowed"
        text = message or HTTPStatus(code).phrase
        try:
            self._json(code, {"error": text})
        except OSError:
            pass  # the client is gone

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    # -- checks ---------------------------------------------------------------------------
    def _check_host(self) -> None:
        allowed = self.server.allowed_hosts
        host = (self.headers.get("Host") or "").lower()
        if allowed is not None and host not in allowed:
            raise ApiError(403, "unexpected Host header: open the address `tagger label` printed")

    def _check_post(self) -> Any:
        """CSRF and body checks for a POST; returns the parsed JSON body."""
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{(self.headers.get('Host') or '').lower()}":
            raise ApiError(403, "cross-origin request refused")
        fetch_site = self.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            raise ApiError(403, "cross-site request refused")
        token = self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.server.app.token.encode()):
            raise ApiError(403, f"missing or wrong {TOKEN_HEADER} header (reload the page)")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "chunked bodies are not accepted; send Content-Length")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ApiError(411, "Content-Length is required")
        if not length_text.isdigit() or len(length_text) > 12:
            raise ApiError(400, "Content-Length must be a number")
        length = int(length_text)
        if length > MAX_BODY:
            raise ApiError(413, f"body too large ({length} bytes; at most {MAX_BODY})")
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise ApiError(400, "body shorter than its Content-Length")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ApiError(400, f"malformed JSON: {str(exc)[:100]}") from None

    # -- routing --------------------------------------------------------------------------
    def _dispatch(self, route: Any) -> None:
        try:
            self._check_host()
            route()
        except ApiError as exc:
            if exc.status >= 400 and self.command == "POST":
                self.close_connection = True  # the body may be unread: do not reuse the socket
            try:
                self._json(exc.status, {"error": exc.message})
            except (ConnectionError, TimeoutError) as gone:  # e.g. it hung up mid-body
                self._gone(gone)
        except (ConnectionError, TimeoutError) as gone:
            self._gone(gone)
        except Exception:  # a bug must cost one request, never the server
            log.exception("error handling %s %s", self.command, self.path[:200])
            self.close_connection = True
            try:
                self._json(500, {"error": "internal error (see the server's log)"})
            except OSError:
                pass

    def _gone(self, exc: BaseException) -> None:
        """The client went away or stalled: nothing to answer, one line in the log."""
        self.close_connection = True
        log.info("%s went away during %s %s (%s)", self.client_address[0], self.command,
                 self.path[:100], type(exc).__name__)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _not_allowed(self) -> None:
        raise ApiError(405, f"method {self.command} not allowed")

    def _refuse(self) -> None:
        self._dispatch(self._not_allowed)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse  # noqa: N815

    def _path(self) -> str:
        try:
            return urlsplit(self.path).path
        except ValueError:  # e.g. "http://[" : not a URL at all
            raise ApiError(400, "malformed request target") from None

    def _get(self) -> None:
        path = self._path()
        app = self.server.app
        if path in ("/", "/index.html"):
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path in self.server.static:
            body, ctype = self.server.static[path]
            self._send(200, body, ctype)
        elif path == "/api/next":
            self._json(200, app.next_payload())
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        elif match := _CLIP_ROUTE.fullmatch(path):
            clip_id, kind = match.groups()
            if kind == "audio.wav":
                self._send_ranged(app.audio(clip_id), "audio/wav")
            else:
                self._send(200, app.spectrogram(clip_id), "image/png")
        elif path.startswith("/api/"):
            raise ApiError(404, f"no such API route: {path[:100]}")
        else:
            raise ApiError(404, "not found")

    def _post(self) -> None:
        path = self._path()
        if path not in ("/api/labels", "/api/skip"):
            raise ApiError(404, f"no such API route: {path[:100]}")
        body = self._check_post()
        app = self.server.app
        self._json(200, app.submit(body) if path == "/api/labels" else app.skip(body))

    def _send_ranged(self, body: bytes, content_type: str) -> None:
        """Honour one ``Range: bytes=a-b`` (media elements seek with it); else the whole body."""
        spec = self.headers.get("Range")
        headers = {"Accept-Ranges": "bytes"}
        if not spec:
            self._send(200, body, content_type, headers)
            return
        match = _RANGE.fullmatch(spec.strip())
        size = len(body)
        if match is None or match.groups() == ("", ""):
            raise ApiError(416, "only one byte range (bytes=a-b) is supported")
        first_text, last_text = match.groups()
        if first_text == "":  # suffix: the last N bytes
            first, last = max(size - int(last_text), 0), size - 1
        else:
            first = int(first_text)
            last = min(int(last_text), size - 1) if last_text else size - 1
        if first >= size or last < first:
            self._send(416, b"", content_type, {"Content-Range": f"bytes */{size}"})
            return
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        self._send(206, body[first : last + 1], content_type, headers)


def make_server(app: LabelApp, host: str = "127.0.0.1", port: int = 0) -> LabelServer:
    """Bind (port 0 = any free port) without serving yet; ``serve_forever`` runs it."""
    return LabelServer(app, host, port)
