"""Trees and ensembles: DecisionTreeClassifier with export_text and cost-complexity
pruning, RandomForest (oob_score, feature_importances_), ExtraTrees, GradientBoosting
classifier and regressor with staged_predict, AdaBoost, Bagging, Voting and Stacking,
and permutation_importance."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, make_friedman1
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text


def main(workdir: Path) -> None:
    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, stratify=data.target, random_state=0
    )
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)
    rules = export_text(tree, feature_names=list(data.feature_names))
    assert "|---" in rules and tree.get_depth() == 3 and tree.score(X_test, y_test) > 0.9
    path = DecisionTreeClassifier(random_state=0).cost_complexity_pruning_path(X_train, y_train)
    pruned = DecisionTreeClassifier(random_state=0, ccp_alpha=path.ccp_alphas[-3]).fit(
        X_train, y_train
    )
    assert pruned.get_n_leaves() < 10
    rf = RandomForestClassifier(n_estimators=100, oob_score=True, random_state=0, n_jobs=2)
    rf.fit(X_train, y_train)
    assert rf.oob_score_ > 0.93 and np.isclose(rf.feature_importances_.sum(), 1)
    top = np.array(data.feature_names)[np.argsort(rf.feature_importances_)[::-1][:5]]
    et = ExtraTreesClassifier(n_estimators=100, random_state=0).fit(X_train, y_train)
    gb = GradientBoostingClassifier(
        n_estimators=100, max_depth=2, learning_rate=0.1, random_state=0
    )
    gb.fit(X_train, y_train)
    staged = [accuracy_score(y_test, p) for p in gb.staged_predict(X_test)]
    assert len(staged) == 100 and staged[-1] >= staged[0] - 0.02
    ada = AdaBoostClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=20, random_state=0).fit(
        X_train, y_train
    )
    scaled_lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    vote = VotingClassifier([("rf", rf), ("lr", scaled_lr), ("gb", gb)], voting="soft").fit(
        X_train, y_train
    )
    stack = StackingClassifier(
        [("et", et), ("lr", scaled_lr)], final_estimator=LogisticRegression(), cv=3
    ).fit(X_train, y_train)
    scores = {
        name: m.score(X_test, y_test)
        for name, m in [
            ("rf", rf),
            ("et", et),
            ("gb", gb),
            ("ada", ada),
            ("bag", bag),
            ("vote", vote),
            ("stack", stack),
        ]
    }
    assert all(s > 0.9 for s in scores.values()), scores
    imp = permutation_importance(rf, X_test, y_test, n_repeats=5, random_state=0, n_jobs=1)
    assert imp.importances.shape == (30, 5)
    Xd, yd = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    Xd_train, Xd_test, yd_train, yd_test = train_test_split(Xd, yd, random_state=0)
    reg_scores = {}
    for name, reg in [
        ("tree", DecisionTreeRegressor(max_depth=4, random_state=0)),
        ("rf", RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=2)),
        (
            "gb",
            GradientBoostingRegressor(
                n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
            ),
        ),
    ]:
        reg_scores[name] = r2_score(yd_test, reg.fit(Xd_train, yd_train).predict(Xd_test))
    assert reg_scores["gb"] > reg_scores["tree"] and min(reg_scores.values()) > 0.5, reg_scores
    print(
        f"OK trees_ensembles acc={ {k: round(v, 3) for k, v in scores.items()} } "
        f"r2={ {k: round(v, 3) for k, v in reg_scores.items()} } top={str(top[0])!r}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
