"""Evaluation metrics: accuracy, precision/recall/F1 (binary and averaged), confusion_matrix,
classification_report (text and dict), roc_auc_score (binary and one-vs-rest), roc_curve,
precision_recall_curve, average_precision, log_loss, brier, balanced accuracy, matthews,
cohen kappa, make_scorer, and regression metrics (MSE, RMSE, MAE, R2, MAPE, explained variance)."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    cohen_kappa_score,
    confusion_matrix,
    explained_variance_score,
    f1_score,
    fbeta_score,
    get_scorer,
    log_loss,
    make_scorer,
    matthews_corrcoef,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    median_absolute_error,
    precision_recall_curve,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(workdir: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    pred = model.predict(X_test)
    score = model.predict_proba(X_test)[:, 1]
    cm = confusion_matrix(y_test, pred)
    tn, fp, fn, tp = cm.ravel()
    assert cm.sum() == len(y_test)
    assert np.isclose(accuracy_score(y_test, pred), (tp + tn) / cm.sum())
    assert np.isclose(precision_score(y_test, pred), tp / (tp + fp))
    assert np.isclose(recall_score(y_test, pred), tp / (tp + fn))
    f1 = f1_score(y_test, pred)
    assert np.isclose(f1, 2 * tp / (2 * tp + fp + fn)) and fbeta_score(y_test, pred, beta=2) > 0.9
    report = classification_report(y_test, pred, target_names=["malignant", "benign"])
    assert "malignant" in report and "weighted avg" in report
    as_dict = classification_report(y_test, pred, output_dict=True)
    assert np.isclose(as_dict["1"]["f1-score"], f1)
    auc_value = roc_auc_score(y_test, score)
    fpr, tpr, thresholds = roc_curve(y_test, score)
    assert auc_value > 0.98 and np.isclose(auc(fpr, tpr), auc_value)
    precision, recall, _ = precision_recall_curve(y_test, score)
    assert average_precision_score(y_test, score) > 0.98 and recall[0] == 1
    assert 0 < log_loss(y_test, score) < 0.3 and brier_score_loss(y_test, score) < 0.05
    assert balanced_accuracy_score(y_test, pred) > 0.95
    assert matthews_corrcoef(y_test, pred) > 0.9 and cohen_kappa_score(y_test, pred) > 0.9
    Xi, yi = load_iris(return_X_y=True)
    multi = LogisticRegression(max_iter=1000).fit(Xi[::2], yi[::2])
    proba = multi.predict_proba(Xi[1::2])
    assert roc_auc_score(yi[1::2], proba, multi_class="ovr") > 0.98
    pm = multi.predict(Xi[1::2])
    for avg in ["micro", "macro", "weighted"]:
        assert f1_score(yi[1::2], pm, average=avg) > 0.9
    assert confusion_matrix(yi[1::2], pm, normalize="true").trace() > 2.7
    f2 = make_scorer(fbeta_score, beta=2)
    assert cross_val_score(model, X, y, cv=3, scoring=f2).mean() > 0.9
    assert get_scorer("neg_log_loss")(model, X_test, y_test) < 0
    rng = np.random.default_rng(21)
    truth = rng.uniform(10, 100, 500)
    guess = truth + rng.normal(0, 5, 500)
    mse = mean_squared_error(truth, guess)
    assert np.isclose(root_mean_squared_error(truth, guess), np.sqrt(mse))
    assert 3 < mean_absolute_error(truth, guess) < 5 and median_absolute_error(truth, guess) < 5
    assert r2_score(truth, guess) > 0.9 and explained_variance_score(truth, guess) > 0.9
    assert mean_absolute_percentage_error(truth, guess) < 0.2
    print(f"OK metrics auc={auc_value:.4f} f1={f1:.3f} cm={cm.tolist()} rmse={np.sqrt(mse):.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
