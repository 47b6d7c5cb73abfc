"""InputSpec and assert_input_compatibility: each expectation Keras 3 checks (rank, max
and min rank, dtype, axes, shape with the last-axis squeeze, named dict inputs)."""

import numpy as np
import pytest

from tapegrad import layers
from tapegrad.nn.layers.input_spec import InputSpec, assert_input_compatibility

X = np.zeros((2, 5, 4), np.float32)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (InputSpec(ndim=2), "expected ndim=2"),
        (InputSpec(max_ndim=2), "expected max_ndim=2"),
        (InputSpec(min_ndim=4), "expected min_ndim=4"),
        (InputSpec(dtype="float64"), "expected dtype=float64"),
        (InputSpec(axes={-1: 3}), "expected axis -1 of size 3"),
        (InputSpec(shape=(None, 6, 4)), r"expected shape=\(None, 6, 4\)"),
    ],
)
def test_mismatches_raise_naming_the_layer(spec, message):
    with pytest.raises(ValueError, match=f"layer 'probe'.*{message}"):
        assert_input_compatibility(spec, X, "probe")


def test_compatible_inputs_and_structures():
    assert_input_compatibility(InputSpec(shape=(None, 5, 4), dtype="float32"), X, "probe")
    assert_input_compatibility(
        InputSpec(shape=(None, 5, 4, 1), allow_last_axis_squeeze=True), X, "p"
    )
    assert_input_compatibility([InputSpec(ndim=3), None], [X, np.zeros(2)], "probe")
    named = [InputSpec(ndim=3, name="a"), InputSpec(ndim=1, name="b")]
    assert_input_compatibility(named, {"b": np.zeros(2), "a": X}, "probe")
    with pytest.raises(ValueError, match="missing inputs"):
        assert_input_compatibility(named, {"a": X}, "probe")
    with pytest.raises(ValueError, match="expects 2 input"):
        assert_input_compatibility([InputSpec(), InputSpec()], X, "probe")
    assert_input_compatibility(None, X, "probe")


def test_repr_config_and_errors():
    spec = layers.InputSpec(ndim=3, axes={-1: 4})
    assert repr(spec) == "InputSpec(ndim=3, axes={-1: 4})"  # as Keras 3.15 prints it
    clone = InputSpec.from_config(spec.get_config())
    assert (clone.ndim, clone.axes) == (3, {-1: 4})
    assert InputSpec(shape=(None, 3)).ndim == 2
    with pytest.raises(ValueError, match="axis 3"):
        InputSpec(ndim=2, axes={3: 1})
    with pytest.raises(TypeError, match="axes"):
        InputSpec(axes=[1])
