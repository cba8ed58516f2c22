"""JSON payloads of model artifacts: strict writing and typed, path-naming reading.

Artifacts are untrusted input, so every JSON file crmml reads (the manifest,
``model.json``) goes through :class:`Payload`:

* :meth:`Payload.parse` accepts UTF-8 JSON whose root is an object, nested at
  most :data:`MAX_DEPTH` levels, with no ``NaN``/``Infinity`` literals, no
  number that overflows to infinity (``1e999``) and no key given twice;
* the typed accessors (:meth:`~Payload.finite_float`, :meth:`~Payload.int_in`,
  :meth:`~Payload.str_in`, :meth:`~Payload.mapping` ...) return checked values
  or raise :class:`~crmml.exceptions.IncompatibleArtifactError` naming the
  dotted path of the field (``model.json: transaction_model.params.r``), what
  was expected and what arrived.

Writing is the mirror image: :func:`to_jsonable` / :func:`dump_json` refuse a
non-finite number anywhere (raising :class:`~crmml.exceptions.ArtifactError`
with the field path) instead of silently storing ``null``; a value that may
legitimately be unknown is stored as ``None`` explicitly by the model.

Bottom layer: imports only the standard library, numpy and
:mod:`crmml.exceptions`.

Examples
--------
>>> p = Payload.parse(b'{"params": {"r": 0.24, "alpha": 4.4}}', source="model.json")
>>> params = p.mapping("params")
>>> params.keys_exactly(("r", "alpha"))
>>> params.finite_float("r", low=0, closed="neither")
0.24
>>> params.finite_float("alpha", high=1)
Traceback (most recent call last):
...
crmml.exceptions.IncompatibleArtifactError: model.json: params.alpha: expected a finite number <= 1; got 4.4. ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from crmml.exceptions import ArtifactError, IncompatibleArtifactError

__all__ = ["MAX_DEPTH", "DEFAULT_FIX", "Payload", "to_jsonable", "dump_json", "format_path", "describe"]

MAX_DEPTH = 64
"""Deepest nesting of objects/arrays a payload may have (crmml writes at most 5)."""

DEFAULT_FIX = ("The artifact is damaged, was edited by hand or was written by an incompatible crmml; "
               "restore it from the MLflow registry or re-train the model.")

_KINDS: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}
_MAX_SHOWN = 60

Closed = Literal["both", "left", "right", "neither"]
PathPart = str | int
_MAX_PATH_PARTS = 12


def format_path(source: str, path: Sequence[PathPart]) -> str:
    """``source: a.b[0].c`` — the name of a field in messages (``source`` alone for the root).

    Keys that are not plain identifiers are quoted (``files['model.json'].size``);
    very deep paths are shortened in the middle.
    """
    parts = list(path)
    if len(parts) > _MAX_PATH_PARTS:
        parts = parts[:4] + ["..."] + parts[-(_MAX_PATH_PARTS - 5):]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "..." or str(part).isidentifier():
            text += f".{part}" if text else str(part)
        else:
            text += f"[{describe(str(part))}]"
    if not source:
        return text or "value"
    return f"{source}: {text}" if text else source


def describe(value: Any) -> str:
    """A short description of an arrived value for messages: JSON spelling, size of containers, truncated."""
    if isinstance(value, _NonFinite):
        return value.literal
    if isinstance(value, dict):
        return f"an object with keys {_names(list(value))}"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an int too long to print (Python caps int -> str at 4300 digits)
        return "a number too large to print"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _names(keys: Iterable[Any]) -> str:
    shown = [describe(str(k)) for k in keys]
    return ", ".join(shown[:10]) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name in ("object", "array", "string", "integer", "number", "null"):
        if isinstance(value, _KINDS[name]):
            return name
    return type(value).__name__


# ------------------------------------------------------------------ parsing
class _NonFinite:
    """Placeholder for a ``NaN``/``Infinity`` literal, reported with its path after parsing."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object that named a key twice (reported with its path after parsing)."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            dup = _Duplicated(out)
            dup.duplicate = k
            return dup
        out[k] = v
    return out


def _bad_value(value: Any) -> str | None:
    """Why a scalar is not allowed in a payload, or None."""
    if isinstance(value, _NonFinite):
        return f"{value.literal} is not a JSON number (JSON has no NaN or infinity)"
    if isinstance(value, float) and math.isnan(value):
        return "NaN is not a JSON number (JSON has no NaN or infinity)"
    if isinstance(value, float) and math.isinf(value):
        return f"the number is {value} (JSON numbers must be finite; a literal such as 1e999 overflows)"
    return None


def _check_tree(root: Any, source: str, path: tuple[PathPart, ...], max_depth: int) -> None:
    """Depth, finiteness and duplicate-key check of a parsed tree, without recursion."""
    stack: list[tuple[Any, tuple[PathPart, ...], int]] = [(root, path, 1)]
    while stack:
        obj, where, depth = stack.pop()
        if isinstance(obj, (dict, list)):
            if depth > max_depth:
                raise IncompatibleArtifactError(
                    f"{format_path(source, where)}: nested more than {max_depth} levels deep; crmml writes "
                    f"flat payloads. {DEFAULT_FIX}")
            if isinstance(obj, _Duplicated):
                raise IncompatibleArtifactError(
                    f"{format_path(source, where)}: the key {obj.duplicate!r} appears more than once; "
                    f"expected each key once. {DEFAULT_FIX}")
            items: Iterable[tuple[Any, Any]] = obj.items() if isinstance(obj, dict) else enumerate(obj)
            for k, v in items:
                if isinstance(v, (dict, list)):
                    stack.append((v, (*where, k), depth + 1))
                elif isinstance(v, (float, _NonFinite)) and (why := _bad_value(v)):
                    raise IncompatibleArtifactError(f"{format_path(source, (*where, k))}: {why}. {DEFAULT_FIX}")
        elif why := _bad_value(obj):
            raise IncompatibleArtifactError(f"{format_path(source, where)}: {why}. {DEFAULT_FIX}")


# ------------------------------------------------------------------ reading
class Payload:
    """A read-only view of one JSON object of an artifact, which knows where it sits.

    Build one with :meth:`parse` (bytes or text of a file) or :meth:`of` (an
    already-parsed mapping); :meth:`mapping` returns the view of a nested
    object. Every accessor raises
    :class:`~crmml.exceptions.IncompatibleArtifactError` whose message starts
    with the dotted path of the field, e.g.
    ``model.json: transaction_model.params.r: expected a finite number > 0; got -1.``

    Parameters
    ----------
    data : dict
        The object (already checked: use :meth:`parse` or :meth:`of`).
    source : str
        The file (``"model.json"``) or call (``"BetaGeoModel.from_dict"``) it came from.
    path : tuple of str or int
        Keys/indices from the root of ``source`` to this object.
    fix : str
        The advice appended to every message.
    """

    __slots__ = ("data", "source", "path", "fix")

    def __init__(self, data: dict[str, Any], source: str, path: tuple[PathPart, ...] = (),
                 fix: str = DEFAULT_FIX) -> None:
        self.data = data
        self.source = source
        self.path = path
        self.fix = fix

    # -------------------------------------------------------- construction
    @classmethod
    def parse(cls, raw: bytes | str, *, source: str, max_depth: int = MAX_DEPTH, fix: str = DEFAULT_FIX) -> Payload:
        """Parse a JSON document whose root must be an object.

        Raises
        ------
        IncompatibleArtifactError
            Not UTF-8, not JSON, root not an object, nested deeper than
            ``max_depth``, a ``NaN``/``Infinity`` literal or a number that
            overflows, a key given twice; the message names ``source`` and the path.
        """
        try:
            text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray, memoryview)) else raw
        except UnicodeDecodeError as exc:
            raise IncompatibleArtifactError(
                f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a UTF-8 JSON document. {fix}"
            ) from None
        try:
            data = json.loads(text, parse_constant=_NonFinite, object_pairs_hook=_pairs)
        except RecursionError:
            raise IncompatibleArtifactError(
                f"{source}: nested more than {max_depth} levels deep; crmml writes flat payloads. {fix}") from None
        except ValueError as exc:  # JSONDecodeError, or an integer literal longer than Python converts
            raise IncompatibleArtifactError(f"{source}: not valid JSON ({describe(str(exc))}). {fix}") from None
        if not isinstance(data, dict):
            raise IncompatibleArtifactError(
                f"{source}: expected a JSON object at the top level; got {describe(data)}. {fix}")
        _check_tree(data, source, (), max_depth)
        return cls(data, source, (), fix)

    @classmethod
    def of(cls, data: Mapping[str, Any] | Payload, *, source: str, max_depth: int = MAX_DEPTH,
           fix: str = DEFAULT_FIX) -> Payload:
        """Wrap an already-parsed mapping (a ``Payload`` is returned unchanged).

        The mapping gets the checks :meth:`parse` applies (depth, finite
        numbers), so a dict built in Python with ``nan`` in it is refused too.
        """
        if isinstance(data, Payload):
            return data
        if not isinstance(data, Mapping):
            raise IncompatibleArtifactError(f"{source}: expected a JSON object; got {describe(data)}. {fix}")
        plain = dict(data)
        _check_tree(plain, source, (), max_depth)
        return cls(plain, source, (), fix)

    # ------------------------------------------------------------- naming
    def where(self, key: PathPart | None = None) -> str:
        """Dotted name of this object (``key=None``) or of one of its fields."""
        return format_path(self.source, self.path if key is None else (*self.path, key))

    def error(self, key: PathPart | None, expected: str, got: Any, *,
              hint: str | None = None) -> IncompatibleArtifactError:
        """The exception for a field: ``<path>: expected <expected>; got <got>. <fix>`` (not raised)."""
        shown = got if isinstance(got, _Shown) else describe(got)
        return IncompatibleArtifactError(f"{self.where(key)}: expected {expected}; got {shown}. {hint or self.fix}")

    # --------------------------------------------------------------- keys
    def __contains__(self, key: object) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        return list(self.data)

    def keys_exactly(self, required: Iterable[str], optional: Iterable[str] = ()) -> None:
        """Refuse missing ``required`` keys and any key outside ``required`` + ``optional``."""
        req = list(required)
        allowed = set(req) | set(optional)
        missing = [k for k in req if k not in self.data]
        if missing:
            raise IncompatibleArtifactError(
                f"{self.where()}: missing key{'s' if len(missing) > 1 else ''} {_names(missing)}; "
                f"expected the keys {_names(sorted(allowed))}. {self.fix}")
        unknown = [k for k in self.data if k not in allowed]
        if unknown:
            raise IncompatibleArtifactError(
                f"{self.where()}: unknown key{'s' if len(unknown) > 1 else ''} {_names(unknown)}; "
                f"expected only {_names(sorted(allowed))}. {self.fix}")

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise IncompatibleArtifactError(f"{self.where(key)}: missing; expected it to be present. {self.fix}")
        return self.data[key]

    # ---------------------------------------------------------- accessors
    def require(self, key: str, kind: str | tuple[str, ...]) -> Any:
        """The raw value of ``key`` if its JSON kind is ``kind``.

        ``kind`` is one of ``"object"``, ``"array"``, ``"string"``,
        ``"number"``, ``"integer"``, ``"boolean"``, ``"null"``, or a tuple of
        them. ``true``/``false`` are booleans only (never numbers).
        """
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        value = self._get(key)
        actual = _kind_of(value)
        if actual in kinds or (actual == "integer" and "number" in kinds):
            return value
        raise self.error(key, " or ".join(f"a{'n' if k[0] in 'aeiou' else ''} {k}" for k in kinds),
                         _Shown(f"{describe(value)} ({actual})"))

    def finite_float(self, key: str, *, low: float | None = None, high: float | None = None,
                     closed: Closed = "both", nullable: bool = False) -> float | None:
        """A finite number (integer or float literal) within ``[low, high]`` as a float.

        ``closed`` says which bounds are included (as in
        :class:`crmml._validation.Interval`); ``nullable`` allows ``null``
        (returned as ``None``).
        """
        expected = _interval_words(low, high, closed) + (" or null" if nullable else "")
        value = self._get(key)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, expected, value)
        try:
            v = float(value)
        except OverflowError:
            raise self.error(key, expected, value) from None
        if not math.isfinite(v) or not _in_interval(v, low, high, closed):
            raise self.error(key, expected, value)
        return v

    def int_in(self, key: str, *, low: int | None = None, high: int | None = None,
               nullable: bool = False) -> int | None:
        """An integer literal (not ``1.0``, not ``true``, not ``"1"``) in ``[low, high]``."""
        expected = _interval_words(low, high, "both", integer=True) + (" or null" if nullable else "")
        value = self._get(key)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not _in_interval(value, low, high, "both"):
            raise self.error(key, expected, value)
        return int(value)

    def str_in(self, key: str, options: Iterable[str] | None = None, *, nullable: bool = False,
               max_length: int = 10_000) -> str | None:
        """A string, one of ``options`` when given, at most ``max_length`` characters."""
        opts = None if options is None else tuple(options)
        expected = (f"a string of at most {max_length} characters" if opts is None
                    else "one of " + ", ".join(repr(o) for o in opts)) + (" or null" if nullable else "")
        value = self._get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) > max_length or (opts is not None and value not in opts):
            raise self.error(key, expected, value)
        return value

    def boolean(self, key: str) -> bool:
        """``true`` or ``false`` (not 0/1)."""
        value = self._get(key)
        if not isinstance(value, bool):
            raise self.error(key, "true or false", value)
        return value

    def mapping(self, key: str, *, nullable: bool = False) -> Payload | None:
        """The nested object at ``key`` as a :class:`Payload` (path extended by ``key``)."""
        value = self._get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, dict):
            raise self.error(key, "an object" + (" or null" if nullable else ""), value)
        return Payload(value, self.source, (*self.path, key), self.fix)

    def array(self, key: str, *, length: int | None = None, nullable: bool = False) -> list[Any] | None:
        """The array at ``key`` (raw items), of exactly ``length`` items when given."""
        value = self._get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, list) or (length is not None and len(value) != length):
            size = "" if length is None else f" of {length} items"
            raise self.error(key, f"an array{size}" + (" or null" if nullable else ""), value)
        return value

    def float_matrix(self, key: str, shape: tuple[int, int], *, null_entries: bool = False,
                     nullable: bool = False) -> np.ndarray | None:
        """A ``shape`` array of arrays of finite numbers as float64 (``null`` entries → NaN if allowed)."""
        rows = self.array(key, length=shape[0], nullable=nullable)
        if rows is None:
            return None
        out = np.empty(shape, dtype="float64")
        entry = "finite numbers" + (" or null" if null_entries else "")
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != shape[1]:
                raise IncompatibleArtifactError(
                    f"{format_path(self.source, (*self.path, key, i))}: expected an array of {shape[1]} "
                    f"{entry}; got {describe(row)}. {self.fix}")
            for j, v in enumerate(row):
                if v is None and null_entries:
                    out[i, j] = np.nan
                    continue
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
                try:
                    fv = float(v) if ok else math.nan
                except OverflowError:
                    fv = math.nan
                if not math.isfinite(fv):
                    raise IncompatibleArtifactError(
                        f"{format_path(self.source, (*self.path, key, i, j))}: expected a finite number"
                        f"{' or null' if null_entries else ''}; got {describe(v)}. {self.fix}")
                out[i, j] = fv
        return out

    def __repr__(self) -> str:
        return f"Payload({self.where()!r}, keys={self.keys()!r})"


class _Shown(str):
    """An already-formatted description of an arrived value."""


def _interval_words(low: float | None, high: float | None, closed: Closed, *, integer: bool = False) -> str:
    noun = "an integer" if integer else "a finite number"
    lo = ">=" if closed in ("both", "left") else ">"
    hi = "<=" if closed in ("both", "right") else "<"
    if low is not None and high is not None:
        lb = "[" if closed in ("both", "left") else "("
        rb = "]" if closed in ("both", "right") else ")"
        return f"{noun} in {lb}{low:g}, {high:g}{rb}"
    if low is not None:
        return f"{noun} {lo} {low:g}"
    if high is not None:
        return f"{noun} {hi} {high:g}"
    return noun


def _in_interval(v: float, low: float | None, high: float | None, closed: Closed) -> bool:
    if low is not None and (v < low or (v == low and closed in ("right", "neither"))):
        return False
    if high is not None and (v > high or (v == high and closed in ("left", "neither"))):
        return False
    return True


# ------------------------------------------------------------------ writing
def bounded_number(value: Any, low: float | None = None, high: float | None = None) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), finite and within ``[low, high]``; else None.

    The element check of the strict readers of number arrays (they name the
    bad element with their own error, see :func:`number_bounds_words`).
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        fv = float(value)
    except OverflowError:
        return None
    if not math.isfinite(fv) or (low is not None and fv < low) or (high is not None and fv > high):
        return None
    return fv


def number_bounds_words(low: float | None = None, high: float | None = None) -> str:
    """``" >= 0 <= 1"``: the bounds of :func:`bounded_number` for an error message."""
    return ("" if low is None else f" >= {low:g}") + ("" if high is None else f" <= {high:g}")


def to_jsonable(obj: Any, *, source: str = "", _path: tuple[PathPart, ...] = ()) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types.

    Mappings become objects (keys as strings), sequences and arrays become
    lists, numpy scalars become Python numbers, dates their ISO text.

    Parameters
    ----------
    obj : object
        The value to convert.
    source : str
        Name of the file or value, used in messages (``"model.json"``).

    Raises
    ------
    ArtifactError
        A float is NaN or infinite (or a timestamp is NaT): JSON cannot hold
        it and a model saved with it could not be loaded. The message names
        the field (``model.json: champion_threshold``). A value that may
        legitimately be unknown must be stored as ``None`` explicitly.
    TypeError
        A value of a type JSON cannot hold.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v, source=source, _path=(*_path, str(k))) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, source=source, _path=(*_path, i)) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v, source=source, _path=(*_path, i)) for i, v in enumerate(obj.tolist())]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ArtifactError(
                f"Cannot store {format_path(source, _path)} = {obj!r} in a crmml artifact: JSON has no NaN or "
                "infinity, and a model saved with it could not be loaded. Fix the value before saving (a value "
                "that can be unknown must be stored as None explicitly).")
        return float(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if hasattr(obj, "isoformat"):
        if obj != obj:  # pandas.NaT
            raise ArtifactError(
                f"Cannot store {format_path(source, _path)} = NaT in a crmml artifact: it is not a time. "
                "Fix the value before saving.")
        return obj.isoformat()
    raise TypeError(
        f"Cannot store {format_path(source, _path)} (a {type(obj).__name__}) in a crmml artifact (JSON only).")


def dump_json(obj: Any, *, source: str = "") -> str:
    """``obj`` as indented, key-sorted JSON text, refusing non-finite numbers (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(obj, source=source), indent=2, sort_keys=True, allow_nan=False)
