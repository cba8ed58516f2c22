"""Drift monitoring: reference distributions stored at fit, and the population stability index (PSI).

At fit every crmml model bins the population it scores at its ``as_of`` —
each feature and each score — into a :class:`DriftReference` (numeric
quantile cut points rounded to 4 significant digits, frequent category
labels as 12-hex-digit hashes; no raw value) and saves it beside
``model.json`` as ``drift_reference.json`` (:class:`StoresDriftReference`).
A batch counts its population into the same bins
(:meth:`DriftReference.counts`; counts add up over partitions), computes the
PSI of every column (:func:`drift_table`), flags those above
:data:`PSI_WATCH` (0.1, watch) and :data:`PSI_ACT` (0.25, act) and writes a
report (:func:`drift_markdown`; the plot is
:func:`crmml.plotting.drift.plot_drift`).

Layer 2 (beside :mod:`crmml.features`): imports only numpy, pandas and
crmml's bottom modules.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> fit = pd.DataFrame({"recency": rng.exponential(30, 2000)})
>>> ref = reference_from(fit, pd.DataFrame({"p": rng.uniform(size=2000)}), score_columns=["p"], as_of="2025-07-01")
>>> later = pd.DataFrame({"recency": rng.exponential(60, 2000)})   # customers come back half as often
>>> table = drift_table(ref, ref.counts(later, None))
>>> table.loc[0, ["column", "status"]].tolist()
['recency', 'act']
"""

from crmml.drift._binning import BinnedDistribution, hash_label
from crmml.drift._psi import NO_DATA, PSI_ACT, PSI_EPS, PSI_WATCH, drift_table, psi, psi_status
from crmml.drift._reference import DriftReference, column_key, is_id_like, reference_from, split_key
from crmml.drift._report import drift_markdown
from crmml.drift._stored import DRIFT_REFERENCE_FILE, StoresDriftReference

__all__ = [
    "BinnedDistribution",
    "DriftReference",
    "DRIFT_REFERENCE_FILE",
    "NO_DATA",
    "PSI_ACT",
    "PSI_EPS",
    "PSI_WATCH",
    "StoresDriftReference",
    "column_key",
    "drift_markdown",
    "drift_table",
    "hash_label",
    "is_id_like",
    "psi",
    "psi_status",
    "reference_from",
    "split_key",
]
