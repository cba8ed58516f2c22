"""Shared fixtures for the CLV model tests (CDNOW data shipped with lifetimes)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    from lifetimes.datasets import load_cdnow_summary

    return load_cdnow_summary(index_col=[0])


@pytest.fixture(scope="session")
def cdnow_monetary() -> pd.DataFrame:
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    return load_cdnow_summary_data_with_monetary_value()
