"""Signed flag links: bound to flag, recipient and action; tampering and expiry refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.flag import Flag, flag_key
from alerts.links import ExpiredLink, FlagLink, LinkSigner, TamperedLink
from alerts.render import render_flag
from haidang.store.base import ACTION_NAMES

from .conftest import RECIPIENT, SECRET, T0, build_article

_FLAG = Flag(rule="tin_sai", severity="cao", story_id="story-1", article_ids=["a1"], agencies=["so-ttt"],
             recipients=[RECIPIENT], immediate=True)


def _signer() -> LinkSigner:
    return LinkSigner(SECRET, "https://haidang.sotttt.example.vn/", link_days=7)


def test_one_link_per_action_each_verifying_to_its_claims() -> None:
    signer = _signer()
    links = signer.links_for(_FLAG, RECIPIENT, "a1", now=T0)
    assert set(links) == set(ACTION_NAMES)
    for action, url in links.items():
        assert url.startswith("https://haidang.sotttt.example.vn/xu-ly/")
        link = signer.verify(url.rsplit("/", 1)[1], now=T0 + timedelta(days=6))
        assert link.action == action and link.recipient == RECIPIENT and link.article_id == "a1"
        assert link.flag_key == flag_key("tin_sai", "story-1", RECIPIENT)


def test_tampered_and_foreign_tokens_are_refused() -> None:
    signer = _signer()
    token = signer.links_for(_FLAG, RECIPIENT, "a1", now=T0)["phan_bac"].rsplit("/", 1)[1]
    body, mac = token.split(".")
    forged = signer.sign(FlagLink(flag_key="k", rule="r", story_id="s", article_id="a", recipient="x@y.vn",
                                  action="phan_bac", expires=2**40))
    other = LinkSigner("another-secret-of-enough-length-0123456789", "https://x.example.vn")
    for bad in (body + "." + mac[:-2] + "AA", body[:-3] + "." + mac, "", ".", "abc", token + "x",
                other.sign(signer.verify(token, now=T0))):
        with pytest.raises(TamperedLink):
            signer.verify(bad, now=T0)
    assert signer.verify(forged, now=T0).recipient == "x@y.vn"     # only our own secret signs


def test_expired_token_is_refused() -> None:
    signer = _signer()
    token = signer.links_for(_FLAG, RECIPIENT, "a1", now=T0)["de_nghi_go_bo"].rsplit("/", 1)[1]
    with pytest.raises(ExpiredLink):
        signer.verify(token, now=T0 + timedelta(days=7))


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        LinkSigner("ngan", "https://x.example.vn")


def test_flag_email_carries_one_link_per_response_option() -> None:
    article = build_article("a")
    links = _signer().links_for(_FLAG, RECIPIENT, article.id, now=T0)
    _, text, html = render_flag(_FLAG, [article], links=links)
    for action, name in ACTION_NAMES.items():
        assert f"{name}: {links[action]}" in text
        assert f'<a href="{links[action]}">{name}</a>' in html
    assert "không kèm đường dẫn" not in text


def test_flag_email_without_secret_says_it_has_no_links() -> None:
    article = build_article("a")
    _, text, html = render_flag(_FLAG, [article])
    assert "không kèm đường dẫn ghi nhận xử lý" in text and "không kèm đường dẫn ghi nhận xử lý" in html
    assert "/xu-ly/" not in text and "/xu-ly/" not in html


def test_queued_flag_carries_each_recipients_own_links(tmp_path) -> None:
    from alerts.outbox import queue_flag
    from haidang.store.sqlite import SqliteStore

    signer = _signer()
    article = build_article("a")
    other = "lanhdao@sotttt.example.vn"
    flag = Flag(rule="tin_sai", severity="cao", story_id="story-1", article_ids=[article.id], agencies=["so-ttt"],
                recipients=[RECIPIENT, other], immediate=True)
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        assert queue_flag(store, flag, [article], now=T0, signer=signer) == 2
        messages = {m.recipient: m for m in store.outbox()}
    for recipient, msg in messages.items():
        tokens = [line.rsplit("/", 1)[1] for line in msg.text.splitlines() if "/xu-ly/" in line]
        assert len(tokens) == len(ACTION_NAMES)
        assert {signer.verify(t, now=T0).recipient for t in tokens} == {recipient}
        assert msg.html.count("/xu-ly/") == len(ACTION_NAMES)


def test_make_signer_reads_the_named_variable() -> None:
    from alerts.dispatch import make_signer
    from haidang.settings import DEFAULT_CONFIG_DIR, load_settings

    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    assert make_signer(settings, environ={}) is None
    signer = make_signer(settings, environ={"HAIDANG_LINK_SECRET": SECRET})
    assert signer is not None and signer.base_url == settings.app.web.base_url and signer.link_days == 7


@pytest.mark.parametrize("mac", ["é", "\ud800", "\x00", "a" * 10_000, ""])
def test_a_signature_of_any_characters_is_refused_not_crashed_on(mac: str) -> None:
    """A forged token, cookie or form field may hold anything; hmac.compare_digest raised TypeError on non-ASCII."""
    signer = _signer()
    body = signer.sign(FlagLink(flag_key="k", rule="r", story_id="s", article_id="a", recipient="x@y.vn",
                                action="phan_bac", expires=2**40)).split(".")[0]
    assert signer.check_mac("flag-link", body, mac) is False
    with pytest.raises(TamperedLink):
        signer.verify(f"{body}.{mac}", now=T0)
