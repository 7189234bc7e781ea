#!/usr/bin/python3
"""Real public tabular datasets from Debian packages, written as the raw files a team would upload.

Usage:
  datasets.py export <dir>     write <dir>/<name>/data.csv and <dir>/<name>/dataset.json for every dataset below

Sources: scikit-learn's bundled copies (python3-sklearn) and R packages' datasets (r-base-core with r-cran-mass and
r-cran-cardata), exported with Rscript exactly as shipped: categorical columns as text, missing values as empty cells,
identifier columns kept where the data has them (the preprocessing step must exclude them itself).
"""
import json
import os
import subprocess
import sys

from sklearn import datasets

# name: (source, object, target, task, columns to ignore, keep R row names as this column)
R_DATASETS = {
    "boston": ("MASS", "Boston", "medv", "regression", [], None),
    "pima": ("MASS", "rbind(Pima.tr, Pima.te)", "type", "classification", [], None),
    "biopsy": ("MASS", "biopsy", "class", "classification", [], None),
    "fgl": ("MASS", "fgl", "type", "classification", [], None),
    "birthwt": ("MASS", "birthwt", "bwt", "regression", ["low"], None),
    "titanic": ("carData", "TitanicSurvival", "survived", "classification", [], None),
    "prestige": ("carData", "Prestige", "prestige", "regression", [], "occupation"),
    "salaries": ("carData", "Salaries", "salary", "regression", [], None),
    "chile": ("carData", "Chile", "vote", "classification", [], None),
    "mroz": ("carData", "Mroz", "lfp", "classification", [], None),
    "wells": ("carData", "Wells", "switch", "classification", [], None),
    "cowles": ("carData", "Cowles", "volunteer", "classification", [], None),
    "airquality": ("datasets", "airquality", "Ozone", "regression", [], None),
}

SKLEARN_DATASETS = {
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}


def write_spec(folder, target, task, ignore):
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"target": target, "task": task, "ignore": ignore}, f)


def export(directory):
    for name, (package, expression, target, task, ignore, row_names) in R_DATASETS.items():
        folder = os.path.join(directory, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "data.csv")
        names = f'd <- cbind({row_names} = rownames(d), d); ' if row_names else ""
        script = (f'suppressMessages(library({package})); d <- {expression}; {names}'
                  f'write.csv(d, "{path}", row.names = FALSE, na = "")')
        subprocess.run(["Rscript", "-e", script], check=True)
        write_spec(folder, target, task, ignore)
    for name, (loader, task) in SKLEARN_DATASETS.items():
        folder = os.path.join(directory, name)
        os.makedirs(folder, exist_ok=True)
        data = loader()
        with open(os.path.join(folder, "data.csv"), "w") as f:
            f.write(",".join([n.replace(" ", "_") for n in data.feature_names] + ["target"]) + "\n")
            for row, target in zip(data.data, data.target):
                label = str(data.target_names[int(target)]) if task == "classification" else repr(float(target))
                f.write(",".join(repr(float(v)) for v in row) + "," + label + "\n")
        write_spec(folder, "target", task, [])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    else:
        sys.exit(__doc__)
