"""The known-false-claims list kept by people: a claim proposed from a debunk report waits, is listed,
confirmed or dismissed with `haidang claims`, audited, and a running enricher sees the decision
without a restart. A real SQLite store, the shipped models, the CLI as a user runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import nlp.enrich
from haidang.claimlist import ClaimTooShort, add_claim, claim_page, decide_claim, valid_rebuttal_url
from haidang.cli import app
from haidang.demo import write_demo_config
from haidang.record import Article
from haidang.settings import Source, load_settings
from haidang.store import open_store
from haidang.store.base import Store
from nlp.enrich import Enricher

PRESS = Source(id="baoqn", name="Báo Quảng Ngãi", country="VN", language="vi", kind="provincial_press", trust="high")
PLATFORM = Source(id="mxh", name="Trang mạng", country="VN", language="vi", kind="platform", trust="unknown")
DEBUNK = ("Công an tỉnh Quảng Ngãi bác bỏ tin đồn vỡ đập thủy điện ở Sơn Tây",
          ("Ngày 5/9, Công an tỉnh Quảng Ngãi khẳng định thông tin \"đập thủy điện Đăkđrinh ở xã Sơn Tây đã bị vỡ, "
           "nước lũ đang tràn về hạ du\" lan truyền trên mạng xã hội là sai sự thật. Ban quản lý nhà máy cho biết "
           "đập vẫn vận hành an toàn và đề nghị người dân không chia sẻ thông tin chưa được kiểm chứng."))
# The claim reworded, so only the scan of every confirmed claim (not the LSH band keys) finds it.
REWORDED = ("Khẩn: lũ ở Sơn Tây",
            "Nghe nói ở Sơn Tây nước lũ tràn về hạ du rồi, thủy điện Đăkđrinh vỡ đập, bà con Quảng Ngãi chia sẻ gấp.")
NOW = datetime(2026, 9, 6, 8, 0, tzinfo=UTC)


def _signals(article: Article) -> set[str]:
    return {r["signal"] for r in article.labels["risk"]["reasons"]}


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return write_demo_config("http://127.0.0.1:9", tmp_path / "config", tmp_path / "data")


def _store(config: Path) -> Store:
    return open_store(load_settings(config, environ={}).app.store)


def test_a_proposed_claim_is_confirmed_from_the_command_line_and_a_running_enricher_flags_copies(
        config: Path, enricher: Enricher, matched_article: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(config)
    runner = CliRunner()
    try:
        debunk = enricher.enrich(matched_article(PRESS, "bac-bo-vo-dap", *DEBUNK, first_seen=NOW), PRESS, store)
        store.upsert(debunk)
        claim_id = debunk.labels["risk"]["debunk"]["proposed_claim_id"]
        before = enricher.enrich(matched_article(PLATFORM, "vo-dap", *REWORDED, first_seen=NOW), PLATFORM, store)
        assert "known_false_claim" not in _signals(before), "a proposed claim flags nothing"

        status = runner.invoke(app, ["status", "-c", str(config)])
        assert "waiting for a person: 1" in status.output
        explained = runner.invoke(app, ["explain", debunk.id, "-c", str(config)])
        assert explained.exit_code == 0 and claim_id in explained.output and "Tin sai đã biết" in explained.output

        listed = runner.invoke(app, ["claims", "list", "--json", "-c", str(config)])
        assert listed.exit_code == 0, listed.output
        (row,) = [json.loads(line) for line in listed.output.splitlines()]
        assert row["id"] == claim_id and row["status"] == "proposed"
        assert row["source_title"] == DEBUNK[0] and row["rebuttal_url"].endswith("bac-bo-vo-dap")
        assert "Đăkđrinh" in row["text"]

        done = runner.invoke(app, ["claims", "confirm", claim_id, "--by", "Nguyễn Văn An", "--note", "đã gọi điện",
                                   "-c", str(config)])
        assert done.exit_code == 0, done.output
        assert "proposed → confirmed" in done.output
        assert runner.invoke(app, ["claims", "list", "-c", str(config)]).output.strip().endswith("0 claim(s) proposed")
        (entry,) = [e for e in store.audit() if e.kind == "claim"]
        assert (entry.actor, entry.target) == ("Nguyễn Văn An", claim_id)
        assert entry.detail == {"status": "confirmed", "previous": "proposed", "via": "cli", "note": "đã gọi điện"}

        # The enricher cached the confirmed list (empty) before the decision; once that is a minute
        # old it reads the list again, with no restart and no refresh call.
        later = nlp.enrich.time.monotonic() + nlp.enrich.CLAIMS_TTL_S + 1
        monkeypatch.setattr(nlp.enrich.time, "monotonic", lambda: later)
        after = enricher.enrich(matched_article(PLATFORM, "vo-dap-2", *REWORDED, first_seen=NOW), PLATFORM, store)
        assert "known_false_claim" in _signals(after)
        assert after.labels["risk"]["score"] > before.labels["risk"]["score"]
    finally:
        store.close()


def test_dismiss_add_and_the_errors_of_the_claims_commands(config: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["claims", "add", "Đập thủy điện Đăkđrinh ở xã Sơn Tây đã bị vỡ",
                                "--rebuttal-url", "https://congan.quangngai.gov.vn/bac-bo", "-c", str(config)])
    assert added.exit_code == 0, added.output
    claim_id = added.output.split()[1]
    store = _store(config)
    try:
        (row,) = claim_page(store, "confirmed").rows
        assert row.claim.id == claim_id and row.claim.rebuttal_url == "https://congan.quangngai.gov.vn/bac-bo"
        assert row.decided_by and row.decided_by.endswith("(dòng lệnh)")   # no --by: the machine's user
    finally:
        store.close()
    dismissed = runner.invoke(app, ["claims", "dismiss", claim_id, "--by", "Lê Thị Bình", "-c", str(config)])
    assert dismissed.exit_code == 0 and "confirmed → dismissed" in dismissed.output
    again = runner.invoke(app, ["claims", "dismiss", claim_id, "-c", str(config)])
    assert again.exit_code == 0 and "already dismissed; nothing changed" in again.output
    shown = runner.invoke(app, ["claims", "list", "--status", "dismissed", "-c", str(config)]).output
    assert claim_id in shown and "Lê Thị Bình" in shown
    found = runner.invoke(app, ["claims", "list", "--status", "all", "--search", "dakdrinh SON TAY", "-c", str(config)])
    assert claim_id in found.output and "1 claim(s)" in found.output
    none = runner.invoke(app, ["claims", "list", "--status", "all", "--search", "Trà Khúc", "-c", str(config)])
    assert claim_id not in none.output and "0 claim(s)" in none.output

    unknown = runner.invoke(app, ["claims", "confirm", "khong-co", "-c", str(config)])
    assert unknown.exit_code == 1 and "no claim with id" in unknown.output
    short = runner.invoke(app, ["claims", "add", "vỡ đập", "--rebuttal-url", "https://a.vn/x", "-c", str(config)])
    assert short.exit_code == 1 and "too short" in short.output
    bad_url = runner.invoke(app, ["claims", "add", "Đập thủy điện Đăkđrinh đã bị vỡ hoàn toàn",
                                  "--rebuttal-url", "javascript:alert(1)", "-c", str(config)])
    assert bad_url.exit_code == 2
    bad_status = runner.invoke(app, ["claims", "list", "--status", "sai", "-c", str(config)])
    assert bad_status.exit_code == 2


def test_the_library_refuses_what_the_commands_refuse(tmp_path: Path) -> None:
    store = open_store(load_settings(write_demo_config("http://127.0.0.1:9", tmp_path / "c", tmp_path / "d"),
                                     environ={}).app.store)
    try:
        with pytest.raises(ValueError, match="http"):
            add_claim(store, "Đập thủy điện Đăkđrinh đã bị vỡ hoàn toàn", "ftp://a.vn/x", "An", now=NOW)
        with pytest.raises(ClaimTooShort):
            add_claim(store, "vỡ đập", "https://a.vn/x", "An", now=NOW)
        with pytest.raises(KeyError):
            decide_claim(store, "khong-co", "confirmed", "An", now=NOW)
        assert store.known_claims(None) == [] and store.audit() == []
    finally:
        store.close()
    assert valid_rebuttal_url("https://congan.quangngai.gov.vn/tin/1?a=b")
    assert not valid_rebuttal_url("https://a.vn/x y") and not valid_rebuttal_url("https://a.vn/\u200bx")
