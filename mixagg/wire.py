"""The wire format of one transmitted local estimate: versioned JSON, parsed strictly (docs/wire_and_engine.md).

A machine sends ``dumps(estimate)``; the server turns each received text into either a
:class:`TransmittedEstimate` (a validated :class:`~mixagg.MixingDistribution`) or a
:class:`Rejected` record with the reason. Received text is untrusted: :func:`loads` never
unpickles or evaluates anything, bounds the size, and checks the schema, types, shapes,
finiteness, the family and K the server expects, the weights and every parameter's domain,
and never raises because of what the text contains.

Format, version 1 (keys in this order; ``machine_id``, ``n_samples`` and ``metadata`` may be null)::

    {"format": "mixagg.estimate", "version": 1, "machine_id": "m07",
     "family": {"name": "gaussian", "d": 2}, "n_components": 2, "n_samples": 2000,
     "weights": [0.4, 0.6],
     "params": {"mean": [[0.0, 0.0], [3.0, 1.0]], "cov": [[[1.0, 0.3], [0.3, 0.5]], [[2.0, 0.0], [0.0, 1.0]]]},
     "metadata": {"site": "Oslo"}}

A parameter the components share (``family.shared_params``: the covariance of a tied Gaussian structure) is
sent once, with the shape of one component's parameter. Numbers are written with Python's shortest round-trip
representation, so a valid estimate round-trips exactly.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import WEIGHT_SUM_ATOL as _WEIGHT_SUM_ATOL
from ._validation import check_int
from .families import ExponentialFamily, get_family
from .families.registry import registered_factory
from .mixture import MixingDistribution, as_mixture
from .rejection import Rejected

__all__ = ["FORMAT", "VERSION", "Rejected", "TransmittedEstimate", "agree_with_majority", "dumps", "load_many", "loads"]

FORMAT = "mixagg.estimate"
VERSION = 1
#: Largest accepted payload, in bytes of UTF-8 (a Gaussian estimate with K = 50, d = 100 is about 10 MB).
MAX_PAYLOAD_BYTES = 16 * 2**20
#: Tolerance on ``|sum(weights) - 1|``: the library's one weight tolerance (JSON numbers are float64);
#: accepted weights are renormalised exactly.
WEIGHT_SUM_ATOL = _WEIGHT_SUM_ATOL
#: Parameters and weights beyond this magnitude are rejected (they overflow the L2 kernels).
MAX_ABS_VALUE = 1e100
#: ``n_samples`` must be a whole number in ``[1, MAX_SAMPLE_SIZE]`` (exact in a JSON double). The rules
#: still treat the accepted claims as untrusted (``sample_size_bound``, ``docs/aggregation.md``).
MAX_SAMPLE_SIZE = 10**15
#: Integer family settings (such as ``d``) above this are rejected before any family is built.
MAX_SETTING = 4096
#: A family setting that is a list (Categorical's ``levels``) has at most this many entries.
MAX_SETTING_ITEMS = 256
#: Longest machine id, and most bytes of metadata once re-serialised.
MAX_ID_LENGTH = 256
MAX_METADATA_BYTES = 64 * 2**10
_KEYS = ("format", "version", "machine_id", "family", "n_components", "n_samples", "weights", "params", "metadata")
_REQUIRED = ("format", "version", "family", "n_components", "weights", "params")


class TransmittedEstimate(MixingDistribution):
    """A validated received estimate.

    A :class:`~mixagg.MixingDistribution` plus its sender's id, sample size and metadata.
    """

    __slots__ = ("_machine_id", "_n_samples", "_metadata")

    @classmethod
    def _build(
        cls, mixture: MixingDistribution, machine_id: str | int | None, n_samples: int | None, metadata: dict | None
    ) -> TransmittedEstimate:
        obj = cls.__new__(cls)
        for slot in ("_family", "_weights", "_params"):
            object.__setattr__(obj, slot, getattr(mixture, slot))
        object.__setattr__(obj, "_machine_id", machine_id)
        object.__setattr__(obj, "_n_samples", n_samples)
        object.__setattr__(obj, "_metadata", metadata)
        return obj

    @property
    def machine_id(self) -> str | int | None:
        """The sender's id (``None`` if it sent none)."""
        return self._machine_id

    @property
    def n_samples(self) -> int | None:
        """The local sample size the sender reported (``None`` if unknown).

        A claim: the rules weigh by it only within ``sample_size_bound`` of the median claim.
        """
        return self._n_samples

    @property
    def metadata(self) -> dict | None:
        """The sender's free-form metadata (a JSON object), if any."""
        return self._metadata

    def __reduce__(self):
        plain = MixingDistribution(
            self.family.to_dict(), np.array(self.weights), {k: np.array(v) for k, v in self.params.items()}
        )
        return (TransmittedEstimate._build, (plain, self._machine_id, self._n_samples, self._metadata))


class _Invalid(Exception):
    """Internal: a payload failed one check (becomes a :class:`Rejected`)."""


# ---------------------------------------------------------------------------------------------- writing
def dumps(
    estimate: Any,
    machine_id: str | int | None = None,
    *,
    n_samples: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Serialise one local estimate for transmission (format version :data:`VERSION`).

    Parameters
    ----------
    estimate : MixingDistribution
        A local estimate (a :class:`~mixagg.FittedMixture` contributes its ``n_samples``).
    machine_id : str or int, optional
        The sender's id (a received :class:`TransmittedEstimate` keeps its own by default).
    n_samples : int, optional
        Local sample size, a whole number in ``[1, MAX_SAMPLE_SIZE]``; defaults to
        ``estimate.n_samples`` when the estimate has one.
    metadata : mapping, optional
        Free-form JSON object (at most :data:`MAX_METADATA_BYTES` once serialised).

    Examples
    --------
    >>> import mixagg as ma
    >>> G = ma.MixingDistribution("poisson", [0.3, 0.7], {"rate": [1.0, 5.0]})
    >>> text = ma.wire.dumps(G, machine_id="m1", n_samples=500)
    >>> H = ma.wire.loads(text, family="poisson", n_components=2)
    >>> H == G, H.machine_id, H.n_samples
    (True, 'm1', 500)
    """
    g = as_mixture(estimate, "estimate")
    if machine_id is None:
        machine_id = getattr(estimate, "machine_id", None)
    _check_machine_id(machine_id, error=ValueError)
    if n_samples is None:
        n_samples = getattr(estimate, "n_samples", None)
    if n_samples is not None:
        n_samples = _sample_size(n_samples, error=ValueError)
    if metadata is None:
        metadata = getattr(estimate, "metadata", None)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a mapping, got {type(metadata).__name__}")
        metadata = dict(metadata)
        if len(json.dumps(metadata, allow_nan=False)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes once serialised")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "machine_id": machine_id,
        "family": g.family.to_dict(),
        "n_components": g.n_components,
        "n_samples": n_samples,
        "weights": g.weights.tolist(),
        "params": {
            k: (v[0] if k in g.family.shared_params else v).tolist() for k, v in g.params.items()
        },  # a parameter the components share (a tied covariance) is sent once
        "metadata": metadata,
    }
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- reading
def loads(
    text: Any, *, family: Any = None, n_components: Any = None, max_bytes: int = MAX_PAYLOAD_BYTES
) -> TransmittedEstimate | Rejected:
    """Parse and validate one received estimate; a :class:`Rejected` (never an exception) for any malformed content.

    Parameters
    ----------
    text : str or bytes
        The payload, as received.
    family : ExponentialFamily, str or mapping, optional
        The family the server expects (e.g. ``Gaussian(2)`` or ``{"name": "gaussian", "d": 2}``);
        a payload of another family or with other settings is rejected. A bare name whose
        family needs settings (``"gaussian"``) means "this family, with the settings the payload
        carries": only a payload of another family is rejected. An unknown name is a
        ``ValueError``.
    n_components : int or collection of int, optional
        The number of components the server expects, or the orders it accepts (``range(1, 10)``, ``{4, 5, 6}``)
        when machines choose their own (``docs/wire_and_engine.md``).
    max_bytes : int
        Size limit (default :data:`MAX_PAYLOAD_BYTES`).

    Returns
    -------
    TransmittedEstimate or Rejected

    Raises
    ------
    ValueError, TypeError
        Only for invalid *arguments* (``family``, ``n_components``, ``max_bytes``), never for the payload.

    Notes
    -----
    Checks, in order: type and size; JSON syntax (no NaN/Infinity literals, no duplicate keys);
    the top-level keys, ``format`` and ``version``; ``machine_id``, ``n_samples``, ``metadata``;
    the family (registered name, settings, equal to the expected one); ``n_components``
    (equal to the expected one, or one of the accepted orders); weights (K finite non-negative numbers
    summing to 1 within :data:`WEIGHT_SUM_ATOL`); parameters (exactly the family's keys, nested lists of numbers of
    the exact shape, finite, at most :data:`MAX_ABS_VALUE` in magnitude, inside the parameter
    space, e.g. positive definite covariances via Cholesky); and finally that every component
    is square integrable with a finite L2 norm, which the aggregation needs.
    """
    expected_family, expected_name = _expected_family(family)
    expected_k = expected_orders(n_components)
    limit = check_int(max_bytes, "max_bytes", minimum=1)
    machine_id: str | int | None = None
    try:
        data = _parse(text, limit)
        machine_id = _check_machine_id(data.get("machine_id"), error=_Invalid)
        return _validate(data, machine_id, expected_family, expected_k, expected_name)
    except _Invalid as exc:
        return Rejected(machine_id, str(exc))
    except Exception as exc:  # a check this module did not anticipate: still a rejection, never a crash
        return Rejected(machine_id, f"could not be validated ({type(exc).__name__}: {exc})")


def load_many(
    paths_or_texts: Iterable[Any], *, family: Any = None, n_components: Any = None, max_bytes: int = MAX_PAYLOAD_BYTES
) -> list[TransmittedEstimate | Rejected]:
    """:func:`loads` over many payloads: JSON texts, or paths of files holding one each.

    A path is a ``Path`` or a string not starting with ``{``.

    The result has one entry per input, in order; unreadable files become :class:`Rejected` with ``source`` set.
    """
    if isinstance(paths_or_texts, (str, bytes, os.PathLike)):
        raise TypeError("paths_or_texts must be an iterable of paths or texts (wrap a single one in a list)")
    out: list[TransmittedEstimate | Rejected] = []
    for item in paths_or_texts:
        if isinstance(item, os.PathLike) or (isinstance(item, str) and not item.lstrip().startswith("{")):
            path = Path(item)
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    out.append(Rejected(None, f"file is {size} bytes, more than the limit of {max_bytes}", str(path)))
                    continue
                text = path.read_bytes()
            except OSError as exc:
                out.append(Rejected(None, f"could not be read ({exc.strerror or exc})", str(path)))
                continue
            result = loads(text, family=family, n_components=n_components, max_bytes=max_bytes)
            out.append(
                Rejected(result.machine_id, result.reason, str(path)) if isinstance(result, Rejected) else result
            )
        else:
            out.append(loads(item, family=family, n_components=n_components, max_bytes=max_bytes))
    return out


def agree_with_majority(
    entries: list[Any], *, family_name: str | None = None, ties: str = "error", same_order: bool = True
) -> list[TransmittedEstimate | Rejected]:
    """Reject the valid entries whose (family, K) differs from what most of them sent.

    For servers that know only the family's name (Gaussian's ``d`` comes from the data) or not
    even that. ``family_name`` first rejects the other families; then the most common
    (family with its settings, K) is expected of all; with ``same_order=False`` only the family
    (machines that choose their own orders).

    Parameters
    ----------
    entries : list of TransmittedEstimate or Rejected
        What :func:`loads` / :func:`load_many` returned; ``Rejected`` entries pass through.
    family_name : str, optional
        The expected family's name.
    ties : {"error", "first"}
        Without a strict majority: raise a ``ValueError`` naming the groups, or take the group
        of the first valid entry.
    same_order : bool, default True
        Whether the order is part of what must agree.
    """
    if ties not in ("error", "first"):
        raise ValueError(f"ties must be 'error' or 'first', got {ties!r}")
    out = [
        Rejected(e.machine_id, f"family {e.family!r} is not the expected {family_name!r}")
        if family_name is not None and not isinstance(e, Rejected) and e.family.name != family_name
        else e
        for e in entries
    ]

    def key(e: TransmittedEstimate) -> tuple[Any, int | None]:
        return (e.family, e.n_components if same_order else None)

    groups = Counter(key(e) for e in out if not isinstance(e, Rejected))
    if len(groups) <= 1:
        return out
    top = max(groups.values())
    if ties == "error" and sum(c == top for c in groups.values()) > 1:
        kinds = ", ".join(
            f"{f!r}{'' if k is None else f' with K = {k}'} ({c} estimates)" for (f, k), c in groups.items()
        )
        raise ValueError(f"the estimates disagree with no majority: {kinds}")
    fam, k = next(key(e) for e in out if not isinstance(e, Rejected) and groups[key(e)] == top)

    def why(e: TransmittedEstimate) -> str:
        if k is None:
            return f"{e.family!r} differs from the majority's {fam!r}"
        return f"{e.family!r} with K = {e.n_components} differs from the majority's {fam!r} with K = {k}"

    return [Rejected(e.machine_id, why(e)) if not isinstance(e, Rejected) and key(e) != (fam, k) else e for e in out]


# ---------------------------------------------------------------------------------------------- checks
def _family_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    if "name" not in spec:
        raise ValueError("family must name the family: {'name': ..., **settings}")
    return {"family": spec["name"], **{k: v for k, v in spec.items() if k != "name"}}


def _reject_constant(name: str) -> None:
    raise _Invalid(f"the JSON holds the non-finite constant {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Invalid(f"the JSON object repeats the key {key!r}")
        out[key] = value
    return out


def _parse(text: Any, limit: int) -> dict[str, Any]:
    if isinstance(text, str):
        raw = text.encode("utf-8", errors="surrogatepass")
    elif isinstance(text, (bytes, bytearray)):
        raw = bytes(text)
    else:
        raise _Invalid(f"the payload must be a str or bytes, got {type(text).__name__}")
    if len(raw) > limit:
        raise _Invalid(f"the payload is {len(raw)} bytes, more than the limit of {limit}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"the payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(decoded, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _Invalid("the JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int literals longer than Python's limit
        if isinstance(exc, _Invalid):
            raise
        raise _Invalid(f"the payload is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _Invalid(f"the payload must be a JSON object, got a JSON {type(data).__name__}")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise _Invalid(f"unknown keys {sorted(unknown)[:5]}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise _Invalid(f"missing keys {missing}")
    if data["format"] != FORMAT:
        raise _Invalid(f"format must be {FORMAT!r}, got {_short(data['format'])}")
    if type(data["version"]) is not int or data["version"] != VERSION:
        raise _Invalid(
            f"version must be {VERSION} (this is mixagg's wire format {VERSION}), got {_short(data['version'])}"
        )
    return data


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_machine_id(value: Any, *, error: type[Exception]) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise error(f"machine_id must be a string, an integer or null, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        raise error(f"machine_id is longer than {MAX_ID_LENGTH} characters")
    if isinstance(value, int) and abs(value) > 2**63:
        raise error("machine_id is an integer beyond 64 bits")
    return value


def _number(value: Any, name: str, *, positive: bool = False, error: type[Exception] = _Invalid) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{name} must be a number, got {type(value).__name__}")
    try:
        as_float = float(value)
    except OverflowError:
        raise error(f"{name} is too large") from None
    if not math.isfinite(as_float) or abs(as_float) > MAX_ABS_VALUE:
        raise error(f"{name} must be finite and at most {MAX_ABS_VALUE:g} in magnitude, got {_short(value)}")
    if positive and as_float <= 0:
        raise error(f"{name} must be positive, got {_short(value)}")
    return value


def _sample_size(value: Any, *, error: type[Exception] = _Invalid) -> int:
    """A sample size: a whole number (an integral float, such as R's ``3000``, too) in ``[1, MAX_SAMPLE_SIZE]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise error(f"n_samples must be a whole number, got {type(value).__name__}")
    as_float = float(value) if not isinstance(value, int) or abs(value) <= MAX_SAMPLE_SIZE else math.inf
    if not (math.isfinite(as_float) and as_float == math.floor(as_float)):
        raise error(f"n_samples must be a whole number of observations, got {_short(value)}")
    if not 1 <= as_float <= MAX_SAMPLE_SIZE:
        raise error(f"n_samples must lie in [1, {MAX_SAMPLE_SIZE:.0e}], got {_short(value)}")
    return int(as_float)


def _numeric_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A nested JSON list of numbers with exactly ``shape`` (checked level by level before numpy sees it)."""

    def walk(node: Any, depth: int, where: str) -> None:
        if depth == len(shape):
            _number(node, where)
            return
        if not isinstance(node, list):
            raise _Invalid(f"{where} must be a list of length {shape[depth]}, got {type(node).__name__}")
        if len(node) != shape[depth]:
            raise _Invalid(f"{where} must have length {shape[depth]}, got {len(node)}")
        for i, child in enumerate(node):
            walk(child, depth + 1, f"{where}[{i}]")

    walk(value, 0, name)
    return np.array(value, dtype=float).reshape(shape)


def _resolve_sent_family(spec: Any) -> ExponentialFamily:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise _Invalid("family must be an object with a string 'name' and the family's settings")
    settings = {k: v for k, v in spec.items() if k != "name"}
    _check_settings(settings, nested=True)
    try:
        return get_family(spec["name"], **settings)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"family {_short(spec)} is not usable: {exc}") from None


def _check_settings(settings: dict[str, Any], *, nested: bool) -> None:
    """Settings are numbers, short strings, or lists of 1 to MAX_SETTING_ITEMS numbers or short strings; at the top
    level also a list of family objects (the blocks of a product family), whose own settings are flat."""
    for key, val in settings.items():
        if nested and isinstance(val, list) and val and all(isinstance(v, dict) for v in val):
            if len(val) > MAX_SETTING_ITEMS:
                raise _Invalid(f"family setting {key!r} must list 1 to {MAX_SETTING_ITEMS} families, got {len(val)}")
            size = 0
            for v in val:
                if not isinstance(v.get("name"), str) or len(v) > MAX_SETTING_ITEMS:
                    raise _Invalid(f"family setting {key!r} must list family objects with a string 'name'")
                inner = {k: x for k, x in v.items() if k != "name"}
                _check_settings(inner, nested=False)
                size += _settings_size(inner)
            if size > MAX_SETTING:  # the blocks together no larger than one family may be
                raise _Invalid(
                    f"family setting {key!r}: the blocks' sizes (their d and levels) add up to {size:g}, "
                    f"more than {MAX_SETTING}"
                )
            continue
        items = val if isinstance(val, list) else [val]
        strings = isinstance(val, list) and bool(val) and isinstance(val[0], str)
        most = MAX_SETTING if strings else MAX_SETTING_ITEMS  # names of columns may be many
        if isinstance(val, list) and not 1 <= len(val) <= most:
            what = "strings" if strings else "numbers"
            raise _Invalid(f"family setting {key!r} must list 1 to {most} {what}, got {len(val)}")
        if isinstance(val, list) and len({isinstance(item, str) for item in val}) > 1:
            raise _Invalid(f"family setting {key!r} must be a list of numbers or a list of short strings, not both")
        for item in items:
            scalar = isinstance(item, (int, float, str)) and not isinstance(item, bool)
            if not scalar or (isinstance(item, str) and len(item) > 64):
                raise _Invalid(
                    f"family setting {key!r} must be a number, a short string or a list of them, "
                    f"got {type(item).__name__}" + (" in the list" if isinstance(val, list) else "")
                )
            if isinstance(item, (int, float)) and not (math.isfinite(float(item)) and abs(float(item)) <= MAX_SETTING):
                raise _Invalid(f"family setting {key!r} = {_short(val)} is out of range (at most {MAX_SETTING})")


def expected_orders(n_components: Any) -> frozenset[int] | None:
    """The orders a server accepts: ``None`` (any), one order, or a collection of them (a range, a set)."""
    if n_components is None:
        return None
    if isinstance(n_components, (str, bytes)) or not isinstance(n_components, Iterable):
        return frozenset({check_int(n_components, "n_components", minimum=1)})
    orders = frozenset(check_int(k, "n_components", minimum=1) for k in n_components)
    if not orders:
        raise ValueError("n_components lists no order")
    return orders


def _orders_text(orders: frozenset[int]) -> str:
    ordered = sorted(orders)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{ordered[0]}..{ordered[-1]}"
    return str(ordered)


def _settings_size(settings: dict[str, Any]) -> float:
    """The numbers of checked flat settings added up (``d``, each level count): a bound on what building costs."""
    total = 0.0
    for val in settings.values():
        for item in val if isinstance(val, list) else [val]:
            if isinstance(item, (int, float)):
                total += abs(float(item))
    return total


def _expected_family(family: Any) -> tuple[ExponentialFamily | None, str | None]:
    """The expected family, or only its name when a bare name needs settings the payload carries."""
    if family is None:
        return None, None
    if isinstance(family, Mapping):
        return get_family(**_family_kwargs(family)), None
    if isinstance(family, str):
        if registered_factory(family) is None:
            get_family(family)  # raises the ValueError that lists the registered names
        try:
            return get_family(family), None
        except TypeError:  # e.g. "gaussian" without d: this family, with the payload's settings
            return None, family
    return get_family(family), None


def _validate(
    data: dict[str, Any],
    machine_id: str | int | None,
    expected_family: ExponentialFamily | None,
    expected_k: frozenset[int] | None,
    expected_name: str | None = None,
) -> TransmittedEstimate:
    n_samples = None if data.get("n_samples") is None else _sample_size(data["n_samples"])
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _Invalid(f"metadata must be a JSON object or null, got {type(metadata).__name__}")
    if metadata is not None and len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise _Invalid(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    fam = _resolve_sent_family(data["family"])
    if expected_family is not None and fam != expected_family:
        raise _Invalid(f"the estimate is of family {fam!r}, the server expects {expected_family!r}")
    if expected_name is not None and registered_factory(fam.name) is not registered_factory(expected_name):
        raise _Invalid(
            f"the estimate is of family {fam!r}, the server expects the family {expected_name!r} (with any settings)"
        )
    k = data["n_components"]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10_000:
        raise _Invalid(f"n_components must be an integer between 1 and 10000, got {_short(k)}")
    if expected_k is not None and k not in expected_k:
        wanted = next(iter(expected_k)) if len(expected_k) == 1 else f"one of {_orders_text(expected_k)}"
        raise _Invalid(f"the estimate has {k} components, the server expects {wanted}")
    weights = _numeric_array(data["weights"], (k,), "weights")
    if np.any(weights < 0):
        raise _Invalid(f"weights must be non-negative, got {weights.min():g}")
    total = float(weights.sum())
    if abs(total - 1.0) > WEIGHT_SUM_ATOL:
        raise _Invalid(f"weights must sum to 1 within {WEIGHT_SUM_ATOL:g}, they sum to {total!r}")
    params = data["params"]
    if not isinstance(params, dict):
        raise _Invalid(f"params must be a JSON object, got {type(params).__name__}")
    missing = [key for key in fam.param_spec if key not in params]
    extra = [key for key in params if key not in fam.param_spec]
    if missing or extra:
        raise _Invalid(
            f"params must have exactly the keys {sorted(fam.param_spec)} of {fam!r} "
            f"(missing {missing}, unknown {sorted(extra)[:5]})"
        )
    arrays = {
        key: _numeric_array(params[key], (k, *spec.shape), f"params[{key!r}]")
        if key not in fam.shared_params
        else np.broadcast_to(_numeric_array(params[key], spec.shape, f"params[{key!r}]"), (k, *spec.shape)).copy()
        for key, spec in fam.param_spec.items()
    }
    problems = fam.validate(arrays)
    if problems:
        raise _Invalid("parameters outside the family's parameter space: " + "; ".join(problems))
    # the sender's exact numbers unless they are off by more than rounding (MixingDistribution would rescale again)
    exact = abs(total - 1.0) <= 1e-14
    mixture = MixingDistribution._trusted(fam, weights if exact else weights / total, fam.check_params(arrays))
    integrable = np.asarray(fam.square_integrable(dict(mixture.params)))
    if not np.all(integrable):
        raise _Invalid(
            f"component(s) {np.flatnonzero(~integrable).tolist()} are not square integrable, "
            "so L2 distances to them do not exist"
        )
    norms = fam.log_product_integral(dict(mixture.params), dict(mixture.params))
    if not np.all(np.isfinite(norms)):
        raise _Invalid("the L2 norm of some component is not finite in double precision (degenerate parameters)")
    return TransmittedEstimate._build(mixture, machine_id, None if n_samples is None else n_samples, metadata)
