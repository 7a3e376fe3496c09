"""`haidang explain`: every label of a stored article with its reasons, for a person to judge."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from alerts.render import signal_name
from crawlers.urls import canonical_url
from haidang import wording
from haidang.record import Article, article_id, engagement_line
from haidang.store.base import Store

__all__ = ["find_article", "render_explanation"]

_LEVEL_STYLE = {"thấp": "green", "cần xem xét": "yellow", "cao": "bold red"}
_SCOPES = {"province": "các câu nhắc đến tỉnh", "whole-text": "toàn bài"}      # nlp.tone scopes


def find_article(store: Store, ref: str) -> Article | None:
    """By id, or by URL (as given or canonicalised: tracking parameters do not matter)."""
    ref = ref.strip()
    candidates = [ref]
    if ref.startswith(("http://", "https://")):
        candidates += [article_id(canonical_url(ref)), article_id(ref)]
    for candidate in candidates:
        article = store.get(candidate)
        if article is not None:
            return article
    return None


def render_explanation(out: Console, article: Article, tz: str, *, topic_names: dict[str, str] | None = None,
                       source_name: str | None = None) -> None:
    """The article's labels in the words of the emails and the digest (ids beside them, for analysts)."""
    c, labels = article.content, article.labels
    names = topic_names or {}
    out.print(f"[bold]{escape(c.title)}[/bold]")
    outlet = f"{source_name} ({article.fetched.source_id})" if source_name else article.fetched.source_id
    out.print(f"{escape(outlet)} · {wording.when(c.published, tz)} ({c.published_from or '?'}) · "
              f"{escape(article.fetched.canonical_url or article.fetched.url)}")
    out.print(f"id {article.id} · story {article.story_id} · ngôn ngữ: {wording.language_name(c.language)}")
    if stated := engagement_line(c.engagement):
        out.print(f"Lượt tương tác (khi thu thập): {stated}")
    out.print("\n[bold]Tỉnh được nhắc tới (provinces)[/bold]")
    for m in article.matches:
        kind = "nêu tên" if m.named else "qua địa danh"
        out.print(f"  {m.province} ({m.province_code}) {wording.vn_decimal(m.score)} {kind}: {escape(', '.join(m.aliases))}")
    if not labels:
        out.print("\n[yellow]no labels yet: run `haidang enrich`[/yellow]")
        return
    section = labels.get("section", {})
    out.print(f"\n[bold]Chuyên mục (section)[/bold]: {wording.section_name(section.get('label'))} "
              f"[dim]{section.get('label')}[/dim] ({wording.vn_decimal(section.get('score', 0))})")
    out.print("[bold]Chủ đề kế hoạch (plan topics)[/bold]" + ("" if labels.get("topics") else f": {wording.NO_TOPIC}"))
    for t in labels.get("topics", []):
        evidence = ", ".join(map(str, t.get("evidence", [])))
        out.print(f"  {escape(names.get(t['id'], t['id']))} [dim]{t['id']}[/dim] ({wording.vn_decimal(t['score'])}): "
                  f"{escape(evidence)}")
    tone = labels.get("tone", {})
    scope = _SCOPES.get(str(tone.get("scope")), str(tone.get("scope")))
    out.print(f"[bold]Sắc thái (tone)[/bold]: {wording.tone_name(tone.get('label'))} "
              f"({wording.vn_decimal(tone.get('score', 0))}, {scope})")
    for sentence in tone.get("evidence", []):
        out.print(f"  “{escape(str(sentence))}”")
    risk = labels.get("risk", {})
    level = f"{risk.get('level')}"
    style = _LEVEL_STYLE.get(level, "")
    shown = f"[{style}]{level}[/{style}]" if style else level
    out.print(f"[bold]Nguy cơ tin sai (risk)[/bold]: {shown} ({wording.vn_decimal(risk.get('score', 0))})")
    for reason in risk.get("reasons", []):
        evidence = "; ".join(map(str, reason.get("evidence", [])))
        weight = ("+" if reason["weight"] > 0 else "") + wording.vn_decimal(reason["weight"])
        out.print(f"  {escape(signal_name(reason['signal']))} ({weight}): {escape(evidence)}")
    if risk.get("debunk"):
        out.print(f"  bài cải chính / bác bỏ: {escape(str(risk['debunk'].get('claim')))}")
        if claim_id := risk["debunk"].get("proposed_claim_id"):
            out.print(f"  tin bị bác bỏ đã được đề xuất vào danh sách tin sai ({escape(str(claim_id))}); cán bộ "
                      "xác nhận ở trang «Tin sai đã biết» hoặc bằng `haidang claims confirm`")
    for note in labels.get("notes", []):
        out.print(f"[dim]ghi chú: {escape(str(note))}[/dim]")
    out.print("[dim]Hệ thống không kết luận tin sai; cán bộ xem xét và quyết định.[/dim]")
