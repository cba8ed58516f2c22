"""A 1–99 score from a calibrated probability: where the entity stands in the held-out cutoff's expected outcomes.

Sales teams read a score, not a probability: "a 90 beats an 80". crmml's
score keeps the calibrated probability beside it and gives the score a fixed
meaning, an ABC analysis of the expected outcomes: **score s ≈ the entities
with a lower probability account for s % of the outcomes expected among the
held-out cutoff's entities** (the sum of their probabilities). Grades cut on
the score (A ≥ 75, B ≥ 50, C ≥ 25) then each hold about a quarter of the
expected conversions: A is the short list of the hottest leads that brings the
first quarter, D the long tail — in a CRM whose open leads are mostly long
dead, D holds the dead weight and A, B and C split the live leads, and the
conversion rate falls from A to D by construction. (A plain percentile of the
leads would make every live lead an A when four in five open leads are dead;
``round(100·p)`` would make nearly every lead a D when one in six converts.)

Frozen at fit: the knots are the held-out probabilities' quantiles, weighted
by the probabilities themselves, at ``k/98`` for ``k = 0..98``; a
probability is mapped by linear interpolation between knots to
``1 + 98·G(p)`` and rounded to an integer in ``[1, 99]``. Monotone
non-decreasing in ``p`` (tested). Equal knots (a block of tied held-out
probabilities, e.g. thousands of long-dead leads in the same leaves) are
merged and take the **lowest** score of the block. When every held-out
probability is 0 the quantiles are unweighted; a reference without any spread (one
distinct probability) scores everyone 50. Stored as data
(``{"knots": [99 probabilities]}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from crmml._payload import Payload
from crmml.exceptions import ParameterError
from crmml.supervised._read import float_array

__all__ = ["ScoreScale"]

_N_KNOTS = 99


@dataclass(frozen=True, eq=False)
class ScoreScale:
    """Percentile score 1–99 of a probability (see the module docstring).

    Attributes
    ----------
    knots : numpy.ndarray
        99 non-decreasing probabilities (the held-out quantiles at ``k/98``).

    Examples
    --------
    >>> scale = ScoreScale.fit(np.array([0.01] * 90 + [0.5] * 9 + [0.9]))  # 90 cold, 9 warm, 1 hot
    >>> scale.score(np.array([0.01, 0.5, 0.9])).tolist()  # the cold hold 16 % of the 6.3 expected outcomes
    [1, 16, 85]
    """

    knots: np.ndarray

    @classmethod
    def fit(cls, probabilities: np.ndarray) -> ScoreScale:
        """The scale of a reference population's calibrated probabilities."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 1 or len(p) == 0 or not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
            raise ParameterError("ScoreScale.fit needs a non-empty array of probabilities in [0, 1].")
        levels = np.arange(_N_KNOTS) / (_N_KNOTS - 1)
        total = float(p.sum())
        if total <= 0:
            return cls(np.quantile(p, levels))
        q = np.sort(p)
        below = (np.cumsum(q) - q) / total  # share of the expected outcomes strictly below each sorted entity
        return cls(q[np.clip(np.searchsorted(below, levels, side="right") - 1, 0, len(q) - 1)])

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct knots and the lowest score of each for ``np.interp``."""
        scores = 1.0 + np.arange(_N_KNOTS, dtype=np.float64)
        uniq, first = np.unique(self.knots, return_index=True)
        return uniq, scores[first]

    def score(self, probability: np.ndarray) -> np.ndarray:
        """Integer scores in ``[1, 99]`` (int64, same shape)."""
        x, y = self._points()
        p = np.asarray(probability, dtype=np.float64)
        s = np.interp(p, x, y) if len(x) > 1 else np.full(p.shape, 50.0)
        return np.clip(np.floor(s + 0.5), 1, 99).astype(np.int64)

    def score_one(self, probability: float) -> int:
        """The score of one probability (the same number :meth:`score` gives)."""
        return int(self.score(np.array([probability]))[0])

    def to_dict(self) -> dict[str, Any]:
        """``{"knots": [...]}`` (JSON-ready)."""
        return {"knots": self.knots.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> ScoreScale:
        """Rebuild from :meth:`to_dict`; 99 non-decreasing probabilities, else an error naming the field."""
        p = Payload.of(data, source="ScoreScale.from_dict")
        p.keys_exactly(("knots",))
        knots = float_array(p, "knots", length=_N_KNOTS, low=0.0, high=1.0, order="nondecreasing")
        return cls(knots)
