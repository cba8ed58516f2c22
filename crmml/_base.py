"""The estimator base every crmml model shares: hyperparameters, fitted state, versioned payloads.

:class:`Estimator` follows scikit-learn's contract (``sklearn.base.BaseEstimator``)
without depending on scikit-learn:

* **Hyperparameters are the keyword arguments of** ``__init__``, read from its
  signature; the constructor stores them unchanged and does nothing else.
  :meth:`~Estimator.get_params`, :meth:`~Estimator.set_params` and ``repr``
  (non-default values only) are derived from that signature.
* **Learned state** is every public instance attribute whose name ends in
  ``_`` (``params_``, ``transaction_model_``). An estimator is fitted when it
  has one; :meth:`~Estimator._check_fitted` raises
  :class:`~crmml.exceptions.NotFittedError` otherwise, and changing a
  hyperparameter of a fitted estimator drops that state (it belonged to the
  old value).
* **Declared limits.** ``_parameter_constraints`` names every hyperparameter
  with its allowed values (:class:`~crmml._validation.Interval`,
  :class:`~crmml._validation.Options`, ``None``); ``fit`` calls
  :meth:`~Estimator._validate_params`. A class whose constraints do not list
  exactly its ``__init__`` parameters is refused when it is defined.
* **Versioned payload.** :meth:`~Estimator.to_dict` writes
  ``{"model": <class name>, "schema_version": <int>, "config": {...}, <learned state>}``;
  :meth:`~Estimator.from_dict` reads it back through
  :class:`crmml._payload.Payload` and refuses another model's payload, a
  ``schema_version`` newer than the class knows ("written by a newer crmml;
  upgrade") and any unknown key, naming the field. Subclasses write and read
  only their learned state (:meth:`~Estimator._state_to_dict`,
  :meth:`~Estimator._state_from_payload`).

Why not inherit ``sklearn.base.BaseEstimator``: this module is in the bottom
layer (standard library, numpy, pandas and crmml's own bottom modules only),
and importing ``sklearn.base`` costs 0.14-0.32 s on top of ``crmml.clv``
(which already loads scipy) and 1.3-1.6 s on top of pandas alone on the
project machine (``python -X importtime``), against about 4 ms for this
module; its ``set_params`` keeps fitted state and raises a plain
``ValueError``, both of which crmml does differently. ``get_params(deep=...)`` is accepted so that
``sklearn.base.clone`` works on crmml estimators.

Examples
--------
>>> from crmml._base import Estimator
>>> from crmml._validation import Interval
>>> class Smoother(Estimator):
...     _parameter_constraints = {"alpha": [Interval(0, 1, closed="right")]}
...     _state_keys = ("level",)
...     def __init__(self, *, alpha=0.5):
...         self.alpha = alpha
...     def fit(self, values):
...         self._validate_params()
...         self.level_ = float(sum(values)) / len(values)
...         return self
...     def _state_to_dict(self):
...         return {"level": self.level_}
...     def _state_from_payload(self, p, version):
...         self.level_ = p.finite_float("level")
>>> Smoother(alpha=0.2)
Smoother(alpha=0.2)
>>> m = Smoother().fit([1, 2, 3])
>>> m.to_dict()
{'model': 'Smoother', 'schema_version': 1, 'config': {'alpha': 0.5}, 'level': 2.0}
>>> Smoother.from_dict(m.to_dict()).level_
2.0
>>> hasattr(m.set_params(alpha=0.9), "level_")   # a changed value unfits
False
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from crmml._payload import Payload
from crmml._validation import Interval, read_hyperparameters, validate_params
from crmml.exceptions import NotFittedError, ParameterError

__all__ = ["RESERVED_KEYS", "Estimator"]

RESERVED_KEYS = ("model", "schema_version", "config")
"""Top-level payload keys the base writes; learned state may not use them."""


class Estimator:
    """Base class of crmml's estimators (see the module docstring for the contract).

    Class attributes a subclass sets
    --------------------------------
    _parameter_constraints : dict
        Hyperparameter name → list of allowed values (exactly the ``__init__``
        keyword arguments).
    schema_version : int
        Version of the payload layout this class writes (default 1). Raise it
        when :meth:`_state_to_dict` changes, and read every older version in
        :meth:`_state_from_payload`.
    _legacy_schema_version : int or None
        Version assumed for a payload without ``schema_version`` (written
        before payloads were versioned). ``None`` — the default, for classes
        created since — refuses such a payload.
    _state_keys : tuple of str
        Top-level keys of the learned state as this version writes them
        (override :meth:`_expected_keys` when older versions differ).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    schema_version: ClassVar[int] = 1
    _legacy_schema_version: ClassVar[int | None] = None
    _state_keys: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = set(cls._hyperparameter_names())
        declared = set(cls._parameter_constraints)
        if names != declared:
            raise TypeError(
                f"{cls.__name__}: _parameter_constraints must list exactly the keyword arguments of __init__ "
                f"(missing: {sorted(names - declared)}, not parameters: {sorted(declared - names)}).")
        reserved = set(cls._state_keys) & set(RESERVED_KEYS)
        if reserved:
            raise TypeError(f"{cls.__name__}: _state_keys may not use the reserved keys {sorted(reserved)}.")

    # ------------------------------------------------------------ parameters
    @classmethod
    def _hyperparameter_names(cls) -> tuple[str, ...]:
        """The ``__init__`` keyword arguments, in signature order (``self`` excluded)."""
        init = cls.__init__
        if init is object.__init__:
            return ()
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ may not take *args or **kwargs: hyperparameters "
                                "are explicit keyword arguments (as in scikit-learn).")
            names.append(p.name)
        return tuple(names)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {n: sig.parameters[n].default for n in cls._hyperparameter_names()}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters (constructor arguments) and their current values.

        ``deep`` is accepted for scikit-learn compatibility
        (``sklearn.base.clone``); crmml hyperparameters are plain values, so it
        changes nothing.
        """
        return {name: getattr(self, name) for name in self._hyperparameter_names()}

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters; changing any of them unfits a fitted estimator.

        The learned state (every public attribute ending in ``_``) was fitted
        with the old values, so it is dropped when a value changes: call
        ``fit`` again before using the estimator. Setting a parameter to the
        value it has keeps the fit. Values are checked at ``fit``.

        Raises
        ------
        ParameterError
            An unknown parameter name (nothing is changed); the message lists
            the valid ones.
        """
        valid = self._hyperparameter_names()
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise ParameterError(
                f"Invalid parameter(s) {', '.join(map(repr, unknown))} for {type(self).__name__}; "
                f"valid parameters are: {', '.join(sorted(valid))}."
            )
        changed = [k for k, v in params.items() if not _same(getattr(self, k), v)]
        for k, v in params.items():
            setattr(self, k, v)
        if changed:
            self._unfit()
        return self

    def _validate_params(self) -> None:
        """Check every hyperparameter against ``_parameter_constraints`` (call it first in ``fit``).

        Raises
        ------
        ParameterError
            "The 'horizon_days' parameter of CLVModel must be ... Got -3 instead."
        """
        validate_params(self)

    def __repr__(self) -> str:
        defaults = self._defaults()
        shown = {k: v for k, v in self.get_params().items() if not _same(v, defaults[k])}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    # ---------------------------------------------------------- fitted state
    def _learned(self) -> list[str]:
        """Names of the learned attributes present (public, ending in ``_``)."""
        return [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]

    def _check_fitted(self, method: str) -> None:
        """Raise :class:`~crmml.exceptions.NotFittedError` naming ``method`` unless fitted."""
        if not self._learned():
            raise NotFittedError(type(self).__name__, method)

    def _unfit(self) -> None:
        """Drop every learned attribute."""
        for name in self._learned():
            delattr(self, name)

    # ------------------------------------------------------------ persistence
    def _state_to_dict(self) -> dict[str, Any]:
        """The learned state as JSON-ready data, keyed by ``_state_keys`` (subclasses implement)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _state_to_dict")

    def _state_from_payload(self, p: Payload, version: int) -> None:
        """Restore the learned state from a checked payload of ``version`` (subclasses implement).

        The keys were checked (:meth:`_expected_keys`) and the hyperparameters
        set before this is called; read every value through ``p``'s typed
        accessors so a bad one is an ``IncompatibleArtifactError`` naming it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement _state_from_payload")

    @classmethod
    def _expected_keys(cls, version: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(required, optional)`` learned-state keys of a payload of ``version``."""
        return cls._state_keys, ()

    def _config_to_dict(self) -> dict[str, Any]:
        """Hyperparameters as JSON values (numpy scalars converted; integral floats of integer parameters as int)."""
        out: dict[str, Any] = {}
        for name, value in self.get_params().items():
            if isinstance(value, np.generic):
                value = value.item()
            integer = any(isinstance(c, Interval) and c.integer for c in self._parameter_constraints[name])
            if integer and isinstance(value, float) and value.is_integer():
                value = int(value)
            out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The fitted estimator as JSON-ready data: model name, schema version, config, learned state.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted("to_dict")
        state = self._state_to_dict()
        clash = set(state) & set(RESERVED_KEYS)
        if clash:  # pragma: no cover - a programming error in a subclass
            raise TypeError(f"{type(self).__name__}._state_to_dict uses the reserved keys {sorted(clash)}")
        return {"model": type(self).__name__, "schema_version": self.schema_version,
                "config": self._config_to_dict(), **state}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Payload) -> Self:
        """Rebuild a fitted estimator from :meth:`to_dict` output, checking every field.

        Parameters
        ----------
        data : mapping or Payload
            The payload. Pass a :class:`crmml._payload.Payload` (e.g.
            ``Payload.parse(raw, source="model.json")``) so that messages name
            the field's place in the file.

        Raises
        ------
        IncompatibleArtifactError
            Another model's payload; a ``schema_version`` that is not an
            integer >= 1, or newer than this crmml reads (written by a newer
            crmml: upgrade); a missing or unknown key; a hyperparameter out of
            its range; a learned value of the wrong type or range. The message
            names the field (``model.json: transaction_model.params.r``).
        """
        p = Payload.of(data, source=f"{cls.__name__}.from_dict")
        p.str_in("model", (cls.__name__,))
        version = cls._read_schema_version(p)
        required, optional = cls._expected_keys(version)
        versioned = "schema_version" in p
        p.keys_exactly(("model", *(("schema_version",) if versioned else ()), "config", *required), optional)
        config = p.mapping("config")
        assert config is not None
        obj = cls(**cls._read_config(config))
        obj._state_from_payload(p, version)
        return obj

    @classmethod
    def _read_schema_version(cls, p: Payload) -> int:
        if "schema_version" not in p and cls._legacy_schema_version is not None:
            return cls._legacy_schema_version
        raw = p.data.get("schema_version")
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > cls.schema_version:
            raise p.error(
                "schema_version", f"a {cls.__name__} schema version this crmml reads (at most {cls.schema_version})",
                raw, hint="The model was written by a newer crmml: upgrade crmml (pip install --upgrade crmml) "
                          "to load it, or re-train it with this one.")
        version = p.int_in("schema_version", low=1)
        assert version is not None
        return version

    @classmethod
    def _read_config(cls, config: Payload) -> dict[str, Any]:
        """The stored hyperparameters, each checked against its constraints (an int beyond float range fails them)."""
        return read_hyperparameters(config, cls.__name__, cls._parameter_constraints)


def _same(a: Any, b: Any) -> bool:
    """Parameter equality that treats NaN as equal to NaN and never raises."""
    if a is b:
        return True
    try:
        return bool(a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    except (TypeError, ValueError):
        return False
