"""The satisfaction survey's questions and how a chat answer is read (pure: no database).

Patent 000's four indicators (product quality, service level, cost-effectiveness,
service innovation) are asked 1–5 after overall satisfaction, then likelihood to
recommend 0–10 (NPS), then a free comment. Customers answer in their own words, so a
reply may be "4", "４分", "四星", "满分", "非常满意", "跳过" or "不用了"; anything that
is none of these is not an answer at all but the customer moving on (a new question for
the bot), and the survey steps aside.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

TEMPLATE_PREFIX = "survey_"  # Message.template of the survey's own messages: survey_<question key>


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    low: int | None = None  # None: free text
    high: int | None = None

    @property
    def is_score(self) -> bool:
        return self.low is not None


QUESTIONS: tuple[Question, ...] = (
    Question("overall", "整体来说，您对这次服务满意吗？请回复 1–5 分（5 分最满意）。", 1, 5),
    Question("quality", "您对商品质量的评价是？（1–5 分）", 1, 5),
    Question("service", "您对客服服务水平的评价是？（1–5 分）", 1, 5),
    Question("value", "您觉得商品的性价比如何？（1–5 分）", 1, 5),
    Question("innovation", "您对我们的服务创新（新功能、新体验）打几分？（1–5 分）", 1, 5),
    Question("nps", "您有多大可能把我们推荐给朋友或同事？请回复 0–10（10 表示一定会推荐）。", 0, 10),
    Question("comment", "最后，还有什么想对我们说的吗？直接输入即可，回复“没有”结束调查。"),
)
BY_KEY = {q.key: q for q in QUESTIONS}
SCORE_KEYS = tuple(q.key for q in QUESTIONS if q.is_score)

INTRO = ("耽误您半分钟，做个满意度小调查吧：共 7 个问题，每题都可以回复“跳过”，"
         "回复“不用了”可随时结束。")
COMMENT_AFTER_LOW = "很抱歉这次没能让您满意。能说说哪里做得不好吗？我们一定改进。回复“没有”结束调查。"
THANKS = {
    "positive": "谢谢您的肯定和鼓励！我们会继续努力，期待再次为您服务。",
    "neutral": "感谢您的反馈，我们已经认真记录，会据此改进服务。",
    "negative": "非常抱歉给您带来了不好的体验。我们已安排专人跟进，会尽快联系您处理，请您留意消息。",
}
THANKS_NO_COMMENT = "感谢您参与调查！祝您生活愉快。"
THANKS_LOW_NO_COMMENT = "感谢您的评价。很抱歉这次没能让您满意，我们已安排专人回访，了解问题并改进。"
DECLINED = "好的，不打扰您了。祝您生活愉快！"
OUT_OF_RANGE = "请回复 {low}–{high} 之间的数字，或回复“跳过”。"


class Reply(Enum):
    SKIP = "skip"  # this question only
    DECLINE = "decline"  # the rest of the survey
    UNRELATED = "unrelated"  # not an answer: the customer has moved on
    OUT_OF_RANGE = "out_of_range"


SKIP_WORDS = ("跳过", "略过", "下一题", "下一个", "不知道", "不清楚", "说不好", "不好说", "pass", "skip")
DECLINE_WORDS = ("不用了", "不用", "不想答", "不想回答", "不做了", "不参加", "算了", "结束调查", "结束",
                 "退出", "没空", "不填", "拒绝")
NO_COMMENT_WORDS = ("没有", "没有了", "无", "没了", "暂无", "没什么", "没啥", "不用", "不用了", "没", "no")
# Words for a 1–5 answer, longest first so 非常满意 is not read as 满意.
RATING_WORDS = (("非常不满意", 1), ("很不满意", 1), ("非常差", 1), ("很差", 1), ("太差", 1),
                ("不太满意", 2), ("不满意", 2), ("较差", 2), ("差", 2),
                ("一般", 3), ("还行", 3), ("凑合", 3), ("马马虎虎", 3),
                ("非常满意", 5), ("很满意", 5), ("超级满意", 5), ("非常好", 5), ("很好", 5), ("完美", 5),
                ("满意", 4), ("挺好", 4), ("不错", 4), ("好", 4))
CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                  "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = re.compile(r"(?<![\d.])(\d{1,3})(?![\d.])")
_CHINESE_NUMBER = re.compile(r"(十[一二三四五六七八九]?|[一二两三四五六七八九]十?|[零〇])(?:分|星|颗星)")
_CHINESE_ALONE = re.compile(r"^(十|[零〇一二两三四五六七八九])$")
_TRAILING = re.compile(r"[。！!，,.~～\s]+$")


def _normal(text: str) -> str:
    # NFKC folds full-width digits and letters (４ → 4), common on Chinese keyboards.
    return _TRAILING.sub("", unicodedata.normalize("NFKC", text).strip().lower())


def _chinese_number(token: str) -> int:
    if token.startswith("十"):
        return 10 + (CHINESE_DIGITS[token[1]] if len(token) > 1 else 0)
    if token.endswith("十"):
        return CHINESE_DIGITS[token[0]] * 10
    return CHINESE_DIGITS[token]


def read_score(text: str, low: int, high: int) -> int | Reply:
    """The score in a chat reply, or what else the reply is."""
    t = _normal(text)
    if not t:
        return Reply.UNRELATED
    if t in SKIP_WORDS:
        return Reply.SKIP
    if t in DECLINE_WORDS:
        return Reply.DECLINE
    if "满分" in t and len(t) <= 6:
        return high
    numbers = [int(n) for n in _NUMBER.findall(t)]
    if not numbers:
        chinese = _CHINESE_NUMBER.search(t) or _CHINESE_ALONE.match(t)
        numbers = [_chinese_number(chinese.group(1))] if chinese else []
    if len(numbers) == 1 and len(t) <= 12:
        return numbers[0] if low <= numbers[0] <= high else Reply.OUT_OF_RANGE
    if not numbers and high == 5 and len(t) <= 8:
        # Short rating words only: "服务很好，就是物流慢" is a comment, not a score.
        for word, score in RATING_WORDS:
            if word in t:
                return score
    return Reply.UNRELATED


def read_comment(text: str) -> str | Reply:
    """The comment, or SKIP when the customer has nothing to add."""
    t = _normal(text)
    if not t or t in NO_COMMENT_WORDS or t in SKIP_WORDS:
        return Reply.SKIP
    if t in DECLINE_WORDS:
        return Reply.SKIP
    return text.strip()


def next_question(after: str | None) -> Question | None:
    """The question after ``after`` (None: the first), or None at the end."""
    keys = [q.key for q in QUESTIONS]
    index = 0 if after is None else keys.index(after) + 1
    return QUESTIONS[index] if index < len(QUESTIONS) else None


def question_text(question: Question, answers: dict[str, int | None]) -> str:
    """The comment question asks what went wrong when the overall score was low."""
    overall = answers.get("overall")
    if question.key == "comment" and overall is not None and overall <= 2:
        return COMMENT_AFTER_LOW
    return question.text


def nps_class(nps: int | None) -> str | None:
    if nps is None:
        return None
    return "promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor"


def validate_answers(answers: dict[str, object]) -> dict[str, int | str | None]:
    """Answers given all at once (the API): each optional, scores in range. Raises
    ValueError with a Chinese message naming the question."""
    out: dict[str, int | str | None] = {}
    for q in QUESTIONS:
        value = answers.get(q.key)
        if value is None:
            out[q.key] = None
        elif q.is_score:
            if isinstance(value, bool) or not isinstance(value, int) or not q.low <= value <= q.high:
                raise ValueError(f"“{q.text}”的答案须为 {q.low}–{q.high} 的整数")
            out[q.key] = value
        else:
            text = str(value).strip()
            out[q.key] = text or None
    return out
