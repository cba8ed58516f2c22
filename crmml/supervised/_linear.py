"""The cold-start learner: a strongly regularised logistic regression on the same encoded features.

With a few dozen outcomes a boosted tree model has nothing to split on, and
vendors refuse to score at all (Dynamics 365 needs 40 + 40 qualified and
disqualified leads, Salesforce 120 conversions). crmml fits this instead and
says so (``learner = "linear"``). It has the interface of
:class:`~crmml.supervised.TreeModel` — raw scores, contributions in raw-score
space, feature importance, persistence as data — so calibration, tiers, the
score scale, reasons and the model card work unchanged.

Design matrix, learned on the training rows of a :class:`FeatureSpec`
matrix (categoricals as level codes, NaN missing):

* numeric and bool columns: clipped to their 1st–99th training percentiles,
  missing values set to the training median, standardised; plus a
  missing-value indicator when the column had missing values at fit;
* categorical columns: one indicator per level seen at fit (a missing or
  unseen level has none — it gets the reference effect).

scikit-learn's :class:`~sklearn.linear_model.LogisticRegression` (L2,
``C`` = :data:`COLD_START_C` by default: strong shrinkage towards the base
rate, which is what smoothed conversion rates by source, industry and role do
too) fits the weights. **Contributions** of a row are, per feature, the sum
over its design columns of ``w · (d − mean_d)`` (``mean_d`` the training
mean): the exact Shapley values of a linear model with independent features;
the bias column is ``b + Σ w · mean_d``, so every row's contributions add up
to its raw score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from crmml._payload import Payload
from crmml.exceptions import ParameterError
from crmml.supervised._read import objects
from crmml.supervised._spec import FeatureSpec

__all__ = ["COLD_START_C", "LinearModel"]

COLD_START_C = 0.1
"""Inverse L2 strength of the cold-start logistic regression on standardised features."""

_KINDS = ("value", "missing", "level")


class LinearModel:
    """A fitted logistic regression bound to a :class:`FeatureSpec` (see the module docstring).

    Attributes
    ----------
    spec : FeatureSpec
    columns : list of dict
        Design columns: ``{"feature": index, "kind": "value"|"missing"|"level", "level": code,
        "lo", "hi", "fill", "center", "scale", "weight", "mean"}``.
    intercept : float
    C : float
    """

    num_trees = 0

    def __init__(self, spec: FeatureSpec, columns: list[dict[str, Any]], intercept: float, C: float) -> None:
        self.spec = spec
        self.columns = columns
        self.intercept = float(intercept)
        self.C = float(C)

    # ------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, spec: FeatureSpec, *, C: float = COLD_START_C) -> LinearModel:
        """Learn the design from the training rows and fit the regression."""
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(C, (int, float)) and C > 0 and np.isfinite(C)):
            raise ParameterError(f"The 'C' of the cold-start model must be a finite number > 0. Got {C!r}.")
        X = np.asarray(X, dtype=np.float64)
        columns: list[dict[str, Any]] = []
        for j, col in enumerate(spec.columns):
            v = X[:, j]
            miss = np.isnan(v)
            if col.kind == "categorical":
                for code in range(len(col.levels)):
                    if np.any(v == code):
                        columns.append({"feature": j, "kind": "level", "level": code})
                continue
            seen = v[~miss]
            if len(seen) == 0:
                continue
            lo, hi = (float(q) for q in np.quantile(seen, [0.01, 0.99]))
            fill = float(np.median(seen))
            z = np.clip(np.where(miss, fill, v), lo, hi)
            center, scale = float(z.mean()), float(z.std())
            columns.append({"feature": j, "kind": "value", "level": -1, "lo": lo, "hi": hi, "fill": fill,
                            "center": center, "scale": scale if scale > 0 else 1.0})
            if miss.any() and not miss.all():
                columns.append({"feature": j, "kind": "missing", "level": -1})
        model = cls(spec, columns, 0.0, C)
        D = model._design(X)
        t = np.asarray(y).astype(np.int64)
        if D.shape[1] == 0:
            rate = (t.sum() + 1.0) / (len(t) + 2.0)
            model.intercept = float(np.log(rate / (1 - rate)))
            return model
        lr = LogisticRegression(C=float(C), max_iter=2000, tol=1e-8)
        lr.fit(D, t)
        means = D.mean(axis=0)
        for c, w, m in zip(columns, lr.coef_[0], means, strict=True):
            c["weight"], c["mean"] = float(w), float(m)
        model.intercept = float(lr.intercept_[0])
        return model

    def _design(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        D = np.empty((X.shape[0], len(self.columns)), dtype=np.float64)
        for i, c in enumerate(self.columns):
            v = X[:, c["feature"]]
            if c["kind"] == "level":
                D[:, i] = v == c["level"]
            elif c["kind"] == "missing":
                D[:, i] = np.isnan(v)
            else:
                z = np.clip(np.where(np.isnan(v), c["fill"], v), c["lo"], c["hi"])
                D[:, i] = (z - c["center"]) / c["scale"]
        return D

    # ------------------------------------------------------------ prediction
    def raw_score(self, X: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Log-odds of the rows of ``X`` (shape ``(n,)``)."""
        w = np.array([c["weight"] for c in self.columns], dtype=np.float64)
        return self._design(X) @ w + self.intercept

    def contributions(self, X: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Per-feature contributions ``(n, n_features + 1)``, the bias last; each row sums to its raw score."""
        D = self._design(X)
        n, k = D.shape[0], len(self.spec)
        out = np.zeros((n, k + 1), dtype=np.float64)
        bias = self.intercept
        for i, c in enumerate(self.columns):
            out[:, c["feature"]] += c["weight"] * (D[:, i] - c["mean"])
            bias += c["weight"] * c["mean"]
        out[:, k] = bias
        return out

    def feature_importance(self) -> dict[str, float]:
        """``|weight|`` × the design column's standard deviation, summed per feature (spec order)."""
        imp = np.zeros(len(self.spec))
        for c in self.columns:
            if c["kind"] == "value":
                sd = 1.0
            else:
                sd = float(np.sqrt(max(c["mean"] * (1.0 - c["mean"]), 0.0)))
            imp[c["feature"]] += abs(c["weight"]) * sd
        return {name: float(v) for name, v in zip(self.spec.names, imp, strict=True)}

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """``{"C", "intercept", "columns": [...]}`` (JSON-ready)."""
        return {"C": self.C, "intercept": self.intercept, "columns": [dict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload, spec: FeatureSpec) -> LinearModel:
        """Rebuild from :meth:`to_dict`, every field checked against ``spec``.

        Raises
        ------
        IncompatibleArtifactError
            Naming the field (``supervised.json: linear.columns[3].weight``).
        """
        p = Payload.of(data, source="LinearModel.from_dict")
        p.keys_exactly(("C", "intercept", "columns"))
        C = p.finite_float("C", low=0.0, closed="neither")
        intercept = p.finite_float("intercept")
        columns: list[dict[str, Any]] = []
        for c in objects(p, "columns"):
            kind = c.str_in("kind", _KINDS)
            feature = c.int_in("feature", low=0, high=len(spec) - 1)
            assert feature is not None
            col = spec.columns[feature]
            entry: dict[str, Any] = {"feature": feature, "kind": kind}
            if kind == "level":
                c.keys_exactly(("feature", "kind", "level", "weight", "mean"))
                if col.kind != "categorical":
                    raise c.error("kind", f"'value' or 'missing' for the {col.kind} feature {col.name!r}", kind)
                entry["level"] = c.int_in("level", low=0, high=max(len(col.levels) - 1, 0))
            elif kind == "missing":
                c.keys_exactly(("feature", "kind", "level", "weight", "mean"))
                entry["level"] = c.int_in("level", low=-1, high=-1)
            else:
                c.keys_exactly(("feature", "kind", "level", "lo", "hi", "fill", "center", "scale", "weight", "mean"))
                entry["level"] = c.int_in("level", low=-1, high=-1)
                for key in ("lo", "hi", "fill", "center"):
                    entry[key] = c.finite_float(key)
                entry["scale"] = c.finite_float("scale", low=0.0, closed="neither")
                if entry["lo"] > entry["hi"]:
                    raise c.error("hi", f"a number >= lo ({entry['lo']!r})", entry["hi"])
            entry["weight"] = c.finite_float("weight")
            entry["mean"] = c.finite_float("mean")
            columns.append(entry)
        assert C is not None and intercept is not None
        return cls(spec, columns, intercept, C)
