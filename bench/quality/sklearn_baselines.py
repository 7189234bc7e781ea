#!/usr/bin/python3
"""scikit-learn baselines on the exact splits the trainer used.

Usage:
  sklearn_baselines.py export <dir> <name>...   write <dir>/<name>.csv (features..., target) for scikit-learn's bundled datasets
  sklearn_baselines.py score <dir>              for every <dir>/<name>/{train,validation,test}.csv + meta.json, fit on
                                                train+validation and score on test; print JSON {name: {model: score}}

Baselines (each in a Pipeline with StandardScaler, as a careful data scientist would start):
  classification: MLPClassifier, LogisticRegression, RandomForestClassifier   -> test accuracy
  regression:     MLPRegressor (standardized target), Ridge, RandomForestRegressor -> test r2
They are fitted on train+validation (the trainer uses validation for early stopping and model selection), which is the
stronger bar. Seeded (random_state=0). Needs Debian's python3-sklearn (/usr/bin/python3).
"""
import json
import os
import sys

import numpy as np
from sklearn import datasets
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BUNDLED = {
    "iris": (datasets.load_iris, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}


def export(directory, names):
    os.makedirs(directory, exist_ok=True)
    for name in names:
        loader, task = BUNDLED[name]
        data = loader()
        x, y = data.data, data.target
        with open(os.path.join(directory, name + ".csv"), "w") as f:
            f.write(",".join([f"f{i}" for i in range(x.shape[1])] + ["target"]) + "\n")
            for row, target in zip(x, y):
                f.write(",".join(repr(float(v)) for v in row) + "," + (str(int(target)) if task == "classification" else repr(float(target))) + "\n")
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump({"task": task}, f)


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :-1], data[:, -1]


def models(task):
    if task == "classification":
        return {
            "mlp": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(100,), max_iter=2000, random_state=0)),
            "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "forest": RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1),
        }
    return {
        "mlp": TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(100,), max_iter=2000, random_state=0)),
            transformer=StandardScaler()),
        "linear": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
        "forest": RandomForestRegressor(n_estimators=300, random_state=0, n_jobs=1),
    }


def score(directory):
    results = {}
    for name in sorted(os.listdir(directory)):
        folder = os.path.join(directory, name)
        meta_path = os.path.join(folder, "meta.json")
        if not os.path.isfile(meta_path):
            continue
        task = json.load(open(meta_path))["task"]
        x_train, y_train = load(os.path.join(folder, "train.csv"))
        x_valid, y_valid = load(os.path.join(folder, "validation.csv"))
        x_test, y_test = load(os.path.join(folder, "test.csv"))
        x_fit, y_fit = np.vstack([x_train, x_valid]), np.concatenate([y_train, y_valid])
        scores = {}
        for model_name, model in models(task).items():
            model.fit(x_fit, y_fit if task == "regression" else y_fit.astype(int))
            predicted = model.predict(x_test)
            scores[model_name] = float(accuracy_score(y_test.astype(int), predicted.astype(int)) if task == "classification" else r2_score(y_test, predicted))
        scores["best"] = max(scores.values())
        results[name] = scores
    print(json.dumps(results))


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    if sys.argv[1] == "export":
        export(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        sys.exit(__doc__)
