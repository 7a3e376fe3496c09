"""The correction request ("văn bản đề nghị cải chính"): a .docx letter pre-filled from a stored article.

It starts from the province's template (config/templates/de-nghi-cai-chinh.docx, letterhead
included) and fills its `{{...}}` fields in one pass, so article text that looks like a field is
left as written. A person states the facts, edits and signs: the bracketed "[...]" stay for them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from docx import Document
from docx.document import Document as DocumentObject
from docx.text.paragraph import Paragraph

from alerts.render import clean_text
from haidang.errors import ConfigError
from haidang.record import Article
from haidang.reports.make_template import TEMPLATE_NAME
from haidang.settings import DEFAULT_CONFIG_DIR

if TYPE_CHECKING:
    from haidang.settings import Settings

__all__ = ["FIELDS", "MAX_PASSAGE_CHARS", "correction_request_docx", "default_passages", "template_path"]

FIELDS = ("outlet", "title", "date", "url", "province", "passages")
MAX_PASSAGE_CHARS = 1200        # one quoted passage; a letter quotes sentences, not the article
_MAX_PASSAGES = 5
_FIELD_RE = re.compile(r"\{\{\s*(" + "|".join(FIELDS) + r")\s*\}\}")
_UNKNOWN_DATE = "[ngày đăng]"


def template_path(settings: Settings) -> Path:
    """The province's template in its config folder, else the shipped one."""
    own = Path(settings.config_dir) / "templates" / TEMPLATE_NAME
    return own if own.exists() else DEFAULT_CONFIG_DIR / "templates" / TEMPLATE_NAME


def _text(value: object) -> str:
    """Article text as the document may hold it: NFC, no control or bidi characters (XML refuses
    most C0 controls, and an RTL override would reorder what the officer reads)."""
    return clean_text(value).replace("\t", " ")


def default_passages(article: Article) -> list[str]:
    """What the letter quotes when the officer picked nothing: the sentences the risk signals quoted
    that occur in the article, else its lead, else its first sentences."""
    from nlp.features import sentences

    text = article.content.text or ""
    sents = [" ".join(text[s:e].split()) for s, e in sentences(text)]
    quoted: list[str] = []
    for reason in (article.labels.get("risk") or {}).get("reasons") or []:
        if not isinstance(reason, dict) or reason.get("signal") in ("source_kind", "source_trust"):
            continue
        evidence = reason.get("evidence")
        for frag in evidence if isinstance(evidence, list) else [evidence]:
            if isinstance(frag, str) and frag.strip():
                quoted.extend(s for s in sents if frag.strip() in s)
    passages = list(dict.fromkeys(quoted))
    if not passages and article.content.lead.strip():
        passages = [" ".join(article.content.lead.split())]
    return (passages or sents[:2])[:_MAX_PASSAGES]


def _paragraphs(doc: DocumentObject) -> Iterator[Paragraph]:
    """Body paragraphs and those inside tables (the letterhead is a table), in order."""
    yield from doc.paragraphs
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


def _fill(paragraph: Paragraph, values: dict[str, str]) -> None:
    """Replace every field of the paragraph in one pass over its text; the first run keeps the
    paragraph's formatting (Word may have split a field over several runs)."""
    runs = paragraph.runs
    whole = "".join(r.text for r in runs)
    if not _FIELD_RE.search(whole):
        return
    runs[0].text = _FIELD_RE.sub(lambda m: values[m.group(1)], whole)
    for run in runs[1:]:
        run.text = ""


def _fill_passages(paragraph: Paragraph, passages: list[str], values: dict[str, str]) -> None:
    """The `{{passages}}` paragraph becomes one quoted paragraph per passage, same formatting."""
    quoted = [f"“{p}”" for p in passages] or ["[Trích dẫn đoạn nội dung sai sự thật]"]
    _fill(paragraph, {**values, "passages": quoted[0]})
    anchor = paragraph._p
    for text in quoted[1:]:
        clone = copy.deepcopy(paragraph._p)
        anchor.addnext(clone)
        anchor = clone
        copy_para = Paragraph(clone, paragraph._parent)
        _fill_text(copy_para, text)


def _fill_text(paragraph: Paragraph, text: str) -> None:
    runs = paragraph.runs
    runs[0].text = text
    for run in runs[1:]:
        run.text = ""


def correction_request_docx(article: Article, settings: Settings, passages: Sequence[str] | None,
                            out_path: Path | str) -> Path:
    """Write the letter for `article` to `out_path`; `passages` are the quoted parts at issue
    (None or empty: `default_passages`). Returns the path written."""
    from nlp.gazetteer import Gazetteer

    src = template_path(settings)
    if not src.exists():
        raise ConfigError(f"{src}: correction-request template not found; regenerate it with "
                          "`python -m haidang.reports.make_template`")
    tz = ZoneInfo(settings.app.timezone)
    when = article.content.published or article.content.first_seen
    names = {s.id: s.name for s in settings.sources}
    try:
        gazetteer = Gazetteer.load()
        province = gazetteer.province_name(gazetteer.resolve_province(settings.app.province))
    except (KeyError, ValueError):
        province = settings.app.province
    chosen = [p for p in (passages or []) if p.strip()] or default_passages(article)
    cleaned = [_cut(" ".join(_text(p).split())) for p in chosen][:_MAX_PASSAGES]
    values = {
        "outlet": _text(" ".join(names.get(article.fetched.source_id, article.fetched.source_id).split())),
        "title": _text(" ".join(article.content.title.split())) or "[tiêu đề]",
        "date": when.astimezone(tz).strftime("%d/%m/%Y") if when else _UNKNOWN_DATE,
        "url": _text(article.fetched.canonical_url or article.fetched.url),
        "province": province,
    }
    doc = Document(str(src))
    for paragraph in list(_paragraphs(doc)):
        if "{{passages}}" in "".join(r.text for r in paragraph.runs).replace(" ", ""):
            _fill_passages(paragraph, cleaned, values)
        else:
            _fill(paragraph, values)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


def _cut(text: str) -> str:
    return text if len(text) <= MAX_PASSAGE_CHARS else text[:MAX_PASSAGE_CHARS - 1].rstrip() + "…"
