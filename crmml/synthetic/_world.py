"""The container of a simulated CRM world and truth look-ups."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmml.data import CRMTables
from crmml.synthetic._rng import to_timestamp

__all__ = ["SyntheticWorld", "true_alive_at"]


@dataclass(frozen=True)
class SyntheticWorld:
    """A simulated business: contract tables plus the latent truth behind them.

    Parameters
    ----------
    tables : CRMTables
        The contract tables in the internal representation (string ids,
        ``datetime64[ns]`` times, ``float64`` money, ``boolean`` ``won``).
    truth : dict of str to DataFrame
        Ground-truth tables keyed by name (``"customers"``, ``"accounts"``,
        ``"leads"``, ``"opportunities"`` ...); see ``docs/synthetic.md``.
    params : dict
        JSON-ready generating parameters, including ``seed``, the world size and
        the window.
    start, end : Timestamp
        Observation window ``[start, end)``: every event time lies inside it.

    Examples
    --------
    >>> from crmml.synthetic import make_b2c_world
    >>> world = make_b2c_world(200, seed=1)
    >>> sorted(world.tables.present())
    ['customers', 'interactions', 'transactions']
    """

    tables: CRMTables
    truth: dict[str, pd.DataFrame]
    params: dict
    start: pd.Timestamp
    end: pd.Timestamp

    def __repr__(self) -> str:
        truth = ", ".join(f"{k}={len(v):,}" for k, v in self.truth.items())
        return (
            f"SyntheticWorld({self.params.get('kind', '?')}, seed={self.params.get('seed')}, "
            f"window=[{self.start.date()}, {self.end.date()}), {self.tables!r}, truth: {truth})"
        )


def true_alive_at(world: SyntheticWorld, as_of: object) -> pd.Series:
    """Whether each customer of a B2C world is still active (alive) at ``as_of``.

    A customer is alive at ``as_of`` when they had not dropped out strictly
    before it (BG/NBD dropout happens right after a repeat purchase). Only
    customers who signed up strictly before ``as_of`` are returned, matching
    the point-in-time rule.

    Parameters
    ----------
    world : SyntheticWorld
        A world from :func:`make_b2c_world`.
    as_of : str or Timestamp
        The cut-off.

    Returns
    -------
    Series of bool
        Indexed by ``customer_id``, named ``"alive"``.

    Examples
    --------
    >>> from crmml.synthetic import make_b2c_world, true_alive_at
    >>> w = make_b2c_world(300, seed=3)
    >>> alive = true_alive_at(w, "2025-01-01")
    >>> bool(alive.dtype == bool)
    True
    """
    truth = world.truth["customers"]
    customers = world.tables["customers"]
    cut = to_timestamp(as_of)
    signed = customers["signup_at"].to_numpy() < cut.to_datetime64()
    t = truth.loc[signed]
    drop = t["dropout_at"]
    alive = drop.isna() | (drop >= cut)
    return pd.Series(alive.to_numpy(dtype=bool), index=pd.Index(t["customer_id"], name="customer_id"),
                     name="alive")
