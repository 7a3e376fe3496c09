"""The fixture sites server: tests/fixtures/sites/ on 127.0.0.1, with one path per fault.

Used by the test suite and by `haidang demo`. Static files get ETag/Last-Modified and 304s;
`{BASE}` in feeds, sitemaps and pages becomes the server's own URL; each fault under /faults/
(slow, truncated, oversize, 5xx, 429 with Retry-After, redirect loop, always-304) has its own path
(`FAULT_ROUTES`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "FAULT_ROUTES",
    "OVERSIZE_BYTES",
    "SITES_DIR",
    "SLOW_SECONDS",
    "TRUNCATED_PROMISED",
    "FixtureServer",
    "serve_sites",
]

SITES_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sites"

SLOW_SECONDS = 3.0          # /faults/slow answers after this; tests use download timeouts well below
OVERSIZE_BYTES = 200_000    # /faults/oversize*.html body size; tests use max_size_bytes well below
TRUNCATED_PROMISED = 4_000  # /faults/truncated.html announces this many bytes, sends a quarter

_TEMPLATED = {".rss", ".atom", ".xml", ".html", ".htm"}
_CONTENT_TYPES = {
    ".rss": "application/rss+xml", ".atom": "application/atom+xml", ".xml": "application/xml",
    ".html": "text/html", ".htm": "text/html", ".txt": "text/plain", ".pdf": "application/pdf",
}
# Static fault files whose Content-Type header is part of the fault.
_CONTENT_TYPE_OVERRIDES = {
    "/faults/feed-windows-1258.rss": "application/rss+xml; charset=windows-1258",
    "/faults/feed-mixed-encoding.rss": "application/rss+xml; charset=utf-8",
    "/faults/feed-wrong-charset.rss": "application/rss+xml; charset=iso-8859-1",
    "/faults/html-as-feed.rss": "text/html; charset=utf-8",
    "/faults/wrong-charset.html": "text/html; charset=iso-8859-1",
}


class FixtureServer(ThreadingHTTPServer):
    daemon_threads = True             # a slow handler never holds up shutdown

    def __init__(self, root: Path = SITES_DIR, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), FixtureHandler)
        self.root = root.resolve()
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.stopping = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []   # (path, headers) of every request
        self._lock = threading.Lock()

    def log_request_seen(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((path, headers))

    def requests_for(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [h for p, h in self.requests if p == path]


class FixtureHandler(SimpleHTTPRequestHandler):
    server: FixtureServer

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, directory=str(args[2].root), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass                                                   # keep test output clean

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.log_request_seen(path, {k.lower(): v for k, v in self.headers.items()})
        route = FAULT_ROUTES.get(path)
        try:
            if route is not None:
                route(self)
            else:
                self._serve_static(path)
        except (BrokenPipeError, ConnectionResetError):
            pass                       # the crawler gave up (timeouts, size caps): expected

    def do_HEAD(self) -> None:
        self.send_error(405)

    # -- static files with {BASE}, validators and 304 -------------------------------------

    def _serve_static(self, path: str) -> None:
        root = self.server.root
        file = (root / path.lstrip("/")).resolve()
        if not file.is_file() or root not in file.parents:
            self.send_error(404, "Not Found")
            return
        body = file.read_bytes()
        if file.suffix in _TEMPLATED:
            body = body.replace(b"{BASE}", self.server.base_url.encode("ascii"))
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        mtime = int(file.stat().st_mtime)
        if self._not_modified(etag, mtime):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        content_type = _CONTENT_TYPE_OVERRIDES.get(path) or _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        self._send(200, body, content_type, ETag=etag, **{"Last-Modified": formatdate(mtime, usegmt=True)})

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return etag in [t.strip() for t in if_none_match.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return mtime <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # -- faults, one per path ---------------------------------------------------------------

    def slow(self) -> None:
        self.server.stopping.wait(SLOW_SECONDS)
        self._send(200, b"<html><body><p>Cham qua.</p></body></html>", "text/html; charset=utf-8")

    def truncated(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(TRUNCATED_PROMISED))
        self.end_headers()
        self.wfile.write(b"<html><body><p>" + b"x" * (TRUNCATED_PROMISED // 4))
        self.wfile.flush()
        self.close_connection = True

    def oversize(self) -> None:
        self._send(200, _padding(OVERSIZE_BYTES), "text/html; charset=utf-8")

    def oversize_unannounced(self) -> None:
        """No Content-Length: the size cap must stop the download while it streams."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_padding(OVERSIZE_BYTES))
        self.close_connection = True

    def status_500(self) -> None:
        self._send(500, b"<h1>500 Internal Server Error</h1>", "text/html")

    def status_503(self) -> None:
        """A plain 503 (retried like a 500). With a long Retry-After it would pause the whole host,
        every fixture site included, for the rest of the run (crawlers.pauses): a Retry-After is
        served by status-429 on request, and tests/crawlers/test_politeness serves its 503s on hosts
        of their own."""
        self._send(503, b"<h1>503 Service Unavailable</h1>", "text/html")

    def status_429(self) -> None:
        """429 with the Retry-After the query asks for: `?after=N` (delay-seconds), `?until=T` (POSIX
        time, sent as an HTTP-date); 3600 seconds without either. Any other query names a feed apart."""
        query = parse_qs(urlsplit(self.path).query)
        if "until" in query:
            retry_after = formatdate(float(query["until"][0]), usegmt=True)
        else:
            retry_after = query.get("after", ["3600"])[0]
        self._send(429, b"<h1>429 Too Many Requests</h1>", "text/html", **{"Retry-After": retry_after})

    def always_304(self) -> None:
        """A server that answers 304 whatever was asked (a broken cache in front of a feed)."""
        self.send_response(304)
        self.end_headers()

    def redirect_loop_a(self) -> None:
        self._redirect("/faults/redirect-loop-b")

    def redirect_loop_b(self) -> None:
        self._redirect("/faults/redirect-loop")

    def redirect_to_page(self) -> None:
        self._redirect("/faults/pages/ok-3.html")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", self.server.base_url + location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _padding(size: int) -> bytes:
    head = b"<html><head><title>Trang qua lon</title></head><body>"
    return head + b"<p>" + b"a" * (size - len(head) - 3)


FAULT_ROUTES: dict[str, Callable[[FixtureHandler], None]] = {
    "/faults/slow": FixtureHandler.slow,
    "/faults/truncated.html": FixtureHandler.truncated,
    "/faults/oversize.html": FixtureHandler.oversize,
    "/faults/oversize-unannounced.html": FixtureHandler.oversize_unannounced,
    "/faults/status-500": FixtureHandler.status_500,
    "/faults/status-503": FixtureHandler.status_503,
    "/faults/status-429": FixtureHandler.status_429,
    "/faults/always-304.rss": FixtureHandler.always_304,
    "/faults/redirect-loop": FixtureHandler.redirect_loop_a,
    "/faults/redirect-loop-b": FixtureHandler.redirect_loop_b,
    "/faults/redirect-to-page": FixtureHandler.redirect_to_page,
}
# Static fault paths (files under faults/): 404 is any missing path such as
# /faults/missing-page.html; report.pdf is non-HTML; robots-denied/ is disallowed by robots.txt;
# the feed-*.rss / not-a-feed.rss / html-as-feed.rss / broken-but-readable.rss files are bad feeds.




@contextmanager
def serve_sites(root: Path = SITES_DIR, port: int = 0) -> Iterator[FixtureServer]:
    """Serve `root` on 127.0.0.1 in a thread until the block ends; port 0: an ephemeral one.
    OSError when `port` is taken."""
    server = FixtureServer(root, port)
    thread = threading.Thread(target=server.serve_forever, name="fixture-sites", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
