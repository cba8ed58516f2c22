"""MLflow plumbing shared by loading (read side) and :mod:`crmml.tracking` (write side).

This module sits in :mod:`crmml.scoring` so that :func:`crmml.load_scorer` can
download ``models:/`` and ``runs:/`` URIs without importing
:mod:`crmml.tracking` (which imports this package: the dependency stays
one-way). MLflow is imported **inside functions only**: importing this module
costs nothing, and ``import crmml`` never imports MLflow.

What it guarantees:

* **No surprise stores.** A read (download) never creates a tracking store:
  when the store is a local SQLite file or file-store folder that does not
  exist, :func:`download_model` refuses with :class:`~crmml.exceptions.TrackingError`
  instead of letting MLflow create an empty ``mlflow.db``.
* **Known URI schemes only.** :func:`check_tracking_uri` refuses a URI whose
  scheme MLflow has no store for (``bogus://``) with
  :class:`~crmml.exceptions.ParameterError`, before MLflow is imported.
* **Fail fast.** An ``http(s)`` tracking server is probed first
  (:func:`probe_tracking_server`: a few short attempts), and MLflow's own HTTP
  retries are bounded while crmml calls MLflow (:func:`mlflow_call`), so an
  unreachable server costs seconds, not MLflow's default ~4 minutes of retries.
* **Clear errors.** Exceptions raised by MLflow (and the database / HTTP
  libraries under it) become :class:`~crmml.exceptions.TrackingError` naming
  the store URI; a registered model, version, alias or run that does not exist
  becomes :class:`~crmml.exceptions.ArtifactError` naming the model URI.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from crmml.exceptions import CrmmlError, ModelNotFoundError, ParameterError, TrackingError

__all__ = [
    "DEFAULT_TRACKING_URI",
    "STORE_SCHEMES",
    "HTTP_LIMITS",
    "is_mlflow_uri",
    "resolve_tracking_uri",
    "check_tracking_uri",
    "local_store_path",
    "probe_tracking_server",
    "mlflow_call",
    "download_model",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

#: Tracking-store URI schemes MLflow 3 registers itself
#: (``mlflow.tracking._tracking_service.utils._register_tracking_stores``): a plain
#: path or ``file:`` (the legacy file store), the SQLAlchemy engines
#: (``mlflow.store.db.db_types.DATABASE_ENGINES``, with an optional ``+driver``),
#: a tracking server over HTTP(S), Databricks and Unity Catalog. Plugins add
#: schemes through the ``mlflow.tracking_store`` entry-point group; those are
#: accepted too (see :func:`_plugin_schemes`).
STORE_SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks",
                 "databricks-uc", "uc")

#: MLflow URIs :func:`download_model` handles (the rest are local paths).
_MLFLOW_URI = re.compile(r"^(models|runs|mlflow-artifacts|dbfs|s3|gs|wasbs|https?):/")

#: MLflow's HTTP retry settings while crmml calls MLflow, unless the user set
#: them: MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) keep a
#: client retrying an unreachable server for about four minutes.
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}

_LOCK = threading.RLock()  # mlflow_call swaps process-wide settings (environment, tracking URI)

_LIB_MODULES = ("mlflow", "sqlalchemy", "alembic", "requests", "urllib3", "botocore", "boto3", "google",
                "azure", "databricks")


def is_mlflow_uri(uri: str | os.PathLike[str]) -> bool:
    """Whether ``uri`` is an MLflow URI (``models:/``, ``runs:/``, ``s3://`` ...) rather than a local path."""
    return bool(_MLFLOW_URI.match(os.fspath(uri)))


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI crmml will use: argument > ``MLFLOW_TRACKING_URI`` > ``sqlite:///mlflow.db``.

    ``mlflow.set_tracking_uri(x)`` also sets ``MLFLOW_TRACKING_URI``, so a URI
    chosen in code is honoured too. A relative SQLite path is made absolute
    against the current working directory (``sqlite:///mlflow.db`` →
    ``sqlite:////work/mlflow.db``): MLflow caches one database engine per URI
    string, so a relative URI would keep pointing at the first directory it
    was used in after a ``chdir``.

    Examples
    --------
    >>> import os
    >>> resolve_tracking_uri("sqlite:///runs/mlflow.db") == f"sqlite:///{os.getcwd()}/runs/mlflow.db"
    True
    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if isinstance(chosen, str) and chosen.startswith("sqlite:///") and not chosen.startswith("sqlite:////"):
        path, sep, query = chosen[len("sqlite:///"):].partition("?")
        if path and path != ":memory:":
            return "sqlite:///" + os.path.abspath(unquote(path)) + sep + query  # sqlite:////abs/path
    return chosen


def _scheme(uri: str) -> str:
    """The store scheme of ``uri`` the way MLflow reads it ('' for a plain path)."""
    if uri in ("databricks", "databricks-uc", "uc"):
        return uri
    scheme = urlparse(uri).scheme.lower()
    if len(scheme) == 1 and scheme.isalpha():  # a Windows drive letter: a path
        return ""
    return scheme.split("+", 1)[0]  # postgresql+psycopg2 -> postgresql


def _plugin_schemes() -> tuple[str, ...]:
    """Schemes third-party packages register in MLflow's ``mlflow.tracking_store`` entry-point group."""
    from importlib.metadata import entry_points

    try:
        return tuple(ep.name for ep in entry_points(group="mlflow.tracking_store"))
    except Exception:  # pragma: no cover - broken package metadata must not break crmml
        return ()


def check_tracking_uri(uri: str, *, name: str = "tracking_uri") -> str:
    """Refuse a tracking URI MLflow has no store for, before MLflow is imported.

    Parameters
    ----------
    uri : str
        The resolved tracking URI.
    name : str
        How the user set it, for the message (``"--tracking-uri"``,
        ``"MLFLOW_TRACKING_URI"``, ``"tracking_uri"``).

    Returns
    -------
    str
        ``uri`` unchanged.

    Raises
    ------
    ParameterError
        Unknown scheme (``bogus://``) or an empty URI.
    """
    scheme = _scheme(uri) if isinstance(uri, str) and uri.strip() else None
    known = ("", *STORE_SCHEMES, *_plugin_schemes())
    if scheme is None or scheme not in known:
        raise ParameterError(
            f"The {name!r} parameter must be an MLflow tracking URI: a folder path, or a URI with a scheme MLflow "
            f"has a store for ({', '.join(s + ':' for s in STORE_SCHEMES)}). Got {uri!r} instead. "
            "Fix: e.g. sqlite:///mlflow.db (a local file), http://127.0.0.1:5000 (a tracking server) or "
            "postgresql://user@host/db."
        )
    return uri


def local_store_path(uri: str) -> Path | None:
    """The file (SQLite) or folder (file store) behind a local tracking URI, else ``None``.

    ``sqlite:///mlflow.db`` → ``mlflow.db`` (relative to the working directory),
    ``sqlite:////abs/x.db`` → ``/abs/x.db``, ``file:///abs/mlruns`` and plain
    paths → that folder. In-memory SQLite and remote stores give ``None``.
    """
    scheme = _scheme(uri)
    if scheme == "sqlite":
        rest = uri.split(":", 1)[1]
        if not rest.startswith("///"):
            return None  # sqlite:// (in memory) or a malformed URI: MLflow will say
        path = unquote(rest[3:].split("?", 1)[0])
        return None if path in ("", ":memory:") else Path(path)
    if scheme == "file":
        return Path(unquote(urlparse(uri).path))
    if scheme == "":
        return Path(uri)
    return None


def _require_local_store(uri: str, name: str) -> None:
    """A read must not create a store: refuse a local store that does not exist."""
    path = local_store_path(uri)
    if path is not None and not path.exists():
        raise TrackingError(
            f"No MLflow store at {uri} ({name}; no {'file' if _scheme(uri) == 'sqlite' else 'folder'} "
            f"{str(path.resolve())!r}): reading a model never creates one. Fix: set --tracking-uri or "
            "MLFLOW_TRACKING_URI to the store the model was logged to (e.g. sqlite:////path/to/mlflow.db or "
            "http://host:5000), or run from the folder that holds mlflow.db."
        )


def probe_tracking_server(uri: str, *, attempts: int = 3, timeout: float = 2.0, pause: float = 0.5) -> None:
    """Check that an ``http(s)`` tracking server answers at all, in a few seconds.

    Sends ``GET <uri>/health`` (MLflow's health endpoint); *any* HTTP answer
    (even 401 or 404) means the server is reachable and MLflow takes it from
    there. Only connection failures and timeouts are retried, ``attempts``
    times in total with ``pause``, ``2 * pause``, ... seconds in between. Other
    schemes are not probed.

    Raises
    ------
    TrackingError
        Nothing answered; the message says how many attempts were made and how
        long it waited.
    """
    if _scheme(uri) not in ("http", "https"):
        return
    import requests  # MLflow's own HTTP client: same proxy and certificate settings

    url = uri.rstrip("/") + "/health"
    t0 = time.monotonic()
    last: Exception | None = None
    for i in range(attempts):
        try:
            requests.get(url, timeout=timeout, allow_redirects=False)
            return
        except requests.RequestException as exc:
            last = exc
        if i + 1 < attempts:
            time.sleep(pause * 2**i)
    waited = time.monotonic() - t0
    raise TrackingError(
        f"The MLflow tracking server {uri} is unreachable: {attempts} attempts to GET {url} over {waited:.1f} s "
        f"(timeout {timeout:g} s each) failed; last error: {_short(last)}. Fix: start the server "
        "(mlflow server --host 127.0.0.1 --port 5000), check --tracking-uri / MLFLOW_TRACKING_URI, or use a "
        "local store (sqlite:///mlflow.db)."
    )


def _short(exc: object, limit: int = 300) -> str:
    """One line of at most ``limit`` characters; a connection failure as its OS reason only."""
    text = " ".join(str(getattr(exc, "message", exc)).split())
    errno = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if errno and ("Max retries exceeded" in text or "Failed to establish" in text):
        text = f"connection failed: {errno.group(0).strip()}"
    elif status := re.search(r"too many (\d+) error responses", text):
        text = f"the server answered HTTP {status.group(1)} to every attempt"
    elif "timed out" in text.lower() and ("Max retries exceeded" in text or "Timeout" in text):
        text = "connection timed out"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_not_found(exc: BaseException) -> bool:
    """MLflow's "no such registered model / version / alias / run / logged model"."""
    code = getattr(exc, "error_code", "")
    msg = str(getattr(exc, "message", exc)).lower()
    return code == "RESOURCE_DOES_NOT_EXIST" or "not found" in msg or "no versions of model" in msg


@contextmanager
def _bounded_http() -> Iterator[None]:
    """Set :data:`HTTP_LIMITS` for MLflow's HTTP client unless the user set them; restore after."""
    added = [k for k in HTTP_LIMITS if k not in os.environ]
    for k in added:
        os.environ[k] = HTTP_LIMITS[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextmanager
def _use_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking URI at ``uri`` for the duration (some MLflow code,
    e.g. resolving ``models:/name@alias``, reads only the global URI)."""
    import mlflow

    try:  # the URI the process set (mlflow.set_tracking_uri), which get_tracking_uri() cannot tell from the default
        from mlflow.tracking._tracking_service import utils as _service

        before_global = getattr(_service, "_tracking_uri", None)
    except ImportError:  # pragma: no cover - another MLflow layout
        before_global = None
    before_env = os.environ.get("MLFLOW_TRACKING_URI")
    if mlflow.get_tracking_uri() == uri and before_env == uri:
        yield
        return
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before_global if before_global is not None else before_env)  # None unsets it
        if before_env is None:  # set_tracking_uri writes the variable too: put back what the process had
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before_env


@contextmanager
def mlflow_call(uri: str, action: str, *, model_uri: str | None = None) -> Iterator[None]:
    """Run MLflow calls with bounded HTTP retries and crmml errors.

    Parameters
    ----------
    uri : str
        The tracking store URI (named in messages).
    action : str
        What was being done (``"logging the run"``), for messages.
    model_uri : str, optional
        The model being read: "not found" answers then become
        :class:`~crmml.exceptions.ArtifactError` naming it.

    Raises
    ------
    TrackingError
        MLflow (or the database / HTTP library under it) failed.
    ArtifactError
        With ``model_uri``: the registered model, version, alias or run does
        not exist.
    """
    t0 = time.monotonic()
    with _LOCK, _bounded_http():
        try:
            yield
        except CrmmlError:
            raise
        except Exception as exc:
            if not (_from_libraries(exc) or isinstance(exc, OSError)):
                raise
            if model_uri is not None and _is_not_found(exc):
                raise ModelNotFoundError(
                    f"No model at {model_uri!r} in the MLflow store {uri}: {_short(exc)}. "
                    "Fix: check the registered model name, version or alias (mlflow ui, or "
                    "MlflowClient().search_registered_models()), the run id, or --tracking-uri / "
                    "MLFLOW_TRACKING_URI."
                ) from None
            limits = {k: os.environ.get(k, v) for k, v in HTTP_LIMITS.items()}
            retries = limits["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
            attempts = str(1 + int(retries)) if retries.strip().isdigit() else f"1 + {retries!r}"
            http = (f" MLflow's HTTP client made up to {attempts} attempts per request "
                    f"(timeout {limits['MLFLOW_HTTP_REQUEST_TIMEOUT']} s each)."
                    if _scheme(uri) in ("http", "https") else "")
            raise TrackingError(
                f"The MLflow tracking store {uri} failed while {action} after {time.monotonic() - t0:.1f} s: "
                f"{type(exc).__name__}: {_short(exc)}.{http} Fix: check that the store "
                "is reachable and usable (the tracking URI: --tracking-uri or MLFLOW_TRACKING_URI)."
            ) from exc


def _from_libraries(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.split(".", 1)[0] in _LIB_MODULES


def download_model(uri: str, *, tracking_uri: str | None = None, dst_path: str | os.PathLike[str] | None = None,
                   name: str = "tracking_uri") -> Path:
    """Download an MLflow model to a local folder, without side effects on the store.

    Parameters
    ----------
    uri : str
        ``models:/<name>@<alias>``, ``models:/<name>/<version>``,
        ``runs:/<run_id>/<path>``, or an artifact URI (``s3://``,
        ``mlflow-artifacts:/`` ...).
    tracking_uri : str, optional
        The tracking store (default: ``MLFLOW_TRACKING_URI``, else
        ``sqlite:///mlflow.db``). The model registry is ``MLFLOW_REGISTRY_URI``
        when set, else the tracking store.
    dst_path : path-like, optional
        Where to download (default: a new temporary folder).
    name : str
        How the caller calls ``tracking_uri`` (``"--tracking-uri"``), for
        messages.

    Returns
    -------
    pathlib.Path
        The local folder (an MLflow model folder holding the crmml artifact).

    Raises
    ------
    ParameterError
        The tracking URI has a scheme MLflow has no store for.
    TrackingError
        The store does not exist (a local ``mlflow.db`` or ``mlruns`` folder
        that is not there: it is never created by a read), does not answer, or
        fails.
    ArtifactError
        The registered model, version, alias or run does not exist.

    Examples
    --------
    >>> from crmml.scoring._mlflow import download_model
    >>> download_model("models:/crmml-clv@champion", tracking_uri="sqlite:////nowhere/mlflow.db")
    Traceback (most recent call last):
    ...
    crmml.exceptions.TrackingError: No MLflow store at sqlite:////nowhere/mlflow.db ...
    """
    text = os.fspath(uri)
    if not tracking_uri:
        name = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the default tracking URI"
    store = check_tracking_uri(resolve_tracking_uri(tracking_uri), name=name)
    registry = resolve_tracking_uri(os.environ["MLFLOW_REGISTRY_URI"]) if os.environ.get("MLFLOW_REGISTRY_URI") \
        else store
    scheme = text.split(":", 1)[0]
    if scheme in ("models", "runs"):
        _require_local_store(store, name)
        if registry != store and scheme == "models":
            check_tracking_uri(registry, name="MLFLOW_REGISTRY_URI")
            _require_local_store(registry, "MLFLOW_REGISTRY_URI")
        probe_tracking_server(store)
        if registry != store:
            probe_tracking_server(registry)
    with mlflow_call(store, f"downloading {text}", model_uri=text):
        import mlflow.artifacts

        with _use_tracking_uri(store):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=text, tracking_uri=store, registry_uri=registry,
                dst_path=None if dst_path is None else os.fspath(dst_path))
    return Path(local)
