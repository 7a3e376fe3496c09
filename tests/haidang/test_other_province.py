"""Deploying for another province, as the README's Configuration section says: Đồng Tháp.

A config folder of our own (province given without diacritics, our own sources and own_sources),
a small site on 127.0.0.1 with the traps of that province (Đồng Tháp Mười, pre-merger Tiền Giang,
ward and former-district names, text without diacritics), one real run into a real SQLite store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from haidang.errors import ConfigError
from haidang.service import run_once
from haidang.settings import DEFAULT_CONFIG_DIR, check_config_dir, load_settings
from haidang.sites import FixtureServer, serve_sites
from haidang.store import open_store
from haidang.store.base import SearchFilters

# slug -> (title, paragraphs, kept for Đồng Tháp?)
ARTICLES: dict[str, tuple[str, list[str], bool]] = {
    "xuat-khau-xoai": ("Đồng Tháp xuất khẩu lô xoài đầu tiên sang Hàn Quốc",
                       ["Tỉnh Đồng Tháp vừa xuất khẩu 20 tấn xoài cát Hòa Lộc sang Hàn Quốc."], True),
    "cau-rach-mieu": ("Tiền Giang: thông xe cầu Rạch Miễu 2",
                      ["Sáng 20/6, tỉnh Tiền Giang phối hợp tỉnh Bến Tre thông xe cầu Rạch Miễu 2."], True),
    "phuong-my-tho": ("Phường Mỹ Tho rộn ràng lễ hội trái cây miệt vườn",
                      ["Phường Mỹ Tho tổ chức lễ hội, thu hút hàng chục nghìn lượt du khách."], True),
    "nuoc-noi-co-dau": ("Mùa nước nổi về sớm ở vùng Đồng Tháp Mười",
                        ["Nông dân Mộc Hóa, Tân Hưng (Tây Ninh) đánh bắt cá linh.",
                         "Vùng trũng Đồng Tháp Mười trải dài qua nhiều tỉnh."], False),
    "nuoc-noi-khong-dau": ("Mua nuoc noi ve som o vung dong thap muoi",
                           ["Nuoc lu ve som, ba con Long An tranh thu danh bat ca linh.",
                            "Vung Dong thap muoi nam nay nuoc len nhanh."], False),
    "vinh-ha-long": ("tin don: vinh ha long o nhiem",
                     ["nghe noi vinh ha long sap cam tau du lich, long sap den roi"], False),
}

PAGE = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2026-11-20T08:00:00+07:00"></head>
<body><article><h1 class="title">{title}</h1><div class="body">{body}</div></article></body></html>"""

ITEM = """<item><title>{title}</title><link>{{BASE}}/baodongthap/{slug}.html</link>
<pubDate>Fri, 20 Nov 2026 08:00:00 +0700</pubDate><guid>{{BASE}}/baodongthap/{slug}.html</guid></item>"""

SOURCES = """sources:
  - id: baodongthap
    name: Báo và Phát thanh, Truyền hình Đồng Tháp (test)
    country: VN
    language: vi
    kind: provincial_press
    feeds: ["{base}/baodongthap/rss.xml"]
    selectors: {{title: h1.title, body: div.body}}
    trust: high
    local: true
    verified: true
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    root = tmp_path_factory.mktemp("dongthap-site")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    folder = root / "baodongthap"
    folder.mkdir()
    items = []
    for slug, (title, paragraphs, _) in ARTICLES.items():
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        (folder / f"{slug}.html").write_text(PAGE.format(title=title, body=body), encoding="utf-8")
        items.append(ITEM.format(title=title, slug=slug))
    (folder / "rss.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Báo Đồng Tháp</title>'
        + "".join(items) + "</channel></rss>", encoding="utf-8")
    with serve_sites(root) as server:
        yield server


def _config(folder: Path, base_url: str, data: Path, province: str = "dong thap",
            own_sources: str = "[baodongthap]") -> Path:
    """The shipped example config, changed as a new province changes it."""
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    app = (folder / "haidang.yaml").read_text(encoding="utf-8")
    app = app.replace("province: Quảng Ngãi", f"province: {province}")
    app = app.replace("own_sources: [baoquangngai, quangngai-gov]", f"own_sources: {own_sources}")
    app = app.replace("data_dir: ~/.local/share/haidang", f'data_dir: "{data}"')
    (folder / "haidang.yaml").write_text(app, encoding="utf-8")
    (folder / "sources.yaml").write_text(SOURCES.format(base=base_url), encoding="utf-8")
    return folder


def test_dong_thap_deployment_keeps_its_articles_and_not_the_traps(site: FixtureServer, tmp_path: Path) -> None:
    config = _config(tmp_path / "config", site.base_url, tmp_path / "data")
    assert check_config_dir(config) == []
    settings = load_settings(config, environ={})
    tallies = run_once(settings, settings.sources)
    assert sum(t.errors for t in tallies.values()) == 0, {k: t.last_error for k, t in tallies.items()}
    store = open_store(settings.app.store)
    try:
        stored = {a.fetched.url.rsplit("/", 1)[-1].removesuffix(".html"): a for a in store.iter_articles()}
        assert set(stored) == {slug for slug, (_, _, kept) in ARTICLES.items() if kept}
        assert all(a.province_code == "82" for a in stored.values())
        tien_giang = {m.province_code: m for m in stored["cau-rach-mieu"].matches}["82"]
        assert tien_giang.named and "Tiền Giang" in tien_giang.aliases
        my_tho = {m.province_code: m for m in stored["phuong-my-tho"].matches}["82"]
        assert not my_tho.named, "a ward alone points at the province without naming it"
        hits = store.search("tien giang", SearchFilters(province="82")).hits
        assert [h.title for h in hits] == ["Tiền Giang: thông xe cầu Rạch Miễu 2"]
    finally:
        store.close()


def test_own_sources_left_from_the_example_are_an_error(site: FixtureServer, tmp_path: Path) -> None:
    config = _config(tmp_path / "config", site.base_url, tmp_path / "data",
                     own_sources="[baoquangngai, quangngai-gov]")
    problems = check_config_dir(config)
    fields = {field for _, _, field, _ in problems}
    assert fields == {"reports.own_sources.0", "reports.own_sources.1"}, problems
    assert all(Path(f).name == "haidang.yaml" and line for f, line, _, _ in problems)
    assert "unknown source id 'baoquangngai'" in problems[0][3]


def test_province_from_the_environment_is_blamed_on_the_environment(site: FixtureServer, tmp_path: Path) -> None:
    config = _config(tmp_path / "config", site.base_url, tmp_path / "data")
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={"HAIDANG_PROVINCE": "Dong Thapp"})
    [(file, line, field, message)] = info.value.problems
    assert (file, line, field) == ("environment", None, "HAIDANG_PROVINCE")
    assert "did you mean Đồng Tháp (82)?" in message and "overrides haidang.yaml" in message


@pytest.mark.parametrize(("province", "says"), [
    ('"87"', "before 1 July 2025 '87' was Đồng Tháp, now part of 82 Đồng Tháp"),
    ("Đồng Tháp Mười", "not a province: a region"),
])
def test_bad_province_in_yaml_says_what_to_write(site: FixtureServer, tmp_path: Path, province: str,
                                                 says: str) -> None:
    config = _config(tmp_path / "config", site.base_url, tmp_path / "data", province=province)
    problems = check_config_dir(config)
    assert len(problems) == 1, problems
    file, line, field, message = problems[0]
    assert Path(file).name == "haidang.yaml" and line == 5 and field == "province"
    assert says in message and not message.startswith(("'", '"')) and "unknown province" in message


@pytest.mark.parametrize(("province", "code"), [("82", "82"), ("08", "08"), ("Tiền Giang", "82"), ("DONG THAP", "82")])
def test_province_as_an_unquoted_number_or_any_name(site: FixtureServer, tmp_path: Path, province: str,
                                                    code: str) -> None:
    """`province: 82` is read by YAML as a number; it is the code, as `"82"` is."""
    from nlp.gazetteer import Gazetteer

    config = _config(tmp_path / "config", site.base_url, tmp_path / "data", province=province)
    assert check_config_dir(config) == []
    assert Gazetteer.load().resolve_province(load_settings(config, environ={}).app.province) == code
