"""Risk tiers from calibrated probabilities, and an action per tier.

Two ways to define the tiers, both frozen at fit into probability thresholds
so one entity scored alone gets the same tier as in a batch:

* **by probability** — ``TierPolicy.by_probability({"high": 0.6, "medium": 0.3})``:
  ``p >= 0.6`` → high, else ``p >= 0.3`` → medium, else the default tier;
* **by capacity** — ``TierPolicy.by_capacity({"high": 0.05, "medium": 0.15})``:
  "the top 5% → high, the next 15% → medium", computed at fit on a reference
  population (the held-out cutoff's calibrated probabilities): the threshold
  of a tier is the probability of the ``ceil(cumulative share × n)``-th
  highest row. Rows tied with it are in the tier, so the realised share
  (stored in :attr:`TierPolicy.realized_shares`) can exceed the target when
  the calibrator has plateaus (isotonic).

Tiers are listed from the riskiest down; the default tier (``"low"``) takes
everything below the last threshold. Actions are names only (``"none"``,
``"retention_offer"``, ``"alert_account_manager"``…) — the policy maps tiers
to them; it never acts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from crmml._payload import Payload
from crmml.exceptions import NotFittedError, ParameterError
from crmml.supervised._read import objects

__all__ = ["Tier", "TierPolicy"]

_MAX_NAME = 100


@dataclass(frozen=True)
class Tier:
    """One tier above the default tier.

    Attributes
    ----------
    name : str
    threshold : float or None
        Lowest probability in the tier (None for a capacity tier before fit).
    share : float or None
        Target share of the population (capacity tiers).
    """

    name: str
    threshold: float | None
    share: float | None = None


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME:
        raise ParameterError(f"A {what} must be non-empty text of at most {_MAX_NAME} characters. Got {value!r} "
                             "instead.")
    return value


@dataclass(frozen=True)
class TierPolicy:
    """Tier thresholds (probability or capacity) and the action of each tier.

    Build with :meth:`by_probability` or :meth:`by_capacity`; capacity
    policies are frozen with :meth:`freeze`.

    Attributes
    ----------
    mode : {"probability", "capacity"}
    tiers : tuple of Tier
        Riskiest first; thresholds strictly decreasing once frozen.
    default_tier : str
    actions : dict or None
        Tier → action name, covering every tier (including the default);
        None when the policy assigns no actions.
    realized_shares : dict
        Tier → share of the reference population in it (after :meth:`freeze`).

    Examples
    --------
    >>> pol = TierPolicy.by_probability({"high": 0.6, "medium": 0.3},
    ...     actions={"low": "none", "medium": "retention_offer", "high": "alert_account_manager"})
    >>> tier, action = pol.assign(np.array([0.7, 0.3, 0.1]))
    >>> tier.tolist(), action.tolist()
    (['high', 'medium', 'low'], ['alert_account_manager', 'retention_offer', 'none'])
    >>> cap = TierPolicy.by_capacity({"high": 0.25}).freeze(np.array([0.9, 0.5, 0.4, 0.1]))
    >>> cap.tiers[0].threshold, cap.assign(np.array([0.95, 0.6]))[0].tolist()
    (0.9, ['high', 'low'])
    """

    mode: str
    tiers: tuple[Tier, ...]
    default_tier: str = "low"
    actions: dict[str, str] | None = None
    realized_shares: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("probability", "capacity"):
            raise ParameterError(f"The 'mode' of a TierPolicy must be 'probability' or 'capacity'. Got {self.mode!r}.")
        names = [_name(t.name, "tier name") for t in self.tiers]
        _name(self.default_tier, "default tier name")
        every = [*names, self.default_tier]
        if len(set(every)) != len(every):
            raise ParameterError(f"Tier names must be distinct (default tier included). Got {every}.")
        thresholds = [t.threshold for t in self.tiers]
        if self.mode == "probability" or all(v is not None for v in thresholds):
            for t in self.tiers:
                if t.threshold is None or not (isinstance(t.threshold, (int, float)) and 0 < t.threshold <= 1):
                    raise ParameterError(f"The threshold of tier {t.name!r} must be a probability in (0, 1]. "
                                         f"Got {t.threshold!r} instead.")
            if any(a <= b for a, b in zip(thresholds, thresholds[1:], strict=False)):  # type: ignore[operator]
                raise ParameterError(f"Tier thresholds must decrease from the riskiest tier down. Got "
                                     f"{dict(zip(names, thresholds, strict=True))}.")
        if self.mode == "capacity":
            shares = [t.share for t in self.tiers]
            if any(s is None or not isinstance(s, (int, float)) or not 0 < s < 1 for s in shares):
                raise ParameterError(
                    f"Capacity tier shares must be in (0, 1). Got {dict(zip(names, shares, strict=True))}.")
            total = sum(shares)  # type: ignore[arg-type]
            if total > 1:
                raise ParameterError(f"Capacity tier shares must add up to at most 1. Got {total:g}.")
        if self.actions is not None:
            acts = dict(self.actions)
            missing = [n for n in [*names, self.default_tier] if n not in acts]
            extra = [n for n in acts if n not in names and n != self.default_tier]
            if missing or extra:
                raise ParameterError(f"The actions must name exactly the tiers {[*names, self.default_tier]}; "
                                     f"missing {missing}, unknown {extra}.")
            for v in acts.values():
                _name(v, "action name")
            object.__setattr__(self, "actions", acts)

    # ------------------------------------------------------------ builders
    @classmethod
    def by_probability(cls, thresholds: Mapping[str, float], *, default_tier: str = "low",
                       actions: Mapping[str, str] | None = None) -> TierPolicy:
        """Tiers from probability thresholds (riskiest first: decreasing thresholds)."""
        tiers = tuple(Tier(k, float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                      for k, v in thresholds.items())
        return cls("probability", tiers, default_tier, None if actions is None else dict(actions))

    @classmethod
    def by_capacity(cls, shares: Mapping[str, float], *, default_tier: str = "low",
                    actions: Mapping[str, str] | None = None) -> TierPolicy:
        """Tiers from population shares (riskiest first), frozen into thresholds by :meth:`freeze`."""
        tiers = tuple(Tier(k, None, float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                      for k, v in shares.items())
        return cls("capacity", tiers, default_tier, None if actions is None else dict(actions))

    @property
    def frozen(self) -> bool:
        """Whether every tier has a threshold."""
        return all(t.threshold is not None for t in self.tiers)

    @property
    def tier_names(self) -> list[str]:
        """Every tier, riskiest first, the default tier last."""
        return [t.name for t in self.tiers] + [self.default_tier]

    def freeze(self, reference: np.ndarray) -> TierPolicy:
        """Fix thresholds on ``reference`` probabilities (capacity) and record realised shares.

        A probability policy keeps its thresholds (only the shares are recorded).
        Capacity thresholds that would not decrease (ties) are refused: use
        fewer tiers or larger shares.
        """
        p = np.asarray(reference, dtype=np.float64)
        if p.ndim != 1 or len(p) == 0 or not np.isfinite(p).all():
            raise ParameterError("TierPolicy.freeze needs a non-empty array of finite probabilities.")
        tiers = self.tiers
        if self.mode == "capacity":
            desc = np.sort(p)[::-1]
            cum = 0.0
            out = []
            for t in self.tiers:
                cum += float(t.share)  # type: ignore[arg-type]
                m = min(len(desc), max(1, math.ceil(cum * len(desc) - 1e-9)))
                out.append(Tier(t.name, float(desc[m - 1]), t.share))
            thr = [t.threshold for t in out]
            if any(a <= b for a, b in zip(thr, thr[1:], strict=False)):  # type: ignore[operator]
                raise ParameterError(
                    f"Capacity tiers {dict((t.name, t.share) for t in self.tiers)} give thresholds "
                    f"{dict((t.name, t.threshold) for t in out)} that do not decrease (tied probabilities in the "
                    "reference population); use fewer tiers or larger shares.")
            if out[-1].threshold is not None and out[-1].threshold <= 0:
                out[-1] = replace(out[-1], threshold=float(np.nextafter(0.0, 1.0)))
            tiers = tuple(out)
        frozen = replace(self, tiers=tiers)
        tier, _ = frozen.assign(p)
        counts = pd.Series(tier).value_counts()
        shares = {n: float(counts.get(n, 0)) / len(p) for n in frozen.tier_names}
        return replace(frozen, realized_shares=shares)

    # ------------------------------------------------------------ assigning
    def assign(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Tier (and action) of each probability.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray or None)
            Object arrays of tier names and action names (None without actions).

        Raises
        ------
        NotFittedError
            A capacity policy that was not frozen.
        """
        if not self.frozen:
            raise NotFittedError("TierPolicy", "assign (capacity tiers are frozen with 'freeze' at fit)")
        prob = np.asarray(p, dtype=np.float64)
        names = np.array(self.tier_names, dtype=object)
        pos = np.full(prob.shape, len(self.tiers), dtype=np.int64)
        for i in range(len(self.tiers) - 1, -1, -1):
            pos[prob >= self.tiers[i].threshold] = i  # type: ignore[operator]
        tier = names[pos]
        if self.actions is None:
            return tier, None
        acts = np.array([self.actions[n] for n in self.tier_names], dtype=object)
        return tier, acts[pos]

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (thresholds may be null only for an unfrozen capacity policy)."""
        return {"mode": self.mode, "default_tier": self.default_tier, "actions": self.actions,
                "tiers": [{"name": t.name, "threshold": t.threshold, "share": t.share} for t in self.tiers],
                "realized_shares": dict(self.realized_shares)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload, *, frozen: bool = True) -> TierPolicy:
        """Rebuild from :meth:`to_dict` output; ``frozen`` requires every threshold.

        Raises
        ------
        IncompatibleArtifactError
            A field is missing, unknown, of the wrong type, out of range, or
            thresholds that do not decrease; the message names it.
        """
        p = Payload.of(data, source="TierPolicy.from_dict")
        p.keys_exactly(("mode", "default_tier", "actions", "tiers", "realized_shares"))
        mode = p.str_in("mode", ("probability", "capacity"))
        default = p.str_in("default_tier", max_length=_MAX_NAME)
        tiers = []
        prev = math.inf
        for t in objects(p, "tiers"):
            t.keys_exactly(("name", "threshold", "share"))
            name = t.str_in("name", max_length=_MAX_NAME)
            need = frozen or mode == "probability"
            thr = t.finite_float("threshold", low=0.0, high=1.0, closed="right", nullable=not need)
            if thr is not None and thr >= prev:
                raise t.error("threshold", f"a probability below the previous tier's ({prev!r})", thr)
            prev = thr if thr is not None else prev
            share = t.finite_float("share", low=0.0, high=1.0, closed="neither", nullable=mode == "probability")
            if mode == "probability" and share is not None:
                raise t.error("share", "null for a probability tier", share)
            tiers.append(Tier(name or "", thr, share))
        acts_p = p.mapping("actions", nullable=True)
        actions = None if acts_p is None else {k: acts_p.str_in(k, max_length=_MAX_NAME) or "" for k in acts_p.keys()}
        shares_p = p.mapping("realized_shares")
        assert shares_p is not None
        shares = {k: shares_p.finite_float(k, low=0.0, high=1.0) or 0.0 for k in shares_p.keys()}
        try:
            policy = cls(mode or "", tuple(tiers), default or "", actions, shares)
        except ParameterError as exc:
            raise p.error(None, f"a valid tier policy ({exc})", p.data) from None
        unknown = [k for k in shares if k not in policy.tier_names]
        if unknown:
            raise p.error("realized_shares", f"shares of the tiers {policy.tier_names} only", shares)
        return policy
