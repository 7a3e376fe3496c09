"""Known false claims: recognising debunk reports, extracting the refuted claim, and matching resurfacing copies.

A report that an official source denied or corrected a claim ("Công an tỉnh khẳng định thông
tin ... là sai sự thật") is reliable news, not misinformation. We extract the claim it refutes
so a person can confirm it into the store; later articles repeating that claim are then matched
by MinHash near-duplicate similarity (crawlers.dedup) or, for a short claim inside a long
article, by how much of the claim the article contains.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from crawlers.dedup import band_keys, signature, similarity
from haidang.store.base import KnownClaim, Store
from haidang.textnorm import WORD_RE, fold, normalize
from nlp.features import sentences

__all__ = [
    "MATCH_THRESHOLD",
    "Debunk",
    "candidate_keys",
    "detect_debunk",
    "find_claims",
    "match_claims",
    "propose",
    "propose_text",
]

# A claim counts as repeated at 0.5: the mean of its content-word and word-pair containment in
# the best 1-3 sentence window (or the MinHash similarity of the whole texts). On the test pairs a
# light rewording ("đập ... bị vỡ" -> "đã vỡ đập", one word swapped) keeps ~0.6-0.8, while a
# different claim on the same subject (another rumour about the same dam) stays under 0.35.
MATCH_THRESHOLD = 0.5
_MIN_CLAIM_WORDS = 4        # shorter "claims" ("tin đồn") match everything; they are not kept
_WINDOW = 3                 # sentences per window: a claim reworded across a sentence break still fits

# Words too common to show that a claim is repeated (folded forms).
_STOPWORDS = frozenset(
    ["va", "cua", "la", "khong", "nhung", "duoc", "nguoi", "cho", "nay", "mot", "cac", "co", "trong", "da", "voi", "de", "thi", "khi", "se", "tai", "ve", "theo", "tu", "den", "nhu", "cung", "rang", "ra", "len", "vao", "bi", "boi", "o", "nen", "hay", "hoac", "ma", "tren", "duoi", "sau", "truoc", "nhieu", "rat", "dang", "vua", "moi", "con", "lai", "chi", "do", "day", "kia", "thong", "tin", "viec", "ve", "vu"]
)

# Who denies: an accountable body named before the verb of denial (same sentence).
_ACTOR = (
    r"(?:Công an|Bộ Công an|UBND|Ủy ban nhân dân|Sở|Bộ|Cục|Chi cục|Tổng cục|Ban|Bệnh viện|Trung tâm|"
    r"CDC|Văn phòng|Phòng|Bộ Chỉ huy|Bộ đội Biên phòng|Đồn Biên phòng|Tỉnh ủy|Thành ủy|Huyện ủy|"
    r"Chính quyền|Lãnh đạo|Chủ tịch|Giám đốc|Phó giám đốc|Người phát ngôn|Thanh tra|Viện kiểm sát|"
    r"Tòa án|Công ty|Tập đoàn|Đại sứ quán|Tổng lãnh sự quán|Trường)"
)
_DENY_VERB = r"(?:khẳng định|bác bỏ|phủ nhận|đính chính|lên tiếng|thông tin|cho biết|xác nhận|thông báo|trả lời)"
_ACTOR_RE = re.compile(rf"(?<!\w)({_ACTOR}[^,.;:!?\n“\"]{{0,80}}?)\s+(?:đã\s+|vừa\s+|cũng\s+|chính thức\s+)*{_DENY_VERB}(?!\w)")

# Phrases that, in one sentence, make it a denial or correction. Each names its strength:
# "strong" ones are denials on their own; "weak" ones ("không có chuyện") need a named actor.
_FALSE = r"(?:sai sự thật|không đúng sự thật|sai lệch|thất thiệt|bịa đặt|không có cơ sở|không chính xác|tin giả|xuyên tạc)"
_STRONG = [
    re.compile(rf"là\s+(?:hoàn toàn\s+)?(?:thông tin\s+)?{_FALSE}", re.IGNORECASE),
    re.compile(r"(?:bác bỏ|phủ nhận)\s+(?:các\s+|những\s+)?(?:thông tin|tin đồn|nguồn tin|tin)", re.IGNORECASE),
    re.compile(r"đính chính", re.IGNORECASE),
    re.compile(rf"(?:xử phạt|phạt|triệu tập|mời làm việc|xử lý|khởi tố)[^.!?\n]{{0,120}}(?:đăng|đưa|chia sẻ|lan truyền|phát tán)[^.!?\n]{{0,60}}{_FALSE}", re.IGNORECASE),
    re.compile(rf"thông tin\s+{_FALSE}", re.IGNORECASE),
]
_WEAK = [re.compile(r"không có chuyện|không hề xảy ra|hoàn toàn không có|không có việc", re.IGNORECASE)]

# False information named as a kind of thing to handle, not as a claim someone denied: the plans and
# the portals that publish them are full of "kịp thời xử lý các thông tin sai sự thật" and "đấu tranh,
# bác bỏ các thông tin xấu độc, sai trái". Such a phrase is a task, and proposing "báo chí ... viết về
# địa phương" as a false claim would be noise on the list people review. It is one of these verbs
# of handling before "(các) thông tin" and only words judging that information after it; it counts
# as a denial only when the rest of the sentence states what was false (a quote, "về việc", "rằng").
_HANDLE = (r"(?:xử lý|đấu tranh|ngăn chặn|phát hiện|phản bác|bác bỏ|gỡ bỏ|loại bỏ|kiểm soát|định hướng|"
           r"phòng chống|phòng ngừa|chống|ứng phó với|cảnh giác với|cảnh giác trước|không chia sẻ)")
_JUDGED = rf"(?:{_FALSE}|xấu độc|sai trái|độc hại|thù địch|tiêu cực|phản động|chưa được kiểm chứng)"
_GENERIC_RE = re.compile(
    rf"{_HANDLE}(?:\s*,\s*{_HANDLE})*\s+(?:kịp thời\s+)?(?:các\s+|những\s+|mọi\s+)?(?:loại\s+)?"
    rf"(?:thông tin|tin tức|tin|luận điệu|nội dung)\s+(?>{_JUDGED}(?:\s*,\s*|\s+và\s+|\s+)?)+",
    re.IGNORECASE)
_STATES_CLAIM_RE = re.compile(r"[“\"«]|(?<!\w)(?:về việc|rằng|cho rằng|về)(?!\w)", re.IGNORECASE)


def _without_generic(sentence: str) -> str:
    """The sentence with each generic mention of false information blanked out, unless what follows
    it in the sentence states the claim."""
    def blank(m: re.Match[str]) -> str:
        return m.group(0) if _STATES_CLAIM_RE.search(sentence, m.end()) else " "
    return _GENERIC_RE.sub(blank, sentence)

# Where the refuted claim is, tried in order; group "c" holds it.
_QUOTE_RE = re.compile(r"[“\"«]([^”\"»]{12,300})[”\"»]")
_CLAIM_PATTERNS = [
    re.compile(rf"thông tin\s+(?:về việc|về|rằng|cho rằng|cho biết)?\s*(?P<c>[^.!?\n]{{12,300}}?)\s+(?:là\s+)?(?:hoàn toàn\s+)?(?:thông tin\s+)?{_FALSE}", re.IGNORECASE),
    re.compile(r"(?:bác bỏ|phủ nhận)\s+(?:các\s+|những\s+)?(?:thông tin|tin đồn|nguồn tin|tin)\s+(?:về việc|về|rằng|cho rằng)?\s*(?P<c>[^.!?\n;]{12,300})", re.IGNORECASE),
    re.compile(r"(?:không có chuyện|không hề có chuyện|không có việc)\s+(?P<c>[^.!?\n;]{12,300})", re.IGNORECASE),
    re.compile(rf"(?:đăng|đưa|chia sẻ|lan truyền|phát tán)\s+(?:tải\s+)?(?:thông tin|bài viết|tin)?\s*(?:{_FALSE}\s+)?(?:về việc|về|rằng|cho rằng)\s*(?P<c>[^.!?\n;]{{12,300}})", re.IGNORECASE),
    re.compile(r"đính chính\s+(?:lại\s+)?(?:thông tin\s+)?(?:về việc|về|rằng)?\s*(?P<c>[^.!?\n;]{12,300})", re.IGNORECASE),
]
# Tails that belong to the denial, not to the claim ("..., Công an tỉnh cho biết").
_CLAIM_TAIL_RE = re.compile(r"\s*(?:,|\(|-|–)\s*[^,]*$")


@dataclass(kw_only=True, slots=True)
class Debunk:
    """An article reports a denial or correction of `claim` by `by`; `evidence` quotes its sentences."""

    claim: str
    by: str | None
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"claim": self.claim, "by": self.by, "evidence": list(self.evidence)}


def _sentences(title: str, text: str) -> list[str]:
    out = [" ".join(title.split())] if title.strip() else []
    out += [" ".join(text[s:e].split()) for s, e in sentences(text)]
    return [s for s in out if s]


def _clean_claim(raw: str) -> str:
    claim = raw.strip(" ,;:-–\"“”'«»")
    # "bác bỏ các thông tin sai sự thật về việc X": the judgement before the claim is not part of it.
    claim = re.sub(rf"^(?:{_JUDGED}(?:\s*,\s*|\s+))*", "", claim, flags=re.IGNORECASE)
    claim = re.sub(r"^(?:về việc|về|rằng|cho rằng|là)\s+", "", claim, flags=re.IGNORECASE)
    # A trailing "là sai sự thật" or ", Công an ... cho biết" belongs to the denial.
    claim = re.sub(rf"\s+(?:là\s+)?(?:hoàn toàn\s+)?(?:thông tin\s+)?{_FALSE}.*$", "", claim, flags=re.IGNORECASE)
    claim = re.sub(rf",\s*{_ACTOR}.*$", "", claim)
    claim = re.sub(r"\s+(?:đang\s+)?(?:lan truyền|được chia sẻ|xuất hiện)\s+(?:trên|tại)\s+(?:mạng|facebook|mxh).*$",
                   "", claim, flags=re.IGNORECASE)
    return claim.strip(" ,;:-–\"“”'«»")


def _extract_claim(sentence: str) -> str | None:
    quoted = [q for q in _QUOTE_RE.findall(sentence) if len(q.split()) >= _MIN_CLAIM_WORDS]
    if quoted:
        return _clean_claim(max(quoted, key=len))
    for pattern in _CLAIM_PATTERNS:
        m = pattern.search(sentence)
        if m:
            claim = _clean_claim(m.group("c"))
            if len(claim.split()) >= _MIN_CLAIM_WORDS:
                return claim
    return None


def detect_debunk(title: str, text: str) -> Debunk | None:
    """The denial or correction the article reports, with the claim it refutes; None if none.

    Strong phrases ("là sai sự thật", "bác bỏ thông tin", "đính chính", fining someone for posting
    false information) suffice alone; weak ones ("không có chuyện") need a named accountable
    body in the same sentence. The claim is the quoted text if any, else the clause the phrase
    describes, else the title (a debunk headline usually names the rumour).
    """
    title = normalize(title or "")
    text = normalize(text or "")
    evidence: list[str] = []
    claim: str | None = None
    by: str | None = None
    for sentence in _sentences(title, text):
        actor = _ACTOR_RE.search(sentence)
        specific = _without_generic(sentence)
        strong = any(p.search(specific) for p in _STRONG)
        weak = any(p.search(specific) for p in _WEAK)
        if not (strong or (weak and actor)):
            continue
        if len(evidence) < 3:
            evidence.append(sentence)
        if by is None and actor:
            by = actor.group(1).strip()
        found = _extract_claim(sentence)
        if found and (claim is None or len(found) > len(claim)):
            claim = found           # the fullest statement of the claim, usually in the body
    if not evidence:
        return None
    if claim is None:
        fallback = _clean_claim(re.sub(r"^[^:]{0,80}:\s*", "", title)) if title else ""
        claim = fallback if len(fallback.split()) >= _MIN_CLAIM_WORDS else evidence[0]
    return Debunk(claim=claim, by=by, evidence=evidence)


def _content_words(text: str) -> list[str]:
    return [w for w in WORD_RE.findall(fold(normalize(text))) if w not in _STOPWORDS]


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return set(pairwise(words))


def _containment(claim_words: list[str], window_words: list[str]) -> float:
    """Mean of unigram and word-pair containment of the claim in a window (0..1)."""
    if not claim_words:
        return 0.0
    have = set(window_words)
    uni = sum(1 for w in set(claim_words) if w in have) / len(set(claim_words))
    claim_pairs = _pairs(claim_words)
    if not claim_pairs:
        return uni
    pairs = len(claim_pairs & _pairs(window_words)) / len(claim_pairs)
    return (uni + pairs) / 2


def _claim_score(claim: KnownClaim, doc_sig: list[int], windows: list[list[str]]) -> float:
    near = similarity(doc_sig, list(claim.signature)) if claim.signature else 0.0
    words = _content_words(claim.text)
    contained = max((_containment(words, w) for w in windows), default=0.0)
    return max(near, contained)


def _windows(title: str, text: str) -> list[list[str]]:
    sents = [_content_words(s) for s in _sentences(title, text)]
    out = []
    for i in range(len(sents)):
        for n in range(1, _WINDOW + 1):
            if i + n <= len(sents):
                out.append([w for s in sents[i:i + n] for w in s])
    return out


def match_claims(title: str, text: str, candidates: Iterable[KnownClaim],
                 threshold: float = MATCH_THRESHOLD) -> list[tuple[KnownClaim, float]]:
    """Candidates the article repeats, best first, with a 0..1 similarity.

    Similarity is the larger of MinHash similarity of the whole text (a copied rumour post) and
    the claim's containment in the best window of 1-3 sentences (a short claim inside a long
    article, lightly reworded).
    """
    candidates = list(candidates)
    if not candidates or not (title or text).strip():
        return []
    doc_sig = signature(normalize(f"{title}\n{text}"))
    windows = _windows(normalize(title or ""), normalize(text or ""))
    found = []
    for claim in candidates:
        score = round(_claim_score(claim, doc_sig, windows), 3)
        if score >= threshold:
            found.append((claim, score))
    found.sort(key=lambda pair: (-pair[1], pair[0].id))
    return found


def candidate_keys(title: str, text: str) -> list[str]:
    """LSH band keys of the whole text and of each 1-3 sentence window.

    A short claim shares few shingles with a long article, so its keys meet only the keys of
    the passage that repeats it; looking up every window's keys lets `Store.claim_candidates`
    find it without scanning all claims.
    """
    title, text = normalize(title or ""), normalize(text or "")
    parts = [f"{title}\n{text}"]
    sents = _sentences(title, text)
    for i in range(len(sents)):
        for n in range(1, _WINDOW + 1):
            if i + n <= len(sents):
                parts.append(" ".join(sents[i:i + n]))
    keys: set[str] = set()
    for part in parts:
        keys.update(band_keys(signature(part)))
    return sorted(keys)


def find_claims(store: Store, title: str, text: str, *, scan: bool = True) -> list[KnownClaim]:
    """Confirmed claims worth matching against this article (give them to `match_claims`).

    LSH candidates of the article's windows catch copied claims; `scan` adds every confirmed
    claim, because a reworded claim changes most word 3-shingles and slips past LSH. The list is
    confirmed by people, so it stays in the hundreds; turn `scan` off if it ever grows past
    tens of thousands.
    """
    found = {c.id: c for c in store.claim_candidates(candidate_keys(title, text))}
    if scan:
        found.update((c.id, c) for c in store.known_claims("confirmed"))
    return [found[k] for k in sorted(found)]


def propose(store: Store, debunk: Debunk, *, rebuttal_url: str | None,
            source_article_id: str | None) -> str | None:
    """Propose the debunk's claim for the known-false list (a person confirms); return its id.

    A claim too short to match safely is not proposed (None).
    """
    return propose_text(store, debunk.claim, rebuttal_url=rebuttal_url, source_article_id=source_article_id)


def propose_text(store: Store, text: str, *, rebuttal_url: str | None,
                 source_article_id: str | None = None) -> str | None:
    """Store `text` as a proposed claim, indexed for matching; its id, or None when it is too short
    to match safely (a claim of one or two content words would match every article on its subject)."""
    text = normalize(text)
    if len(_content_words(text)) < _MIN_CLAIM_WORDS - 1:
        return None
    sig = signature(text)
    claim = KnownClaim(text=text, rebuttal_url=rebuttal_url, source_article_id=source_article_id,
                       signature=sig)
    return store.propose_claim(claim, band_keys(sig))
