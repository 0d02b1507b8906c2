"""Models as teams have them (fitted on DataFrames, with categories, multi-class boosting, a
regressor), written as joblib files with their schemas and held-out data, ready for `import`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np


@dataclass
class ByoModel:
    model: Path
    schema: Path
    heldout: Path
    instances: list[dict[str, Any]]


def _write(out: Path, name: str, estimator: Any, schema: dict[str, Any], instances: list[dict[str, Any]],
           labels: list[Any]) -> ByoModel:
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, out / f"{name}.joblib")
    (out / f"{name}.schema.json").write_text(json.dumps(schema))
    (out / f"{name}.heldout.json").write_text(json.dumps({"instances": instances, "labels": labels}))
    return ByoModel(out / f"{name}.joblib", out / f"{name}.schema.json", out / f"{name}.heldout.json", instances)


def customers(rows: int = 400, seed: int = 0) -> tuple[Any, np.ndarray]:
    """A DataFrame of customers (numbers, an integer, a category, a flag) and whether they churned."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "tenure_months": rng.integers(0, 72, rows).astype(np.int64),
        "monthly_spend": rng.uniform(10, 150, rows).round(2),
        "plan": rng.choice(["basic", "plus", "pro"], rows),
        "paperless": rng.integers(0, 2, rows).astype(bool),
    })
    score = (frame["monthly_spend"] / 50 - frame["tenure_months"] / 24 + (frame["plan"] == "basic") * 1.2
             + rng.normal(0, 0.5, rows))
    return frame, np.where(score > 0.5, "churn", "stay")


def dataframe_pipeline(out: Path) -> ByoModel:
    """ColumnTransformer (scaled numbers, one-hot plan) + LogisticRegression, fitted on a DataFrame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = customers()
    pipeline = Pipeline([
        ("columns", ColumnTransformer([("numbers", StandardScaler(), ["tenure_months", "monthly_spend"]),
                                       ("plan", OneHotEncoder(handle_unknown="error"), ["plan"])])),
        ("model", LogisticRegression(max_iter=1000)),
    ]).fit(frame[:300][["tenure_months", "monthly_spend", "plan"]], y[:300])
    schema = {"kind": "tabular", "features": [
        {"name": "tenure_months", "type": "integer", "minimum": 0, "maximum": 120},
        {"name": "monthly_spend", "type": "number", "minimum": 0, "maximum": 1000},
        {"name": "plan", "type": "string"}]}
    held = frame[300:][["tenure_months", "monthly_spend", "plan"]]
    instances = [{"tenure_months": int(t), "monthly_spend": float(m), "plan": str(p)}
                 for t, m, p in held.itertuples(index=False)]
    return _write(out, "churn", pipeline, schema, instances, y[300:].tolist())


def boosting_multiclass(out: Path) -> ByoModel:
    """GradientBoostingClassifier on iris (three classes), fitted on a DataFrame."""
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier

    data = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame = pd.DataFrame(data.data, columns=names)
    labels = np.asarray(data.target_names)[data.target]
    order = np.random.default_rng(1).permutation(len(frame))
    train, test = order[:110], order[110:]
    model = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(frame.iloc[train], labels[train])
    schema = {"kind": "tabular", "features": [{"name": n, "type": "number", "minimum": 0, "maximum": 10}
                                              for n in names]}
    instances = [dict(zip(names, map(float, row), strict=True)) for row in frame.iloc[test].to_numpy()]
    return _write(out, "iris-gb", model, schema, instances, labels[test].tolist())


def ridge_regression(out: Path) -> ByoModel:
    """StandardScaler + Ridge on the diabetes data, fitted on a plain array."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes()
    names = [str(n) for n in data.feature_names]
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(data.data[:350], data.target[:350])
    schema = {"kind": "tabular", "features": [{"name": n, "type": "number", "minimum": -1, "maximum": 1}
                                              for n in names]}
    instances = [dict(zip(names, map(float, row), strict=True)) for row in data.data[350:]]
    return _write(out, "diabetes-ridge", model, schema, instances, [float(v) for v in data.target[350:]])


BYO_MODELS = {"dataframe-columns": dataframe_pipeline, "boosting-multiclass": boosting_multiclass,
              "ridge-regression": ridge_regression}
