"""`IntegerLookup`: maps integer tokens to contiguous indices (or back), Keras 3's layer.

The vocabulary is a sorted NumPy array of tokens and each token's index: a call is a
`searchsorted` and a `take` (ops, so traced and compiled models run it too), with no
Python loop over the tokens. Keras 3.15's own IntegerLookup needs TensorFlow; this one
needs nothing but NumPy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.validation import check_bool, check_choice, layer_owner

_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IntegerLookup(Layer):
    """Maps integer tokens to indices in a vocabulary (Keras 3's ``IntegerLookup``).

    Indices: ``0`` is the mask token's (where ``mask_token`` is set and
    ``output_mode="int"``), then ``num_oov_indices`` indices for out-of-vocabulary tokens
    (an OOV token ``t`` takes ``t % num_oov_indices``, Keras' ``"floormod"``), then the
    vocabulary's tokens in order. `adapt` learns the vocabulary from data: the most
    frequent tokens first (ties: the larger token first), at most ``max_tokens`` indices.

    Args:
        max_tokens: The most indices (special ones included); None: no limit.
        num_oov_indices: Indices for out-of-vocabulary tokens (0: they raise an error).
        mask_token: A token meaning "padding": index 0 in ``"int"`` mode, dropped from
            the encodings of the other modes; None: no mask token.
        oov_token: The token `invert` returns for indices of no token (default -1).
        vocabulary: Optional tokens (a list or 1D array; special tokens may lead it).
        vocabulary_dtype: ``"int64"`` (the only one, as in Keras).
        idf_weights: Inverse document frequencies of the ``vocabulary`` tokens
            (``output_mode="tf_idf"`` only).
        invert: Map indices back to tokens.
        output_mode: ``"int"`` (indices), ``"one_hot"`` (each token encoded),
            ``"multi_hot"`` / ``"count"`` / ``"tf_idf"`` (the last axis's tokens encoded
            as one row: presence, counts, counts times idf weights).
        sparse: Not supported (``True`` raises: tapegrad has no sparse tensors).
        pad_to_max_tokens: Encodings are ``max_tokens`` wide (else the vocabulary size).
        oov_method: ``"floormod"`` (``"farmhash"`` needs TensorFlow's fingerprints and
            raises).
        salt: Keras' hashing salt (with ``"farmhash"`` only; must be None).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer(np.array([[12, 1138, 42], [42, 1000, 36]])).numpy()
        array([[1, 3, 4],
               [4, 0, 2]])
        >>> adapted = tg.layers.IntegerLookup()
        >>> adapted.adapt(np.array([[12, 1138, 42], [42, 1000, 36]]))
        >>> adapted.get_vocabulary()
        [-1, 42, 1138, 1000, 36, 12]
        >>> tg.layers.IntegerLookup(vocabulary=[12, 36], invert=True)(np.array([1, 2, 0])).numpy()
        array([12, 36, -1])
    """

    _check_input_shape = False

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: int | None = None,
        oov_token: int = -1,
        vocabulary: Any = None,
        vocabulary_dtype: str = "int64",
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        sparse: bool = False,
        pad_to_max_tokens: bool = False,
        oov_method: str = "floormod",
        salt: Any = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("vocabulary_size", None)  # (Keras' config key: derived here)
        if isinstance(vocabulary, str):
            raise ValueError(
                "IntegerLookup: a vocabulary file is not read (a file path could name "
                "anything); pass the tokens as a list or array"
            )
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        super().__init__(**kwargs)
        owner = layer_owner(self)
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        self.output_mode = check_choice(owner, "output_mode", output_mode, _OUTPUT_MODES)
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
            raise ValueError(f"{owner}: max_tokens must be an int > 1, got {max_tokens!r}")
        if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{owner}: num_oov_indices must be >= 0, got {num_oov_indices!r}")
        if vocabulary_dtype != "int64":
            raise ValueError(
                f"{owner}: only vocabulary_dtype='int64' is supported (as in Keras), "
                f"got {vocabulary_dtype!r}"
            )
        if check_bool(owner, "sparse", sparse):
            raise ValueError(
                f"{owner}: sparse=True is not supported: tapegrad has no sparse tensors "
                "(the encodings are dense arrays)"
            )
        if oov_method != "floormod" or salt is not None:
            raise ValueError(
                f"{owner}: only oov_method='floormod' without a salt is supported "
                f"('farmhash' needs TensorFlow's fingerprints), got oov_method="
                f"{oov_method!r}, salt={salt!r}"
            )
        self.invert = check_bool(owner, "invert", invert)
        if self.invert and self.output_mode != "int":
            raise ValueError(f"{owner}: invert=True needs output_mode='int'")
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(f"{owner}: idf_weights are only for output_mode='tf_idf'")
        if self.output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError(f"{owner}: with a vocabulary, output_mode='tf_idf' needs idf_weights")
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = None if mask_token is None else int(mask_token)
        self.oov_token = None if oov_token is None else int(oov_token)
        self.vocabulary_dtype = vocabulary_dtype
        self.sparse = False
        self.pad_to_max_tokens = check_bool(owner, "pad_to_max_tokens", pad_to_max_tokens)
        self.oov_method, self.salt = oov_method, salt
        self.input_vocabulary = None if vocabulary is None else _int_list(vocabulary)
        self.input_idf_weights = None if idf_weights is None else _float_list(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._tokens = np.zeros(0, np.int64)  # the vocabulary without special tokens
        self._idf: np.ndarray | None = None
        self._frozen_vocab_size: int | None = None
        self._called = False
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- the vocabulary ---------------------------------------------------------------------
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: the tokens and the mask and OOV indices."""
        return len(self._tokens) + self._token_start()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[int]:
        """The tokens in index order (with the mask and OOV tokens first, by default)."""
        special = [self.oov_token] * self._token_start()
        if self.mask_token is not None and self.output_mode == "int":
            special[0] = self.mask_token
        tokens = [int(t) for t in self._tokens]
        return special + tokens if include_special_tokens else tokens

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the tokens (and, for ``"tf_idf"``, their idf weights), as Keras' does.

        Args:
            vocabulary: Tokens in index order; the special tokens may lead, exactly as
                `get_vocabulary` lists them.
            idf_weights: One weight per ``vocabulary`` entry (``"tf_idf"`` only).
        """
        owner = layer_owner(self)
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(f"{owner}: idf_weights go with output_mode='tf_idf' (only)")
        if isinstance(vocabulary, str):
            raise ValueError(
                f"{owner}: a vocabulary file is not read (a file path could name anything); "
                "pass the tokens as a list or array"
            )
        values = np.asarray(_int_list(vocabulary), np.int64)
        if values.size == 0:
            raise ValueError(f"{owner}: cannot set an empty vocabulary")
        start = self._token_start()
        special = self.get_vocabulary()[:start]
        found_special = start > 0 and values[:start].tolist() == special
        tokens = values[start:] if found_special else values
        unique, counts = np.unique(tokens, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"{owner}: repeated vocabulary terms {unique[counts > 1].tolist()}")
        reserved = [(self.mask_token, "mask")]
        if self.invert:
            reserved.append((self.oov_token, "OOV"))
        for token, what in reserved:
            if token is not None and token in tokens:
                raise ValueError(
                    f"{owner}: the {what} token {token} is in the vocabulary; special tokens "
                    f"may only lead it, in this order: {special}"
                )
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{owner}: the vocabulary has {start + len(tokens)} indices, more than "
                f"max_tokens={self.max_tokens}"
            )
        self._set_tokens(tokens)
        if idf_weights is not None:
            weights = np.asarray(_float_list(idf_weights), np.float64)
            if weights.ndim != 1 or len(weights) != len(values):
                raise ValueError(
                    f"{owner}: idf_weights must be 1D with one weight per vocabulary entry "
                    f"({len(values)}), got shape {weights.shape}"
                )
            front = [] if found_special else [float(np.mean(weights))] * start
            self._set_idf(np.concatenate([front, weights]))

    def _set_tokens(self, tokens: np.ndarray) -> None:
        size = len(tokens) + self._token_start()
        if self._called and self._frozen_vocab_size not in (None, size) and self._fixed_width():
            raise RuntimeError(
                f"{layer_owner(self)}: with output_mode={self.output_mode!r} and "
                "pad_to_max_tokens=False the vocabulary size cannot change after the layer "
                f"was called ({self._frozen_vocab_size} -> {size})"
            )
        self._tokens = np.asarray(tokens, np.int64)
        order = np.argsort(self._tokens, kind="stable")
        self._sorted = self._tokens[order]
        self._sorted_index = (order + self._token_start()).astype(np.int64)
        self._frozen_vocab_size = size

    def _set_idf(self, weights: np.ndarray) -> None:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            weights = np.pad(weights, (0, self.max_tokens - len(weights)))
        self._idf = weights.astype(backend.floatx())

    def _fixed_width(self) -> bool:
        return self.output_mode != "int" and not self.pad_to_max_tokens

    # -- adapt ------------------------------------------------------------------------------
    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary (and idf weights) from ``data``: an array or Tensor (one
        document per row), a list of tokens, or an iterable of such batches (``(x, y)``
        pairs: ``x``).

        Args:
            data: The tokens.
            steps: The most batches to read from an iterable (None: all).
        """
        owner = layer_owner(self)
        if self._has_input_vocabulary:
            raise ValueError(f"{owner}: cannot adapt a layer given a vocabulary")
        single = isinstance(data, np.ndarray | list | tuple) or hasattr(data, "numpy")
        batches: Iterable[Any] = [data] if single else data
        counts: dict[int, int] = {}
        documents: dict[int, int] = {}
        num_documents = 0
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            if isinstance(batch, tuple) and not single:
                batch = batch[0]
            array = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch)
            if array.dtype.kind not in "iub":
                raise TypeError(f"{owner}: adapt needs integer tokens, got {array.dtype}")
            rows = array.astype(np.int64).reshape((1, -1) if array.ndim < 2 else array.shape)
            for token, count in zip(*np.unique(rows, return_counts=True), strict=True):
                counts[int(token)] = counts.get(int(token), 0) + int(count)
            if self.output_mode == "tf_idf":
                for row in rows.reshape(rows.shape[0], -1):
                    for token in np.unique(row):
                        documents[int(token)] = documents.get(int(token), 0) + 1
                num_documents += rows.shape[0]
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)  # type: ignore[arg-type]
        tokens = np.array(list(counts), np.int64)
        frequency = np.array([counts[t] for t in counts], np.int64)
        # Most frequent first; ties: the larger token first (Keras' lexsort, reversed).
        ranked = tokens[np.lexsort((tokens, frequency))[::-1]]
        if self.max_tokens is not None:
            ranked = ranked[: self.max_tokens - self._token_start()]
        self._set_tokens(ranked)
        if self.output_mode == "tf_idf":
            seen = np.array([documents[int(t)] for t in ranked], np.float64)
            idf = np.log(1 + num_documents / (1 + seen)).astype(backend.floatx())
            mean = float(np.mean(idf)) if idf.size else 0.0
            self._set_idf(np.concatenate([[mean] * self._token_start(), idf]))

    # -- calling ----------------------------------------------------------------------------
    def call(self, inputs: Any) -> Any:
        self._called = True
        owner = layer_owner(self)
        if self._fixed_width() and self._frozen_vocab_size is None:
            raise RuntimeError(
                f"{owner}: with output_mode={self.output_mode!r} and pad_to_max_tokens=False "
                "the layer needs its vocabulary before it is called (vocabulary= or adapt)"
            )
        dtype = np.dtype(getattr(inputs, "dtype", np.asarray(inputs).dtype))
        if dtype.kind not in "iub":
            raise TypeError(f"{owner}: expects integer tokens, got dtype {dtype}")
        x = tnp.asarray(inputs, dtype=np.int64)
        if self.invert:
            return self._invert(x)
        indices = self._lookup(x, owner)
        if self.output_mode == "int":
            return indices
        return self._encode(indices)

    def _lookup(self, x: Any, owner: str) -> Any:
        size = len(self._sorted)
        if size:
            position = tnp.minimum(tnp.searchsorted(self._sorted, x), size - 1)
            found = tnp.equal(tnp.take(self._sorted, position), x)
            known = tnp.take(self._sorted_index, position)
        else:
            found = tnp.zeros(shape_of(x), dtype=bool)
            known = tnp.zeros(shape_of(x), dtype=np.int64)
        if self.num_oov_indices == 0:
            if isinstance(found, tg.Tensor) and not bool(np.all(found.numpy())):
                unknown = np.unique(np.asarray(x.numpy())[~found.numpy()])[:10].tolist()
                raise ValueError(
                    f"{owner}: with num_oov_indices=0 every token must be in the vocabulary, "
                    f"found {unknown}; consider num_oov_indices=1"
                )
            oov = tnp.zeros(shape_of(x), dtype=np.int64)
        else:
            oov = tnp.mod(x, self.num_oov_indices) + self._oov_start()
        indices = tnp.where(found, known, oov)
        if self.mask_token is not None:
            # "int": index 0; the encodings: out of range, so no column counts it.
            masked = 0 if self.output_mode == "int" else np.iinfo(np.int64).max
            indices = tnp.where(tnp.equal(x, self.mask_token), masked, indices)
        return indices

    def _invert(self, x: Any) -> Any:
        table = np.array(self.get_vocabulary(), np.int64)
        oov = self.oov_token if self.oov_token is not None else 0
        valid = tnp.logical_and(tnp.greater_equal(x, self._token_start()), x < len(table))
        tokens = tnp.where(valid, tnp.take(table, tnp.clip(x, 0, len(table) - 1)), oov)
        if self.mask_token is not None:
            tokens = tnp.where(tnp.equal(x, 0), self.mask_token, tokens)
        return tokens

    def _encode(self, indices: Any) -> Any:
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        shape = tuple(shape_of(indices))
        if not shape:
            indices = tnp.reshape(indices, (1,))
        elif self.output_mode == "one_hot" and len(shape) > 1 and shape[-1] == 1:
            indices = tnp.reshape(indices, shape[:-1])
        floatx = backend.floatx()
        hot = tnp.asarray(tnp.equal(tnp.expand_dims(indices, -1), np.arange(depth)), dtype=floatx)
        if self.output_mode == "one_hot":
            return hot
        if self.output_mode == "multi_hot":
            return tnp.max(hot, axis=-2)
        counts = tnp.sum(hot, axis=-2)
        if self.output_mode == "count":
            return counts
        if self._idf is None:
            raise ValueError(f"{layer_owner(self)}: output_mode='tf_idf' needs idf weights")
        return counts * self._idf[:depth]

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return None  # (Keras' lookup layers make no mask)

    # -- configuration ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Keras' keys. An adapted vocabulary (and its idf weights) is kept under
        ``vocabulary`` / ``idf_weights`` (Keras writes it to an assets file, which
        tapegrad archives do not have): a saved layer loads with it, reading only data."""
        vocabulary, idf = self.input_vocabulary, self.input_idf_weights
        if vocabulary is None and self._frozen_vocab_size is not None:
            vocabulary = self.get_vocabulary()
            if self._idf is not None:
                idf = [float(w) for w in self._idf[: self.vocabulary_size()]]
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "idf_weights": idf,
            "vocabulary": vocabulary,
            "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method,
            "salt": self.salt,
        }


def _int_list(values: Any) -> list[int]:
    array = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iub"):
        raise ValueError(f"IntegerLookup: expected a 1D list of integers, got {values!r}"[:200])
    return [int(v) for v in array]


def _float_list(values: Any) -> list[float]:
    array = np.asarray(values.numpy() if hasattr(values, "numpy") else values, np.float64)
    return [float(v) for v in array.reshape(-1)]


__all__ = ["IntegerLookup"]
