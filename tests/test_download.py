"""Tests of fetch-and-verify against a local threaded HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from fmltc_core.cli import main
from fmltc_core.data.download import (
    MANIFEST,
    DownloadError,
    ManifestEntry,
    download_dataset,
    download_file,
)

PAYLOAD = b"flow data\n" * 1000


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves /good, /short (announces more bytes than it sends), else 404."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/good":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:100])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                 "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_verified_download_is_renamed(server, tmp_path):
    expected = hashlib.sha256(PAYLOAD).hexdigest()
    result = download_file(f"{server}/good", tmp_path / "f.log", sha256=expected,
                           size=len(PAYLOAD))
    assert result.verified
    assert (tmp_path / "f.log").read_bytes() == PAYLOAD
    assert not (tmp_path / "f.log.part").exists()


def test_hash_mismatch_deletes_and_names_both_hashes(server, tmp_path):
    expected = "0" * 64
    actual = hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(DownloadError, match=rf"f\.log: SHA-256 mismatch.*{expected}"
                                            rf".*{actual}"):
        download_file(f"{server}/good", tmp_path / "f.log", sha256=expected)
    assert list(tmp_path.iterdir()) == []


def test_not_found_raises_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server}/missing", tmp_path / "f.log", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_raises_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match=r"f\.log: transfer"):
        download_file(f"{server}/short", tmp_path / "f.log")
    assert list(tmp_path.iterdir()) == []


def test_unknown_hash_is_not_marked_verified(server, tmp_path):
    result = download_file(f"{server}/good", tmp_path / "f.log")
    assert not result.verified and not result.trusted
    assert result.path.name == "f.log.unverified"
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert not (tmp_path / "f.log").exists()


def test_trust_unverified_keeps_the_file_and_records_the_hash(server, tmp_path):
    result = download_file(f"{server}/good", tmp_path / "f.log", trust_unverified=True)
    assert result.trusted and not result.verified
    assert (tmp_path / "f.log").read_bytes() == PAYLOAD
    sums = (tmp_path / "SHA256SUMS.unverified").read_text()
    assert sums == f"{result.sha256}  f.log\n"


def test_download_dataset_uses_the_manifest(server, tmp_path):
    manifest = {"demo": (ManifestEntry("a.labeled", f"{server}/good",
                                       sha256=hashlib.sha256(PAYLOAD).hexdigest()),)}
    results = download_dataset("demo", tmp_path, manifest=manifest)
    assert results[0].path == tmp_path / "demo" / "a.labeled"
    assert results[0].verified


def test_manifest_invents_no_hashes():
    for entries in MANIFEST.values():
        for entry in entries:
            assert entry.sha256 is None


def test_cli_prints_instructions_for_form_gated_dataset(tmp_path, capsys):
    assert main(["download", "cicids2017", "--dest", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "unb.ca/cic/datasets/ids-2017" in output
    assert str(tmp_path / "cicids2017") in output


def test_cli_rejects_unknown_dataset(tmp_path):
    with pytest.raises(SystemExit):
        main(["download", "kdd99", "--dest", str(tmp_path)])
