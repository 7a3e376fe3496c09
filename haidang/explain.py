"""`haidang explain`: every label of a stored article with its reasons, for a person to judge."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape

from crawlers.urls import canonical_url
from haidang.record import Article, article_id, engagement_line
from haidang.store.base import Store

__all__ = ["find_article", "render_explanation"]

_LEVEL_STYLE = {"thấp": "green", "cần xem xét": "yellow", "cao": "bold red"}


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


def render_explanation(out: Console, article: Article, tz: str) -> None:
    c, labels = article.content, article.labels
    when = c.published.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M") if c.published else "?"
    out.print(f"[bold]{escape(c.title)}[/bold]")
    out.print(f"{escape(article.fetched.source_id)} · {when} ({c.published_from or '?'}) · "
              f"{escape(article.fetched.canonical_url or article.fetched.url)}")
    out.print(f"id {article.id} · story {article.story_id} · language {c.language}")
    if stated := engagement_line(c.engagement):
        out.print(f"Lượt tương tác (khi thu thập): {stated}")
    out.print("\n[bold]Tỉnh được nhắc tới (provinces)[/bold]")
    for m in article.matches:
        kind = "nêu tên" if m.named else "qua địa danh"
        out.print(f"  {m.province} ({m.province_code}) {m.score:.2f} {kind}: {escape(', '.join(m.aliases))}")
    if not labels:
        out.print("\n[yellow]no labels yet: run `haidang enrich`[/yellow]")
        return
    section = labels.get("section", {})
    out.print(f"\n[bold]Chuyên mục (section)[/bold]: {section.get('label')} ({section.get('score', 0):.2f})")
    out.print("[bold]Chủ đề kế hoạch (plan topics)[/bold]")
    for t in labels.get("topics", []):
        out.print(f"  {t['id']} {t['score']:.2f}: {escape(', '.join(map(str, t.get('evidence', []))))}")
    tone = labels.get("tone", {})
    out.print(f"[bold]Sắc thái (tone)[/bold]: {tone.get('label')} ({tone.get('score', 0):.2f}, {tone.get('scope')})")
    for sentence in tone.get("evidence", []):
        out.print(f"  “{escape(str(sentence))}”")
    risk = labels.get("risk", {})
    style = _LEVEL_STYLE.get(risk.get("level", ""), "")
    out.print(f"[bold]Nguy cơ tin sai (risk)[/bold]: [{style}]{risk.get('level')}[/{style}] ({risk.get('score', 0):.2f})"
              if style else f"[bold]Nguy cơ tin sai (risk)[/bold]: {risk.get('level')} ({risk.get('score', 0):.2f})")
    for reason in risk.get("reasons", []):
        evidence = "; ".join(map(str, reason.get("evidence", [])))
        out.print(f"  {reason['signal']} ({reason['weight']:+.2f}): {escape(evidence)}")
    if risk.get("debunk"):
        out.print(f"  bài cải chính / bác bỏ: {escape(str(risk['debunk'].get('claim')))}")
    for note in labels.get("notes", []):
        out.print(f"[dim]ghi chú: {escape(str(note))}[/dim]")
    out.print("[dim]Hệ thống không kết luận tin sai; cán bộ xem xét và quyết định.[/dim]")
