"""The split-and-conquer engine: executors agree, seeds come from one root, failures become missing machines."""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import mixagg as ma
from mixagg.engine import fit_partitions, partition_seed, split_and_conquer
from mixagg.rejection import Rejected

TRUTH = ma.MixingDistribution(
    "gaussian",
    [0.4, 0.6],
    {"mean": [[0.0, 0.0], [4.0, 3.0]], "cov": [[[1.0, 0.3], [0.3, 1.0]], [[1.5, 0.0], [0.0, 0.7]]]},
)
M, N = 8, 1500


@pytest.fixture(scope="module")
def shards() -> list[np.ndarray]:
    rng = np.random.default_rng(20261122)
    return [TRUTH.sample(N, rng) for _ in range(M)]


@pytest.fixture(scope="module")
def reference(shards) -> list[ma.FittedMixture]:
    """Each shard fitted directly with the seed numpy's own ``SeedSequence.spawn`` gives partition i."""
    children = np.random.SeedSequence(7).spawn(M)
    return [ma.fit_mixture(x, "gaussian", 2, rng=np.random.default_rng(s)) for x, s in zip(shards, children)]


def assert_same_estimates(got: list, want: list, *, skip: tuple[int, ...] = (), rtol: float = 0.0) -> None:
    """Bit-identical by default. Dask's nanny starts workers with single-threaded BLAS (OMP_NUM_THREADS=1),
    which may change the rounding of matrix products: those are compared to ``rtol``."""
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if i in skip:
            continue
        assert not isinstance(g, Rejected), (i, g)
        np.testing.assert_allclose(g.weights, w.weights, rtol=rtol, atol=0)
        for key in w.params:
            np.testing.assert_allclose(g.params[key], w.params[key], rtol=rtol, atol=0)


# ------------------------------------------------------------------------------------- loaders run by the tasks
# Module-level so that worker processes can unpickle them.


def _nan_data() -> np.ndarray:
    return np.full((N, 2), np.nan)


class KillOnce:
    """Loads a shard, but kills its worker process the first time it runs (a marker file remembers)."""

    def __init__(self, data: np.ndarray, marker: Path):
        self.data, self.marker = data, marker

    def __call__(self) -> np.ndarray:
        if not self.marker.exists():
            self.marker.write_text("killed once")
            os._exit(1)
        return self.data


def _always_kill() -> np.ndarray:
    os._exit(1)


# ------------------------------------------------------------------------------------- seeds and in-process


def test_partition_seed_is_the_spawned_child():
    root = np.random.SeedSequence(123)
    for i, child in enumerate(np.random.SeedSequence(123).spawn(5)):
        got = partition_seed(root, i)
        assert got.spawn_key == child.spawn_key
        np.testing.assert_array_equal(got.generate_state(8), child.generate_state(8))


def test_inprocess_equals_direct_fits(shards, reference):
    fits = fit_partitions(shards, family="gaussian", n_components=2, rng=7, progress=False)
    assert fits.executor == "inprocess"
    assert_same_estimates(fits.estimates, reference)
    assert fits.attempts.tolist() == [1] * M and not fits.errors and not fits.missing
    assert [e.machine_id for e in fits.estimates] == list(range(M))
    assert all(e.n_samples == N and e.metadata["converged"] for e in fits.estimates)
    # a Generator root is read deterministically; rng=None records its fresh entropy and reproduces from it
    g1 = fit_partitions(shards[:2], family="gaussian", n_components=2, rng=np.random.default_rng(3), progress=False)
    g2 = fit_partitions(shards[:2], family="gaussian", n_components=2, rng=np.random.default_rng(3), progress=False)
    assert_same_estimates(g1.estimates, g2.estimates)
    fresh = fit_partitions(shards[:2], family="gaussian", n_components=2, progress=False)
    again = fit_partitions(shards[:2], family="gaussian", n_components=2, rng=fresh.seed, progress=False)
    assert_same_estimates(again.estimates, fresh.estimates)


def test_split_and_conquer_aggregates_the_local_fits(shards, reference):
    res = split_and_conquer(
        shards, family="gaussian", n_components=2, rng=7, progress=False, aggregate_options={"rho": 1.3}
    )
    direct = ma.aggregate(reference, "dfmr", rho=1.3)
    np.testing.assert_allclose(res.mixture.weights, direct.mixture.weights, rtol=1e-12)
    np.testing.assert_allclose(res.mixture.params["mean"], direct.mixture.params["mean"], rtol=1e-12)
    np.testing.assert_array_equal(res.aggregation.selected, direct.selected)
    d = res.to_dict()
    assert d["fits"]["executor"] == "inprocess" and len(d["fits"]["estimates"]) == M


def test_progress_bar_counts_machines(shards, capsys):
    fit_partitions(shards[:3], family="gaussian", n_components=2, rng=7, progress=True)
    err = capsys.readouterr().err
    assert "local fits" in err and "3/3" in err


def test_files_loaders_dask_arrays_and_dataframes_are_fitted_in_place(shards, reference, tmp_path):
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    paths = []
    for i, x in enumerate(shards):
        paths.append(ma.data_files.write_data(tmp_path / f"shard{i}.{'npy' if i % 2 else 'csv'}", x))
    assert_same_estimates(
        fit_partitions(paths, family="gaussian", n_components=2, rng=7, progress=False).estimates, reference
    )
    arr = da.from_array(np.concatenate(shards), chunks=(N, 1))  # column chunks are merged: one block per machine
    assert_same_estimates(
        fit_partitions(arr, family="gaussian", n_components=2, rng=7, progress=False).estimates, reference
    )
    frame = dd.from_pandas(pd.DataFrame(np.concatenate(shards), columns=["a", "b"]), npartitions=M, sort=False)
    assert frame.npartitions == M
    assert_same_estimates(
        fit_partitions(frame, family="gaussian", n_components=2, rng=7, progress=False).estimates, reference
    )
    loaders = [dask.delayed(lambda x=x: x)() for x in shards]
    assert_same_estimates(
        fit_partitions(loaders, family="gaussian", n_components=2, rng=7, progress=False).estimates, reference
    )


def test_a_raising_partition_is_retried_then_missing(shards, reference):
    parts = list(shards)
    parts[2] = _nan_data
    parts[5] = np.full((N, 2), np.nan)
    with pytest.warns(UserWarning, match="2 of the 8 estimates were rejected"):
        res = split_and_conquer(
            parts, family="gaussian", n_components=2, rng=7, retries=1, progress=False, method="coat"
        )
    assert sorted(res.missing) == [2, 5]
    assert res.fits.attempts.tolist() == [1, 1, 2, 1, 1, 2, 1, 1]
    assert res.fits.errors[2][0].startswith("ValueError") and len(res.fits.errors[2]) == 2
    assert "local fit failed after 2 attempt(s): ValueError" in res.aggregation.rejected[5].reason
    assert {2, 5} <= set(res.aggregation.excluded.tolist())
    assert_same_estimates(res.fits.estimates, reference, skip=(2, 5))  # nothing else is lost
    # the majority rule counts the two missing machines: 6 valid of 8 expected
    direct = ma.aggregate([reference[i] for i in range(M) if i not in (2, 5)], "coat", n_missing=2)
    assert res.aggregation.coat_index == [i for i in range(M) if i not in (2, 5)][direct.coat_index]


def test_every_partition_failing_is_an_error(shards):
    with pytest.raises(RuntimeError, match="none of the 2 partitions produced a valid estimate"):
        split_and_conquer([_nan_data, _nan_data], family="gaussian", n_components=2, retries=0, progress=False)


def test_thread_pool_and_process_executor_agree(shards, reference):
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        fits = fit_partitions(shards, family="gaussian", n_components=2, rng=7, executor=pool, progress=False)
    assert fits.executor == "concurrent.futures"
    assert_same_estimates(fits.estimates, reference)
    fits = fit_partitions(
        shards, family="gaussian", n_components=2, rng=7, executor="processes", n_workers=2, progress=False
    )
    assert fits.executor == "processes"
    assert_same_estimates(fits.estimates, reference)
    assert {e.metadata["pid"] for e in fits.estimates}.isdisjoint({os.getpid()})


def test_a_dead_worker_process_is_charged_to_its_own_partition(shards, reference, tmp_path):
    parts = list(shards)
    parts[1] = KillOnce(shards[1], tmp_path / "marker")
    parts[4] = _always_kill
    fits = fit_partitions(
        parts, family="gaussian", n_components=2, rng=7, executor="processes", n_workers=2, retries=1, progress=False
    )
    assert sorted(fits.missing) == [4]
    assert fits.attempts.tolist() == [1, 2, 1, 1, 2, 1, 1, 1]  # the others never lost an attempt
    assert "the worker process died" in fits.errors[4][0]
    assert_same_estimates(fits.estimates, reference, skip=(4,))


def test_a_broken_caller_pool_reports_what_it_held(shards):
    # one worker runs the killer first; the two queued behind it are lost with the pool, which cannot be rebuilt
    with cf.ProcessPoolExecutor(max_workers=1) as pool:
        fits = fit_partitions(
            [_always_kill, *shards[1:3]], family="gaussian", n_components=2, rng=7, executor=pool, progress=False
        )
    assert sorted(fits.missing) == [0, 1, 2]
    assert all("cannot be rebuilt" in fits.errors[i][0] for i in range(3))
    assert fits.attempts.tolist() == [1, 1, 1]
    # a pool that is shut down refuses the tasks: nothing ran, so no attempt is counted
    pool = cf.ThreadPoolExecutor(1)
    pool.shutdown()
    fits = fit_partitions(shards[:2], family="gaussian", n_components=2, executor=pool, progress=False)
    assert sorted(fits.missing) == [0, 1] and fits.attempts.tolist() == [0, 0]
    assert "the executor cannot take tasks" in fits.errors[0][0]


def test_bad_arguments_are_named(shards):
    kw = dict(family="gaussian", n_components=2, progress=False)
    with pytest.raises(TypeError, match="np.array_split"):
        fit_partitions(shards[0], **kw)
    with pytest.raises(ValueError, match="partitions is empty"):
        fit_partitions([], **kw)
    with pytest.raises(ValueError, match="fit_options may not contain 'rng'"):
        fit_partitions(shards, fit_options={"rng": 1}, **kw)
    with pytest.raises(TypeError, match="unknown key 'n_inits'"):
        fit_partitions(shards, fit_options={"n_inits": 1}, **kw)
    with pytest.raises(TypeError, match="executor must be"):
        fit_partitions(shards, executor="threads", **kw)
    with pytest.raises(ValueError, match="n_workers applies"):
        fit_partitions(shards, n_workers=2, **kw)
    with pytest.raises(ValueError, match="retries"):
        fit_partitions(shards, retries=-1, **kw)
    with pytest.raises(ValueError, match="method must be one of"):
        split_and_conquer(shards, method="median", **kw)
    with pytest.raises(TypeError, match="rng must be"):
        fit_partitions(shards, rng="seed", **kw)
    with pytest.raises(TypeError, match="got a mapping"):
        fit_partitions({"a": shards[0]}, **kw)
    for bad, kind in ((None, "NoneType"), (3.0, "float"), ({"x": 1}, "dict")):
        with pytest.raises(TypeError, match=rf"partitions\[1\] must be a dataset .* got {kind}"):
            fit_partitions([shards[0], bad], **kw)
    with pytest.raises(TypeError, match="executor must be"):
        fit_partitions(shards, executor=np.zeros(2), **kw)


def test_aggregate_options_are_checked_before_fitting_and_fits_survive_a_bad_value(shards):
    calls = []

    def loader(x=shards[0]):
        calls.append(1)
        return x

    with pytest.raises(TypeError, match="unknown key 'eta' for method 'dfmr'"):
        split_and_conquer(
            [loader] * 3, family="gaussian", n_components=2, aggregate_options={"eta": 0.2}, progress=False
        )
    with pytest.raises(TypeError, match="unknown key 'rho' for method 'trim'"):
        split_and_conquer(
            [loader] * 3, family="gaussian", n_components=2, method="trim", aggregate_options={"rho": 2}, progress=False
        )
    assert calls == []  # nothing was fitted
    with pytest.raises(ValueError, match="rho must be .*the local fits are kept") as info:
        split_and_conquer(
            shards[:3], family="gaussian", n_components=2, aggregate_options={"rho": 0.5}, rng=7, progress=False
        )
    assert len(info.value.fits.estimates) == 3 and not info.value.fits.rejected


def test_family_settings_from_data_must_agree(shards):
    parts = [shards[0][:, :1], shards[1], shards[2]]  # the first machine has 1-D data: the majority decides
    fits = fit_partitions(parts, family="gaussian", n_components=2, rng=7, progress=False)
    assert sorted(fits.rejected) == [0]
    assert "Gaussian(d=1) with K = 2 differs from the majority's Gaussian(d=2) with K = 2" in fits.estimates[0].reason
    fits = fit_partitions(parts, family=ma.families.Gaussian(2), n_components=2, rng=7, progress=False)
    assert sorted(fits.missing) == [0]  # fit_mixture refuses 1-D data for Gaussian(2)


# ------------------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    import cloudpickle
    import dask
    from distributed import Client, LocalCluster

    this = sys.modules[__name__]  # workers unpickle this module's loaders by value
    cloudpickle.register_pickle_by_value(this)
    # One task in flight per worker: a worker killed by its task takes no other partition's attempt with it
    # (with Dask's default saturation a queued healthy task is charged too, and can reach KilledWorker).
    config = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(config):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
        )
        client = Client(cluster)
    yield client
    client.close()
    cluster.close()
    cloudpickle.unregister_pickle_by_value(this)


def test_dask_gives_the_inprocess_result(dask_client, shards, reference):
    import dask.array as da

    res = split_and_conquer(shards, family="gaussian", n_components=2, rng=7, executor=dask_client, progress=False)
    local = split_and_conquer(shards, family="gaussian", n_components=2, rng=7, progress=False)
    assert res.fits.executor == "dask"
    assert_same_estimates(res.fits.estimates, reference, rtol=1e-10)
    np.testing.assert_allclose(res.mixture.params["mean"], local.mixture.params["mean"], rtol=1e-10)
    np.testing.assert_array_equal(res.aggregation.selected, local.aggregation.selected)
    pids = {e.metadata["pid"] for e in res.fits.estimates}
    assert os.getpid() not in pids
    arr = da.from_array(np.concatenate(shards), chunks=(N, 2))
    fits = fit_partitions(arr, family="gaussian", n_components=2, rng=7, executor=dask_client, progress=False)
    assert_same_estimates(fits.estimates, reference, rtol=1e-10)


def test_dask_retries_raising_and_killed_tasks_then_reports_them_missing(dask_client, shards, reference, tmp_path):
    parts = list(shards)
    parts[0] = _nan_data
    parts[3] = KillOnce(shards[3], tmp_path / "marker")
    parts[6] = _always_kill
    with pytest.warns(UserWarning, match="2 of the 8 estimates were rejected"):
        res = split_and_conquer(
            parts, family="gaussian", n_components=2, rng=7, executor=dask_client, retries=1, progress=False
        )
    assert sorted(res.missing) == [0, 6]
    assert res.fits.attempts[0] == 2 and res.fits.errors[0][0].startswith("ValueError")
    assert res.fits.attempts[6] == 2 and "KilledWorker" in res.fits.errors[6][0]
    assert (tmp_path / "marker").exists()  # partition 3 did kill its worker once; Dask's scheduler rescheduled it
    assert_same_estimates(res.fits.estimates, reference, skip=(0, 6), rtol=1e-10)
    assert {0, 6} <= set(res.aggregation.excluded.tolist()) and set(res.aggregation.rejected) == {0, 6}


def test_family_as_mapping_is_resolved(rng):
    shards = [rng.normal(size=(300, 2)) + 3 * (rng.random((300, 1)) < 0.5) for _ in range(2)]
    fits = ma.engine.fit_partitions(shards, family={"name": "gaussian", "d": 2}, n_components=2, rng=3)
    assert [e.family for e in fits.estimates] == [ma.get_family("gaussian", d=2)] * 2


def test_unregistered_family_instance_is_refused_before_fitting(rng):
    from mixagg.families import Exponential

    class Unregistered(Exponential):
        name = "exponential-unregistered-in-test"

    calls = []

    def loader():
        calls.append(1)
        return rng.exponential(size=100)

    with pytest.raises(ValueError, match="register it first with mixagg.register_family"):
        ma.engine.fit_partitions([loader], family=Unregistered(), n_components=2)
    assert calls == []


def test_covariance_structures_and_products_through_the_engine(rng):
    """`fit_options={"covariance_type": "tied_diag"}` fits every partition in the structure, and the estimates
    equal direct fits of the same partitions and seeds; a product family travels as a mapping."""
    shards = [rng.normal(size=(300, 2)) + 3 * (rng.random((300, 1)) < 0.5) for _ in range(3)]
    res = split_and_conquer(
        shards, family="gaussian", n_components=2, fit_options={"covariance_type": "tied_diag"}, rng=5, progress=False
    )
    assert res.mixture.family == ma.families.Gaussian(2, "tied_diag")
    fits = fit_partitions(shards, family="gaussian", n_components=2, fit_options={"covariance_type": "EEI"}, rng=5)
    for i, (got, x) in enumerate(zip(fits.estimates, shards)):
        seed = np.random.default_rng(partition_seed(np.random.SeedSequence(5), i))
        direct = ma.fit_mixture(x, "gaussian", 2, covariance_type="EEI", rng=seed, progress=False)
        np.testing.assert_array_equal(got.params["var"], direct.params["var"])
    spec = {"name": "product", "blocks": [{"name": "gaussian", "d": 1}, {"name": "gaussian", "d": 1}]}
    fits = fit_partitions(shards, family=spec, n_components=2, rng=5)
    assert all(e.family == ma.families.resolve_family(spec) for e in fits.estimates)
