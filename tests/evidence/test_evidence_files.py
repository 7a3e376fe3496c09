"""The folder `haidang evidence --out` writes: every file is listed in SHA256SUMS in the format
`sha256sum -c` reads, pages against the hash stored at capture, so an edited copy fails the check."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haidang.evidence.capture import FEED_ENTRY_TYPE
from haidang.evidence.files import write_evidence
from haidang.store.base import Evidence
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
_EMPTY = hashlib.sha256(b"").hexdigest()
_PAGE = "<html><body><p>Nghe nói đập thủy điện đã vỡ</p></body></html>".encode()
_ENTRY = json.dumps({"link": "https://dien-dan.example.vn/t/1", "title": "NÓNG"}, ensure_ascii=False).encode()


def _records(tmp_path: Path) -> list[Evidence]:
    """A page, its re-checks (unchanged: no bytes; gone) and a feed entry, read back from a real store."""
    url = "https://bao.example.vn/a.html"
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        for evidence in (
            Evidence(article_id="a", url=url, fetched_at=T0, sha256=hashlib.sha256(_PAGE).hexdigest(), html=_PAGE,
                     text="Tin đồn\n\nNghe nói đập thủy điện đã vỡ", status_code=200, outcome="captured",
                     content_type="text/html; charset=utf-8"),
            Evidence(article_id="a", url=url, fetched_at=T0 + timedelta(hours=6), sha256=_EMPTY, status_code=200,
                     kind="recheck", outcome="unchanged"),
            Evidence(article_id="a", url=url, fetched_at=T0 + timedelta(hours=12), sha256=_EMPTY, status_code=404,
                     kind="recheck", outcome="gone", note="HttpError: HTTP 404"),
            Evidence(article_id="a", url=url, fetched_at=T0 + timedelta(hours=13), sha256=hashlib.sha256(_ENTRY).hexdigest(),
                     html=_ENTRY, text="NÓNG", status_code=200, outcome="captured", content_type=FEED_ENTRY_TYPE),
        ):
            store.save_evidence(evidence)
        return store.evidence("a")
    finally:
        store.close()


def _sums(folder: Path) -> dict[str, str]:
    text = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    return {name: digest for digest, name in (line.split("  ", 1) for line in text.splitlines())}


def _sha256sum(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True,
                          text=True, check=False)


def test_every_file_written_is_listed_with_its_hash(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    written = write_evidence(_records(tmp_path), folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    sums = _sums(folder)
    assert sorted(sums) == sorted(p.name for p in written if p.name != "SHA256SUMS")
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert sums["001-flag-captured-20260302T010000Z.html"] == hashlib.sha256(_PAGE).hexdigest()
    assert (folder / "004-flag-captured-20260302T140000Z.json").read_bytes() == _ENTRY
    assert "004-flag-captured-20260302T140000Z.txt" in sums
    assert not any(name.startswith(("002-", "003-")) for name in sums)        # no bytes, no file


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="sha256sum (GNU coreutils) not installed")
def test_sha256sum_accepts_the_folder_and_catches_an_edited_page(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    write_evidence(_records(tmp_path), folder)
    done = _sha256sum(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK\n") == len(_sums(folder)) == 5
    page = folder / "001-flag-captured-20260302T010000Z.html"
    page.write_bytes(page.read_bytes().replace("vỡ".encode(), "an toàn".encode()))
    tampered = _sha256sum(folder)
    assert tampered.returncode == 1 and f"{page.name}: FAILED" in tampered.stdout


def test_a_folder_with_no_page_still_lists_its_files(tmp_path: Path) -> None:
    gone = Evidence(article_id="a", url="https://bao.example.vn/a.html", fetched_at=T0, sha256=_EMPTY,
                    status_code=410, kind="recheck", outcome="gone")
    folder = tmp_path / "out"
    write_evidence([gone], folder)
    assert list(_sums(folder)) == ["evidence.json"]
    assert json.loads((folder / "evidence.json").read_text(encoding="utf-8"))[0]["file"] is None
