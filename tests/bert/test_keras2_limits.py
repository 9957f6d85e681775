"""On Keras 2 (the tfkeras lane), what kerastack serves on Keras 3 only is a
clear NotImplementedError naming the feature and its reason, raised before
anything is built or changed."""

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertSeq2SeqLM
from kerastack.core import keras, keras_version
from kerastack.models import ConditionalRandomField
from kerastack.training import (
    BertMultiTask,
    GradientAccumulation,
    LayerAdaptation,
    LearningRateMultipliers,
    Task,
    ema_weights,
)

pytestmark = pytest.mark.skipif(
    keras_version()[0] >= 3, reason="Keras 3 serves these features: their own tests run here"
)


def _backbone():
    return BertBackbone(
        vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=8, dropout=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "make, feature",
    [
        (lambda: GradientAccumulation(keras.optimizers.Adam(), steps=2), "GradientAccumulation"),
        (lambda: LayerAdaptation(keras.optimizers.Adam()), "LayerAdaptation"),
        (lambda: LearningRateMultipliers(keras.optimizers.Adam(), {}), "LearningRateMultipliers"),
        (lambda: ConditionalRandomField(), "CRF"),
        (lambda: ema_weights(_backbone()).__enter__(), "ema_weights"),  # a context manager
        (lambda: _backbone().enable_lora(2), "LoRA"),
        (
            lambda: BertMultiTask(_backbone(), [Task("label", "classification", num_classes=2)]),
            "BertMultiTask",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_keras3_features_say_so(make, feature):
    message = rf"{feature} needs Keras 3 \(.+\), but kerastack runs on Keras 2"
    with pytest.raises(NotImplementedError, match=message):
        make()


def test_generation_says_so_and_the_model_still_predicts():
    model = BertSeq2SeqLM(_backbone())
    ids = np.array([[2, 5, 6, 3]], "int32")
    with pytest.raises(NotImplementedError, match=r"generate needs Keras 3"):
        model.generate(ids, 2)
    inputs = {
        "token_ids": ids,
        "segment_ids": np.zeros_like(ids),
        "padding_mask": np.ones_like(ids),
    }
    logits = model.predict(inputs, verbose=0)
    assert np.all(np.isfinite(logits)) and logits.shape[:2] == (1, 4)
