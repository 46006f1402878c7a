"""Product family: independent blocks of any families, for mixed-type records (continuous, counts, binary, categories).

``Product([Gaussian(2, "diag"), Poisson(), Categorical([3, 4])])`` models a record of 2 + 1 + 2 columns whose blocks
are independent given the component. Every operation is the sum or the product over the blocks.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import em_support
from .core import ExponentialFamily, Params, ParamSpec, ProductIntegralDerivatives
from .penalties import Penalty

__all__ = ["MAX_BLOCKS", "Product", "ProductPenalty"]

#: The largest number of blocks of one product family (a bound on what an untrusted payload can ask to build).
MAX_BLOCKS = 64


def _default_names(blocks: Sequence[ExponentialFamily]) -> list[str]:
    """Each block's family name, numbered ``_1, _2, ...`` when several blocks share it."""
    counts = Counter(b.name for b in blocks)
    seen: Counter = Counter()
    out = []
    for b in blocks:
        seen[b.name] += 1
        out.append(b.name if counts[b.name] == 1 else f"{b.name}_{seen[b.name]}")
    return out


class Product(ExponentialFamily):
    r"""Independent blocks of families: :math:`f(x;\theta)=\prod_bf_b(x_b;\theta_b)`.

    Parameters
    ----------
    blocks : sequence of ExponentialFamily or mappings
        The families of the blocks, in column order; a mapping ``{"name": ..., **settings}`` is resolved by
        :func:`~mixagg.families.get_family`. A block takes as many columns as its family's observations have
        coordinates (one for a scalar family). Products do not nest.
    names : sequence of str, optional
        One name per block; a block's parameters are named ``"<name>.<key>"`` (``"gaussian.mean"``,
        ``"poisson.rate"``). Default: the blocks' family names, numbered when repeated (``poisson_1``,
        ``poisson_2``).
    columns : sequence of str, optional
        The name of each column of a record (as many as the blocks take together), e.g. a DataFrame's column
        names (:func:`mixagg.families.frames.family_for_frame`). They travel with the family (its settings,
        ``to_dict()``, the wire) and let :meth:`encode_frame` read a DataFrame by name.

    Notes
    -----
    ``docs/families.md``, "Product". The product of exponential families is one:
    :math:`T(x)=(T_b(x_b))_b`, :math:`\theta=(\theta_b)_b`, :math:`A=\sum_bA_b`, :math:`h=\prod_bh_b`. So the
    log-density, the KL divergence and :math:`\log\int f_af_b` are sums over the blocks. The L2 kernel is the
    product of the blocks' kernels, and its derivatives follow by the product rule. The barycentre, the weighted
    MLE (the EM's M-step), the penalty and the Fisher information of one component are blockwise. :math:`D_1` is
    the sum of the blocks' ground distances (a metric).

    Examples
    --------
    >>> import numpy as np
    >>> from mixagg.families import Categorical, Gaussian, Poisson, Product
    >>> fam = Product([Gaussian(2, "diag"), Poisson(), Categorical([3])])
    >>> fam.event_shape, list(fam.param_spec)
    ((4,), ['gaussian.mean', 'gaussian.var', 'poisson.rate', 'categorical.probs'])
    >>> p = {"gaussian.mean": [0.0, 1.0], "gaussian.var": [1.0, 2.0], "poisson.rate": 3.0,
    ...      "categorical.probs": [[0.2, 0.3, 0.5]]}
    >>> x = np.array([0.5, 1.0, 2.0, 1.0])
    >>> parts = (Gaussian(2, "diag").logpdf(x[:2], {"mean": [0.0, 1.0], "var": [1.0, 2.0]})
    ...          + Poisson().logpdf(2.0, {"rate": 3.0}) + np.log(0.3))
    >>> bool(np.isclose(fam.logpdf(x, p), parts))
    True
    """

    name = "product"
    support = "mixed"
    discrete = False

    def __init__(self, blocks: Sequence[Any], names: Sequence[str] | None = None, columns: Sequence[str] | None = None):
        from .registry import resolve_family

        if isinstance(blocks, (str, Mapping, ExponentialFamily)) or not isinstance(blocks, Sequence):
            raise TypeError(f"blocks must be a sequence of families, got {type(blocks).__name__}")
        if not 1 <= len(blocks) <= MAX_BLOCKS:
            raise ValueError(f"blocks must hold 1 to {MAX_BLOCKS} families, got {len(blocks)}")
        fams = []
        for i, b in enumerate(blocks):
            fam = resolve_family(b)
            if isinstance(fam, Product):
                raise ValueError(f"blocks[{i}] is a Product; list its blocks instead (products do not nest)")
            fams.append(fam)
        if names is None:
            names = _default_names(fams)
        elif isinstance(names, str) or not isinstance(names, Sequence) or len(names) != len(fams):
            raise ValueError(f"names must be a sequence of {len(fams)} strings, one per block")
        names = [str(n) for n in names]
        bad = [n for n in names if not n or "." in n or len(n) > 64]
        if bad or len(set(names)) != len(names):
            raise ValueError(
                f"names must be distinct non-empty strings of at most 64 characters without '.', got {names}"
            )
        self.blocks = tuple(fams)
        self.names = tuple(names)
        self.discrete = all(b.discrete for b in fams)
        widths = [b.n_features for b in fams]
        self._columns = tuple(
            (int(start), int(start + w)) for start, w in zip(np.cumsum([0, *widths[:-1]]), widths, strict=True)
        )
        self.event_shape = (int(sum(widths)),)
        if columns is not None:
            if isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) != self.event_shape[0]:
                raise ValueError(f"columns must be a sequence of {self.event_shape[0]} names, one per column")
            columns = tuple(str(c) for c in columns)
            if len(set(columns)) != len(columns) or any(not c or len(c) > 64 for c in columns):
                raise ValueError(f"columns must be distinct non-empty names of at most 64 characters, got {columns}")
        self.columns = columns
        spec = {}
        for name, fam in zip(names, fams, strict=True):
            for key, s in fam.param_spec.items():
                spec[f"{name}.{key}"] = ParamSpec(s.shape, s.symmetric, f"{name}: {s.description}")
        self.param_spec = MappingProxyType(spec)
        self._natural_ends = tuple(int(e) for e in np.cumsum([b.n_natural for b in fams]))
        self._vector_ends = tuple(int(e) for e in np.cumsum([b.n_params for b in fams]))
        self.n_natural = self._natural_ends[-1]
        constants = [b.product_log_constant for b in fams]
        self.product_log_constant = None if any(c is None for c in constants) else float(sum(constants))
        self.default_reg = max(em_support.default_reg(b) for b in fams)
        self.default_rho = max(b.default_rho for b in fams)
        shared = [f"{name}.{key}" for name, b in zip(names, fams, strict=True) for key in b.shared_params]
        if shared and any(b.n_params != b.n_natural for b in fams):
            raise ValueError(
                "a block that shares parameters among components (a tied structure) needs every block's parameter "
                "vector to have its natural parameter's length"
            )
        self.shared_params = tuple(shared)
        super().__init__()

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blocks": [b.to_dict() for b in self.blocks], "names": list(self.names)}
        if self.columns is not None:
            out["columns"] = list(self.columns)
        return out

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.blocks, self.names, self.columns))

    def __repr__(self) -> str:
        inner = ", ".join(repr(b) for b in self.blocks)
        extra = "" if tuple(_default_names(self.blocks)) == self.names else f", names={list(self.names)!r}"
        if self.columns is not None:
            extra += f", columns={list(self.columns)!r}"
        return f"Product([{inner}]{extra})"

    def block_columns(self, b: int) -> tuple[str, ...] | None:
        """The names of block ``b``'s columns (``None`` without :attr:`columns`)."""
        if self.columns is None:
            return None
        start, stop = self._columns[b]
        return self.columns[start:stop]

    def encode_frame(self, frame: Any) -> np.ndarray:
        """The records of a pandas DataFrame as this family's observations ``(n, n_columns)``, columns by name.

        Booleans become 0/1; a ``category`` column its codes (``cat.codes``, in the order of its categories); any
        other column of a Categorical block the rank of each value among its distinct values; any other column its
        numbers. Needs :attr:`columns`.

        Raises
        ------
        ValueError
            Without :attr:`columns`, with a missing column (named), or with missing values (the column named).
        """
        if self.columns is None:
            raise ValueError(f"{self!r} has no column names; build it with columns=[...] to read DataFrames")
        from .frames import frame_values

        categorical = [
            c for b, block in enumerate(self.blocks) if block.name == "categorical" for c in self.block_columns(b)
        ]
        return frame_values(frame, self.columns, categorical)

    @property
    def n_params(self) -> int:
        """Length of one component's parameter vector: the blocks' vectors, concatenated."""
        return self._vector_ends[-1]

    # -------------------------------------------------------------- layout
    def block_params(self, params: Mapping[str, Any], b: int) -> Params:
        """Block ``b``'s parameters under its own family's keys."""
        prefix = self.names[b] + "."
        return {key[len(prefix) :]: value for key, value in params.items() if key.startswith(prefix)}

    def _join(self, parts: Sequence[Params]) -> Params:
        return {f"{name}.{key}": value for name, p in zip(self.names, parts, strict=True) for key, value in p.items()}

    def block_x(self, x: np.ndarray, b: int) -> np.ndarray:
        """Block ``b``'s columns of observations ``(..., n_columns)``, in its family's event shape."""
        start, stop = self._columns[b]
        return x[..., start] if self.blocks[b].event_shape == () else x[..., start:stop]

    def _split(self, vec: np.ndarray, ends: Sequence[int]) -> list[np.ndarray]:
        return np.split(vec, ends[:-1], axis=-1)

    def _each(self, params: Params) -> list[Params]:
        return [self.block_params(params, b) for b in range(len(self.blocks))]

    # -------------------------------------------------------------- validation
    def _coerce_shapes(self, arrays: Params) -> Params:
        return self._join([b._coerce_shapes(p) for b, p in zip(self.blocks, self._each(arrays), strict=True)])

    def _validate(self, params: Params) -> list[str]:
        out = []
        for name, b, p in zip(self.names, self.blocks, self._each(params), strict=True):
            out.extend(f"{name}: {problem}" for problem in b._validate(p))
        return out

    def _canonical(self, params: Params) -> Params:
        return self._join([b._canonical(p) for b, p in zip(self.blocks, self._each(params), strict=True)])

    def _mixture_problems(self, params: Params) -> list[str]:
        out = []
        for name, b, p in zip(self.names, self.blocks, self._each(params), strict=True):
            out.extend(f"{name}: {problem}" for problem in b._mixture_problems(p))
        return out

    def _encode_vector(self, params: Params) -> np.ndarray:
        return np.concatenate(
            [b._encode_vector(p) for b, p in zip(self.blocks, self._each(params), strict=True)], axis=-1
        )

    def _decode_vector(self, vec: np.ndarray) -> Params:
        parts = self._split(vec, self._vector_ends)
        return self._join([b._decode_vector(v) for b, v in zip(self.blocks, parts, strict=True)])

    # -------------------------------------------------------------- coordinates
    def _natural_from_params(self, params: Params) -> np.ndarray:
        parts = [b._natural_from_params(p) for b, p in zip(self.blocks, self._each(params), strict=True)]
        return np.concatenate(parts, axis=-1)

    def _params_from_natural(self, theta: np.ndarray) -> Params:
        parts = self._split(theta, self._natural_ends)
        return self._join([b._params_from_natural(t) for b, t in zip(self.blocks, parts, strict=True)])

    def _log_partition(self, theta: np.ndarray) -> np.ndarray:
        parts = self._split(theta, self._natural_ends)
        return sum(b._log_partition(t) for b, t in zip(self.blocks, parts, strict=True))

    def _expectation_from_natural(self, theta: np.ndarray) -> np.ndarray:
        parts = self._split(theta, self._natural_ends)
        return np.concatenate([b._expectation_from_natural(t) for b, t in zip(self.blocks, parts, strict=True)], -1)

    def _natural_from_expectation(self, eta: np.ndarray) -> np.ndarray:
        parts = self._split(eta, self._natural_ends)
        return np.concatenate([b._natural_from_expectation(e) for b, e in zip(self.blocks, parts, strict=True)], -1)

    def _expectation_from_params(self, params: Params) -> np.ndarray:
        parts = [b._expectation_from_params(p) for b, p in zip(self.blocks, self._each(params), strict=True)]
        return np.concatenate(parts, axis=-1)

    def _params_from_expectation(self, eta: np.ndarray) -> Params:
        parts = self._split(eta, self._natural_ends)
        return self._join([b._params_from_expectation(e) for b, e in zip(self.blocks, parts, strict=True)])

    def _in_natural_domain(self, theta: np.ndarray) -> np.ndarray:
        parts = self._split(theta, self._natural_ends)
        return np.logical_and.reduce([b._in_natural_domain(t) for b, t in zip(self.blocks, parts, strict=True)])

    def _natural_jacobian(self, params: Params) -> np.ndarray:
        """Block diagonal: each block's :math:`\\partial\\theta_b/\\partial v_b`."""
        from ..theory.derivatives import natural_jacobian

        jacs = [natural_jacobian(b, p) for b, p in zip(self.blocks, self._each(params), strict=True)]
        return _block_diagonal(jacs)

    def _log_partition_hessian(self, theta: np.ndarray) -> np.ndarray:
        """Block diagonal: the blocks are independent, so :math:`\\operatorname{Cov}T` has no cross terms."""
        from ..theory.derivatives import hessian_unchecked

        parts = self._split(theta, self._natural_ends)
        return _block_diagonal([hessian_unchecked(b, t) for b, t in zip(self.blocks, parts, strict=True)])

    # -------------------------------------------------------------- data
    def _sufficient_stats(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([b._sufficient_stats(self.block_x(x, i)) for i, b in enumerate(self.blocks)], axis=-1)

    def _log_base_measure(self, x: np.ndarray) -> np.ndarray:
        return sum(b._log_base_measure(self.block_x(x, i)) for i, b in enumerate(self.blocks))

    def _logpdf(self, x: np.ndarray, params: Params) -> np.ndarray:
        return sum(
            b._logpdf(self.block_x(x, i), p)
            for i, (b, p) in enumerate(zip(self.blocks, self._each(params), strict=True))
        )

    def _log_component_densities(self, x: np.ndarray, params: Params) -> np.ndarray:
        return sum(
            em_support.log_component_densities(b, self.block_x(x, i), p)
            for i, (b, p) in enumerate(zip(self.blocks, self._each(params), strict=True))
        )

    def _sample(self, params: Params, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        parts = []
        for b, p in zip(self.blocks, self._each(params), strict=True):
            draw = b._sample(p, size, rng)
            parts.append(draw[..., None] if b.event_shape == () else draw)
        return np.concatenate(parts, axis=-1)

    def _support_points(self, max_points: int) -> np.ndarray | None:
        """The Cartesian product of the blocks' finite supports; ``None`` when one is infinite or too large."""
        grids = []
        for b in self.blocks:
            pts = b._support_points(max_points)
            if pts is None:
                return None
            grids.append(pts.reshape(pts.shape[0], -1))
        if int(np.prod([g.shape[0] for g in grids], dtype=float)) > max_points:
            return None
        rows = [np.concatenate(combo) for combo in itertools.product(*grids)]
        return np.array(rows, dtype=float)

    # -------------------------------------------------------------- divergences, averages
    def _kl_divergence(self, pa: Params, pb: Params) -> np.ndarray:
        return sum(b._kl_divergence(a, c) for b, a, c in zip(self.blocks, self._each(pa), self._each(pb), strict=True))

    def _barycentre(self, params: Params, weights: np.ndarray) -> Params:
        return self._join([b._barycentre(p, weights) for b, p in zip(self.blocks, self._each(params), strict=True)])

    def _weighted_mle(self, x: np.ndarray, weights: np.ndarray, reg: float = 0.0) -> Params:
        return self._join([b._weighted_mle(self.block_x(x, i), weights, reg) for i, b in enumerate(self.blocks)])

    def _kl_frame(self, params: Params, mass: np.ndarray):
        from ..reduction import kl_frame

        frames = [kl_frame(b, p, mass) for b, p in zip(self.blocks, self._each(params), strict=True)]

        def to(p: Params) -> Params:
            return self._join([f[0](q) for f, q in zip(frames, self._each(p), strict=True)])

        def back(p: Params) -> Params:
            return self._join([f[1](q) for f, q in zip(frames, self._each(p), strict=True)])

        return to, back

    # -------------------------------------------------------------- the EM's capabilities
    def _regularisation_binding(self, params: Params, reg: float, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        held = [
            em_support.regularisation_binding(b, p, reg, self.block_x(x, i), weights)
            for i, (b, p) in enumerate(zip(self.blocks, self._each(params), strict=True))
        ]
        return np.logical_or.reduce(held)

    def _component_problems(self, params: Params) -> list[list[str]]:
        per_block = [em_support.component_problems(b, p) for b, p in zip(self.blocks, self._each(params), strict=True)]
        out = []
        for k in range(len(per_block[0])):
            out.append(
                [f"{name}: {text}" for name, rows in zip(self.names, per_block, strict=True) for text in rows[k]]
            )
        return out

    def _default_penalty(self, x: np.ndarray, weights: np.ndarray) -> Penalty | None:
        parts = [em_support.penalty_for(b, self.block_x(x, i), weights) for i, b in enumerate(self.blocks)]
        if all(p is None for p in parts):
            return None
        return ProductPenalty(self, parts)

    # -------------------------------------------------------------- L2 kernel
    def _log_product_integral(self, pa: Params, pb: Params) -> np.ndarray:
        return sum(
            b._log_product_integral(a, c) for b, a, c in zip(self.blocks, self._each(pa), self._each(pb), strict=True)
        )

    def _log_product_integral_pairs(self, params: Params, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        return sum(
            b._log_product_integral_pairs(p, ia, ib) for b, p in zip(self.blocks, self._each(params), strict=True)
        )

    def _pair_integrable(self, pa: Params, pb: Params) -> np.ndarray:
        ok = [b._pair_integrable(a, c) for b, a, c in zip(self.blocks, self._each(pa), self._each(pb), strict=True)]
        return np.logical_and.reduce(np.broadcast_arrays(*ok)) if len(ok) > 1 else ok[0]

    def _product_integral_derivatives(self, pa: Params, pb: Params) -> ProductIntegralDerivatives:
        """The product rule on :math:`k=\\prod_bk_b`: :math:`\\log k=\\sum_b\\log k_b`, relative gradients
        concatenated, and relative mixed derivatives :math:`(\\nabla_a\\nabla_b^\\top k_b)/k_b` on the diagonal
        blocks and :math:`(\\nabla_ak_b/k_b)(\\nabla_bk_c/k_c)^\\top` off it."""
        from ..theory.derivatives import product_integral_derivatives

        parts = [
            product_integral_derivatives(b, a, c)
            for b, a, c in zip(self.blocks, self._each(pa), self._each(pb), strict=True)
        ]
        batch = np.broadcast_shapes(*[p.grad_a.shape[:-1] for p in parts])
        log_k = np.broadcast_to(sum(p.log_k for p in parts), batch)
        ga = np.concatenate([np.broadcast_to(p.grad_a, batch + p.grad_a.shape[-1:]) for p in parts], axis=-1)
        gb = np.concatenate([np.broadcast_to(p.grad_b, batch + p.grad_b.shape[-1:]) for p in parts], axis=-1)
        mixed = ga[..., :, None] * gb[..., None, :]
        starts = [0, *self._natural_ends[:-1]]
        for p, s, e in zip(parts, starts, self._natural_ends, strict=True):
            mixed[..., s:e, s:e] = p.mixed
        return ProductIntegralDerivatives(log_k, ga, gb, mixed)

    # -------------------------------------------------------------- metrics, moments, examples
    def _ground_distance(self, pa: Params, pb: Params) -> np.ndarray:
        return sum(
            b._ground_distance(a, c) for b, a, c in zip(self.blocks, self._each(pa), self._each(pb), strict=True)
        )

    def _mean(self, params: Params) -> np.ndarray:
        parts = []
        for b, p in zip(self.blocks, self._each(params), strict=True):
            m = np.asarray(b.mean(p), dtype=float)
            parts.append(m[..., None] if b.event_shape == () else m)
        return np.concatenate(parts, axis=-1)

    def _cov(self, params: Params) -> np.ndarray:
        parts = []
        for b, p in zip(self.blocks, self._each(params), strict=True):
            c = np.asarray(b.cov(p), dtype=float)
            parts.append(c[..., None, None] if b.event_shape == () else c)
        return _block_diagonal(parts)

    def has_moments(self) -> bool:
        return all(b.has_moments() for b in self.blocks)

    def _invalid_params(self) -> list[Params]:
        rng = np.random.default_rng(0)
        valid = [b._random_params((), rng) for b in self.blocks]
        out = []
        for i, b in enumerate(self.blocks):
            for bad in b._invalid_params():
                parts = list(valid)
                parts[i] = bad
                out.append(self._join(parts))
        return out

    def _random_params(self, size: tuple[int, ...], rng: np.random.Generator) -> Params:
        return self._join([b._random_params(size, rng) for b in self.blocks])


def _block_diagonal(mats: Sequence[np.ndarray]) -> np.ndarray:
    """Batched block-diagonal matrix of ``(..., r_b, c_b)`` blocks."""
    mats = [np.asarray(m, dtype=float) for m in mats]
    batch = np.broadcast_shapes(*[m.shape[:-2] for m in mats])
    rows = sum(m.shape[-2] for m in mats)
    cols = sum(m.shape[-1] for m in mats)
    out = np.zeros(batch + (rows, cols))
    r = c = 0
    for m in mats:
        out[..., r : r + m.shape[-2], c : c + m.shape[-1]] = m
        r, c = r + m.shape[-2], c + m.shape[-1]
    return out


class ProductPenalty(Penalty):
    """The blocks' own penalties (Chen–Tan for a Gaussian block, the shape penalty for a Gamma block), summed.

    A block without a penalty takes its regularised weighted MLE (``reg`` at its family's ``default_reg``) in the
    M-step, as a fit of that family alone with ``penalty="auto"`` would. All the blocks' penalties have the
    strength :math:`a_n=n^{-1/2}` of the same local sample.

    Parameters
    ----------
    family : Product
    parts : sequence of Penalty or None
        One per block.
    """

    def __init__(self, family: Product, parts: Sequence[Penalty | None]):
        strengths = {p.strength for p in parts if p is not None}
        if len(strengths) != 1:
            raise ValueError(f"the blocks' penalties must share one strength a_n, got {sorted(strengths)}")
        super().__init__(strengths.pop())
        self.family = family
        self.parts = tuple(parts)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {p!r}" for n, p in zip(self.family.names, self.parts, strict=True) if p is not None)
        return f"ProductPenalty({inner})"

    def check(self, family: Any, x: np.ndarray) -> None:
        if family != self.family:
            raise TypeError(f"this ProductPenalty penalises {self.family!r}, not {family!r}")
        for i, (b, p) in enumerate(zip(self.family.blocks, self.parts, strict=True)):
            if p is not None:
                p.check(b, self.family.block_x(x, i))

    def value(self, params: Params) -> np.ndarray:
        fam = self.family
        return sum(p.value(fam.block_params(params, i)) for i, p in enumerate(self.parts) if p is not None)

    def m_step(self, x: np.ndarray, resp: np.ndarray) -> Params:
        fam = self.family
        out = []
        for i, (b, p) in enumerate(zip(fam.blocks, self.parts, strict=True)):
            xb = fam.block_x(x, i)
            out.append(p.m_step(xb, resp) if p is not None else b._weighted_mle(xb, resp, em_support.default_reg(b)))
        return fam._join(out)
