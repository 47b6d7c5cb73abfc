"""RandomRotation, RandomZoom, RandomTranslation and the affine sampler under them: the
sampler against Keras 3.15's ops.image.affine_transform (JAX backend) for every
interpolation and fill mode, the layers against Keras with fixed draws, the draws (fresh
in compiled steps, none in inference), gradients, configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tapegrad.nn.layers.random_affine import affine_transform

IMAGE = np.array(
    [
        [0.0, 1.0, 2.462288, 4.171167],
        [1.062866, 3.103282, 0.270618, 2.549528],
        [4.928527, 2.398636, 4.95262, 2.584498],
    ],
    np.float32,
).reshape(1, 3, 4, 1)
TRANSFORM = np.array([[1.3, 0.2, -2.5, -0.1, 0.8, 1.7, 0, 0]], np.float32)

# Keras 3.15: ops.image.affine_transform(IMAGE, TRANSFORM, interpolation, fill_mode,
# fill_value=0.5)[0, :, :, 0].
KERAS_AFFINE = {
    ("bilinear", "reflect"): [
        [3.079024076461792, 3.2419090270996094, 2.9712231159210205, 2.5502219200134277],
        [3.1648309230804443, 4.928526878356934, 4.169559955596924, 3.931025981903076],
        [2.7038280963897705, 4.155395030975342, 3.505531072616577, 4.441822052001953],
    ],
    ("bilinear", "wrap"): [
        [3.079024076461792, 2.6723721027374268, 2.9712231159210205, 2.5502219200134277],
        [3.105012893676758, 3.2191660404205322, 3.0086910724639893, 3.5202949047088623],
        [1.7874070405960083, 3.119986057281494, 0.6583070158958435, 2.169830083847046],
    ],
    ("bilinear", "constant"): [
        [0.5, 0.5, 2.9712231159210205, 2.5502219200134277],
        [0.5, 0.5, 3.0686910152435303, 3.2448201179504395],
        [0.5, 0.5, 0.5, 0.5],
    ],
    ("bilinear", "nearest"): [
        [3.768829107284546, 3.382262945175171, 2.9712231159210205, 2.5502219200134277],
        [4.928526878356934, 4.928526878356934, 4.169559955596924, 3.931025981903076],
        [4.928526878356934, 4.92852783203125, 3.663580894470215, 4.441822052001953],
    ],
    ("nearest", "reflect"): [
        [4.952620029449463, 4.928526878356934, 4.928526878356934, 3.1032819747924805],
        [2.3986361026763916, 4.928526878356934, 4.928526878356934, 4.952620029449463],
        [2.3986361026763916, 4.928526878356934, 2.3986361026763916, 4.952620029449463],
    ],
    ("nearest", "wrap"): [
        [2.3986361026763916, 2.5844979286193848, 4.928526878356934, 3.1032819747924805],
        [2.4622879028320312, 2.5844979286193848, 4.928526878356934, 4.952620029449463],
        [2.4622879028320312, 4.171166896820068, 1.0, 2.4622879028320312],
    ],
    ("nearest", "constant"): [
        [0.5, 0.5, 4.928526878356934, 3.1032819747924805],
        [0.5, 0.5, 4.928526878356934, 4.952620029449463],
        [0.5, 0.5, 0.5, 0.5],
    ],
    ("nearest", "nearest"): [
        [4.928526878356934, 4.928526878356934, 4.928526878356934, 3.1032819747924805],
        [4.928526878356934, 4.928526878356934, 4.928526878356934, 4.952620029449463],
        [4.928526878356934, 4.928526878356934, 2.3986361026763916, 4.952620029449463],
    ],
}


@pytest.mark.parametrize(("interpolation", "fill_mode"), list(KERAS_AFFINE))
def test_affine_transform_matches_keras(interpolation, fill_mode):
    out = affine_transform(IMAGE, TRANSFORM, interpolation, fill_mode, 0.5).numpy()
    expected = KERAS_AFFINE[(interpolation, fill_mode)]
    np.testing.assert_allclose(out[0, :, :, 0], expected, rtol=1e-5, atol=1e-5)


def test_affine_transform_gradient_and_compiled():
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 2))
    tg.check_grads(
        lambda v: affine_transform(v, TRANSFORM.astype(np.float64), "bilinear", "reflect"),
        (x,),
        order=1,
        modes=("rev",),
    )
    step = tg.function(lambda v, t: affine_transform(v, t, "bilinear", "constant", 0.5))
    np.testing.assert_allclose(
        step(tg.tensor(IMAGE), tg.tensor(TRANSFORM)).numpy()[0, :, :, 0],
        KERAS_AFFINE[("bilinear", "constant")],
        rtol=1e-5,
        atol=1e-5,
    )


def test_fixed_rotations_match_keras():
    square = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    quarter = layers.RandomRotation((0.25, 0.25), fill_mode="constant")(square).numpy()
    np.testing.assert_allclose(quarter[0, :, :, 0], [[2, 5, 8], [1, 4, 7], [0, 3, 6]], atol=1e-5)
    image = np.random.default_rng(0).standard_normal((3, 5, 6, 2)).astype(np.float32)
    out = layers.RandomRotation((0.1, 0.1))(image).numpy()
    # Keras 3.15: RandomRotation((0.1, 0.1)) (36 degrees, reflect, bilinear), image 0.
    expected_row_0 = [-0.185356, 0.314341, 0.716221, -0.341938, -0.400333, 0.083938]
    expected_row_3 = [-1.228781, -0.343439, -0.42063, -0.431661, -0.366412, 0.317762]
    np.testing.assert_allclose(out[0, 0, :, 0], expected_row_0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[0, 3, :, 0], expected_row_3, rtol=1e-4, atol=1e-5)
    first = layers.RandomRotation((0.1, 0.1), data_format="channels_first")
    np.testing.assert_allclose(
        first(image.transpose(0, 3, 1, 2)).numpy(), out.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-6
    )
    single = layers.RandomRotation((0.1, 0.1))(image[0]).numpy()
    np.testing.assert_allclose(single, out[0], rtol=1e-5, atol=1e-6)


def test_random_rotation_draws_and_inference():
    layer = layers.RandomRotation(0.2, seed=4)
    x = tg.tensor(np.random.default_rng(1).standard_normal((4, 5, 5, 1)).astype(np.float32))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    step = tg.function(lambda v: layer(v, training=True))
    first, second = step(x).numpy(), step(x).numpy()
    assert not np.array_equal(first, second)
    assert not np.allclose(first[0], first[1])  # one angle per image
    model = tg.Sequential([layers.Input((5, 5, 1)), layer])
    np.testing.assert_array_equal(model.predict(x.numpy(), verbose=0), x.numpy())


def test_random_rotation_config_and_errors():
    config = layers.RandomRotation(0.2).get_config()
    assert {
        "factor": [-0.2, 0.2], "data_format": "channels_last", "fill_mode": "reflect",
        "fill_value": 0.0, "interpolation": "bilinear", "seed": None,
    }.items() <= config.items()  # fmt: skip
    assert layers.RandomRotation.from_config(config).factor == (-0.2, 0.2)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomRotation(1.5)
    with pytest.raises(ValueError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror_ish")


# -- RandomZoom and RandomTranslation ----------------------------------------------------
ZT_IMAGE = [
    [0, 1, 2.46229, 4.17117, 6.06287, 1.10328],
    [3.27062, 5.54953, 0.928527, 3.39864, 5.95262, 1.5845],
    [4.28923, 0.062496, 2.90056, 5.80014, 1.75834, 4.77256],
    [0.840469, 3.95996, 0.129116, 3.34618, 6.60955, 2.91775],
    [6.26938, 2.66318, 6.09797, 2.57262, 6.08611, 2.63744],
]
# Keras 3.15 (JAX backend), fixed draws, [0, :, :, 0] of the output on ZT_IMAGE:
# RandomZoom((0.5, 0.5), (-0.3, -0.3)) (reflect, bilinear).
KERAS_ZOOM = [
    [0.75, 1.65803, 2.71862, 3.91484, 5.2116, 4.82297],
    [2.8649, 2.56405, 2.00883, 3.47148, 5.00746, 4.84178],
    [1.11918, 1.33963, 3.3355, 5.36521, 3.57715, 2.51189],
    [3.37241, 3.22246, 3.09042, 2.98253, 4.82304, 5.45527],
    [3.56473, 4.20884, 5.56917, 3.10143, 4.50504, 5.22394],
]
# RandomZoom((-0.4, -0.4), fill_mode="constant", interpolation="nearest").
KERAS_ZOOM_NEAREST = [
    [5.54953, 0.928527, 0.928527, 3.39864, 3.39864, 5.95262],
    [5.54953, 0.928527, 0.928527, 3.39864, 3.39864, 5.95262],
    [0.062496, 2.90056, 2.90056, 5.80014, 5.80014, 1.75834],
    [3.95996, 0.129116, 0.129116, 3.34618, 3.34618, 6.60955],
    [3.95996, 0.129116, 0.129116, 3.34618, 3.34618, 6.60955],
]
# RandomTranslation((0.2, 0.2), (-0.1, -0.1), fill_mode="wrap").
KERAS_TRANSLATION = [
    [4.10566, 4.72406, 3.98276, 4.68071, 4.01691, 4.81661],
    [0.6, 1.87737, 3.48762, 5.30619, 3.08712, 0.441313],
    [4.63796, 2.77693, 2.41059, 4.93103, 3.33175, 2.59617],
    [1.75319, 1.76534, 4.64031, 3.37506, 3.56687, 4.48256],
    [2.71216, 1.66145, 2.05936, 5.30421, 4.39447, 1.67138],
]


@pytest.mark.parametrize(
    ("cls", "args", "kwargs", "expected"),
    [
        (layers.RandomZoom, ((0.5, 0.5), (-0.3, -0.3)), {}, KERAS_ZOOM),
        (
            layers.RandomZoom,
            ((-0.4, -0.4),),
            {"fill_mode": "constant", "interpolation": "nearest"},
            KERAS_ZOOM_NEAREST,
        ),
        (
            layers.RandomTranslation,
            ((0.2, 0.2), (-0.1, -0.1)),
            {"fill_mode": "wrap"},
            KERAS_TRANSLATION,
        ),
    ],
)
def test_zoom_and_translation_match_keras(cls, args, kwargs, expected):
    image = np.asarray(ZT_IMAGE, np.float32).reshape(1, 5, 6, 1)
    out = cls(*args, **kwargs)(image).numpy()
    np.testing.assert_allclose(out[0, :, :, 0], expected, rtol=1e-4, atol=1e-4)


def test_zoom_and_translation_draws_configs_and_errors():
    x = tg.tensor(np.random.default_rng(2).standard_normal((4, 6, 6, 1)).astype(np.float32))
    for layer in (layers.RandomZoom(0.3, seed=1), layers.RandomTranslation(0.2, 0.2, seed=1)):
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
        step = tg.function(lambda v, layer=layer: layer(v, training=True))
        assert not np.array_equal(step(x).numpy(), step(x).numpy())
    zoom = layers.RandomZoom(0.2).get_config()
    assert (zoom["height_factor"], zoom["width_factor"], zoom["fill_mode"]) == (
        0.2,
        None,
        "reflect",
    )
    translation = layers.RandomTranslation(0.1, (0.2, 0.3)).get_config()
    assert (translation["height_factor"], translation["width_factor"]) == (0.1, [0.2, 0.3])
    assert layers.RandomTranslation.from_config(translation).width_range == (0.2, 0.3)
    with pytest.raises(ValueError, match="height_factor"):
        layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="width_factor"):
        layers.RandomTranslation(0.1, 1.5)


# Keras 3.15: RandomShear((0.3, 0.3), (0.2, 0.2)) on ZT_IMAGE[0:1, :, :6] (first 8 pixels);
# the two outcomes are the two random signs.
KERAS_SHEAR_OUTCOMES = [
    [0.0, 1.90991, 1.84878, 3.70765, 5.97467, 1.5845, 3.95429, 3.51337],
    [0.0, 1.0, 2.46229, 4.17117, 6.06287, 1.10328, 3.27062, 4.03268],
]


def test_random_shear_matches_keras():
    image = np.asarray(ZT_IMAGE, np.float32).reshape(1, 5, 6, 1)
    layer = layers.RandomShear((0.3, 0.3), (0.2, 0.2), seed=0)
    seen = set()
    for _ in range(12):
        first = layer(image).numpy()[0, :, :, 0].ravel()[:8]
        matches = [np.allclose(first, o, rtol=1e-4, atol=1e-4) for o in KERAS_SHEAR_OUTCOMES]
        assert any(matches)
        seen.add(matches.index(True))
    assert seen == {0, 1}
    config = layers.RandomShear(0.2).get_config()
    assert (config["x_factor"], config["y_factor"]) == ([-0.2, 0.2], [-0.0, 0.0])
    with pytest.raises(ValueError, match="x_factor"):
        layers.RandomShear(-0.1)
