"""`haidang analyze`: the matcher (and later the classifiers) over JSON Lines, one output line per input line.

Evaluations depend on this output shape (../shared/checks/analyze_contract.py checks it). Unknown
input fields are echoed back unchanged; a line that cannot be read gets an `error` and the run goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from haidang.record import ENGAGEMENT_KEYS
from haidang.textnorm import normalize
from nlp.enrich import Enricher
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher

__all__ = ["analyze_lines", "analyze_record", "json_line"]


def analyze_lines(lines: Iterable[bytes | str], gazetteer: Gazetteer, matcher: ProvinceMatcher,
                  default_province: str, enricher: Enricher | None = None) -> Iterator[dict[str, Any]]:
    """Yield one result per non-blank input line, in order; lines are UTF-8 bytes or str."""
    default_code: str | None
    try:
        default_code = gazetteer.resolve_province(default_province)
    except (KeyError, ValueError):
        default_code = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if isinstance(raw, bytes):
            data = raw
            try:
                raw = data.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield {"error": f"line {number}: not UTF-8 (byte {exc.start}); re-encode the file as UTF-8",
                       "line": number, "input": data.decode("utf-8", errors="replace").rstrip("\n")[:2000]}
                continue
        try:
            record = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        except json.JSONDecodeError as exc:
            yield {"error": f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
                   "line": number, "input": raw.rstrip("\n")[:2000]}
            continue
        except ValueError as exc:
            yield {"error": f"line {number}: not valid JSON ({exc})", "line": number, "input": raw.rstrip("\n")[:2000]}
            continue
        if not isinstance(record, dict):
            yield {"error": f"line {number}: expected a JSON object, got {type(record).__name__}",
                   "line": number, "input": record}
            continue
        yield analyze_record(record, gazetteer, matcher, default_code, default_province, number, enricher)


def analyze_record(record: dict[str, Any], gazetteer: Gazetteer, matcher: ProvinceMatcher,
                   default_code: str | None, default_province: str, number: int = 0,
                   enricher: Enricher | None = None) -> dict[str, Any]:
    """The input fields plus `matches`, `relevant` and `labels` (and `error` when something was unusable).

    Labels here use no store: known false claims and source trust apply inside `haidang run`.
    """
    result = dict(record)
    text = record.get("text")
    if not isinstance(text, str):
        result["error"] = f"line {number}: `text` is required and must be a string"
        return result
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        result["error"] = f"line {number}: `title` must be a string"
        title = None
    title, text = normalize(title or ""), normalize(text)
    matches = matcher.match(title, text)
    result["matches"] = [_match_json(m) for m in matches]
    target = record.get("province")
    code = default_code
    if target is not None:
        try:
            code = gazetteer.resolve_province(str(target))
        except (KeyError, ValueError) as exc:
            result["error"] = f"line {number}: {str(exc).strip(chr(34))}"
            code = None
    elif default_code is None:
        result["error"] = f"unknown target province {default_province!r}"
    result["relevant"] = bool(code and matcher.relevant(matches, code))
    engagement = record.get("engagement")
    if engagement is not None and not _valid_engagement(engagement):
        result["error"] = (f"line {number}: `engagement` must map {', '.join(ENGAGEMENT_KEYS)} "
                           "to non-negative integers")
        engagement = None
    if enricher is not None:
        result["labels"] = enricher.labels(title, text, matches=matches, target=code, engagement=engagement)
    return result


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    """Python reads 1e999 as inf, which it would then write back as the non-JSON `Infinity`."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def json_line(result: dict[str, Any]) -> str:
    """One output line. UTF-8 as it reads, except for a line echoing a lone surrogate escape
    ("\\ud800" in the input: no UTF-8 writer accepts it), which is written all-ASCII, so the
    escape comes back as it went in instead of ending the run."""
    line = json.dumps(result, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(result)
    return line + "\n"


def _valid_engagement(value: Any) -> bool:
    return isinstance(value, dict) and all(
        k in ENGAGEMENT_KEYS and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in value.items())


def _match_json(m: Any) -> dict[str, Any]:
    return {
        "province_code": m.province_code, "province": m.province, "named": m.named,
        "aliases": list(m.aliases),
        "spans": [{"field": s.field, "start": s.start, "end": s.end} for s in m.spans],
        "score": round(float(m.score), 4),
    }
