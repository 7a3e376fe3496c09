"""Province, ward, former-district and landmark names, with the old-to-new province mapping.

`build_gazetteer` derives a compact name table from ../shared/data/vn-admin-units (a build step);
`Gazetteer.load` reads the table shipped in nlp/data/, so a clean clone matches places offline.
"""

from __future__ import annotations

import difflib
import gzip
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haidang.textnorm import fold, normalize
from nlp.datasets import read_jsonl

__all__ = [
    "DEFAULT_ALIASES_PATH",
    "DEFAULT_GAZETTEER_PATH",
    "FORMAT_VERSION",
    "Gazetteer",
    "Place",
    "UnknownProvince",
    "build_gazetteer",
]

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
DEFAULT_GAZETTEER_PATH = _HERE / "data" / "gazetteer.json.gz"
DEFAULT_ALIASES_PATH = _HERE / "aliases.yaml"
FORMAT_VERSION = 1

# Words stripped from the front or back of a province name given to `resolve_province`.
_RESOLVE_AFFIXES = ("thanh pho ", "tinh ", "tp. ", "tp.", "tp ", "thu do ")
_RESOLVE_SUFFIXES = (" province", " city")


class UnknownProvince(KeyError):
    """A province code or name that names no current province; str() is the message itself.

    A KeyError (callers catch that), but printed without the quotes KeyError adds to its argument.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class Place:
    """One name in the gazetteer and what it points at.

    kind: "province" (a current or former province name: it *names* the province), "district"
    (a pre-2025 district), "ward" (a current ward/commune), "legacy_ward" (a pre-2025 ward),
    "landmark" (from config) or "not_place" (a longer name that hides a province name).
    codes: current province codes it may belong to, the likeliest first.
    unit: the unit word of a district or ward ("Huyện", "Phường", ...), empty otherwise.
    """

    name: str
    kind: str
    codes: tuple[str, ...]
    unit: str = ""


# --------------------------------------------------------------------------- build


def _read_aliases(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML  # build-time only: the loaded gazetteer never reads YAML

    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return _normalize_tree(data)


def _normalize_tree(value: Any) -> Any:
    """NFC + new-style tone marks on every string, so aliases compare like matched text."""
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, dict):
        return {_normalize_tree(str(k)): _normalize_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_tree(v) for v in value]
    return value


def _ranked(counter: Counter[str]) -> list[str]:
    """Codes by how many old wards went there, most first (ties by code, for stable output)."""
    return [code for code, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def build_gazetteer(
    admin_dir: Path, out_path: Path = DEFAULT_GAZETTEER_PATH, aliases_path: Path = DEFAULT_ALIASES_PATH,
) -> dict[str, int]:
    """Derive the shipped name table from the admin-units dataset and nlp/aliases.yaml.

    Only names, unit words and code-to-code mappings are written (public facts), never the raw
    rows. A legacy province or district split across several current provinces keeps all of
    them, ordered by how many of its old wards each received, so the first is the likeliest.
    Returns counts for the summary the build command prints.
    """
    admin_dir = Path(admin_dir)
    provinces = [
        {"code": r["code"], "name": normalize(r["name"]), "name_en": r["name_en"],
         "unit": normalize(r["unit_type"])}
        for r in read_jsonl(admin_dir / "provinces.jsonl.gz")
    ]
    ward_targets: dict[str, Counter[str]] = defaultdict(Counter)     # old province -> new codes
    district_targets: dict[str, Counter[str]] = defaultdict(Counter)
    old_ward_codes: dict[str, list[str]] = {}
    for r in read_jsonl(admin_dir / "old_to_new_wards.jsonl.gz"):
        for code in r["new_province_codes"]:
            ward_targets[r["old_province_code"]][code] += 1
            district_targets[r["old_district_code"]][code] += 1
        old_ward_codes[r["old_ward_code"]] = list(r["new_province_codes"])

    province_map = {r["old_province_code"]: list(r["new_province_codes"])
                    for r in read_jsonl(admin_dir / "old_to_new_provinces.jsonl.gz")}
    legacy = []
    for r in read_jsonl(admin_dir / "legacy_provinces.jsonl.gz"):
        counts = ward_targets.get(r["code"]) or Counter(province_map[r["code"]])
        codes = _ranked(counts)
        legacy.append({"code": r["code"], "name": normalize(r["name"]), "name_en": r["name_en"],
                       "codes": codes})
    legacy_primary = {p["code"]: p["codes"] for p in legacy}

    district_map = {r["old_district_code"]: list(r["new_province_codes"])
                    for r in read_jsonl(admin_dir / "old_to_new_districts.jsonl.gz")}
    places: set[tuple[str, str, str, tuple[str, ...]]] = set()
    for r in read_jsonl(admin_dir / "legacy_districts.jsonl.gz"):
        counts = district_targets.get(r["code"]) or Counter(district_map.get(r["code"], []))
        codes = _ranked(counts) or legacy_primary[r["province_code"]][:1]
        unit = normalize(r["full_name"][: -len(r["name"])].strip())
        places.add((normalize(r["name"]), "district", unit, tuple(codes)))
    for r in read_jsonl(admin_dir / "wards.jsonl.gz"):
        unit = normalize(r["unit_type"])
        places.add((normalize(r["name"]), "ward", unit, (r["province_code"],)))
        for alt in r.get("alt_full_names") or []:
            alt = normalize(alt)
            if alt.startswith(unit + " "):
                places.add((alt[len(unit) + 1:], "ward", unit, (r["province_code"],)))
    for r in read_jsonl(admin_dir / "legacy_wards.jsonl.gz"):
        codes = old_ward_codes.get(r["code"]) or legacy_primary[r["province_code"]][:1]
        unit = normalize(r["full_name"][: -len(r["name"])].strip())
        places.add((normalize(r["name"]), "legacy_ward", unit, tuple(codes)))

    data = {
        "format": FORMAT_VERSION,
        "source": "derived from vn-admin-units (thanglequoc/vietnamese-provinces-database, MIT; "
                  "NSO conversion pairs via vietnam-provinces, GPL-3.0-or-later) + nlp/aliases.yaml",
        "provinces": provinces,
        "legacy_provinces": legacy,
        "places": [[n, k, u, list(c)] for n, k, u, c in sorted(places)],
        "aliases": _read_aliases(Path(aliases_path)),
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    with gzip.GzipFile(out_path, "wb", mtime=0) as fh:  # mtime=0: rebuilding unchanged data is a no-op diff
        fh.write(raw)
    kinds = Counter(k for _, k, _, _ in places)
    return {
        "provinces": len(provinces), "legacy_provinces": len(legacy),
        "districts": kinds["district"], "wards": kinds["ward"], "legacy_wards": kinds["legacy_ward"],
        "bytes": out_path.stat().st_size,
    }


# --------------------------------------------------------------------------- load


def _resolve_key(text: str) -> str:
    """Folded, with unit words and punctuation spacing removed: "Tỉnh Kon Tum" -> "kon tum"."""
    key = fold(normalize(text)).strip()
    key = re.sub(r"\s*[-–]\s*", " - ", key)
    key = re.sub(r"\s+", " ", key)
    for prefix in _RESOLVE_AFFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix):].strip()
            break
    for suffix in _RESOLVE_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)].strip()
    return key


def _name_variants(name: str) -> Iterable[str]:
    """A name plus its hyphen spellings: "Bà Rịa - Vũng Tàu", "Bà Rịa-Vũng Tàu", "Bà Rịa Vũng Tàu"."""
    yield name
    if re.search(r"\s*[-–]\s*", name):
        parts = re.split(r"\s*[-–]\s*", name)
        for sep in (" - ", "-", " ", " – "):
            yield sep.join(parts)


class Gazetteer:
    """The loaded name table: what each name points at, and province lookups for callers.

    Landmarks come from config (config/landmarks.yaml) and are passed in by the caller: the
    gazetteer never reads configuration itself.
    """

    def __init__(self, data: dict[str, Any], landmarks: dict[str, list[str]] | None = None) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"gazetteer format {data.get('format')!r} is not {FORMAT_VERSION}: "
                             "rebuild it with `haidang gazetteer build`")
        self._names: dict[str, str] = {}
        self._names_en: dict[str, str] = {}
        for p in data["provinces"]:
            self._names[p["code"]] = p["name"]
            self._names_en[p["code"]] = p["name_en"]
        aliases: dict[str, Any] = data.get("aliases") or {}
        self.context: dict[str, list[str]] = {k: list(v) for k, v in (aliases.get("context") or {}).items()}
        self.needs_unit: frozenset[str] = frozenset(fold(n) for n in aliases.get("needs_unit") or [])
        # Province names that, written without capitals or diacritics, are mostly ordinary words.
        self.plain_needs_unit: frozenset[str] = frozenset(
            fold(n) for n in aliases.get("plain_needs_unit") or [])
        self.legacy: dict[str, tuple[str, ...]] = {}          # legacy province name -> current codes
        # Pre-2025 two-digit codes, for a message when one is given where a current code is wanted.
        self._legacy_by_code: dict[str, tuple[str, tuple[str, ...]]] = {
            lp["code"]: (lp["name"], tuple(lp["codes"])) for lp in data["legacy_provinces"] if lp.get("code")}
        places: list[Place] = []

        def add_province_name(name: str, code: str) -> None:
            for variant in _name_variants(name):
                places.append(Place(variant, "province", (code,)))

        for p in data["provinces"]:
            add_province_name(p["name"], p["code"])
            add_province_name(p["name_en"], p["code"])
        for lp in data["legacy_provinces"]:
            codes = tuple(lp["codes"])
            self.legacy[lp["name"]] = codes
            # A legacy province split between new ones names the one that got most of it.
            add_province_name(lp["name"], codes[0])
            add_province_name(lp["name_en"], codes[0])
        for code, names in (aliases.get("provinces") or {}).items():
            self._check_code(code, "aliases.yaml provinces")
            for name in names:
                add_province_name(str(name), code)
        for name, code in (aliases.get("former") or {}).items():
            self._check_code(code, f"aliases.yaml former {name!r}")
            add_province_name(name, code)
            self.legacy.setdefault(name, (code,))
        for name in aliases.get("not_places") or []:
            places.append(Place(name, "not_place", ()))
        for name, kind, unit, codes in data["places"]:
            places.append(Place(name, kind, tuple(codes), unit))
        self._resolve: dict[str, set[str]] = defaultdict(set)
        self._resolve_names: dict[str, str] = {}       # key -> a name it was made from, for messages
        for place in places:
            if place.kind == "province":
                key = _resolve_key(place.name)
                self._resolve[key].add(place.codes[0])
                self._resolve_names.setdefault(key, place.name)
        for code, names in (landmarks or {}).items():
            code = self.resolve_province(str(code))
            for name in names:
                places.append(Place(normalize(str(name)), "landmark", (code,)))
        self.places: list[Place] = places

    @classmethod
    def load(cls, path: Path | str | None = None,
             landmarks: dict[str, list[str]] | None = None) -> Gazetteer:
        """Read the shipped table (nlp/data/gazetteer.json.gz unless `path` is given)."""
        path = Path(path) if path is not None else DEFAULT_GAZETTEER_PATH
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"gazetteer file {path} is missing: run `haidang gazetteer build` "
                "(needs ../shared/data/vn-admin-units)") from None
        return cls(data, landmarks=landmarks)

    def _check_code(self, code: str, where: str) -> None:
        if code not in self._names:
            raise ValueError(f"{where}: {code!r} is not a current province code; "
                             f"known codes: {', '.join(self.codes())}")

    def codes(self) -> list[str]:
        """The 34 current province codes, sorted."""
        return sorted(self._names)

    def province_name(self, code: str) -> str:
        """Current Vietnamese name (NFC, new-style tone marks) of a current province code."""
        try:
            return self._names[code]
        except KeyError:
            raise UnknownProvince(f"{code!r} is not a current province code; known codes: "
                           f"{', '.join(self.codes())}") from None

    def province_name_en(self, code: str) -> str:
        """English (ASCII) name of a current province code."""
        self.province_name(code)
        return self._names_en[code]

    def legacy_codes(self, name: str) -> tuple[str, ...]:
        """Current codes of a pre-2025 (or older) province name, the likeliest first."""
        codes = self.legacy.get(normalize(name).strip())
        if codes:
            return codes
        return (self.resolve_province(name),)

    def resolve_province(self, name_or_code: str) -> str:
        """Current two-digit code for a code, or a current or former province name in any spelling.

        Accepts "51", "Quảng Ngãi", "quang ngai", "tỉnh Kon Tum", "Quang Ngai Province", "Khánh Hoà".
        Raises UnknownProvince (a KeyError) naming the input and how to fix it: a pre-2025 code gets
        the current code of its province, a near miss the names it resembles.
        """
        text = str(name_or_code).strip()
        if not text:
            raise UnknownProvince("no province given: give a current two-digit code such as '51' or a "
                                  "current or former province name such as 'Quảng Ngãi' or 'Kon Tum'")
        if text.isdigit():
            code = text.zfill(2)
            if code in self._names:
                return code
            raise UnknownProvince(f"unknown province {text!r}: not a current province code (after 1 July 2025)"
                                  + self._old_code_hint(code)
                                  + f"; known codes: {', '.join(self.codes())}")
        found = self._resolve.get(_resolve_key(text), set())
        if len(found) == 1:
            return next(iter(found))
        if found:
            raise UnknownProvince(f"province name {text!r} is ambiguous: it could be "
                                  + ", ".join(f"{c} {self._names[c]}" for c in sorted(found)))
        raise UnknownProvince(f"unknown province {text!r}{self._near_misses(text)}: give a current code "
                              "such as '51' or a current or former province name such as 'Quảng Ngãi' "
                              "or 'Kon Tum'")

    def _old_code_hint(self, code: str) -> str:
        """ "; before 1 July 2025 '87' was Đồng Tháp, now in 82 Đồng Tháp" for a pre-2025 code."""
        old = self._legacy_by_code.get(code)
        if old is None:
            return ""
        name, codes = old
        now = " or ".join(f"{c} {self._names[c]}" for c in codes if c in self._names)
        return f"; before 1 July 2025 {code!r} was {name}, now part of {now}" if now else ""

    def _near_misses(self, text: str) -> str:
        """ " (did you mean Tiền Giang, now 82 Đồng Tháp?)" for a misspelt name, or what a place
        that is not a province belongs to; empty when nothing is close."""
        key = _resolve_key(text)
        places = getattr(self, "places", ())      # resolve_province runs inside __init__ for landmarks
        local = {c for p in places if p.kind in ("district", "ward", "landmark") and fold(p.name) == key
                 for c in p.codes[:1]}
        if any(p.kind == "not_place" and fold(p.name) == key for p in places):
            return " (not a province: a region or other name that contains one)"
        if local:
            return (" (not a province: a place in "
                    + " or ".join(f"{c} {self._names[c]}" for c in sorted(local)) + ")")
        hints: dict[str, str] = {}                      # one hint per current province
        for k in difflib.get_close_matches(key, list(self._resolve), n=3, cutoff=0.8):
            name = self._resolve_names[k]
            for code in sorted(self._resolve[k]):
                current = self._names[code]
                hints.setdefault(code, f"{current} ({code})" if fold(name) == fold(current)
                                 else f"{name}, now {code} {current}")
        return " (did you mean " + " or ".join(hints.values()) + "?)" if hints else ""
