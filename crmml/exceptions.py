"""Every error crmml raises.

Each message names the object (table, column, parameter or artifact), what was
expected, what arrived and how to fix it. All errors derive from
:class:`CrmmlError`, so ``except crmml.exceptions.CrmmlError`` catches any of
them; each also derives from the matching built-in (``ValueError``,
``KeyError`` ...) so generic handlers keep working.

This module is the bottom layer: it imports nothing from crmml.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CrmmlError",
    "Problem",
    "DataContractError",
    "LeakageError",
    "MissingTableError",
    "ParameterError",
    "NotFittedError",
    "ConvergenceError",
    "ArtifactError",
    "IncompatibleArtifactError",
    "TamperedArtifactError",
    "ModelNotFoundError",
    "InsufficientDataError",
    "OutputError",
    "TrackingError",
    "LabelWindowWarning",
]

_MAX_EXAMPLES = 5


class CrmmlError(Exception):
    """Base class of every error raised by crmml.

    Picklable with its message and attributes (``problems``, ``context`` ...)
    as they are, so an error raised in a worker process reaches the caller
    unchanged — the default would call ``__init__`` again with the message as
    its first argument.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild_error, (type(self), self.args, dict(self.__dict__))


def _rebuild_error(cls: type[CrmmlError], args: tuple[object, ...], state: dict[str, object]) -> CrmmlError:
    """Unpickle a :class:`CrmmlError` without calling its ``__init__``."""
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


@dataclass(frozen=True)
class Problem:
    """One broken rule in one table.

    Parameters
    ----------
    table : str
        Contract table name (``"transactions"``).
    column : str or None
        Column concerned, or ``None`` for a table-level rule.
    rule : str
        What was expected, in words (``"amount >= 0"``, ``"unique key"``).
    n_rows : int
        How many rows break the rule (0 for structural problems such as a
        missing column).
    examples : tuple of str
        A few keys (or values) of offending rows.
    hint : str
        How to fix it.
    """

    table: str
    column: str | None
    rule: str
    n_rows: int = 0
    examples: tuple[str, ...] = field(default_factory=tuple)
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where}: {self.rule}"
        if self.n_rows:
            text += f" — {self.n_rows} row{'s fail' if self.n_rows != 1 else ' fails'}"
        if self.examples:
            text += f" (e.g. {', '.join(self.examples[:_MAX_EXAMPLES])})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text


def examples_of(values: Iterable[object], limit: int = _MAX_EXAMPLES) -> tuple[str, ...]:
    """Return up to ``limit`` example values as short strings."""
    out: list[str] = []
    for v in values:
        s = str(v)
        out.append(s if len(s) <= 40 else s[:37] + "...")
        if len(out) >= limit:
            break
    return tuple(out)


class DataContractError(CrmmlError, ValueError):
    """Input tables break the data contract.

    Lists every problem at once (validation is lazy).

    Parameters
    ----------
    problems : sequence of Problem
        Every broken rule found.
    context : str
        What was being done (``"loading tables"``, ``"CLVModel.fit"``).
    """

    def __init__(self, problems: Sequence[Problem], context: str = "validating tables") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.context = context
        n = len(self.problems)
        lines = [f"{n} data contract problem{'s' if n != 1 else ''} found while {context}:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("See docs/user-guide.md#data-contract for every table and column.")
        super().__init__("\n".join(lines))


class LeakageError(DataContractError):
    """Columns offered as features predict the label by themselves: they were
    written after the outcome (a status, a loss reason, a close value) and
    would leak it into training.

    Lists every refused column at once, one :class:`Problem` each
    (``leads.status: alone it predicts the label with ROC AUC 0.999 (limit
    0.98) — ... Fix: drop the column, or allow it explicitly: ...``). Raised by
    :func:`crmml.supervised.screen_columns`; the problems hold column names
    and numbers only, never data values.

    Parameters
    ----------
    problems : sequence of Problem
        One per refused column.
    context : str
        What was being done (``"screening the extra columns of leads"``).
    report : object, optional
        The screening's full :class:`~crmml.supervised.LeakageReport` (every
        column, allowed and passed ones included), kept as ``error.report``.
    """

    def __init__(self, problems: Sequence[Problem], context: str = "screening columns for leakage",
                 report: object = None) -> None:
        super().__init__(problems, context)
        self.report = report
        n = len(self.problems)
        lines = [f"{n} column{'s' if n != 1 else ''} would leak the outcome into training (found while {context}):"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append('See docs/supervised.md, section "Leakage guard for static columns".')
        self.args = ("\n".join(lines),)


class MissingTableError(DataContractError, KeyError):
    """A model needs a table that was not supplied."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ParameterError(CrmmlError, ValueError):
    """A parameter is out of its declared range.

    Worded like scikit-learn: "The 'horizon_days' parameter of ChurnModel
    must be > 0. Got -3 instead."
    """


class NotFittedError(CrmmlError, ValueError, AttributeError):
    """A model was used before ``fit``."""

    def __init__(self, owner: str, method: str = "this method") -> None:
        super().__init__(
            f"This {owner} instance is not fitted yet. Call 'fit' with appropriate "
            f"data before using {method}."
        )


class ConvergenceError(CrmmlError, RuntimeError):
    """A maximum-likelihood fit did not converge; the message says what to try."""


class ArtifactError(CrmmlError, ValueError):
    """A saved model artifact cannot be loaded."""


class IncompatibleArtifactError(ArtifactError):
    """The artifact was written by an incompatible format or crmml version."""


class TamperedArtifactError(ArtifactError):
    """The artifact's content does not match its recorded checksum."""


class ModelNotFoundError(ArtifactError, FileNotFoundError):
    """No model where one was asked for: no folder at the path, or no such
    registered model, version, alias or run in the MLflow store."""


class OutputError(CrmmlError, OSError):
    """crmml cannot write where it was asked to (a folder given for a file, a
    path that is not writable, a folder that holds other files); the message
    names the path and how to fix it."""


class TrackingError(CrmmlError, RuntimeError):
    """The MLflow tracking store or model registry is unusable (unknown URI
    scheme, server unreachable, request refused); the message names the URI
    and says what was tried."""


class InsufficientDataError(CrmmlError, ValueError):
    """Too little data to train a model honestly: too few cutoffs, positives or
    negatives to train, early-stop and calibrate. The message says how many
    were found, the documented floor, and what to change (more cutoffs, a
    longer history, a shorter horizon)."""


class LabelWindowWarning(UserWarning):
    """A label window ``[as_of, as_of + horizon)`` runs past the latest event
    in the table, so outcomes in its unobserved part are missing (B2C: counted
    as churned; B2B: as renewed). Choose an ``as_of`` at least one horizon
    before the end of the data."""
