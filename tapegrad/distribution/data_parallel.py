"""`DataParallel`: every process holds the whole model and trains on its share of each batch.

Keras 3's ``keras.distribution`` names and shape: build a `DataParallel`, make it current
with `set_distribution` (or ``with dp.scope():``), then ``fit`` / ``evaluate`` /
``predict`` split each global batch (the ``batch_size`` the user passed) across the
processes of the MPI job. This module holds what the trainer asks of a distribution, on
arrays and Variables only (it knows nothing of layers):

* `DataParallel.shard_bounds` — the contiguous share of a batch each process takes;
* `DataParallel.scale_loss` / `DataParallel.set_batch_share` — each process weighs its loss
  by its share of the global batch, so the sum over processes of the gradients equals the
  gradient of the global batch's mean, also for an uneven last batch;
* `DataParallel.reduce_gradients` — that sum, one fused collective per bucket of gradients
  in the fixed order of the variables, eagerly on NumPy buffers or, inside a compiled step,
  as the collective primitives ``all_sum`` / ``all_gather``;
* `DataParallel.sum_arrays`, `DataParallel.broadcast_variables`, `DataParallel.agree`,
  `DataParallel.gather_concatenated`, `DataParallel.check_same` — metric states,
  initial weights, ``stop_training``, predictions, the weight check.

Summation order: the default reduction is MPI's all-reduce, whose order of additions MPI
chooses (equal to a sequential sum up to rounding). ``deterministic=True`` gathers every
process's buffer and adds them in rank order on each process, so training is bit for bit
the single process that accumulates the same micro-batches in the same order.

Examples:
    >>> dp = DataParallel()
    >>> dp.num_processes, dp.process_id
    (1, 0)
    >>> with dp.scope():
    ...     distribution() is dp
    True
    >>> distribution() is None
    True
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tapegrad.core.tracing import is_traced
from tapegrad.core.variable import Variable
from tapegrad.distribution.comm import world

#: Bytes of gradients fused into one collective (PyTorch DDP's default bucket size).
DEFAULT_BUCKET_BYTES = 25 * 2**20
#: A gradient this large is reduced on its own: it is one contiguous buffer already, and
#: copying it into a fused one would cost more than the latency fusion saves.
SOLO_BYTES = 2**20

_current: DataParallel | None = None


class DataParallel:
    """Data parallelism over the processes of an MPI job (Keras 3's ``DataParallel``).

    Every process keeps a full replica of the model. ``fit`` broadcasts the initial
    weights and optimizer state from process 0, gives each process a contiguous share of
    every global batch, sums the gradients (weighed by each share's sample count) with
    one collective per bucket, and reduces the metrics' states, so every process holds
    the same weights and reports the same numbers.

    Args:
        device_mesh: Keras' 1-D mesh; tapegrad has no `DeviceMesh` (one process is one
            device), so it must be None.
        devices: The devices, one per process (as `list_devices` names them); None: all.
        auto_shard_dataset: True splits each batch across processes (every process reads
            the same data); False means each process's data is already its own share.
        deterministic: Add the processes' gradients in rank order (gather, then a sum on
            each process): reproducible to the bit, a little slower than all-reduce.
        check_weights: Compare a hash of the weights across processes after each epoch
            and raise, naming the first differing weight, if they ever differ.
        bucket_bytes: Gradient bytes fused into one collective.

    Examples:
        >>> dp = DataParallel(deterministic=True, check_weights=True)
        >>> dp.shard_bounds(10)
        (0, 10)
        >>> dp
        <DataParallel processes=1 deterministic=True>
    """

    def __init__(
        self,
        device_mesh: Any = None,
        devices: Sequence[Any] | None = None,
        auto_shard_dataset: bool = True,
        *,
        deterministic: bool = False,
        check_weights: bool = False,
        bucket_bytes: int = DEFAULT_BUCKET_BYTES,
    ) -> None:
        if device_mesh is not None:
            raise ValueError(
                "DataParallel: tapegrad has no DeviceMesh (each process is one device); "
                "pass `devices` or nothing"
            )
        comm = world()
        if devices is not None and len(devices) != comm.size:
            raise ValueError(
                f"DataParallel: got {len(devices)} devices for {comm.size} processes; "
                "tapegrad runs one process per device (launch with `mpiexec -n "
                f"{len(devices)}`)"
            )
        if int(bucket_bytes) <= 0:
            raise ValueError(f"DataParallel: bucket_bytes must be positive, got {bucket_bytes}")
        self.comm = comm
        self.devices = [f"cpu:{rank}" for rank in range(comm.size)]
        self.auto_shard_dataset = bool(auto_shard_dataset)
        self.deterministic = bool(deterministic)
        self.check_weights = bool(check_weights)
        self.bucket_bytes = int(bucket_bytes)
        # Each process's share of the global batch: the factor on its loss (a Variable,
        # so a compiled step reads the current share at every call).
        self.batch_share = Variable(np.float32(1.0), trainable=False, name="batch_share")

    # -- Keras' Distribution surface ----------------------------------------------------
    @property
    def num_processes(self) -> int:
        """Total number of processes in the job."""
        return int(self.comm.size)

    @property
    def process_id(self) -> int:
        """This process's rank."""
        return int(self.comm.rank)

    @property
    def num_model_replicas(self) -> int:
        """Model replicas: one per process."""
        return int(self.comm.size)

    @property
    def data_shard_id(self) -> int:
        """The data shard this process reads (its rank)."""
        return int(self.comm.rank)

    @property
    def batch_dim_name(self) -> str:
        """The name of the sharded axis (Keras' default)."""
        return "batch"

    @property
    def device_mesh(self) -> None:
        """Keras' mesh: tapegrad has none (one process is one device)."""
        return None

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Make this distribution current for the ``with`` block (Keras 3).

        Examples:
            >>> dp = DataParallel()
            >>> with dp.scope():
            ...     distribution() is dp
            True
        """
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def __repr__(self) -> str:
        return f"<DataParallel processes={self.num_processes} deterministic={self.deterministic}>"

    # -- batches --------------------------------------------------------------------------
    def shard_bounds(self, num_samples: int) -> tuple[int, int]:
        """``(start, stop)`` of this process's contiguous share of ``num_samples`` samples.

        Shares differ by at most one sample, the first processes taking the larger ones
        (``numpy.array_split``'s rule); a process may get none of a batch smaller than
        the number of processes.

        Args:
            num_samples: Samples in the global batch.

        Returns:
            The slice bounds.

        Examples:
            >>> DataParallel().shard_bounds(7)
            (0, 7)
        """
        size, rank = self.comm.size, self.comm.rank
        base, extra = divmod(int(num_samples), size)
        start = rank * base + min(rank, extra)
        return start, start + base + (1 if rank < extra else 0)

    def set_batch_share(self, local: int, total: int) -> None:
        """Set the factor `scale_loss` applies: ``local / total`` samples.

        Args:
            local: Samples this process trains on in this step.
            total: Samples of the global batch (all processes together).
        """
        share = np.float32(local / total) if total else np.float32(0.0)
        self.batch_share.assign(share)

    def scale_loss(self, loss: Any) -> Any:
        """``loss`` times this process's share of the global batch (see `set_batch_share`).

        The loss of a batch is a mean over its samples; weighed by the share, the sum over
        processes is the global batch's mean, and so are the summed gradients.

        Args:
            loss: The scalar loss of this process's samples.

        Returns:
            The weighed loss (differentiable).
        """
        return loss * self.batch_share

    # -- collectives ----------------------------------------------------------------------
    def buckets(self, shapes_dtypes: Sequence[tuple[tuple[int, ...], Any]]) -> list[list[int]]:
        """Indices of the arrays fused into each collective, in order: consecutive arrays of
        one dtype, at most `bucket_bytes` each; an array of `SOLO_BYTES` or more (or more
        than `bucket_bytes`) is a bucket of its own.

        Args:
            shapes_dtypes: ``(shape, dtype)`` of each array, in the fixed variable order.

        Returns:
            A list of index lists.

        Examples:
            >>> DataParallel(bucket_bytes=32).buckets([((4,), "float32"), ((12,), "float32"),
            ...     ((2,), "float64")])
            [[0], [1], [2]]
        """
        result: list[list[int]] = []
        current: list[int] = []
        current_bytes = 0
        current_dtype: Any = None
        for index, (shape, dtype) in enumerate(shapes_dtypes):
            kind = np.dtype(dtype)
            nbytes = int(np.prod(shape, dtype=np.int64)) * kind.itemsize
            if nbytes >= SOLO_BYTES:
                if current:
                    result.append(current)
                result.append([index])
                current, current_bytes = [], 0
                continue
            if current and (kind != current_dtype or current_bytes + nbytes > self.bucket_bytes):
                result.append(current)
                current, current_bytes = [], 0
            current.append(index)
            current_bytes += nbytes
            current_dtype = kind
        if current:
            result.append(current)
        return result

    def _reduce_buffer(self, buffer: np.ndarray) -> np.ndarray:
        """The sum over processes of a flat NumPy buffer (in place unless deterministic)."""
        if not self.deterministic:
            return self.comm.allreduce_sum_inplace(buffer)
        parts = self.comm.allgather(buffer)
        total = parts[0]
        for part in parts[1:]:
            total = total + part  # rank order: the single-process accumulation's order
        return total

    def sum_arrays(self, arrays: Sequence[Any]) -> list[np.ndarray]:
        """Each array summed over processes, fused into one collective per bucket.

        Args:
            arrays: NumPy arrays (the same shapes and dtypes on every process).

        Returns:
            The sums, as new arrays of the same shapes.

        Examples:
            >>> DataParallel().sum_arrays([np.ones(2), np.arange(3)])
            [array([1., 1.]), array([0, 1, 2])]
        """
        arrays = [np.asarray(a) for a in arrays]
        out: list[Any] = [None] * len(arrays)
        for bucket in self.buckets([(a.shape, a.dtype) for a in arrays]):
            sizes = [arrays[i].size for i in bucket]
            buffer = np.empty(sum(sizes), arrays[bucket[0]].dtype)
            offset = 0
            for i, size in zip(bucket, sizes, strict=True):
                buffer[offset : offset + size] = arrays[i].reshape(-1)
                offset += size
            total = self._reduce_buffer(buffer)
            offset = 0
            for i, size in zip(bucket, sizes, strict=True):
                out[i] = total[offset : offset + size].reshape(arrays[i].shape)
                offset += size
        return out

    def reduce_gradients(self, grads: Sequence[Any]) -> list[Any]:
        """The sum over processes of each gradient (None stays None), fused per bucket.

        Eagerly the gradients are copied into one NumPy buffer per bucket and reduced in
        place; inside a function being compiled, the buffer is a concatenation of the
        traced gradients reduced by the collective primitive (``all_sum``, or
        ``all_gather`` and a sum in rank order when deterministic), so the compiled step
        communicates between its backward pass and its update.

        Args:
            grads: Gradients in the fixed variable order (the same on every process).

        Returns:
            The summed gradients (arrays eagerly, traced tensors inside a trace).

        Examples:
            >>> DataParallel().reduce_gradients([np.ones((2, 2)), None])
            [array([[1., 1.],
                   [1., 1.]]), None]
        """
        present = [i for i, g in enumerate(grads) if g is not None]
        out: list[Any] = list(grads)
        if not present or self.comm.size == 1:
            return out  # (a sum over one process: the gradients themselves)
        if any(is_traced(grads[i]) for i in present):
            reduced = self._reduce_traced([grads[i] for i in present])
        else:
            reduced = self.sum_arrays([np.asarray(grads[i]) for i in present])
        for i, value in zip(present, reduced, strict=True):
            out[i] = value
        return out

    def _reduce_traced(self, grads: list[Any]) -> list[Any]:
        # (Imported here: the collectives and the numpy namespace sit above core, and
        # tapegrad.distribution imports this module while it loads.)
        import tapegrad.numpy as tnp

        out: list[Any] = [None] * len(grads)
        for bucket in self.buckets([(tuple(g.shape), g.dtype) for g in grads]):
            if len(bucket) == 1:  # reduced as it is: no copy into a fused buffer
                grad = grads[bucket[0]]
                out[bucket[0]] = self._sum_traced(grad, tnp)
                continue
            flat = tnp.concatenate([tnp.reshape(grads[i], (-1,)) for i in bucket])
            total = self._sum_traced(flat, tnp)
            offset = 0
            for i in bucket:
                size = int(np.prod(grads[i].shape, dtype=np.int64))
                out[i] = tnp.reshape(total[offset : offset + size], tuple(grads[i].shape))
                offset += size
        return out

    def _sum_traced(self, value: Any, tnp: Any) -> Any:
        """The collective sum of one traced array: all_sum, or (deterministic) all_gather
        and a sum in rank order."""
        from tapegrad.distribution import all_gather, all_sum

        if not self.deterministic:
            return all_sum(value)
        rows = all_gather(tnp.reshape(value, (1, *value.shape)))
        total = rows[0]
        for rank in range(1, self.comm.size):
            total = total + rows[rank]
        return total

    def broadcast_variables(self, variables: Sequence[Variable], root: int = 0) -> None:
        """Give every process ``root``'s values of ``variables`` (one message per dtype).

        Args:
            variables: Variables in the same order on every process.
            root: The process whose values win.
        """
        arrays = [np.asarray(v.value) for v in variables]
        by_dtype: dict[Any, list[int]] = {}
        for index, array in enumerate(arrays):
            by_dtype.setdefault(array.dtype, []).append(index)
        for dtype, indices in by_dtype.items():
            buffer = np.concatenate([arrays[i].reshape(-1) for i in indices]).astype(dtype)
            self.comm.bcast_into(buffer, root)
            offset = 0
            for i in indices:
                size = arrays[i].size
                variables[i].assign(buffer[offset : offset + size].reshape(arrays[i].shape))
                offset += size

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        """``root``'s picklable ``value`` on every process.

        Examples:
            >>> DataParallel().broadcast_object({"epoch": 2})
            {'epoch': 2}
        """
        return self.comm.bcast(value, root)

    def agree(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process (every process gets the same answer).

        Examples:
            >>> DataParallel().agree(False)
            False
        """
        return bool(self.comm.allreduce_sum(np.array([1 if flag else 0], np.int64))[0])

    def gather_concatenated(self, array: Any) -> np.ndarray:
        """Every process's ``array`` concatenated on axis 0 in rank order, on every process.

        Examples:
            >>> DataParallel().gather_concatenated(np.arange(3))
            array([0, 1, 2])
        """
        parts = self.comm.allgather(np.ascontiguousarray(array))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def check_same(self, named_arrays: Sequence[tuple[str, Any]], when: str = "") -> None:
        """Raise on every process if any array differs between processes.

        Each process hashes its arrays (dtype, shape, bytes); process 0's hashes are sent
        to all, each finds its first differing array, and all learn the first one found.

        Args:
            named_arrays: ``(name, array)`` in the same order on every process.
            when: Said in the error (``"after epoch 3"``).

        Raises:
            RuntimeError: Naming the first differing array and the processes.

        Examples:
            >>> DataParallel().check_same([("w", np.zeros(3))], "after epoch 1")
        """
        digests = [_digest(np.asarray(a)) for _, a in named_arrays]
        reference = self.comm.bcast(digests, 0)
        mismatch = len(digests)
        if len(reference) != len(digests):
            mismatch = min(len(reference), len(digests))
        else:
            for index, (mine, theirs) in enumerate(zip(digests, reference, strict=True)):
                if mine != theirs:
                    mismatch = index
                    break
        found = [int(m[0]) for m in self.comm.allgather(np.array([mismatch], np.int64))]
        first = min(found)
        if first >= len(digests):
            return
        ranks = [rank for rank, m in enumerate(found) if m == first]
        name = named_arrays[first][0] if first < len(named_arrays) else f"#{first}"
        raise RuntimeError(
            f"DataParallel(check_weights=True): {when + ': ' if when else ''}weight "
            f"{name!r} differs between process 0 and process(es) {ranks}; the replicas "
            "have drifted apart (a custom train_step without average_gradients, a "
            "process-dependent random draw, or a non-deterministic kernel)"
        )


def _digest(array: np.ndarray) -> str:
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha1(header + np.ascontiguousarray(array).tobytes()).hexdigest()


def distribution() -> DataParallel | None:
    """The current distribution (Keras 3's ``keras.distribution.distribution()``).

    Returns:
        The `DataParallel` set by `set_distribution` or ``scope()``, or None.

    Examples:
        >>> distribution() is None
        True
    """
    return _current


def set_distribution(value: DataParallel | None) -> None:
    """Make ``value`` the current distribution (None: train in one process again).

    ``fit``, ``evaluate`` and ``predict`` then run data-parallel across the job's
    processes (Keras 3's ``keras.distribution.set_distribution``).

    Args:
        value: A `DataParallel`, or None.

    Examples:
        >>> set_distribution(DataParallel())
        >>> distribution().num_processes
        1
        >>> set_distribution(None)
    """
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            "set_distribution: expected a tapegrad.distribution.DataParallel or None, got "
            f"{type(value).__name__}"
        )
    _current = value


__all__ = ["DEFAULT_BUCKET_BYTES", "DataParallel", "distribution", "set_distribution"]
