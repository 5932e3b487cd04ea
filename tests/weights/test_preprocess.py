"""The weights' preprocessing, reproduced: crops and normalisation equal
torchvision's ``weights.transforms()`` on PIL images pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecnn.data.preprocess import Preprocessing, default_preprocessing, parse_triple
from edgecnn.errors import InvalidOptionError
from edgecnn.models.weights import resolve_weights


@pytest.mark.parametrize("model, weights", [("mobilenet_v2", "IMAGENET1K_V2"), ("efficientnet_b0", "IMAGENET1K_V1"),
                                            ("inception_v3", "IMAGENET1K_V1"), ("resnet50", "IMAGENET1K_V1")])
def test_crops_equal_torchvisions_transforms(model, weights):
    """Bilinear (resize 232 or 256) and bicubic (EfficientNet), 224 and 299 crops,
    on odd sizes, portrait, landscape, a CIFAR-size image and one smaller than the crop."""
    from PIL import Image
    from torchvision.models import get_model_weights

    spec = resolve_weights(weights, model)
    t = get_model_weights(model)[weights].transforms()
    pre = spec.preprocessing
    assert (pre.crop_size, pre.resize_size, pre.interpolation) == (t.crop_size[0], t.resize_size[0],
                                                                   t.interpolation.value)
    rng = np.random.default_rng(0)
    for h, w in [(32, 32), (375, 500), (500, 333), (257, 259), (100, 50), (224, 224)]:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        mine = pre.normalize(pre.crop(im)[None])[0]
        assert torch.equal(mine, t(im)), (h, w)


def test_defaults_sizes_and_bad_values():
    cifar = default_preprocessing(32, (0.5,) * 3, (0.25,) * 3, "card")
    img = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    assert np.array_equal(cifar.crop(img), img)  # a 32 px image at 32 px is left as it is
    big = default_preprocessing(224, (0.5,) * 3, (0.5,) * 3, "card")
    assert (big.resize_size, big.crop_size) == (256, 224)
    assert Preprocessing(224, 232).at_size(288).resize_size == 298  # the same crop fraction at another size
    d = big.to_dict()
    assert Preprocessing.from_dict(d) == big and d["mean"] == [0.5, 0.5, 0.5]
    assert parse_triple("--mean", "0.5") == (0.5, 0.5, 0.5)
    assert parse_triple("--std", "0.229,0.224,0.225") == (0.229, 0.224, 0.225)
    for bad in ("a,b", "1,2"):
        with pytest.raises(InvalidOptionError, match="--mean"):
            parse_triple("--mean", bad)
    with pytest.raises(InvalidOptionError, match="positive"):
        parse_triple("--std", "0", positive=True)
    with pytest.raises(InvalidOptionError, match="interpolation"):
        Preprocessing(224, 256, "cubic")
