"""The labeling server over real HTTP: the happy path, then bad and hostile requests.

Every bad request must get a 4xx JSON error, write nothing, and leave the server serving.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import wave
from pathlib import Path
from typing import Any

import pytest

from tagger.label.api import LabelApp, LabelOptions
from tagger.label.server import MAX_BODY, LabelServer, is_loopback
from tagger.store import Store
from label_support import CLASSES, make_store, running_server

Response = tuple[int, dict[str, str], bytes]


def request(server: LabelServer, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{server.port}",
                                                       **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post(server: LabelServer, path: str, payload: Any = None, *, raw: bytes | None = None,
         drop: tuple[str, ...] = (), **headers: str) -> Response:
    base = {"Content-Type": "application/json", "X-CSRF-Token": server.app.token,
            "Origin": f"http://127.0.0.1:{server.port}"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    for name in drop:
        base.pop(name)
    body = raw if raw is not None else json.dumps(payload).encode()
    return request(server, "POST", path, body, base)


def raw_exchange(server: LabelServer, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send bytes as they are (no client library tidying them) and parse the reply."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def all_labels(db: Path) -> list[tuple[Any, ...]]:
    with Store(db) as store:
        return store.conn.execute(
            "SELECT track_id, start, \"end\", instrument, role FROM labels ORDER BY instrument"
        ).fetchall()


@pytest.fixture()
def served(tmp_path: Path):
    db, paths = make_store(tmp_path)
    with running_server(db) as server:
        yield server, db, paths


def test_page_audio_and_spectrogram(served) -> None:
    server, _, _ = served
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert server.app.token.encode() in body and b"{{CSRF_TOKEN}}" not in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert request(server, "GET", "/static/app.js")[0] == 200
    status, _, body = request(server, "GET", "/api/next")
    state = json.loads(body)
    assert status == 200 and state["clip"]["id"] == "2-1" and state["instruments"] == CLASSES
    assert state["counts"] == {"labeled": 0, "skipped": 0} and state["remaining"] == 9
    assert state["clip"]["guess"]["piano"]["presence"] == pytest.approx(0.5)
    status, headers, body = request(server, "GET", "/api/clips/2-1/audio.wav")
    assert status == 200 and headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(body)) as wav:
        assert wav.getnchannels() == 1 and wav.getnframes() == 5 * wav.getframerate()
    status, headers, part = request(server, "GET", "/api/clips/2-1/audio.wav",
                                    headers={"Range": "bytes=0-99"})
    assert status == 206 and part == body[:100]
    assert headers["content-range"] == f"bytes 0-99/{len(body)}"
    assert request(server, "GET", "/api/clips/2-1/audio.wav",
                   headers={"Range": f"bytes={len(body)}-"})[0] == 416
    status, headers, png = request(server, "GET", "/api/clips/1-2/spectrogram.png")
    assert status == 200 and png.startswith(b"\x89PNG\r\n\x1a\n")


def test_submit_and_skip_write_rows_that_survive_a_restart(served) -> None:
    server, db, _ = served
    labels = {"voice": "foreground", "piano": "background", "saxophone": "none"}
    status, _, body = post(server, "/api/labels", {"clip": "2-1", "labels": labels})
    after = json.loads(body)
    assert status == 200 and after["clip"]["id"] == "3-0"
    assert after["counts"] == {"labeled": 1, "skipped": 0} and after["remaining"] == 8
    assert all_labels(db) == [(2, 5.0, 10.0, "piano", "background"),
                              (2, 5.0, 10.0, "saxophone", "none"),
                              (2, 5.0, 10.0, "voice", "foreground")]
    status, _, body = post(server, "/api/skip", {"clip": "3-0"})
    assert status == 200 and json.loads(body)["counts"] == {"labeled": 1, "skipped": 1}
    with Store(db) as store:
        assert store.conn.execute('SELECT track_id, start, "end" FROM label_skips').fetchall() == [
            (3, 0.0, 5.0)]
    again = LabelApp(db, LabelOptions())  # a restarted server
    state = again.next_payload()
    assert state["counts"] == {"labeled": 1, "skipped": 1} and state["clip"]["id"] == "3-1"
    assert state["remaining"] == 7


BAD_GETS = [
    ("/api/clips/99-0/audio.wav", 404, "unknown clip"),
    ("/api/clips/2-9/spectrogram.png", 404, "unknown clip"),
    ("/api/clips/abc/audio.wav", 400, "not a clip id"),
    ("/api/clips/..%2F..%2Fetc%2Fpasswd/audio.wav", 400, "not a clip id"),
    ("/api/clips/2-1/../../../etc/passwd", 404, "no such API route"),
    ("/static/../../../../etc/passwd", 404, "not found"),
    ("/%2e%2e/%2e%2e/etc/passwd", 404, "not found"),
    ("//etc/passwd", 404, "not found"),
    ("/static/index.html", 404, "not found"),
    ("/tagger/label/server.py", 404, "not found"),
    ("/api/clips/2-1/audio.wav?path=/etc/passwd", 200, None),  # the query is ignored
    ("/api/nothing", 404, "no such API route"),
]


def test_urls_cannot_reach_other_files(served) -> None:
    server = served[0]
    for path, status, message in BAD_GETS:
        got, headers, body = request(server, "GET", path)
        assert got == status, (path, got, body[:200])
        if message:
            assert headers["content-type"] == "application/json", path
            assert message in json.loads(body)["error"], (path, body[:200])
        assert b"root:" not in body


def hostile_posts(server: LabelServer) -> list[tuple[str, Response, int, str]]:
    """(what, response, expected status, expected words in the error) for each bad POST."""
    good = {"clip": "2-1", "labels": {c: "none" for c in CLASSES}}
    evil = f"http://evil.example:{server.port}"
    nested = b"[" * 8000 + b"]" * 8000
    return [
        ("no token", post(server, "/api/labels", good, drop=("X-CSRF-Token",)), 403, "X-CSRF-Token"),
        ("wrong token", post(server, "/api/labels", good, X_CSRF_Token="guess"), 403, "X-CSRF-Token"),
        ("wrong origin", post(server, "/api/labels", good, Origin=evil), 403, "cross-origin"),
        ("null origin", post(server, "/api/labels", good, Origin="null"), 403, "cross-origin"),
        ("cross-site fetch", post(server, "/api/skip", {"clip": "2-1"}, Sec_Fetch_Site="cross-site"),
         403, "cross-site"),
        ("rebinding host", post(server, "/api/labels", good, Host=f"evil.example:{server.port}",
                                Origin=evil), 403, "Host"),
        ("form post", post(server, "/api/labels", raw=b"clip=2-1",
                           Content_Type="application/x-www-form-urlencoded"), 415, "JSON"),
        ("text/plain", post(server, "/api/skip", {"clip": "2-1"}, Content_Type="text/plain"),
         415, "JSON"),
        ("huge body", post(server, "/api/labels", raw=b" " * (MAX_BODY + 1)), 413, "too large"),
        ("malformed JSON", post(server, "/api/labels", raw=b'{"clip": "2-1",'), 400, "malformed"),
        ("not UTF-8", post(server, "/api/labels", raw=b'{"clip": "\xff"}'), 400, "malformed"),
        ("deep nesting", post(server, "/api/labels", raw=nested), 400, ""),
        ("array body", post(server, "/api/labels", [1, 2]), 400, "JSON object"),
        ("unknown clip", post(server, "/api/labels", {**good, "clip": "99-0"}), 404, "unknown clip"),
        ("traversal clip", post(server, "/api/skip", {"clip": "../../etc/passwd"}), 400, "clip id"),
        ("numeric clip", post(server, "/api/skip", {"clip": 21}), 400, "clip id"),
        ("unknown instrument", post(server, "/api/labels", {
            "clip": "2-1", "labels": {**good["labels"], "kazoo": "none"}}), 400, "unknown instrument"),
        ("unknown role", post(server, "/api/labels", {
            "clip": "2-1", "labels": {**good["labels"], "voice": "maybe"}}), 400, "unknown role"),
        ("role not a string", post(server, "/api/labels", {
            "clip": "2-1", "labels": {**good["labels"], "voice": ["none"]}}), 400, "unknown role"),
        ("labels not a dict", post(server, "/api/labels", {"clip": "2-1", "labels": "none"}),
         400, "'labels'"),
        ("an instrument missing", post(server, "/api/labels", {
            "clip": "2-1", "labels": {"voice": "none"}}), 400, "every instrument"),
        ("extra field", post(server, "/api/skip", {"clip": "2-1", "path": "/etc/passwd"}),
         400, "unexpected field"),
        ("unknown route", post(server, "/api/delete_everything", good), 404, "no such API route"),
        ("PUT", request(server, "PUT", "/api/labels", b"{}"), 405, "not allowed"),
        ("DELETE", request(server, "DELETE", "/api/labels"), 405, "not allowed"),
        ("bad range", request(server, "GET", "/api/clips/2-1/audio.wav",
                              headers={"Range": "bytes=0-1,4-5"}), 416, "byte range"),
        ("rebinding GET", request(server, "GET", "/", headers={"Host": "evil.example"}), 403, "Host"),
    ]


def test_bad_and_hostile_requests_get_4xx_json_and_change_nothing(served) -> None:
    server, db, _ = served
    for what, (status, headers, body), expected, words in hostile_posts(server):
        assert status == expected, (what, status, body[:200])
        assert headers["content-type"] == "application/json", what
        assert words in json.loads(body)["error"], (what, body[:200])
    # Lower-level abuse the client library would not send.
    port = server.port
    status, body = raw_exchange(server, b"GARBAGE\r\n\r\n")
    assert status == 400 and body["error"]
    status, body = raw_exchange(server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414
    host = f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
    status, body = raw_exchange(server, b"BREW / HTTP/1.1\r\n" + host)
    assert status == 405 and "BREW" in body["error"]
    status, body = raw_exchange(server, b"GET http://[/x HTTP/1.1\r\n" + host)
    assert status == 400 and "malformed" in body["error"]
    head = (f"POST /api/skip HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
            f"\r\nX-CSRF-Token: {server.app.token}\r\n").encode()
    status, body = raw_exchange(server, head + b"\r\n")
    assert status == 411 and "Content-Length" in body["error"]
    status, body = raw_exchange(server, head + b"Content-Length: 10000000000\r\n\r\n")
    assert status == 413
    status, body = raw_exchange(server, head + b"Content-Length: -5\r\n\r\n")
    assert status == 400
    status, body = raw_exchange(server, head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status == 411
    # Nothing was written, and the server still answers.
    assert all_labels(db) == []
    status, _, body = request(server, "GET", "/api/next")
    assert status == 200 and json.loads(body)["counts"] == {"labeled": 0, "skipped": 0}


def test_a_vanished_file_is_a_clear_410_not_a_crash(served) -> None:
    server, _, paths = served
    paths[1].unlink()  # track 2
    status, headers, body = request(server, "GET", "/api/clips/2-0/audio.wav")
    assert status == 410 and "unavailable" in json.loads(body)["error"]
    assert request(server, "GET", "/api/clips/1-0/audio.wav")[0] == 200


def test_only_loopback_binds_are_quiet() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]")
    assert is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    assert not is_loopback("example.com")


@pytest.mark.slow
def test_the_cli_serves_the_page_and_rejects_bad_options(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import urllib.request

    db, _ = make_store(tmp_path)
    tagger = [sys.executable, "-m", "tagger"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    for args, words in [(["--order", "sideways"], "--order"), (["--instruments", "kazoo"], "kazoo")]:
        done = subprocess.run([*tagger, "label", "--db", str(db), *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and words in done.stderr, done.stderr
    proc = subprocess.Popen([*tagger, "label", "--db", str(db), "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            if "http://" in line:
                url = line[line.index("http://"):].split()[0]
                break
        assert url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url + "api/next", timeout=30) as resp:
            assert json.loads(resp.read())["clip"]["id"] == "2-1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
