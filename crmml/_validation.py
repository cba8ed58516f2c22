"""Declared parameter limits, checked at ``fit`` (scikit-learn style).

A class declares ``_parameter_constraints = {"horizon_days": [Interval(0, None,
closed="neither")], ...}`` and calls :func:`validate_params` at the start of
``fit``. Messages read "The 'horizon_days' parameter of ChurnModel must be > 0.
Got -3 instead."
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crmml._payload import Payload
from crmml.exceptions import ParameterError

__all__ = ["Interval", "Options", "validate_params", "check_param", "read_hyperparameters"]


@dataclass(frozen=True)
class Interval:
    """A real (or integer) interval constraint.

    Parameters
    ----------
    low, high : float or None
        Bounds; ``None`` means unbounded on that side.
    closed : {"both", "left", "right", "neither"}
        Which bounds are included.
    integer : bool
        Require an integral value.
    """

    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"
    integer: bool = False

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        try:
            v = float(value)
        except OverflowError:  # an int beyond float range
            return False
        if self.integer and not v.is_integer():
            return False
        if math.isnan(v):
            return False
        if self.low is not None:
            if v < self.low or (v == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if v > self.high or (v == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        kind = "an int" if self.integer else "a float"
        lo_op = ">=" if self.closed in ("both", "left") else ">"
        hi_op = "<=" if self.closed in ("both", "right") else "<"
        if self.low is not None and self.high is None:
            return f"{lo_op} {self.low:g}" if not self.integer else f"an int {lo_op} {self.low:g}"
        if self.high is not None and self.low is None:
            return f"{hi_op} {self.high:g}" if not self.integer else f"an int {hi_op} {self.high:g}"
        if self.low is None and self.high is None:
            return kind
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        return f"{kind} in the range {lb}{self.low:g}, {self.high:g}{rb}"


@dataclass(frozen=True)
class Options:
    """A finite set of allowed values."""

    values: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


Constraint = Interval | Options | None


def check_param(owner: str, name: str, value: Any, constraints: Iterable[Constraint]) -> None:
    """Raise :class:`ParameterError` unless ``value`` satisfies one constraint.

    ``None`` in ``constraints`` allows ``None``.
    """
    cons = list(constraints)
    for c in cons:
        if c is None:
            if value is None:
                return
        elif c.is_satisfied_by(value):
            return
    words = [("None" if c is None else str(c)) for c in cons]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    raise ParameterError(
        f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead."
    )


def validate_params(obj: Any, constraints: Mapping[str, Iterable[Constraint]] | None = None) -> None:
    """Check every declared parameter of ``obj`` (``obj._parameter_constraints``)."""
    cons = constraints if constraints is not None else getattr(obj, "_parameter_constraints", {})
    owner = type(obj).__name__
    for name, allowed in cons.items():
        check_param(owner, name, getattr(obj, name), allowed)


def read_hyperparameters(config: Payload, owner: str, constraints: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Constructor arguments stored in an artifact, checked against ``constraints``.

    ``constraints`` is the class's ``_parameter_constraints``: exactly these
    keys must be present, each a JSON scalar satisfying its constraints
    (integer intervals return ``int``) — or, for a parameter with a
    constraint whose ``json_array`` attribute is true (a list of column
    names), a JSON array of scalars, returned as a tuple.

    Raises
    ------
    IncompatibleArtifactError
        A key is missing or unknown, or a value is out of its range (the
        message names ``config.<key>`` and the allowed values).
    """
    config.keys_exactly(constraints)
    out: dict[str, Any] = {}
    for name, allowed in constraints.items():
        arrays = any(getattr(c, "json_array", False) for c in allowed)
        value = config.require(name, ("number", "string", "boolean", "null", *(("array",) if arrays else ())))
        if isinstance(value, list):
            value = tuple(value)
        try:
            check_param(owner, name, value, allowed)
        except ParameterError:
            words = [("None" if c is None else str(c)) for c in allowed]
            raise config.error(name, " or ".join(words), value) from None
        if any(isinstance(c, Interval) and c.integer for c in allowed) and isinstance(value, float):
            value = int(value)
        out[name] = value
    return out
