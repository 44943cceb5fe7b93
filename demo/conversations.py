"""Demo conversations, handoffs and satisfaction surveys with a known ground truth.
(One module of about 1,000 lines: it is one simulation whose parts — customers, turns,
handoffs, offers, surveys — share a hidden ground truth that only makes sense together.)

``generate_demo_conversations(db)`` gives the customers of the demo shop
(``demo/shop.py``) a chat history over the last ``days`` days: conversations on
web and WeChat with the customer's messages (intent and confidence as Rasa would give
them) and the bot's answers (response template, the stage's reply variant when there
is one), handoffs to staff with their events, offers handed out in chat, surveys after
the goodbye or the resolved handoff, and follow-up tasks for negative comments.

Why: the analytics jobs (message sentiment, association rules from conversation facts
to NPS and repurchase, service-step scoring, personas, the bandit loop over reply
variants and offers) must be shown to find something real. Real chats are not at hand
in a demo, so these are generated from a small hidden model. When a job reports what
the model below says, it works; when it reports something else, it does not.

The hidden model (the ground truth)
-----------------------------------
Each conversation has a latent satisfaction

    latent = STAGE_BASE[stage] + greeting + understanding + offer + repurchase + complaint + noise

- ``STAGE_BASE``: prospect 3.9, new 4.0, growing 4.1, stable 4.3, at_risk 3.3, churned
  3.1 (at-risk and churned customers are harder to please).
- greeting: +0.3 when the bot greeted with a reply variant of ``utter_greet`` (the
  stage's personalised text) plus that variant's hidden quality
  (:func:`greet_qualities`): a value in [-0.25, 0.15] from the variant id and the seed,
  and in every (stage, persona) group with alternatives +0.5 more for the variant
  with the highest value, so one greeting is clearly better. No greeting or the
  default text: 0. About a fifth of the conversations start without a greeting.
- understanding (the service step): -0.35 per fallback (``utter_default``), -0.25 per
  order number the bot could not find, and for a handoff
  ``-0.45 * log2(1 + wait_seconds / 60)``, one and a half times that when the
  conversation had a fallback: waiting 10 minutes costs about 1.6 points, 2.3 after a
  fallback. Waits are long outside the service hours (9:00-22:00 shop time) and in
  the evening rush.
- offer: +0.1 + 0.5 * appeal when an offer was issued, ``appeal`` in [0, 1) being the
  offer's hidden quality (:func:`offer_appeals`): a value in [0, 0.6) from the offer id
  and the seed, +0.4 for the best of each stage's offers when the stage has several.
- repurchase: +0.3 when the customer placed a paid order within 30 days after the
  conversation started (the existing orders decide; none are added).
- complaint: -0.6 when the customer complained in the conversation.
- noise: normal, sd 0.5, shared by all the answers of the survey.

Answers: overall = latent rounded into 1..5. The four indicators share 0.6-0.8 of the
noise (so they correlate with overall) and weigh their own driver more, each rounded
into 1..5 after its own extra noise (sd 0.45-0.6)::

    quality    = base + 0.3 greeting + 2.0 complaint + 1.6 repurchase
    service    = base + 0.6 greeting + 1.6 understanding + 0.8 complaint
    value      = base - 0.1 + 1.8 offer + 0.2 understanding + 1.0 repurchase
    innovation = base - 0.3 + 0.4 greeting

NPS = 2.6 × latent - 3 + noise (sd 0.8) in 0..10, so promoters (9-10) are mostly
overall 5 and detractors (0-6) overall 1-3. Comments follow the overall (negative only
for 1-2, mixed for 3, positive for 4-5; two thirds of the 1-2s comment, a third of the
others) and name the likely cause (the wait, the bot not understanding, the goods);
every negative comment gets a follow-up task, done within two days for most of those
older than three days, open for the recent ones.

Planted associations with what the customer does afterwards (repurchase is read from
the existing orders, nothing is added): a conversation followed by a paid order within
30 days asks for an offer 1.6 times as often, and among the offers it may get the
better ones (higher appeal) are more likely, so "offer issued → repurchase" and
"good offer → repurchase" hold. The customer's mood also shows in their messages: a
satisfied customer thanks the bot, an unhappy one leaves with a sour remark, and long
waits bring impatient messages, so the sentiment of the customer's last message agrees
with the survey.

Customers have a hidden type (:func:`customer_type`, from the customer id and the
seed): ``bargain`` (25%, asks about prices and coupons three times as often),
``guidance`` (20%, product and FAQ questions, three times the fallbacks, longer
chats), ``tracker`` (25%, order status and delivery, short chats) and ``ordinary``;
the persona clustering should find groups like these.

Everything else follows the shop: conversations on the customer's usual channel (the
share of their orders placed on WeChat), more of them for regulars, many a few days
after an order asking where it is (the status told is the order's status at that
moment), refund questions after refunds, two fallbacks in a row, a complaint from an
at-risk or stable customer or an accepted offer of a person go to staff as
``api/services/handoff.py`` would. Surveys: about 60% completed, 15% declined (no
answers), 10% abandoned (the first answers only, ``question`` the one left open),
15% of conversations end without a goodbye and have none. ``stage`` and ``persona``
are the customer's current ones (the demo shop records no history before "now").
Sentiment columns stay empty for the sentiment job. Survey questions are not stored
as chat messages. Resolved handoffs keep ``assigned_staff_id`` (the agent who took it)
so the demo shows who helped; with no staff users it stays None.

It returns the number of rows added per kind (conversations, messages, events, escalated,
offer_issuances, surveys and surveys_<status>, follow_up_tasks) and of customers who got
conversations, and commits. It is deterministic: the same database, seed, ``now``,
``days`` and ``per_customer`` give the same rows.
Calling it again adds more conversations (new ids, drawn with the number of existing
conversations in the seed) on top of the first; ``demo.members`` calls it only on an empty
database. Customers' ``last_seen_at`` is moved up to their last conversation.

Why it is fast: customer, order, variant and offer data are read with a handful of
set-based queries; conversations are simulated in memory one batch of customers at a
time with ``random.Random``; rows are written with Core ``insert()`` executemany, with
ids reserved per batch (``reserve_ids``) so messages can name the message they answer
and coupon codes can carry their issuance id.
"""
from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate

import numpy as np
from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from api.core.config import PROJECT_ROOT
from api.db.base import utcnow
from demo.bulk import CHINA, HOUR_WEIGHT, reserve_ids, write_rows
from api.models import (Conversation, ConversationEvent, Customer, FollowUpTask, Message, Offer, OfferIssuance,
                        Order, ReplyVariant, StaffUser, Survey)
from api.models.customer import STAGE_LABELS
from api.models.order import ORDER_STATUS_LABELS
from api.services.escalation import escalation_reason
from api.services.handoff import CLAIMED_TEXT, RESOLVED_TEXT, WAITING_NEXT_TEXT, WAITING_TEXT
from api.domain.lifecycle import NOT_PURCHASES
from api.services.responses import ResponseCatalog, fill_variables
from api.services.variants import template_variables
from bot.order_text import order_detail

DAY = 86400
BATCH_CUSTOMERS = 2000  # simulated and written together; bounds the memory
REPURCHASE_DAYS = 30
MAX_WAIT = 3 * 3600  # the longest wait for a person, in seconds

# ---------------------------------------------------------------- the hidden model
STAGE_BASE = {"prospect": 3.9, "new": 4.0, "growing": 4.1, "stable": 4.3, "at_risk": 3.3, "churned": 3.1}
GREET_VARIANT_BONUS = 0.3
BEST_GREET_BONUS = 0.5
FALLBACK_COST = 0.35
NOT_FOUND_COST = 0.25
WAIT_COST = 0.45  # per doubling of (1 + wait minutes)
WAIT_AFTER_FALLBACK = 1.5
COMPLAINT_COST = 0.6
REPURCHASE_BONUS = 0.3
NOISE_SD = 0.5
# How often customers of each stage chat, relative to each other.
STAGE_ACTIVITY = {"prospect": 0.6, "new": 1.0, "growing": 1.3, "stable": 1.6, "at_risk": 1.0, "churned": 0.5}
TYPES = (("bargain", 0.25), ("guidance", 0.20), ("tracker", 0.25), ("ordinary", 0.30))
TYPE_CUM = list(accumulate(w for _, w in TYPES))
SURVEY_SHARES = (("completed", 0.60), ("declined", 0.15), ("abandoned", 0.10), (None, 0.15))
SURVEY_CUM = list(accumulate(w for _, w in SURVEY_SHARES))
QUESTIONS = ("overall", "quality", "service", "value", "innovation", "nps", "comment")

TOPICS = ("query_order", "ask_delivery", "return_refund", "ask_product", "ask_price", "ask_membership",
          "ask_offer", "faq", "complain", "request_human", "out_of_scope")
# What customers of each stage ask about, relative weights in TOPICS order.
STAGE_TOPICS = {
    "prospect": (0.2, 1.5, 0.1, 3.0, 2.0, 1.0, 2.0, 2.0, 0.1, 0.4, 0.4),
    "new": (3.0, 2.0, 1.0, 1.5, 1.0, 1.0, 1.0, 1.5, 0.4, 0.5, 0.3),
    "growing": (3.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.2, 1.0, 0.4, 0.5, 0.3),
    "stable": (3.0, 1.0, 1.0, 1.5, 0.8, 2.0, 1.0, 1.0, 0.4, 0.6, 0.3),
    "at_risk": (2.0, 1.0, 1.5, 1.0, 1.0, 1.0, 2.0, 0.8, 1.2, 0.8, 0.3),
    "churned": (1.0, 0.6, 1.0, 1.0, 1.2, 0.8, 2.5, 0.8, 1.2, 0.6, 0.3),
}
TYPE_TOPICS = {
    "bargain": {"ask_price": 3.0},  # and three times the offers: run_conversation
    "guidance": {"ask_product": 2.5, "faq": 2.5},
    "tracker": {"query_order": 3.0, "ask_delivery": 2.5},
    "ordinary": {},
}
TYPE_FALLBACK = {"bargain": 0.07, "guidance": 0.22, "tracker": 0.06, "ordinary": 0.07}
TYPE_MORE_TOPICS = {"bargain": 0.35, "guidance": 0.55, "tracker": 0.15, "ordinary": 0.3}
OFFER_RATE = {"prospect": 0.10, "new": 0.06, "growing": 0.07, "stable": 0.06, "at_risk": 0.15, "churned": 0.18}
SERVICE_HOURS = range(9, 22)  # shop time, as utter_faq/business_hours says

# ---------------------------------------------------------------- what customers say
SAY = {
    "greet": ["你好，在吗", "您好～有人在吗", "哈喽，想咨询一下", "在不在呀", "客服您好，打扰一下",
              "晚上好，想问点事情", "hello，请问有人吗", "亲，在的吗"],
    "query_order": ["我前几天买的东西怎么还没动静", "帮我看看我那单到哪儿了", "我的包裹现在到哪里了呀",
                    "东西发出来了吗，着急用", "物流好几天没更新了，帮我看看", "下单好几天了怎么还在仓库",
                    "想问下我的订单进度"],
    "query_order_no": ["订单号 {order_no}，帮我查查", "{order_no} 这单到哪了", "麻烦看下 {order_no} 的物流",
                       "我的单号是 {order_no}，现在什么状态", "查下 {order_no}，什么时候能到"],
    "order_no": ["{order_no}", "单号 {order_no}", "是这个：{order_no}", "这单 {order_no}"],
    "ask_delivery": ["下单后一般几天能到上海", "你们从哪里发货呀", "可以发顺丰吗，着急送人", "寄新疆要多久",
                     "今天下单明天能发出吗", "周末也发货吗", "默认走哪家快递"],
    "return_refund": ["收到的杯子有条裂纹，能换一个吗", "卫衣尺码不合适，想退掉", "退款申请三天了还没到账",
                      "茶叶还没拆封，可以退吗", "怎么申请退货啊", "退回去的运费谁出", "耳机左边没声音，想换货"],
    "ask_product": ["龙井是今年的新茶吗", "保温杯装热茶能保温多久", "紫砂壶是纯手工做的吗", "加绒卫衣会不会起球",
                    "磁吸充电宝能带上飞机吗", "面霜适合油皮用吗", "牛肉干辣不辣，小朋友能吃吗",
                    "珊瑚绒毛毯可以直接机洗吗", "普洱饼是生茶还是熟茶"],
    "ask_price": ["这个价格还能再便宜点吗", "一次买两件能打折吗", "昨天买的今天就降价了，能补差价吗",
                  "满减是结算时自动扣吗", "我的券为什么用不了", "凤梨酥礼盒多少钱一盒", "结算的时候怎么没减钱"],
    "ask_membership": ["我现在有多少积分了", "积分能换点什么", "会员要怎么升级", "稳定会员有哪些特权",
                       "我的积分年底会清零吗", "会员日是每个月哪天"],
    "ask_offer": ["领券", "有没有能用的优惠券", "这几天店里有啥活动", "老顾客有福利吗", "我想领那个回归礼",
                  "有新人券吗", "给我发个券呗"],
    # Complaints, by what went wrong (see _Simulator.complaint_bank).
    "complain_delivery": ["等了一个礼拜都没发货，太过分了", "说好发顺丰结果发了别的快递，骗人",
                          "物流五天没动了，你们到底管不管", "快递员态度太差了，还不送上门"],
    "complain_goods": ["收到的茶叶受潮结块了，太失望了", "东西是坏的，盒子也压扁了，你们怎么回事",
                       "质量跟图片差太远了，差评", "第二次发错货了，真的很生气"],
    "complain_refund": ["退款拖了这么久还没处理，非常不满意", "退货寄回去一周了还没退钱，什么意思"],
    "complain_service": ["这服务也太敷衍了，气死我了", "问了三遍都没人给个准话，太差劲了"],
    "request_human": ["帮我转个人工吧", "我要找人工客服", "能让真人来回答吗", "机器人说不清楚，换个人来",
                      "帮我接一下人工", "人工客服在吗"],
    "out_of_scope": ["你们老板是谁呀", "这周末杭州天气咋样", "你会唱歌吗", "帮我写个请假条", "推荐部好看的电视剧",
                     "你今年几岁啦"],
    "fallback": ["那个呢", "上次说的那个怎么样了", "？？？", "嗯……就是那个", "你们那边那个东西", "emmm",
                 "怎么弄啊", "啊这", "就之前那个"],
    "affirm": ["好的呀", "行啊，可以", "嗯，麻烦了", "行，转吧", "是的，需要"],
    "deny": ["不用啦，谢谢", "先不麻烦了", "暂时用不上", "先不转，我自己看看"],
    "thank": ["太好了，谢谢你！", "明白了，非常感谢", "好的好的，很贴心，谢谢", "解决了，谢谢客服",
              "谢谢，回复很及时", "感谢，很满意"],
    "ack": ["好的，知道了", "嗯嗯，明白", "哦，好吧", "行，我再看看"],
    "goodbye": ["好滴，拜拜啦", "那先这样，再见", "没别的事了，拜拜～", "好嘞，回头见", "再见啦"],
    "goodbye_sour": ["算了，不问了", "问了半天也没解决，再见", "行吧，太失望了，拜拜", "不想说了，就这样吧"],
    # Not sent to the bot: typed while waiting for a person or talking to one.
    "waiting": ["还要等多久呀", "请问有人在吗？？", "人工还没来吗", "请问还在排队吗"],
    "waiting_angry": ["等了这么久还没人理，太差劲了", "都十几分钟了，到底有没有人", "排了半天队，服务也太慢了",
                      "你们客服是下班了吗，一直没人回"],
    "to_staff": ["好的，麻烦你了", "那大概什么时候能处理好？", "嗯，照片我等下发给你", "好，那我等你们消息"],
    "staff_bye_good": ["好的，谢谢你，很耐心！", "解决了，太感谢了", "辛苦了，谢谢～"],
    "staff_bye_ok": ["行吧，那就这样", "好，知道了"],
    "staff_bye_bad": ["等了这么久就这个结果？很不满意", "算了，太失望了", "问题还是没解决，无语"],
}
FAQ_SAY = {
    "shipping_fee": ["满多少可以免运费", "这单要付运费吗"],
    "payment_methods": ["能用花呗付款吗", "可以信用卡分期吗"],
    "invoice": ["能给我开个电子发票吗", "发票可以写公司抬头吗"],
    "business_hours": ["人工几点上班呀", "晚上十点后还有人工吗"],
    "change_address": ["地址填错了，还能改吗", "收货电话写错了怎么改"],
    "cancel_order": ["刚下的单不想要了，怎么取消", "还没发货的单能直接取消吗"],
    "warranty": ["耳机坏了还在保修期吗", "充电头保修多久"],
    "size_guide": ["我 170 穿多大码", "卫衣偏大还是偏小"],
}
STAFF_SAY = {
    "order": ["您好，我查了一下，您的包裹已经到当地转运中心，预计明天送达，请留意电话～",
              "已经帮您催了仓库，今天下午会优先发出，稍后同步运单号给您。",
              "快递那边我已经登记加急了，有进展第一时间告诉您。"],
    "refund": ["您好，退货申请我这边已经帮您审核通过，寄回后 1–3 个工作日退款到账。",
               "麻烦您拍一下商品问题的照片，我这边给您登记换新。",
               "退款已经加急处理，预计今天内原路退回，给您添麻烦了。"],
    "complaint": ["非常抱歉给您带来不好的体验，这边给您补发一件新的，运费由我们承担。",
                  "您反馈的问题已经记录并上报主管，今天内一定给您处理结果。",
                  "真的很抱歉，这单给您全额退款，商品不用寄回了。"],
    "general": ["您好，我是人工客服，请问具体遇到什么问题了？", "好的，这个问题我帮您记下了，还有其他需要吗？",
                "您说的情况我明白了，我这边马上帮您处理。"],
}
STAFF_DONE = "问题已经为您处理好了，如还有其他需要随时联系我们，祝您生活愉快～"
COMMENTS = {
    "good": ["整体体验不错，点赞", "服务贴心，很满意", "回复很快，问题一下就解决了", "机器人挺聪明的，查物流很方便"],
    "good_staff": ["人工客服态度很好，耐心解答", "转人工很快，客服专业又热情"],
    "good_offer": ["券很实在，下次还来买", "老顾客的回归礼很贴心，已经下单了"],
    "mixed": ["还行吧，就是回复有点慢", "问题解决了，但过程有点绕", "一般般，希望机器人能更懂我",
              "还可以，优惠力度再大点就好了"],
    "bad_wait": ["排队等人工等了太久，体验很差", "转人工等了十几分钟才有人回，太慢了"],
    "bad_fallback": ["机器人根本听不懂我在说什么，答非所问", "说了好几遍都没理解，浪费时间"],
    "bad_goods": ["东西质量有问题，处理得也不积极", "发错货还要我自己跑快递点，很不满意"],
    "bad": ["很失望，问题没解决", "服务太差了，不会再来了"],
}
REPLIES = {
    "good": ["感谢您的认可！我们会继续努力，期待再次为您服务～", "谢谢您的好评，祝您生活愉快！"],
    "mixed": ["感谢您的宝贵建议，我们会持续改进～", "收到您的反馈，我们会努力做得更好。"],
    "bad": ["非常抱歉给您带来不好的体验，客服主管会在 24 小时内联系您处理。",
            "真的很抱歉，您的反馈已转给专人跟进，我们会尽快给您答复。"],
}
FOLLOW_UP_OUTCOMES = ["已电话联系顾客并致歉，补发无门槛 10 元券，顾客表示接受。", "已为顾客办理换货，顾客表示满意。",
                      "顾客未接电话，已短信致歉并留言。", "已加急退款，顾客确认到账。"]


# ---------------------------------------------------------------- hidden qualities
def _unit(seed: int, kind: str, key: object) -> float:
    """A number in [0, 1) fixed by (seed, kind, key): the same on every machine and run."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def greet_qualities(variants: Iterable[tuple[int, str, str | None]], seed: int = 20261122) -> dict[int, float]:
    """Hidden quality of each ``utter_greet`` variant, given as (id, stage, persona).

    Every variant gets a value in [-0.25, 0.15] from its id and the seed; in a (stage,
    persona) group with alternatives the one with the highest value gets +0.5 more.
    """
    groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for vid, stage, persona in variants:
        groups[(stage, persona)].append(vid)
    quality = {}
    for ids in groups.values():
        for vid in ids:
            quality[vid] = -0.25 + 0.4 * _unit(seed, "greet", vid)
        if len(ids) > 1:
            best = max(ids, key=lambda v: (quality[v], v))
            quality[best] += BEST_GREET_BONUS
    return quality


def offer_appeals(offers: Iterable[tuple[int, list]], seed: int = 20261122) -> dict[int, float]:
    """Hidden appeal of each chat offer, given as (id, stages), in [0, 1): the higher, the
    happier the customer and the likelier to buy again.

    Every offer gets a value in [0, 0.6) from its id and the seed; among the offers of a
    stage (an empty ``stages`` list means every stage) the one with the highest value gets
    +0.4 more when there are alternatives: one offer per group is clearly better.
    """
    offers = list(offers)
    appeal = {oid: 0.6 * _unit(seed, "offer", oid) for oid, _ in offers}
    best = set()
    for stage in STAGE_BASE:
        group = [oid for oid, stages in offers if not stages or stage in stages]
        if len(group) > 1:
            best.add(max(group, key=lambda o: (appeal[o], o)))
    return {oid: a + 0.4 * (oid in best) for oid, a in appeal.items()}


def customer_type(customer_id: int, seed: int = 20261122) -> str:
    """The hidden kind of customer: bargain, guidance, tracker or ordinary."""
    return TYPES[bisect.bisect(TYPE_CUM, _unit(seed, "type", customer_id) * TYPE_CUM[-1])][0]


# ---------------------------------------------------------------- what the shop holds
@lru_cache(maxsize=1)
def _catalog() -> ResponseCatalog:
    return ResponseCatalog.from_files(PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data")


@dataclass
class _Variant:
    id: int
    text: str
    weight: float
    persona: str | None
    variables: frozenset[str]


@dataclass
class _Offer:
    id: int
    title: str
    detail: str
    stages: list
    priority: int
    stage_weights: dict
    period_days: int
    valid_days: int
    prefix: str | None
    starts_on: date | None
    ends_on: date | None
    appeal: float


@dataclass
class _Customer:
    id: int
    stage: str
    persona: str | None
    values: dict  # reply variables: name, points, stage_name
    kind: str
    grump: float
    wechat: float
    orders: list  # (placed, shipped, delivered, status, order_no, carrier, tracking_no), seconds from origin
    paid: list  # placed seconds of paid orders, sorted
    older_orders: int  # orders placed before the loaded ones
    issued: list = field(default_factory=list)  # (offer, issued, expires, redeemed, local issuance index)
    last_activity: int | None = None


@dataclass
class _Conv:
    id: str
    customer: _Customer
    channel: str
    t: int
    order: tuple | None
    fallbacks: int = 0
    streak: int = 0
    not_found: int = 0
    greet_quality: float | None = None  # None: no variant greeting
    offer: float | None = None  # appeal of the offer issued
    complaint: bool = False
    escalated: tuple | None = None  # (reason, at, staff topic), then (…, staff id) once claimed


class _Batch:
    """Rows of one batch of customers, with local ids until ids are reserved."""

    def __init__(self) -> None:
        self.conversations: list[dict] = []
        self.messages: list[dict] = []
        self.events: list[dict] = []
        self.issuances: list[dict] = []
        self.surveys: list[dict] = []
        self.tasks: list[dict] = []  # survey_id: local survey index
        self.deferred: list[tuple[int, int, str, dict]] = []  # offer texts waiting for their coupon code


class _Simulator:
    def __init__(self, seed: int, origin: datetime, end: int, catalog: ResponseCatalog,
                 variants: dict, greet_quality: dict, offers: dict, staff: list, id_seed: str) -> None:
        self.r = random.Random(seed)
        self.ids = random.Random(id_seed)
        self.seed, self.origin, self.end = seed, origin, end
        self.catalog, self.variants, self.greet_quality = catalog, variants, greet_quality
        self.offers, self.staff = offers, staff
        local = origin + CHINA
        self.local_offset = local.hour * 3600 + local.minute * 60 + local.second
        self.hour_cum = list(accumulate(HOUR_WEIGHT.tolist()))
        self.batch = _Batch()

    # -- helpers -----------------------------------------------------------
    def dt(self, t: int) -> datetime:
        return self.origin + timedelta(seconds=t)

    def local_hour(self, t: int) -> int:
        return (self.local_offset + t) // 3600 % 24

    def _message(self, c: _Conv, author: str, text: str | None, *, intent=None, conf=None, template=None,
                 variant_id=None, reply_to=None, staff_id=None) -> int:
        b = self.batch
        local = len(b.messages)
        b.messages.append({
            "id": local, "conversation_id": c.id, "direction": "inbound" if author == "customer" else "outbound",
            "author": author, "text": text, "intent": intent, "intent_confidence": conf, "template": template,
            "staff_id": staff_id, "variant_id": variant_id, "reply_to_id": reply_to, "created_at": c.t})
        return local

    def customer(self, c: _Conv, key_or_text: str, intent: str | None, *, pause=None, lo=0.7, hi=0.99,
                 **fill) -> int:
        r = self.r
        c.t += pause if pause is not None else int(r.lognormvariate(math.log(18), 0.6)) + 3
        text = r.choice(SAY[key_or_text]) if key_or_text in SAY else key_or_text
        if fill:
            text = text.format(**fill)
        conf = round(r.uniform(lo, hi), 4) if intent else None
        return self._message(c, "customer", text, intent=intent, conf=conf)

    def choose_variant(self, template: str, c: _Conv, values: dict) -> _Variant | None:
        pool = self.variants.get((template, c.customer.stage))
        if not pool:
            return None
        persona = c.customer.persona
        usable = [v for v in pool if v.variables <= values.keys() and v.persona in (None, persona)]
        own = [v for v in usable if persona is not None and v.persona == persona]
        usable = own or usable
        if not usable:
            return None
        return usable[0] if len(usable) == 1 else self.r.choices(usable, [v.weight for v in usable])[0]

    def bot(self, c: _Conv, template: str, reply_to: int, defer_issuance: int | None = None, **extra) -> int:
        c.t += self.r.randint(1, 3)
        values = {**c.customer.values, **extra}
        if defer_issuance is not None:
            values["coupon_code"] = ""  # known once the issuance has its id
        variant = self.choose_variant(template, c, values)
        if variant is not None:
            raw = variant.text
        else:
            options = [x.text for x in self.catalog.responses.get(template, []) if x.channel in (None, c.channel)]
            raw = options[0] if len(options) == 1 else (self.r.choice(options) if options else "好的～")
        local = self._message(c, "bot", None if defer_issuance is not None else fill_variables(raw, values),
                              template=template, variant_id=variant.id if variant else None, reply_to=reply_to)
        if defer_issuance is not None:
            self.batch.deferred.append((local, defer_issuance, raw, values))
        if template == "utter_greet" and variant is not None:
            c.greet_quality = self.greet_quality.get(variant.id, 0.0)
        return local

    def system(self, c: _Conv, text: str, reply_to: int | None = None, pause: int = 1) -> int:
        c.t += pause
        return self._message(c, "system", text, reply_to=reply_to)

    def event(self, c: _Conv, kind: str, staff_id: int | None = None, **detail) -> None:
        self.batch.events.append({"conversation_id": c.id, "kind": kind, "staff_id": staff_id, "text": None,
                                  "detail": detail, "at": c.t})

    @staticmethod
    def escalation(c: _Conv, template: str, intent: str, previous_template: str | None = None) -> str | None:
        """The service's own rule (api/services/escalation.py) on the simulated turn; the
        demo's complaints are not scored for sentiment (their wording is canned)."""
        return escalation_reason(templates=[template], intent=intent, previous_bot_template=previous_template,
                                 stage=c.customer.stage, persona=c.customer.persona, text="",
                                 scorer=lambda _text: 1.0)

    def escalate(self, c: _Conv, reason: str, reply_to: int, topic: str) -> None:
        c.escalated = (reason, c.t, topic)
        ahead = self.r.choice((0, 0, 0, 1, 2, 3))
        self.system(c, WAITING_TEXT.format(ahead=ahead) if ahead else WAITING_NEXT_TEXT, reply_to, pause=0)

    # -- one customer ------------------------------------------------------
    def run_customer(self, cu: _Customer, n: int, first_seen: int) -> None:
        r = self.r
        start = max(0, first_seen)
        latest = self.end - MAX_WAIT - 3600  # so that every conversation is over by "now"
        if n == 0 or start >= latest:
            return
        recent = [o for o in cu.orders if start <= o[0] < latest - DAY]
        plans = []
        for _ in range(n):
            if recent and r.random() < 0.45:  # a few days after an order, about it
                o = r.choice(recent)
                t = min(latest, o[0] + int(r.uniform(0.2, 6) * DAY))
                plans.append((t, o))
            else:
                day = r.uniform(start / DAY, latest / DAY)
                hour = bisect.bisect(self.hour_cum, r.random() * self.hour_cum[-1])
                t = int(day) * DAY + (hour * 3600 - self.local_offset) % DAY + r.randrange(3600)
                plans.append((min(max(t, start), latest), None))
        plans.sort(key=lambda p: p[0])
        for t, o in plans:
            if cu.last_activity is not None and t < cu.last_activity + 600:
                t = cu.last_activity + 600  # one conversation at a time
            if t > latest:
                break
            self.run_conversation(cu, t, o)

    def topics(self, c: _Conv, wants_offer: bool) -> list[str]:
        r, cu = self.r, c.customer
        weights = list(STAGE_TOPICS[cu.stage])
        for name, factor in TYPE_TOPICS[cu.kind].items():
            weights[TOPICS.index(name)] *= factor
        weights[TOPICS.index("complain")] *= 0.5 + 4 * cu.grump
        weights[TOPICS.index("ask_offer")] = 0.0  # decided separately (wants_offer)
        k = 1 + (r.random() < TYPE_MORE_TOPICS[cu.kind]) + (r.random() < TYPE_MORE_TOPICS[cu.kind] / 2)
        chosen = []
        if c.order is not None:
            chosen.append(self.order_topic(c))
        while len(chosen) < k:
            topic = r.choices(TOPICS, weights)[0]
            if topic not in chosen:
                chosen.append(topic)
        if wants_offer:
            chosen.insert(r.randrange(len(chosen) + 1), "ask_offer")
        return chosen

    def order_topic(self, c: _Conv) -> str:
        r = self.r
        o = c.order
        status = _status_at(o, c.t)
        if o[3] in ("refunded", "refunding") and r.random() < 0.9:
            return "return_refund"
        if o[3] == "cancelled":
            return "faq"
        if status in ("paid", "shipped", "pending_payment"):
            return "query_order" if r.random() < 0.8 else "ask_delivery"
        x = r.random()  # delivered: most ask about the goods, a few are unhappy with them
        if x < 0.1 + 0.3 * c.customer.grump:
            return "complain"
        return "return_refund" if x < 0.3 else ("ask_product" if x < 0.7 else "query_order")

    def run_conversation(self, cu: _Customer, t: int, order: tuple | None) -> None:
        r = self.r
        c = _Conv("%032x" % self.ids.getrandbits(128), cu, "wechat" if r.random() < cu.wechat else "web", t, order)
        i = bisect.bisect_right(cu.paid, t)
        repurchased = i < len(cu.paid) and cu.paid[i] <= t + REPURCHASE_DAYS * DAY
        wants_offer = r.random() < (OFFER_RATE[cu.stage] * (3.0 if cu.kind == "bargain" else 1.0)
                                    * (1.6 if repurchased else 1.0))
        noise = r.gauss(0, NOISE_SD)
        c.t -= 10  # the first message comes at t
        if r.random() < 0.78:
            m = self.customer(c, "greet", "greet", pause=10, lo=0.85)
            self.bot(c, "utter_greet", m)
        for topic in self.topics(c, wants_offer):
            self.topic(c, topic, repurchased)
            if c.escalated:
                break
        wait = self.handoff(c) if c.escalated else None
        understanding = -FALLBACK_COST * c.fallbacks - NOT_FOUND_COST * c.not_found
        if wait is not None:
            understanding -= WAIT_COST * math.log2(1 + wait / 60) * (WAIT_AFTER_FALLBACK if c.fallbacks else 1.0)
        greeting = GREET_VARIANT_BONUS + c.greet_quality if c.greet_quality is not None else 0.0
        offer = 0.1 + 0.5 * c.offer if c.offer is not None else 0.0
        rebuy = REPURCHASE_BONUS if repurchased else 0.0
        complaint = -COMPLAINT_COST if c.complaint else 0.0
        base = STAGE_BASE[cu.stage]
        latent = base + greeting + understanding + offer + rebuy + complaint + noise
        status = SURVEY_SHARES[bisect.bisect(SURVEY_CUM, r.random() * SURVEY_CUM[-1])][0]
        if c.escalated:
            self.finish_handoff(c, latent)
        else:
            self.closing(c, latent, say_goodbye=status is not None)
        esc = c.escalated
        self.batch.conversations.append({
            "id": c.id, "customer_id": cu.id, "channel": c.channel, "status": "closed", "handler": "bot",
            "assigned_staff_id": esc[3] if esc else None, "preferred_staff_id": None,
            "escalated_at": esc[1] if esc else None, "claimed_at": esc[1] + wait if esc else None,
            "needs_attention": False, "attention_reason": esc[0] if esc else None,
            "started_at": t, "last_activity_at": c.t,
            # Resolving closes a handoff; otherwise the conversation closes when it has been idle.
            "closed_at": c.t if esc else min(self.end, c.t + 1800)})
        cu.last_activity = c.t if cu.last_activity is None else max(cu.last_activity, c.t)
        if status is None:
            return
        scores = {
            "overall": latent,
            "quality": base + 0.3 * greeting + 2.0 * complaint + 1.6 * rebuy + 0.8 * noise + r.gauss(0, 0.45),
            "service": base + 0.6 * greeting + 1.6 * understanding + 0.8 * complaint + 0.8 * noise + r.gauss(0, 0.45),
            "value": base - 0.1 + 1.8 * offer + 0.2 * understanding + rebuy + 0.8 * noise + r.gauss(0, 0.5),
            "innovation": base - 0.3 + 0.4 * greeting + 0.6 * noise + r.gauss(0, 0.6),
        }
        answers = {k: min(5, max(1, round(v))) for k, v in scores.items()}
        answers["nps"] = min(10, max(0, round(2.6 * latent - 3.0 + r.gauss(0, 0.8))))
        self.survey(c, status, answers, wait)

    # -- the parts of a conversation ---------------------------------------
    def topic(self, c: _Conv, topic: str, repurchased: bool) -> None:
        r, cu = self.r, c.customer
        p_fallback = TYPE_FALLBACK[cu.kind]
        while r.random() < p_fallback:
            m = self.customer(c, "fallback", "nlu_fallback", lo=0.2, hi=0.49)
            self.bot(c, "utter_default", m)
            c.fallbacks += 1
            c.streak += 1
            reason = self.escalation(c, "utter_default", "nlu_fallback",
                                     "utter_default" if c.streak == 2 else None)
            if reason:  # two misunderstandings in a row: a person takes over
                self.escalate(c, reason, m, "general")
                return
        c.streak = 0
        if topic == "query_order":
            self.query_order(c)
        elif topic == "return_refund":
            m = self.customer(c, "return_refund", "return_refund")
            self.bot(c, "utter_return_refund", m)
            if r.random() < 0.3 + 0.3 * cu.grump:
                m = self.customer(c, "affirm", "affirm")
                self.bot(c, "utter_handoff", m)
                self.escalate(c, "handoff_requested", m, "refund")
            elif r.random() < 0.5:
                m = self.customer(c, "deny", "deny")
                self.bot(c, "utter_anything_else", m)
        elif topic == "complain":
            c.complaint = True
            m = self.customer(c, self.complaint_bank(c), "complain")
            self.bot(c, "utter_complain", m)
            if reason := self.escalation(c, "utter_complain", "complain"):
                self.escalate(c, reason, m, "complaint")
            elif r.random() < 0.7:
                m = self.customer(c, "affirm", "affirm")
                self.bot(c, "utter_handoff", m)
                self.escalate(c, "handoff_requested", m, "complaint")
            else:
                m = self.customer(c, "deny", "deny")
                self.bot(c, "utter_complain_noted", m)
        elif topic == "request_human":
            m = self.customer(c, "request_human", "request_human")
            self.bot(c, "utter_handoff", m)
            self.escalate(c, "handoff_requested", m, "order" if c.order is not None else "general")
        elif topic == "ask_offer":
            self.ask_offer(c, repurchased)
        elif topic == "faq":
            key = "cancel_order" if c.order is not None and c.order[3] == "cancelled" else r.choice(list(FAQ_SAY))
            m = self.customer(c, r.choice(FAQ_SAY[key]), "faq")
            self.bot(c, f"utter_faq/{key}", m)
        else:
            template = {"ask_delivery": "utter_delivery", "ask_product": "utter_ask_product",
                        "ask_price": "utter_price", "ask_membership": "utter_membership",
                        "out_of_scope": "utter_out_of_scope"}[topic]
            m = self.customer(c, topic, topic, lo=0.5 if topic == "out_of_scope" else 0.7)
            self.bot(c, template, m)

    def complaint_bank(self, c: _Conv) -> str:
        """What the complaint is about: the order the conversation is about, if any."""
        if c.order is None:
            return self.r.choice(("complain_delivery", "complain_goods", "complain_refund", "complain_service"))
        status = _status_at(c.order, c.t)
        if status in ("refunding", "refunded"):
            return "complain_refund"
        return "complain_delivery" if status in ("paid", "shipped", "pending_payment") else "complain_goods"

    def query_order(self, c: _Conv) -> None:
        r, cu = self.r, c.customer
        before = [o for o in cu.orders if o[0] < c.t]
        o = c.order or (before[-1] if before else None)
        if o is None:
            if cu.older_orders:  # only orders from long ago (not loaded): ask about delivery instead
                m = self.customer(c, "ask_delivery", "ask_delivery")
                self.bot(c, "utter_delivery", m)
                return
            m = self.customer(c, "query_order", "query_order")
            self.bot(c, "utter_no_orders", m)
            return
        if r.random() < 0.5:
            typo = r.random() < 0.1
            if typo:
                wrong = o[4][:-4] + f"{r.randrange(10000):04d}"
                m = self.customer(c, "query_order_no", "query_order", order_no=wrong)
                self.bot(c, "utter_order_not_found", m, order_no=wrong)
                c.not_found += 1
                m = self.customer(c, "order_no", "query_order", order_no=o[4])
            else:
                m = self.customer(c, "query_order_no", "query_order", order_no=o[4])
        else:
            m = self.customer(c, "query_order", "query_order")
            listed = [x for x in before if x[0] > c.t - 60 * DAY][-3:]
            if len(listed) > 1:
                lines = "\n".join(f"{x[4]}：{ORDER_STATUS_LABELS.get(_status_at(x, c.t), x[3])}" for x in listed)
                self.bot(c, "utter_recent_orders", m, order_list=lines)
                m = self.customer(c, "order_no", "query_order", order_no=o[4])
        status = _status_at(o, c.t)
        self.bot(c, "utter_order_status", m, order_no=o[4], order_status=ORDER_STATUS_LABELS.get(status, status),
                 order_detail=_order_detail(o, status, self.local_day))

    def local_day(self, t: int) -> str:
        d = self.dt(t) + CHINA
        return f"{d.month}月{d.day}日"

    def ask_offer(self, c: _Conv, repurchased: bool) -> None:
        r, cu = self.r, c.customer
        m = self.customer(c, "ask_offer", "ask_offer")
        today = (self.dt(c.t) + CHINA).date()
        offers = [o for o in self.offers.get(cu.stage, [])
                  if (o.starts_on is None or o.starts_on <= today) and (o.ends_on is None or today <= o.ends_on)]
        last = {}
        for offer, issued, *_ in cu.issued:
            last[offer.id] = issued
        free = [o for o in offers if o.id not in last or c.t - last[o.id] >= o.period_days * DAY]
        if free:
            top = max(o.priority for o in free)
            pool = [o for o in free if o.priority == top]
            # Customers who will buy again get the better offers more often (see the module doc).
            weights = [float(o.stage_weights.get(cu.stage, 1.0)) * ((0.4 + o.appeal) if repurchased
                                                                    else (1.4 - o.appeal)) for o in pool]
            offer = pool[0] if len(pool) == 1 else r.choices(pool, weights)[0]
            self.issue(c, offer, m)
            return
        held = [x for x in cu.issued if x[0].prefix and x[2] > c.t and (x[3] is None or x[3] > c.t)]
        if held:
            offer, issued, expires, _, local = held[-1]
            self.bot(c, "utter_offer_again", m, defer_issuance=local, offer_title=offer.title,
                     expires_on=self.local_day(expires))
        else:
            self.bot(c, "utter_no_offer", m)

    def issue(self, c: _Conv, offer: _Offer, reply_to: int) -> None:
        cu, b = c.customer, self.batch
        issued = c.t + 1
        expires = issued + offer.valid_days * DAY
        i = bisect.bisect_right(cu.paid, issued)
        redeemed = cu.paid[i] if offer.prefix and i < len(cu.paid) and cu.paid[i] <= min(expires, self.end) else None
        local = len(b.issuances)
        b.issuances.append({"id": local, "offer_id": offer.id, "customer_id": cu.id, "stage": cu.stage,
                            "trigger": "chat", "conversation_id": c.id, "coupon_code": offer.prefix,
                            "issued_at": issued, "expires_at": expires, "redeemed_at": redeemed})
        cu.issued.append((offer, issued, expires, redeemed, local))
        c.offer = offer.appeal
        if offer.prefix:
            self.bot(c, "utter_offer", reply_to, defer_issuance=local, offer_title=offer.title,
                     offer_detail=offer.detail, expires_on=self.local_day(expires))
        else:
            self.bot(c, "utter_offer_benefit", reply_to, offer_title=offer.title, offer_detail=offer.detail)

    def handoff(self, c: _Conv) -> int:
        """Waiting, claimed, a few staff replies, resolved. Returns the wait in seconds."""
        r = self.r
        reason, at, topic = c.escalated
        hour = self.local_hour(at)
        if hour in SERVICE_HOURS:
            wait = r.lognormvariate(math.log(60), 0.9) * (1.8 if hour >= 19 else 1.0)
        else:
            wait = r.lognormvariate(math.log(900), 0.6)
        wait = int(min(max(wait, 5), MAX_WAIT))
        staff = r.choice(self.staff) if self.staff else (None, "值班客服")
        c.escalated = (reason, at, topic, staff[0])
        self.event(c, "escalated", reason=reason)
        if wait > 120:
            c.t = at + int(wait * r.uniform(0.3, 0.6))
            self.customer(c, "waiting", None, pause=0)
        if wait > 600:
            c.t = at + int(wait * r.uniform(0.7, 0.95))
            self.customer(c, "waiting_angry", None, pause=0)
        c.t = at + wait
        self.event(c, "claimed", staff[0], waited_seconds=wait)
        self.system(c, CLAIMED_TEXT.format(name=staff[1]), pause=0)
        for k, text in enumerate(r.sample(STAFF_SAY[topic], r.choice((1, 1, 2, 2, 3)))):
            if k:
                self.customer(c, "to_staff", None)
            c.t += r.randint(20, 90)
            m = self._message(c, "staff", text, staff_id=staff[0])
            self.event(c, "staff_reply", staff[0], message_id=m)
        return wait

    def finish_handoff(self, c: _Conv, latent: float) -> None:
        r = self.r
        staff_id = c.escalated[3]
        self.customer(c, "staff_bye_good" if latent >= 3.8 else ("staff_bye_bad" if latent < 2.6
                                                                 else "staff_bye_ok"), None)
        c.t += r.randint(10, 40)
        m = self._message(c, "staff", STAFF_DONE, staff_id=staff_id)
        self.event(c, "staff_reply", staff_id, message_id=m)
        c.t += r.randint(5, 60)
        self.event(c, "resolved", staff_id)
        self.system(c, RESOLVED_TEXT, pause=0)

    def closing(self, c: _Conv, latent: float, say_goodbye: bool) -> None:
        r = self.r
        if latent >= 4.0 and r.random() < 0.8:
            m = self.customer(c, "thank", "thank", lo=0.85)
            self.bot(c, "utter_thank", m)
        elif latent >= 2.7:
            m = self.customer(c, "ack", "affirm", lo=0.6)
            self.bot(c, "utter_anything_else", m)
            if say_goodbye and r.random() < 0.5:
                m = self.customer(c, "deny", "deny")
                self.bot(c, "utter_goodbye", m)
                return
        elif say_goodbye:  # unhappy: leaves with a sour remark
            m = self.customer(c, "goodbye_sour", "goodbye", lo=0.55, hi=0.9)
            self.bot(c, "utter_goodbye", m)
            return
        if say_goodbye:
            m = self.customer(c, "goodbye", "goodbye", lo=0.85)
            self.bot(c, "utter_goodbye", m)

    def survey(self, c: _Conv, status: str, answers: dict, wait: int | None) -> None:
        r, b, cu = self.r, self.batch, c.customer
        started = c.t + r.randint(1, 5)
        row = {"conversation_id": c.id, "customer_id": cu.id, "channel": c.channel, "stage": cu.stage,
               "persona": cu.persona, "trigger": "resolved" if c.escalated else "goodbye", "status": status,
               "question": None, "overall": None, "quality": None, "service": None, "value": None,
               "innovation": None, "nps": None, "comment": None, "comment_sentiment": None, "comment_score": None,
               "reply": None, "started_at": started, "finished_at": None}
        if status == "declined":
            row["finished_at"] = started + r.randint(3, 20)
        elif status == "abandoned":
            k = r.randint(1, len(QUESTIONS) - 1)
            for q in QUESTIONS[:k]:
                row[q] = answers[q]
            row["question"] = QUESTIONS[k]
        else:
            row.update(answers)
            overall = answers["overall"]
            finished = started + r.randint(15, 120)
            row["finished_at"] = finished
            if r.random() < (0.65 if overall <= 2 else 0.35 if overall == 3 else 0.3):
                mood = "bad" if overall <= 2 else "mixed" if overall == 3 else "good"
                bank = mood
                if mood == "bad":
                    bank = ("bad_wait" if wait is not None and wait > 300 else "bad_fallback" if c.fallbacks
                            else "bad_goods" if c.complaint else "bad")
                elif mood == "good" and r.random() < 0.5:
                    bank = ("good_staff" if c.escalated and wait is not None and wait < 180
                            else "good_offer" if c.offer is not None else "good")
                row["comment"] = r.choice(COMMENTS[bank])
                row["reply"] = r.choice(REPLIES[mood])
                if mood == "bad":
                    done = finished < self.end - 3 * DAY and r.random() < 0.9
                    done_at = min(self.end, finished + r.randint(3600, 48 * 3600)) if done else None
                    b.tasks.append({"customer_id": cu.id, "conversation_id": c.id, "survey_id": len(b.surveys),
                                    "reason": "negative_comment", "detail": f"顾客评价：{row['comment']}",
                                    "status": "done" if done else "open", "created_at": finished,
                                    "done_at": done_at, "done_by": c.escalated[3] if done and c.escalated
                                    else (self.staff[0][0] if done and self.staff else None),
                                    "outcome": r.choice(FOLLOW_UP_OUTCOMES) if done else None})
        b.surveys.append(row)


def _status_at(o: tuple, t: int) -> str:
    """An order's status as the customer saw it at time t (its stored status is today's)."""
    shipped, delivered, status = o[1], o[2], o[3]
    if status in NOT_PURCHASES and status != "refunded":
        return status
    if delivered is not None and delivered <= t:
        if status in ("refunding", "refunded"):
            return status
        return "completed" if t - delivered > 7 * DAY else "delivered"
    if shipped is not None and shipped <= t:
        return "shipped"
    return "paid"


def _order_detail(o: tuple, status: str, day) -> str:
    """As the action server says it (bot/order_text.py)."""
    return order_detail(status, carrier=o[5], tracking_no=o[6], shipped_on=day(o[1]) if o[1] is not None else "",
                        delivered_on=day(o[2]) if o[2] is not None else "")


# ---------------------------------------------------------------- the entry point
def generate_demo_conversations(db: Session, *, per_customer: float = 3.0, seed: int = 20261122,
                                now: datetime | None = None, days: int = 180) -> dict[str, int]:
    """Add conversations, handoffs, offers, surveys and follow-ups (see the module doc).

    Returns how many rows of each kind were added. Commits.
    """
    if per_customer < 0 or days < 1:
        raise ValueError("per_customer must be >= 0 and days >= 1")
    if now is None:
        now = utcnow()
    elif now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    origin = now - timedelta(days=days)
    end = days * DAY

    def secs(d: datetime | None) -> int | None:
        return None if d is None else int((d - origin).total_seconds())

    # 1. What the shop holds, read set by set.
    c = Customer.__table__.c
    customers = db.execute(select(c.id, c.stage, c.persona, c.display_name, c.points, c.first_seen_at)
                           .where(c.merged_into_id.is_(None)).order_by(c.id)).all()
    o = Order.__table__.c
    loaded_from = origin - timedelta(days=60)
    channel_rows = db.execute(select(o.customer_id, func.count(),
                                     func.sum(case((o.channel == "wechat", 1), else_=0)),
                                     func.sum(case((o.placed_at < loaded_from, 1), else_=0)))
                              .group_by(o.customer_id)).all()
    channels = {cid: ((w or 0) + 1) / (n + 2) for cid, n, w, _ in channel_rows}
    older = {cid: int(k or 0) for cid, _, _, k in channel_rows}
    orders: dict[int, list] = defaultdict(list)
    for row in db.execute(select(o.customer_id, o.placed_at, o.shipped_at, o.delivered_at, o.status, o.order_no,
                                 o.carrier, o.tracking_no).where(o.placed_at >= loaded_from)
                          .order_by(o.customer_id, o.placed_at, o.id)):
        orders[row[0]].append((secs(row[1]), secs(row[2]), secs(row[3]), row[4], row[5], row[6], row[7]))
    v = ReplyVariant.__table__.c
    variants: dict[tuple[str, str], list[_Variant]] = defaultdict(list)
    greet_rows = []
    for vid, template, stage, persona, text, weight in db.execute(
            select(v.id, v.template, v.stage, v.persona, v.text, v.weight)
            .where(v.enabled.is_(True), v.weight > 0).order_by(v.id)):
        try:
            names = frozenset(template_variables(text))
        except ValueError:
            continue
        variants[(template, stage)].append(_Variant(vid, text, weight, persona, names))
        if template == "utter_greet":
            greet_rows.append((vid, stage, persona))
    greet_quality = greet_qualities(greet_rows, seed)
    f = Offer.__table__.c
    offers: dict[str, list[_Offer]] = defaultdict(list)
    offer_rows = db.execute(select(f.id, f.title, f.detail, f.stages, f.priority, f.stage_weights, f.period_days,
                                   f.valid_days, f.coupon_prefix, f.starts_on, f.ends_on)
                            .where(f.enabled.is_(True), f.trigger == "chat").order_by(f.id)).all()
    appeals = offer_appeals(((row.id, list(row.stages or [])) for row in offer_rows), seed)
    for row in offer_rows:
        offer = _Offer(row.id, row.title, row.detail, list(row.stages or []), row.priority,
                       dict(row.stage_weights or {}), row.period_days, row.valid_days, row.coupon_prefix or None,
                       row.starts_on, row.ends_on, appeals[row.id])
        for stage in offer.stages or STAGE_BASE:
            offers[stage].append(offer)
    s = StaffUser.__table__.c
    staff = [tuple(x) for x in db.execute(select(s.id, s.display_name).where(s.active.is_(True))
                                          .order_by(s.role != "agent", s.id))]
    existing = db.scalar(select(func.count()).select_from(Conversation)) or 0

    # 2. How many conversations each customer has: regulars chat more.
    rng = np.random.default_rng(seed)
    n_cust = len(customers)
    activity = np.array([STAGE_ACTIVITY.get(x.stage, 1.0) for x in customers]) * rng.lognormal(0, 0.5, n_cust)
    if n_cust:
        activity /= activity.mean()
    counts_per = rng.poisson(per_customer * activity) if n_cust else np.empty(0, int)
    grump = rng.beta(1.5, 8, n_cust) + np.array([0.15 if x.stage in ("at_risk", "churned") else 0.0
                                                 for x in customers])

    sim = _Simulator(seed, origin, end, _catalog(), variants, greet_quality, offers, staff,
                     id_seed=f"{seed}/{existing}")
    totals = dict.fromkeys(("conversations", "messages", "events", "escalated", "offer_issuances", "surveys",
                            "surveys_completed", "surveys_declined", "surveys_abandoned", "follow_up_tasks",
                            "customers"), 0)
    seen_updates = []
    for lo in range(0, n_cust, BATCH_CUSTOMERS):
        sim.batch = _Batch()
        batch_customers = []
        for k in range(lo, min(n_cust, lo + BATCH_CUSTOMERS)):
            x = customers[k]
            cu = _Customer(x.id, x.stage, x.persona,
                           {key: val for key, val in (("name", x.display_name), ("points", x.points),
                                                      ("stage_name", STAGE_LABELS.get(x.stage))) if val is not None},
                           customer_type(x.id, seed), float(grump[k]), channels.get(x.id, 0.5),
                           orders.get(x.id, []), [], older.get(x.id, 0))
            cu.paid = [p[0] for p in cu.orders if p[3] not in NOT_PURCHASES]
            sim.run_customer(cu, int(counts_per[k]), secs(x.first_seen_at))
            if cu.last_activity is not None:
                batch_customers.append(cu)
        _flush(db, sim, totals)
        totals["customers"] += len(batch_customers)
        seen_updates += [{"cid": cu.id, "seen": sim.dt(cu.last_activity)} for cu in batch_customers]
    if seen_updates:
        table = Customer.__table__
        stmt = (update(table).where(table.c.id == bindparam("cid"), table.c.last_seen_at < bindparam("seen"))
                .values(last_seen_at=bindparam("seen")))
        for k in range(0, len(seen_updates), 10_000):
            db.execute(stmt, seen_updates[k:k + 10_000])
    db.commit()
    return totals


def _flush(db: Session, sim: _Simulator, totals: dict[str, int]) -> None:
    """Reserve ids for the batch, turn local ids and seconds into real ones, write."""
    b, dt = sim.batch, sim.dt
    if not b.conversations:
        return
    message_ids = reserve_ids(db, Message.__table__, len(b.messages)).tolist()
    issuance_ids = reserve_ids(db, OfferIssuance.__table__, len(b.issuances)).tolist()
    survey_ids = reserve_ids(db, Survey.__table__, len(b.surveys)).tolist()
    for row in b.conversations:
        for key in ("escalated_at", "claimed_at", "started_at", "last_activity_at", "closed_at"):
            if row[key] is not None:
                row[key] = dt(row[key])
    for row in b.issuances:
        row["id"] = issuance_ids[row["id"]]
        if row["coupon_code"]:
            row["coupon_code"] = f"{row['coupon_code']}{row['id']:08d}"
        for key in ("issued_at", "expires_at", "redeemed_at"):
            if row[key] is not None:
                row[key] = dt(row[key])
    for local, issuance, raw, values in b.deferred:
        b.messages[local]["text"] = fill_variables(raw, {**values, "coupon_code": b.issuances[issuance]["coupon_code"]})
    for row in b.messages:
        row["id"] = message_ids[row["id"]]
        if row["reply_to_id"] is not None:
            row["reply_to_id"] = message_ids[row["reply_to_id"]]
        row["created_at"] = dt(row["created_at"])
    for row in b.events:
        if "message_id" in row["detail"]:
            row["detail"] = {"message_id": message_ids[row["detail"]["message_id"]]}
        row["at"] = dt(row["at"])
    for k, row in enumerate(b.surveys):
        row["id"] = survey_ids[k]
        row["started_at"] = dt(row["started_at"])
        if row["finished_at"] is not None:
            row["finished_at"] = dt(row["finished_at"])
    for row in b.tasks:
        row["survey_id"] = survey_ids[row["survey_id"]]
        row["created_at"] = dt(row["created_at"])
        if row["done_at"] is not None:
            row["done_at"] = dt(row["done_at"])
    write_rows(db, Conversation.__table__, b.conversations)
    write_rows(db, Message.__table__, b.messages)
    write_rows(db, ConversationEvent.__table__, b.events)
    write_rows(db, OfferIssuance.__table__, b.issuances)
    write_rows(db, Survey.__table__, b.surveys)
    write_rows(db, FollowUpTask.__table__, b.tasks)
    totals["conversations"] += len(b.conversations)
    totals["messages"] += len(b.messages)
    totals["events"] += len(b.events)
    totals["escalated"] += sum(1 for row in b.conversations if row["escalated_at"] is not None)
    totals["offer_issuances"] += len(b.issuances)
    totals["surveys"] += len(b.surveys)
    for status in ("completed", "declined", "abandoned"):
        totals[f"surveys_{status}"] += sum(1 for row in b.surveys if row["status"] == status)
    totals["follow_up_tasks"] += len(b.tasks)
