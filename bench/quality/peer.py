#!/usr/bin/python3
"""The scikit-learn peer of the quality benchmark: the model 5-fold cross-validation picks, on the rows the trainer saw.

Usage:
  peer.py score <dir>     for every <dir>/<run>/{train,validation,test}.csv + meta.json: 5-fold CV on train+validation
                          among logistic/ridge regression, random forest, histogram gradient boosting and an MLP; refit
                          the CV winner on train+validation; print JSON {run: {"picked": name, "cv": {...}, "test": score}}

An honest AutoML baseline, not the best-on-test: the choice is made without the test rows, as the trainer's is. Each
candidate is a scikit-learn 1.2 default a careful data scientist would start from (scaled inputs for the linear model and
the MLP, a standardized target for the MLP regressor). Seeded (random_state=0). Needs Debian's python3-sklearn.
"""
import json
import os
import sys
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def candidates(task):
    if task == "classification":
        return {
            "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "random_forest": RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=2),
            "hist_gbdt": HistGradientBoostingClassifier(random_state=0),
            "mlp": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), max_iter=2000, random_state=0)),
        }
    return {
        "ridge": make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))),
        "random_forest": RandomForestRegressor(n_estimators=300, random_state=0, n_jobs=2),
        "hist_gbdt": HistGradientBoostingRegressor(random_state=0),
        "mlp": TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(100,), max_iter=2000, random_state=0)),
            transformer=StandardScaler()),
    }


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :-1], data[:, -1]


def score(directory):
    results = {}
    for run in sorted(os.listdir(directory)):
        folder = os.path.join(directory, run)
        meta_path = os.path.join(folder, "meta.json")
        if not os.path.isfile(meta_path):
            continue
        task = json.load(open(meta_path))["task"].lower()
        x_train, y_train = load(os.path.join(folder, "train.csv"))
        x_valid, y_valid = load(os.path.join(folder, "validation.csv"))
        x_test, y_test = load(os.path.join(folder, "test.csv"))
        x_fit, y_fit = np.vstack([x_train, x_valid]), np.concatenate([y_train, y_valid])
        if task == "classification":
            y_fit, y_test = y_fit.astype(int), y_test.astype(int)
            smallest = np.bincount(y_fit).min(where=np.bincount(y_fit) > 0, initial=len(y_fit))
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0) if smallest >= 5 else KFold(5, shuffle=True, random_state=0)
            scoring = "accuracy"
        else:
            folds = KFold(n_splits=5, shuffle=True, random_state=0)
            scoring = "r2"
        cv = {}
        for name, model in candidates(task).items():
            cv[name] = float(np.mean(cross_val_score(model, x_fit, y_fit, cv=folds, scoring=scoring)))
        picked = max(cv, key=cv.get)
        model = candidates(task)[picked].fit(x_fit, y_fit)
        predicted = model.predict(x_test)
        test = accuracy_score(y_test, predicted) if task == "classification" else r2_score(y_test, predicted)
        results[run] = {"picked": picked, "cv": cv, "test": float(test)}
        print(f"{run}: picked {picked}, test {test:.4f}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    if len(sys.argv) == 3 and sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        sys.exit(__doc__)
