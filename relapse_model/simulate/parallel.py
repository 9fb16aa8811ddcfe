"""Running units of work on dask: a local cluster by default, or an existing scheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def map_chunks(fn: Callable[..., Any], args: Sequence[tuple], *, workers: int = 2,
               scheduler: str | None = None, progress: Callable[[int], None] | None = None) -> list[Any]:
    """``[fn(*a) for a in args]`` on dask workers, results in the order of ``args``.

    Parameters
    ----------
    workers : int
        Processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of an existing dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    progress : callable, optional
        Called with the number of finished units after each one.
    """
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        futures = [client.submit(fn, *a, pure=False) for a in args]
        order = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        for k, fut in enumerate(as_completed(futures), start=1):
            out[order[fut.key]] = fut.result()
            if progress:
                progress(k)
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
