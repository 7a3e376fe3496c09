"""Elasticsearch index setup: installs index_templates/ (ILM policy, component and index templates,
bootstrap write alias, bookkeeping indices) and checks the installed template version at start-up.

The JSON files are written for the prefix "haidang"; another prefix (one cluster shared by several
provinces, or the test suite) renames every "haidang-articles..." name when installing.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from haidang.errors import PermanentStoreError, StoreError

__all__ = ["SMALL_INDICES", "Templates", "check_templates", "index_names", "install_templates",
           "load_templates", "stale_analysis", "templates_dir"]

_log = logging.getLogger(__name__)

_BASE = "haidang-articles"
# Keys of small_indices.json, each an index named "<prefix>-<key>".
SMALL_INDICES = ("validators", "runs", "failures", "story-keys", "claims", "outbox", "alert-state",
                 "actions", "audit", "evidence", "rejected", "meta", "host-pauses")


def templates_dir() -> Path:
    """index_templates/ at the repository root (beside the haidang package, also in the Docker image)."""
    return Path(__file__).resolve().parents[2] / "index_templates"


@dataclass(frozen=True, slots=True)
class Templates:
    """The parsed JSON of index_templates/, for the prefix "haidang"."""

    ilm_policy: dict[str, Any]
    settings_component: dict[str, Any]
    mappings_component: dict[str, Any]
    index_template: dict[str, Any]
    small_indices: dict[str, Any]

    @property
    def version(self) -> int:
        return int(self.index_template["version"])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PermanentStoreError(f"{path}: cannot read the index template: {exc}") from exc
    data.pop("_comment", None)
    return data


def load_templates(folder: Path | None = None) -> Templates:
    folder = folder or templates_dir()
    return Templates(
        ilm_policy=_read(folder / "articles.ilm_policy.json"),
        settings_component=_read(folder / "articles-settings.component.json"),
        mappings_component=_read(folder / "articles-mappings.component.json"),
        index_template=_read(folder / "articles.index_template.json"),
        small_indices=_read(folder / "small_indices.json"),
    )


def index_names(prefix: str) -> dict[str, str]:
    """Every name the store uses: 'articles' (write alias), 'articles_pattern', 'first_index', and the small ones."""
    names = {
        "articles": f"{prefix}-articles",
        "articles_pattern": f"{prefix}-articles-*",
        "first_index": f"{prefix}-articles-000001",
        "settings_component": f"{prefix}-articles-settings",
        "mappings_component": f"{prefix}-articles-mappings",
    }
    names.update({key: f"{prefix}-{key}" for key in SMALL_INDICES})
    return names


def _renamed(value: Any, prefix: str) -> Any:
    """Replace the "haidang-articles" stem in every string that starts with it."""
    if isinstance(value, str):
        return f"{prefix}-articles" + value[len(_BASE):] if value.startswith(_BASE) else value
    if isinstance(value, dict):
        return {k: _renamed(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, prefix) for v in value]
    return value


def _has_no_handler(exc: ApiError) -> bool:
    return "no handler found" in str(exc)


def install_templates(es: Elasticsearch, prefix: str = "haidang", *, templates: Templates | None = None,
                      delete_after_days: int | None = None) -> list[str]:
    """Install (or update) everything in index_templates/ for `prefix`; idempotent. Returns what was done.

    Order matters: the ILM policy and component templates exist before the index template that
    names them, and the template before the first index, which is created with the write alias.
    A server without the ILM API (the stand-ins of .ci/standin-es) is told about and skipped.
    """
    t = templates or load_templates()
    names = index_names(prefix)
    done: list[str] = []
    policy = copy.deepcopy(t.ilm_policy["policy"])
    if delete_after_days:
        policy["phases"]["delete"] = {"min_age": f"{int(delete_after_days)}d", "actions": {"delete": {}}}
    try:
        es.ilm.put_lifecycle(name=names["articles"], policy=policy)
        done.append(f"ILM policy {names['articles']}")
    except ApiError as exc:
        if not _has_no_handler(exc):
            raise StoreError(f"installing the ILM policy {names['articles']}: {exc}") from exc
        _log.warning("this server has no ILM API (not Elasticsearch?): policy %s not installed", names["articles"])
        done.append("ILM policy skipped: the server has no ILM API")
    for key, component in (("settings_component", t.settings_component), ("mappings_component", t.mappings_component)):
        body = _renamed(component, prefix)
        es.cluster.put_component_template(name=names[key], template=body["template"], version=body.get("version"),
                                          meta=body.get("_meta"))
        done.append(f"component template {names[key]}")
    template = _renamed(t.index_template, prefix)
    es.indices.put_index_template(name=names["articles"], index_patterns=template["index_patterns"],
                                  composed_of=template["composed_of"], priority=template.get("priority"),
                                  version=template["version"], meta=template.get("_meta"))
    done.append(f"index template {names['articles']} version {template['version']}")
    if not es.indices.exists_alias(name=names["articles"]):
        es.indices.create(index=names["first_index"], aliases={names["articles"]: {"is_write_index": True}})
        done.append(f"index {names['first_index']} with write alias {names['articles']}")
    for name, missing in stale_analysis(es, prefix, templates=t):
        done.append(f"index {name} keeps an older analysis chain (without {', '.join(missing)}): Chinese, "
                    f"Japanese and Korean words in it are found only as whole runs until it is re-analysed "
                    f"(README, \"Upgrading the index templates\"); new indices get the current chain")
    settings = t.small_indices["settings"]
    for key in SMALL_INDICES:
        name = names[key]
        mappings = t.small_indices["indices"][key]
        if es.indices.exists(index=name):
            es.indices.put_mapping(index=name, **mappings)     # adds new fields; never removes
        else:
            es.indices.create(index=name, settings=settings, mappings=mappings)
            done.append(f"index {name}")
    return done


def stale_analysis(es: Elasticsearch, prefix: str, *, templates: Templates | None = None) -> list[tuple[str, list[str]]]:
    """(index, missing char filters) of each article index created before the current analysis chain.

    An index keeps the analysers it was created with; a template update reaches only the indices
    created after it (the next rollover), so `index setup` names the older ones.
    """
    t = templates or load_templates()
    wanted = list(t.settings_component["template"]["settings"]["analysis"]["char_filter"])
    try:
        found = es.indices.get_settings(index=index_names(prefix)["articles_pattern"])
    except NotFoundError:
        return []
    stale = []
    for name, body in sorted(found.items()):
        have = body.get("settings", {}).get("index", {}).get("analysis", {}).get("char_filter", {})
        missing = [f for f in wanted if f not in have]
        if missing:
            stale.append((name, missing))
    return stale


def installed_version(es: Elasticsearch, prefix: str) -> int | None:
    """The version of the installed article index template, or None when there is none."""
    try:
        found = es.indices.get_index_template(name=f"{prefix}-articles")
    except NotFoundError:
        return None
    templates = found.get("index_templates") or []
    if not templates:
        return None
    version = templates[0]["index_template"].get("version")
    return int(version) if version is not None else 0


def check_templates(es: Elasticsearch, prefix: str, *, templates: Templates | None = None,
                    install_missing: bool = True) -> int:
    """At start-up: the installed templates must be this code's version. Returns that version.

    Missing templates are installed (a fresh cluster just works); an older version is refused,
    because documents written now would not match the installed mappings; a newer one too.
    """
    t = templates or load_templates()
    version = installed_version(es, prefix)
    if version is None:
        if not install_missing:
            raise PermanentStoreError(f"no index template {prefix}-articles on the cluster: run `haidang index setup`")
        install_templates(es, prefix, templates=t)
        return t.version
    if version < t.version:
        raise PermanentStoreError(
            f"the cluster's index template {prefix}-articles is version {version}, older than this Hải Đăng's "
            f"{t.version} (index_templates/): run `haidang index setup` to install it"
        )
    if version > t.version:
        raise PermanentStoreError(
            f"the cluster's index template {prefix}-articles is version {version}, newer than this Hải Đăng's "
            f"{t.version}: upgrade Hải Đăng"
        )
    if not es.indices.exists_alias(name=f"{prefix}-articles"):
        install_templates(es, prefix, templates=t)     # templates there but no index yet
    return version
