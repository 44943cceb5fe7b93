"""Which product a customer's message is about, and what they ask of it — from the catalogue itself.

The bot's NLU knows *that* a customer asks about a product, not *which*: product names
change in the console every day and must be understood at once, with no retraining. So
the keys a product is found by are derived here from its own data:

    strong   the whole name (spaces, full-width forms and case normalised), the name
             without its sizes ("明前龙井"), the name with its size next to a head word
             ("20寸登机箱"), and the aliases the shop wrote ("保温杯")
    medium   the tails of the name's parts, where a Chinese product name keeps its head
             noun (明前龙井 → 龙井, 宜兴紫砂壶 → 紫砂壶, 拉杆登机箱 → 登机箱), and the head
             word with any of the words before it (降噪蓝牙耳机 → 降噪耳机)
    weak     the other words jieba finds in the name (普洱, 宜兴)

The longest key in the message wins; a key several products share ("卫衣") is ambiguous
and the customer is asked to choose. A non-strong key must stand on its own: "苹果干"
does not name 芒果干 through its tail "果干".

The aspect asked (price, stock, an attribute, an overview, otherwise a question for the
admin's Q&A) is read from a few cue words; Q&A and attribute names are compared by a
character TF-IDF cosine, and below ``QA_THRESHOLD`` nothing is said to be known.

Pure: imports nothing of the service (jieba and scikit-learn only).
"""
from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

jieba.setLogLevel(logging.WARNING)

STRONG, MEDIUM, WEAK = 3, 2, 1
MAX_KEY = 40
QA_THRESHOLD = 0.5

# A size or count in a name: 250g, 500ml, 20 寸, 10000mAh, 12 枚, 30 袋装.
_SIZE = re.compile(r"\d+(?:\.\d+)?(?:kg|g|ml|l|mah|w|寸|枚|袋装|袋|包|只装|只|双|支|瓶|片|cm|码|l)?")
_COUNT_WORD = re.compile(r"^[\d一二两三四五六七八九十百]+[只双根瓶支袋包枚片个件盒罐]装?$")
# Words in names that name no product on their own.
_GENERIC = frozenset({"礼盒", "套装", "装", "带", "味", "款", "系列", "新款", "经典", "包邮", "正品", "家用",
                      "便携", "旅行", "轻便", "轻薄", "手工", "每日", "纯棉", "加厚", "大号", "小号", "官方"})
PRONOUNS = ("这个", "那个", "这款", "那款", "这件", "那件", "这种", "那种", "这只", "那只", "这一款", "它", "该商品",
            "这东西", "那东西")
# What may stand right before a non-strong key ("你们的龙井", "买个保温杯").
_BEFORE_OK = set("的买卖个款种这那有是么配些了和跟与把给查问看要想只件盒包瓶袋套们下么吗呢啊吧就还也都能可买送款台")

# Category words customers use → the shop's category names they stand for.
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "杯具": ("杯子", "杯", "茶杯", "水杯", "茶具", "杯具", "壶", "茶壶"),
    "茶叶": ("茶叶", "茶"),
    "箱包": ("箱包", "包包", "包", "箱子", "行李箱", "背包"),
    "服饰": ("衣服", "服饰", "服装", "穿的"),
    "零食": ("零食", "吃的", "小吃", "小零食"),
    "家居": ("家居", "家居用品", "家里用的"),
    "个护": ("个护", "护肤品", "护肤", "洗护"),
    "数码配件": ("数码配件", "数码", "配件", "充电器"),
}

PRICE_CUES = ("多少钱", "价格", "价钱", "几块", "几元", "什么价", "啥价", "售价", "多钱", "怎么卖", "贵不贵", "贵吗",
              "便宜", "多少米", "价位", "卖多少", "卖几", "几多钱", "多少一")
STOCK_CUES = ("有货", "有没有货", "库存", "现货", "还有吗", "还有没有", "卖完", "售罄", "断货", "缺货", "没货", "到货",
              "补货", "还有货", "卖光", "下架", "能买到", "还能买", "还卖")
OVERVIEW_CUES = ("介绍", "怎么样", "详情", "是什么", "啥东西", "好不好", "值得买", "看看")
# Attribute names and how customers ask for them.
ATTRIBUTE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "容量": ("容量", "多大", "几毫升", "多少毫升", "装多少", "多少ml", "能装多少"),
    "材质": ("材质", "什么材料", "什么做的", "啥材料", "材料", "什么材质", "用料"),
    "产地": ("产地", "哪里产", "哪产的", "哪里的", "产自", "哪儿产"),
    "保质期": ("保质期", "放多久", "能放多久", "保存多久", "多久过期", "过期"),
    "尺码": ("尺码", "多大码", "尺寸", "码数", "几码", "什么码", "大小"),
    "颜色": ("颜色", "什么颜色", "几种颜色", "什么色", "哪些颜色", "几个颜色"),
    "重量": ("重量", "多重", "几斤", "多少克", "净含量"),
    "规格": ("规格",),
}
_FILLER = re.compile(r"请问|你们|你家|咱们|这边|一下|麻烦|亲|[吗呢啊呀吧哦嘛的了呗啦哈?？!！,，.。~～、\s]")


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII, ideographic space → space), lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text or "").lower().split())


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass(frozen=True)
class CatalogueEntry:
    sku: str
    name: str
    category: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    key: str  # the normalised text found in the message
    start: int  # position in the normalised message
    skus: tuple[str, ...]
    strength: int

    @property
    def end(self) -> int:
        return self.start + len(self.key)


@lru_cache(maxsize=4096)
def _words(segment: str) -> tuple[str, ...]:
    return tuple(jieba.lcut(segment))


@lru_cache(maxsize=4096)
def _search_words(segment: str) -> tuple[str, ...]:
    return tuple(jieba.lcut_for_search(segment))


def _usable(key: str) -> bool:
    return (len(key) >= 2 and key not in _GENERIC and not _COUNT_WORD.match(key)
            and not _SIZE.fullmatch(key) and key not in PRONOUNS)


def keys_for(entry: CatalogueEntry) -> dict[str, int]:
    """Every key a product is found by, with its strength."""
    keys: dict[str, int] = {}

    def add(key: str, strength: int) -> None:
        if _usable(key) and keys.get(key, 0) < strength:
            keys[key] = strength

    full = normalise(entry.name)
    add(full, STRONG)
    for alias in entry.aliases:
        add(normalise(alias), STRONG)
    sizes = [m.group(0) for m in _SIZE.finditer(full) if m.group(0)]
    spaced = unicodedata.normalize("NFKC", entry.name or "").lower()
    parts = [normalise(p) for p in _SIZE.sub(" ", spaced).split()]
    parts = [p for p in parts if p]
    base = "".join(parts)
    add(base, STRONG)
    heads: set[str] = set()
    for part in {base, *parts}:
        for i in range(len(part) - 1):
            tail = part[i:]
            add(tail, MEDIUM)
            heads.add(tail)
        words = [w for w in _words(part) if w.strip()]
        if len(words) >= 2:  # the head word with any of the words before it: 降噪(蓝牙)耳机
            head, before = words[-1], words[:-1]
            for n in range(1, len(before) + 1):
                for combo in itertools.combinations(before, n):
                    add("".join(combo) + head, MEDIUM)
        for word in _search_words(part):
            add(word, WEAK)
    for size in sizes:  # "20寸登机箱", "登机箱20寸"
        for head in [base, *(h for h in heads if len(h) >= 2)]:
            add(size + head, STRONG)
            add(head + size, STRONG)
    return keys


@dataclass
class Matcher:
    """The keys of a whole catalogue, for finding mentions in messages."""

    entries: dict[str, CatalogueEntry]
    index: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)  # key → (skus, strength)
    names: dict[str, str] = field(default_factory=dict)  # sku → normalised name
    categories: dict[str, str] = field(default_factory=dict)  # category word → category

    @classmethod
    def build(cls, entries: list[CatalogueEntry]) -> Matcher:
        matcher = cls({e.sku: e for e in entries})
        owners: dict[str, dict[str, int]] = {}
        for entry in entries:
            matcher.names[entry.sku] = normalise(entry.name) + "|" + "|".join(normalise(a) for a in entry.aliases)
            for key, strength in keys_for(entry).items():
                owners.setdefault(key, {})[entry.sku] = strength
        for key, by_sku in owners.items():
            best = max(by_sku.values())
            # Who holds the key most strongly owns it: an alias beats a word of another name.
            matcher.index[key] = (tuple(sorted(s for s, v in by_sku.items() if v == best)), best)
        present = {e.category for e in entries}
        for category in present:
            matcher.categories[normalise(category)] = category
        for category, words in CATEGORY_SYNONYMS.items():
            if category in present:
                for word in words:
                    matcher.categories.setdefault(normalise(word), category)
        return matcher

    def mentions(self, text: str) -> list[Mention]:
        """Non-overlapping product mentions in ``text``, longest first, in reading order."""
        norm = normalise(text)
        found: list[Mention] = []
        for start in range(len(norm)):
            for length in range(min(MAX_KEY, len(norm) - start), 1, -1):
                key = norm[start:start + length]
                hit = self.index.get(key)
                if hit is None:
                    continue
                skus, strength = hit
                if strength < STRONG and start > 0 and _is_cjk(norm[start - 1]) and norm[start - 1] not in _BEFORE_OK \
                        and not any(norm[start - 1:start + length] in self.names[s] for s in skus):
                    continue  # "苹果干" is not 芒果干
                found.append(Mention(key, start, skus, strength))
                break
        found.sort(key=lambda m: (-len(m.key), -m.strength, m.start))
        chosen: list[Mention] = []
        for m in found:
            if all(m.end <= c.start or m.start >= c.end for c in chosen):
                chosen.append(m)
        sizes = [s for s in (x.group(0) for x in _SIZE.finditer(norm)) if not s.isdigit()]
        return sorted((self._narrowed(m, sizes) for m in chosen), key=lambda m: m.start)

    def _narrowed(self, mention: Mention, sizes: list[str]) -> Mention:
        """"24寸的登机箱": a size elsewhere in the message picks among products sharing a key."""
        if len(mention.skus) < 2:
            return mention
        for size in sizes:
            sized = tuple(s for s in mention.skus if size in self.names[s])
            if 0 < len(sized) < len(mention.skus):
                return Mention(mention.key, mention.start, sized, mention.strength)
        return mention

    def best(self, text: str) -> Mention | None:
        """The mention a question is about: the longest, then the strongest, then the first."""
        found = self.mentions(text)
        return min(found, key=lambda m: (-len(m.key), -m.strength, m.start)) if found else None

    def category_in(self, text: str, skip: list[Mention] = ()) -> tuple[str, str] | None:
        """(word used, category) of a category named outside the product mentions."""
        norm = normalise(text)
        for m in sorted(skip, key=lambda m: -m.start):
            norm = norm[:m.start] + " " + norm[m.end:]
        for word in sorted(self.categories, key=len, reverse=True):
            if word in norm:
                return word, self.categories[word]
        return None


def has_pronoun(text: str) -> bool:
    norm = normalise(text)
    return any(p in norm for p in PRONOUNS)


# --- what is asked --------------------------------------------------------------------

@dataclass(frozen=True)
class Aspect:
    kind: str  # price | stock | attribute | overview | question
    attribute: str | None = None  # attribute: the product's own key, or the canonical name asked for
    question: str = ""  # what is left of the message once the product and filler are removed


def strip_mentions(text: str, mentions: list[Mention]) -> str:
    norm = normalise(text)
    for m in sorted(mentions, key=lambda m: -m.start):
        norm = norm[:m.start] + norm[m.end:]
    return norm


def question_core(text: str) -> str:
    """The words that carry a question: no pronouns, politeness or particles."""
    norm = normalise(text)
    for p in sorted(PRONOUNS, key=len, reverse=True):
        norm = norm.replace(p, "")
    return _FILLER.sub("", norm)


def detect_aspect(text: str, attribute_keys: list[str], intent: str | None = None) -> Aspect:
    """What the customer asks about a product, in ``text`` with the product mention removed."""
    norm = normalise(text)
    core = question_core(norm)
    for key in sorted(attribute_keys, key=len, reverse=True):  # the product's own attribute names first
        k = normalise(key)
        if k and (k in norm or (k.startswith(("是否", "能否", "可否")) and len(k) > 3 and k[2:] in norm)):
            return Aspect("attribute", key, core)
    if any(c in norm for c in STOCK_CUES):
        return Aspect("stock", None, core)
    if any(c in norm for c in PRICE_CUES):
        return Aspect("price", None, core)
    asked = [(len(normalise(c)), canonical) for canonical, cues in ATTRIBUTE_SYNONYMS.items()
             for c in cues if normalise(c) in norm]
    if asked:  # the longest cue: "多大码" is a size, "多大" a capacity
        canonical = max(asked)[1]
        owned = next((k for k in attribute_keys if normalise(k) == canonical or canonical in normalise(k)), None)
        return Aspect("attribute", owned or canonical, core)
    if not core or any(c in norm for c in OVERVIEW_CUES) or core in {"有", "有没有", "卖", "有卖", "有没有卖", "在吗"}:
        if intent == "ask_price":
            return Aspect("price", None, core)
        return Aspect("overview", None, core)
    if intent == "ask_price" and len(core) <= 2:
        return Aspect("price", None, core)
    return Aspect("question", None, core)


# --- a product the shop does not sell -------------------------------------------------

_ASKED_NOUN = (
    re.compile(r"(?:有没有|有木有|有无|是否有|有)(?:在)?(?:卖|出售|售卖)?(?P<q>[^，,。？?！!]{1,20}?)(?:卖|出售)?(?:吗|么|嘛|呢|不|没|$)"),
    re.compile(r"(?:卖|出售|售卖|买得到|买到)(?P<q>[^，,。？?！!]{1,20}?)(?:吗|么|嘛|呢|不|没|$)"),
    re.compile(r"(?P<q>[^，,。？?！!]{1,20}?)(?:多少钱|什么价|价格|价钱|几块|怎么卖|有货|还有吗|有卖吗|卖吗)"),
)
_QUERY_NOISE = re.compile(r"^(?:请问|你们|你家|店里|这里|这儿|咱们|你们店|家|的|有没有|没有|有|卖|一个|一款|个|款|那种|这种|"
                          r"想买|我想|我要|要|买|一下|那个|这个)+|(?:的|吗|呢|卖|啊|呀|吧|嘛)+$")
_NOT_NOUNS = frozenset({"什么", "啥", "东西", "优惠", "活动", "优惠券", "折扣", "人", "客服", "人工", "别的", "其他",
                        "推荐", "什么推荐", "货", "现货", "库存", "积分", "会员"})
# A size, a colour or a coupon is asked about a product, it is not one ("有XL码吗").
_NOT_A_PRODUCT = re.compile(r"^(?:[xX]*[sSmMlL]|\d+(?:\.\d+)?)\s*码$|^.{0,3}(?:码|色|颜色|尺码|尺寸|号)$|券$|发票")


def asked_noun(text: str) -> str | None:
    """The thing a question names when no catalogue key matched ("你们卖iPhone吗" → "iphone")."""
    norm = normalise(text)
    for pattern in _ASKED_NOUN:
        m = pattern.search(norm)
        if not m:
            continue
        query = _QUERY_NOISE.sub("", m.group("q"))
        query = _QUERY_NOISE.sub("", query)
        if 1 < len(query) <= 20 and query not in _NOT_NOUNS and not _NOT_A_PRODUCT.search(query) \
                and not any(p in query for p in PRONOUNS) \
                and not any(w in query for w in ("什么", "多少", "哪", "怎么", "几")):
            return query
    return None


# --- the closest admin Q&A ------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    sku: str
    question: str  # the admin's question, or an attribute's name
    answer: str
    kind: str  # qa | attribute


_MODAL = re.compile(r"是否|可不可以|能不能|可以|能否|可否|会不会|是不是|有没有|能|可")


class FactIndex:
    """Character uni- and bigram TF-IDF over every product's Q&A questions and attribute
    names; a question is compared with its own product's facts only."""

    def __init__(self, facts: list[Fact]):
        self.facts = facts
        self.by_sku: dict[str, list[int]] = {}
        for i, fact in enumerate(facts):
            self.by_sku.setdefault(fact.sku, []).append(i)
        docs = [self._doc(f) for f in facts]
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(docs) if any(docs) else None

    @staticmethod
    def _doc(fact: Fact) -> str:
        return FactIndex._core(fact.question) or normalise(fact.question)

    @staticmethod
    def _core(text: str) -> str:
        # "能不能装开水" and "是否可装开水" ask the same: the modal words carry nothing.
        return _MODAL.sub("", question_core(text))

    def closest(self, sku: str, question: str, threshold: float = QA_THRESHOLD) -> tuple[Fact, float] | None:
        rows = self.by_sku.get(sku)
        core = self._core(question)
        if not rows or self.matrix is None or not core:
            return None
        scores = cosine_similarity(self.vectorizer.transform([core]), self.matrix[rows])[0]
        best = int(scores.argmax())
        if scores[best] < threshold:
            return None
        return self.facts[rows[best]], float(scores[best])
