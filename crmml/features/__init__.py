"""Point-in-time feature pipelines.

Views of the CRM tables as of a cutoff, labels from the horizon after it,
the RFM (BG/NBD) summary, customer / lead / opportunity features and
hash-partitioned, out-of-core builds. See ``docs/features.md``.
"""

from crmml.features._asof import default_as_of
from crmml.features._customer import DEFAULT_ROLES, customer_features
from crmml.features._lead import lead_features
from crmml.features._margin import customer_margin
from crmml.features._memo import shared_work
from crmml.features._opportunity import opportunity_features
from crmml.features._partition import (
    PARTITION_KEYS,
    Spill,
    build_features_from_parquet,
    build_partitioned,
    coerce_internal,
    concat_partitions,
    find_parquet_tables,
    partition_of,
    partition_tables,
    read_in_partition_order,
    read_owner_history,
    rfm_features,
    spill_tables,
)
from crmml.features._pit import (
    as_of_view,
    contractual_churn_labels,
    count_in_windows,
    in_window,
    label_window,
    lead_conversion_labels,
    noncontractual_churn_labels,
    opportunity_outcome_labels,
    stack_cutoffs,
    sum_in_windows,
    to_timestamp,
    window_bounds,
)
from crmml.features._retention import (
    ENGAGEMENT_TYPES,
    SERVICE_TYPES,
    churn_population,
    retention_features,
)
from crmml.features._rfm import RFM_FREQS, rfm_arrays, rfm_summary
from crmml.features._subscriptions import TERM_DAYS, subscription_features
from crmml.features._windows import check_windows

__all__ = [
    "DEFAULT_ROLES",
    "ENGAGEMENT_TYPES",
    "PARTITION_KEYS",
    "RFM_FREQS",
    "SERVICE_TYPES",
    "TERM_DAYS",
    "as_of_view",
    "build_features_from_parquet",
    "build_partitioned",
    "check_windows",
    "churn_population",
    "coerce_internal",
    "Spill",
    "spill_tables",
    "find_parquet_tables",
    "read_owner_history",
    "read_in_partition_order",
    "concat_partitions",
    "contractual_churn_labels",
    "count_in_windows",
    "customer_features",
    "customer_margin",
    "default_as_of",
    "in_window",
    "label_window",
    "lead_conversion_labels",
    "lead_features",
    "noncontractual_churn_labels",
    "opportunity_features",
    "opportunity_outcome_labels",
    "partition_of",
    "partition_tables",
    "retention_features",
    "rfm_arrays",
    "rfm_features",
    "rfm_summary",
    "shared_work",
    "stack_cutoffs",
    "subscription_features",
    "sum_in_windows",
    "to_timestamp",
    "window_bounds",
]
