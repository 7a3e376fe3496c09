"""Stored codes and labels (tone, topic ids, province codes, audit details) as the words officers read.

The pages never show a raw label: a tone is "tiêu cực", a topic its name from config/topics.yaml, a
province its name from the gazetteer. An unknown value is shown as stored, so nothing is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from haidang.store.base import ACTION_NAMES, AuditEntry
from haidang.web.wording import AUDIT_DETAILS, AUDIT_KINDS, AUDIT_VALUES, FIELDS, NO_TOPIC, NONE, TONES
from haidang.wording import rule_name

__all__ = ["LabelNames", "audit_row"]


@dataclass(frozen=True, slots=True)
class LabelNames:
    """Display names of the label values: topic id -> name, province code -> name."""

    topics: Mapping[str, str]
    provinces: Mapping[str, str]
    rules: Mapping[str, str] = field(default_factory=dict)    # alert rule name -> its Vietnamese description

    def rule(self, name: Any) -> str:
        """"Vietnamese description (slug)" of an alert rule; the slug alone when it has no description."""
        return rule_name(name, self.rules.get(str(name)))

    def tone(self, label: Any) -> str:
        return TONES.get(str(label), str(label)) if label not in (None, "") else NONE

    def topic(self, value: Any) -> str:
        """A topic id, or the list of ids an article had (NO_TOPIC, "chưa xác định chủ đề", when empty)."""
        ids = value if isinstance(value, list) else [value] if value not in (None, "") else []
        return "; ".join(self.topics.get(str(i), str(i)) for i in ids) or NO_TOPIC

    def province(self, code: Any) -> str:
        return self.provinces.get(str(code), str(code)) if code not in (None, "") else NONE

    def value(self, field_name: str, value: Any) -> str:
        show: dict[str, Callable[[Any], str]] = {"tone": self.tone, "topic": self.topic, "province": self.province}
        return show[field_name](value) if field_name in show else str(value)

    def change(self, field_name: str, old: Any, new: Any) -> dict[str, str]:
        """One corrected field as {field, name, from, to}: the template draws the arrow."""
        return {"field": field_name, "name": FIELDS.get(field_name, field_name),
                "from": self.value(field_name, old), "to": self.value(field_name, new)}


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")


def _moment(text: str, when: Callable[[datetime], str]) -> str | None:
    """An ISO date as dd/mm/yyyy, an ISO date and time as `when` writes it (local, with the
    weekday); None when `text` is neither."""
    try:
        if _ISO_DAY.fullmatch(text):
            return f"{date.fromisoformat(text):%d/%m/%Y}"
        if _ISO_MOMENT.fullmatch(text):
            moment = datetime.fromisoformat(text)
            return when(moment) if moment.tzinfo else f"{moment:%d/%m/%Y %H:%M}"
    except ValueError:
        return None
    return None


def _detail_value(key: str, value: Any, names: LabelNames, when: Callable[[datetime], str]) -> str:
    if key == "action":
        return ACTION_NAMES.get(str(value), str(value))
    if key == "rule":
        return names.rule(value)
    if isinstance(value, str) and (moment := _moment(value, when)) is not None:
        return moment
    return AUDIT_VALUES.get(key, {}).get(str(value), str(value))


def _changes(raw: Any, names: LabelNames) -> list[dict[str, str]]:
    """A correction's {field: {from, to}} as change lines, in the order of the form's fields."""
    if not isinstance(raw, dict):
        return []
    fields = list(FIELDS)
    ordered = sorted(raw, key=lambda f: (fields.index(f) if f in fields else len(fields), str(f)))
    lines = []
    for f in ordered:
        change = raw[f] if isinstance(raw[f], dict) else {}
        lines.append(names.change(str(f), change.get("from"), change.get("to")))
    return lines


def audit_row(entry: AuditEntry, names: LabelNames, when: Callable[[datetime], str]) -> dict[str, Any]:
    """One audit entry for the page: the kind's name (raw kind kept for administrators), corrections
    as change lines, and the other details as (name, raw key, value) in reading order: ISO dates and times as Vietnamese dates, rules by
    their description."""
    detail = entry.detail or {}
    changes = _changes(detail.get("changes"), names) if entry.kind == "label_correction" else []
    order = list(AUDIT_DETAILS)
    keys = sorted((k for k, v in detail.items() if v not in (None, "", [], {}) and not (changes and k == "changes")),
                  key=lambda k: (order.index(k) if k in order else len(order), k))
    return {"at": when(entry.at), "actor": entry.actor, "kind": entry.kind,
            "kind_name": AUDIT_KINDS.get(entry.kind, entry.kind), "target": entry.target,
            "changes": changes, "client": entry.client or "",
            "details": [{"key": k, "name": AUDIT_DETAILS.get(k, k), "value": _detail_value(k, detail[k], names, when)}
                        for k in keys]}
