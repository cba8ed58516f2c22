"""The scorer pattern shared by every crmml model: interface, loading, batch.

Model packages implement :class:`Scorer` structurally (they never import this
package); this package loads them by kind and runs them in batch.
"""

from crmml.scoring._batch import write_parquet_atomic
from crmml.scoring._load import find_artifact_dir, load_local_scorer, load_scorer
from crmml.scoring._protocol import Scorer
from crmml.scoring._registry import KINDS, scorer_class

__all__ = [
    "Scorer",
    "load_scorer",
    "load_local_scorer",
    "find_artifact_dir",
    "write_parquet_atomic",
    "KINDS",
    "scorer_class",
]
