"""analytics.sentiment: data hygiene, estimator contract, the product classifier.

The product classifier comes from get_classifier() exactly as the service gets it,
so it uses the service's model cache ($HX_MODEL_DIR, default var/models): a fresh
checkout trains it once (about 10 s), later runs reload it. The save/reload tests use
a temporary directory and a small subset to stay fast.
"""
import threading

import numpy as np
import pytest

from analytics import sentiment as S
from analytics.experiments.snownlp_models import SnowNLPBayes
from analytics.sentiment import Sentiment
from api.services.sentiment_model import classify_texts, get_classifier

NEGATIVE = ["质量太差了，再也不买了", "太失望了，完全是垃圾", "客服态度恶劣，非常生气", "假货，要求退款，差评"]
POSITIVE = ["质量很好，非常满意，下次还来买", "物流很快，包装精美，好评", "东西不错，性价比很高，推荐"]


@pytest.fixture(scope="module")
def reviews():
    return S.load_reviews()


@pytest.fixture(scope="module")
def product():
    return get_classifier()


# --- data -------------------------------------------------------------------------------

def test_dedupe_removes_repeats_blanks_and_cross_label_texts():
    df = S.dedupe_reviews(["好", " 好 ", "", "  ", "不错  啊", "一般"], ["差", "差", "一般", "\t"])
    assert sorted(df.text) == ["不错 啊", "好", "差"]
    assert dict(zip(df.text, df.label)) == {"不错 啊": 1, "好": 1, "差": 0}


def test_load_reviews_is_unique_and_consistent(reviews):
    assert list(reviews.columns) == ["text", "label"]
    assert reviews.text.is_unique
    assert (reviews.text.str.strip() == reviews.text).all() and (reviews.text != "").all()
    assert set(reviews.label) == {0, 1}
    assert 16_000 < len(reviews) < 17_500  # 8,379 + 9,079 unique, minus texts under both labels


def test_split_is_disjoint_stratified_and_reproducible(reviews):
    train, test = S.split_reviews(reviews, test_size=0.2, seed=0)
    assert not set(train.text) & set(test.text)
    assert len(train) + len(test) == len(reviews)
    assert abs(len(test) / len(reviews) - 0.2) < 0.001
    assert abs(train.label.mean() - test.label.mean()) < 0.005
    again, _ = S.split_reviews(reviews, test_size=0.2, seed=0)
    assert list(again.text) == list(train.text)


# --- estimator contract -------------------------------------------------------------------

TEXTS = ["质量很好", "质量很差", "非常满意", "非常失望"] * 3  # enough for min_df=2: only the labels are wrong
LABELS = [1, 0, 1, 0] * 3


@pytest.mark.parametrize("X, y", [
    ([], []),
    (TEXTS, [2 if y else 0 for y in LABELS]),
    (TEXTS, [-1 if y == 0 else 1 for y in LABELS]),
    (TEXTS, ["pos" if y else "neg" for y in LABELS]),
    (TEXTS, LABELS[:-1]),
    (TEXTS, [1] * len(TEXTS)),
    (TEXTS[:-1] + [None], LABELS),
])
def test_fit_rejects_bad_training_data(X, y):
    with pytest.raises(ValueError):
        S.TfidfLogisticSentiment().fit(X, y)


def test_fit_accepts_the_same_data_with_good_labels():
    assert list(S.TfidfLogisticSentiment().fit(TEXTS, LABELS).predict(["质量很好"])) == [1]


def test_snownlp_bayes_rejects_bad_labels():
    with pytest.raises(ValueError):
        SnowNLPBayes().fit(TEXTS, [2 if y else 0 for y in LABELS])


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(S.NotFittedError):
        S.TfidfLogisticSentiment().predict_proba(["好"])


def test_estimator_follows_sklearn_conventions(reviews):
    from sklearn.base import clone

    small = reviews.sample(400, random_state=0)
    model = S.TfidfLogisticSentiment(C=2.0)
    assert clone(model).get_params()["C"] == 2.0
    model.fit(small.text, small.label)
    proba = model.predict_proba(["很好", "很差"])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.classes_) == [0, 1]
    assert set(model.predict(["很好", "很差"])) <= {0, 1}
    with pytest.raises(ValueError):
        model.predict_proba("一个字符串不是列表")


# --- product classifier -------------------------------------------------------------------

def test_thresholds_are_ordered():
    assert 0 < S.STRONGLY_NEGATIVE < S.NEG_THRESHOLD < 0.5 < S.POS_THRESHOLD < 1


def test_labels_follow_thresholds():
    assert S.label_for(S.NEG_THRESHOLD - 0.01) == "negative"
    assert S.label_for(S.NEG_THRESHOLD) == "neutral"
    assert S.label_for(S.POS_THRESHOLD) == "neutral"
    assert S.label_for(S.POS_THRESHOLD + 0.01) == "positive"


def test_clear_texts_get_the_right_label(product):
    for s in product.classify(NEGATIVE):
        assert s.label == "negative", s
    for s in product.classify(POSITIVE):
        assert s.label == "positive", s
    assert product.score(["质量太差了，再也不买了"])[0] < S.STRONGLY_NEGATIVE


def test_empty_text_is_neutral(product):
    out = product.classify(["", "   ", "\n\t"])
    assert out == [Sentiment("neutral", 0.5)] * 3
    assert product.classify([]) == []


def test_scores_are_probabilities_and_types(product):
    out = classify_texts(["我的订单到哪了", "谢谢", "气死我了"])
    assert all(isinstance(s, Sentiment) and isinstance(s.score, float) for s in out)
    scores = product.score(["我的订单到哪了", "谢谢", ""])
    assert isinstance(scores, np.ndarray) and ((scores >= 0) & (scores <= 1)).all()


def test_get_classifier_is_cached_and_thread_safe(product):
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_classifier())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is product for c in seen)


def test_save_and_reload_give_the_same_scores(tmp_path, reviews):
    small = reviews.sample(600, random_state=1)
    texts = ["质量太差了", "很满意", "我的订单到哪了"]
    first = S.load_or_train(small, directory=tmp_path)
    saved = list(tmp_path.glob("*.joblib"))
    assert len(saved) == 1
    mtime = saved[0].stat().st_mtime_ns
    again = S.load_or_train(small, directory=tmp_path)
    assert saved[0].stat().st_mtime_ns == mtime  # reloaded, not retrained
    assert again.model is not first.model
    np.testing.assert_allclose(again.score(texts), first.score(texts))


def test_changed_data_or_config_retrains(tmp_path, reviews):
    small = reviews.sample(600, random_state=1)
    S.load_or_train(small, directory=tmp_path)
    h = S.training_hash(small, S.PRODUCT_CONFIG)
    assert S.training_hash(small.iloc[1:], S.PRODUCT_CONFIG) != h
    assert S.training_hash(small, {**S.PRODUCT_CONFIG, "C": 1.0}) != h
    other = S.load_or_train(small, config={**S.PRODUCT_CONFIG, "C": 1.0}, directory=tmp_path)
    assert other.model.C == 1.0


def test_a_corrupt_model_file_is_replaced(tmp_path, reviews):
    small = reviews.sample(300, random_state=2)
    (tmp_path / "sentiment-tfidf-logreg.joblib").write_bytes(b"not a pickle")
    clf = S.load_or_train(small, directory=tmp_path)
    assert clf.score(["好"]).shape == (1,)
