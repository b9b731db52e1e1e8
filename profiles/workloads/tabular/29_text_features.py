"""Text features with sklearn.feature_extraction.text: CountVectorizer (ngrams, stop words,
min_df, vocabulary_), TfidfVectorizer (sublinear tf, norms), TfidfTransformer,
HashingVectorizer, DictVectorizer, then MultinomialNB and LinearSVC pipelines on a small
generated corpus, cosine similarity search and top terms per class."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.metrics import accuracy_score
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

WORD_LISTS = """
filler: the a and of to in is it for on with this that was
food: recipe bake flour sugar oven pasta sauce garlic cheese dinner spicy soup
sport: match goal team score player coach league season win referee stadium ball
tech: software code python server cloud data chip laptop network bug release api
"""
TOPICS = {k: v.split() for k, v in (line.split(": ") for line in WORD_LISTS.strip().splitlines())}
FILLER = TOPICS.pop("filler")


def corpus(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    names = sorted(TOPICS)
    for _ in range(n):
        label = names[rng.integers(3)]
        words = list(rng.choice(TOPICS[label], 6)) + list(rng.choice(FILLER, 6))
        other = TOPICS[names[rng.integers(3)]]
        words += list(rng.choice(other, 2))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(label)
    return texts, labels


def main(workdir: Path) -> None:
    rng = np.random.default_rng(22)
    texts, labels = corpus(rng, 1500)
    counts = CountVectorizer(stop_words="english", min_df=2)
    bow = counts.fit_transform(texts)
    vocab = counts.get_feature_names_out()
    assert (
        bow.shape[0] == 1500 and "the" not in counts.vocabulary_ and "python" in counts.vocabulary_
    )
    assert bow.sum() > 0 and bow.format == "csr"
    bigrams = CountVectorizer(ngram_range=(1, 2), max_features=500).fit(texts)
    assert any(" " in term for term in bigrams.get_feature_names_out())
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    X = tfidf.fit_transform(texts)
    assert np.allclose(np.asarray(X.multiply(X).sum(1)).ravel(), 1)
    assert tfidf.idf_.min() >= 1
    via_transformer = TfidfTransformer(sublinear_tf=True).fit_transform(
        CountVectorizer(stop_words="english").fit_transform(texts)
    )
    assert np.allclose(via_transformer.toarray(), X.toarray())
    hashed = HashingVectorizer(n_features=2**12, alternate_sign=False).transform(texts)
    assert hashed.shape == (1500, 4096)
    X_train, X_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.3, random_state=0, stratify=labels
    )
    nb = make_pipeline(CountVectorizer(), MultinomialNB()).fit(X_train, y_train)
    svm = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC()).fit(X_train, y_train)
    nb_acc = accuracy_score(y_test, nb.predict(X_test))
    svm_acc = accuracy_score(y_test, svm.predict(X_test))
    assert nb_acc > 0.9 and svm_acc > 0.9, (nb_acc, svm_acc)
    assert nb.predict(["my python code has a bug in the server"])[0] == "tech"
    clf = nb[-1]
    names = nb[0].get_feature_names_out()
    top = {
        c: set(names[np.argsort(clf.feature_log_prob_[i])[-12:]])
        for i, c in enumerate(clf.classes_)
    }
    assert (
        "oven" in top["food"] | set(TOPICS["food"])
        and len(top["sport"] & set(TOPICS["sport"])) >= 6
    ), top
    query = tfidf.transform(["garlic pasta with cheese sauce"])
    sims = cosine_similarity(query, X).ravel()
    best = np.argsort(sims)[-5:]
    assert all(labels[i] == "food" for i in best), [labels[i] for i in best]
    dv = DictVectorizer(sparse=False)
    feats = dv.fit_transform([{"city": "oslo", "temp": 3.0}, {"city": "rome", "temp": 18.0}])
    assert list(dv.get_feature_names_out()) == [
        "city=oslo",
        "city=rome",
        "temp",
    ] and feats.shape == (2, 3)
    print(f"OK text_features vocab={len(vocab)} nb={nb_acc:.3f} svm={svm_acc:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
