"""Every constructor argument of every public layer, model, optimizer and
schedule is in its `get_config()`: an argument left out would silently be
lost when a model is saved and loaded.

`CASES` makes a small instance of each class the packages export (their
`__all__` and their compat modules'); a test fails when an exported class has
no case, so a new class cannot skip the check.
"""

import importlib
import inspect

import numpy as np
import pytest

from kerastack.core import keras
from tests.packages import PACKAGES

SERIALIZED = (
    keras.layers.Layer,
    keras.optimizers.Optimizer,
    keras.optimizers.schedules.LearningRateSchedule,
)
# Saved by Keras itself, or not constructor state.
KERAS_ARGUMENTS = {"self", "name", "dtype", "trainable"}

SMALL = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16)


def _exported_classes():
    found = {}
    for package in PACKAGES:
        for name in (f"kerastack.{package}", f"kerastack.{package}.compat"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            for attribute in getattr(module, "__all__", []):
                exported = getattr(module, attribute)
                # A public submodule the package exports (kerastack.bert4keras's): its names.
                if inspect.ismodule(exported):
                    values = [getattr(exported, n) for n in getattr(exported, "__all__", [])]
                else:
                    values = [exported]
                for value in values:
                    if inspect.isclass(value) and issubclass(value, SERIALIZED):
                        found.setdefault(f"{value.__module__}.{value.__qualname__}", value)
    return found


def _bert():
    from kerastack.bert import BertBackbone

    return BertBackbone(**SMALL, max_sequence_length=16)


def _gpt2():
    from kerastack.gpt import GPT2Backbone

    return GPT2Backbone(**SMALL, max_sequence_length=16)


def _roberta():
    from kerastack.bert import RobertaBackbone

    return RobertaBackbone(**SMALL, max_sequence_length=16)


def _albert():
    from kerastack.bert import AlbertBackbone

    return AlbertBackbone(**SMALL, embedding_dim=4, max_sequence_length=16)


def _openai_gpt():
    from kerastack.gpt import OpenAIGPTBackbone

    return OpenAIGPTBackbone(**SMALL, max_sequence_length=16)


def _electra():
    from kerastack.electra import ElectraBackbone

    return ElectraBackbone(**SMALL, embedding_dim=6, max_sequence_length=16)


def _roformer(**overrides):
    from kerastack.roformer import RoFormerBackbone

    return RoFormerBackbone(**{**SMALL, "max_sequence_length": 16, **overrides})


def _nezha():
    from kerastack.nezha import NezhaBackbone

    return NezhaBackbone(**SMALL, max_sequence_length=16, max_relative_position=3)


def _roformer_encoder():
    from kerastack.roformer import RoFormerEncoder

    block = RoFormerEncoder(16, 2, rotary_value=True)
    block.build((None, None, 8))
    return block


def _t5():
    from kerastack.t5 import T5Backbone

    return T5Backbone(
        vocabulary_size=30,
        hidden_dim=8,
        key_value_dim=3,
        intermediate_dim=12,
        num_encoder_layers=1,
        num_decoder_layers=2,
        num_heads=2,
        gated=True,
        tie_embedding_weights=False,
    )


def _tiny_graph():
    inputs = keras.Input((3,))
    return inputs, keras.layers.Dense(2)(inputs)


def _sgd():
    return keras.optimizers.SGD(0.1)


def _cases():
    from kerastack import (
        attention,
        bert,
        electra,
        gpt,
        layernorm,
        models,
        multihead,
        nezha,
        position,
        roformer,
        t5,
        tokenizers,
        training,
        transformer,
    )
    from kerastack.attention import compat as attention_compat
    from kerastack.bert import compat as bert_compat
    from kerastack.bert4keras import layers as b4k_layers
    from kerastack.bert4keras import optimizers as b4k_optimizers
    from kerastack.layernorm import compat as layernorm_compat
    from kerastack.multihead import compat as multihead_compat
    from kerastack.position import compat as position_compat
    from kerastack.transformer import compat as transformer_compat

    return {
        attention.ScaledDotProductAttention: lambda: attention.ScaledDotProductAttention(),
        attention.SelfAttention: lambda: attention.SelfAttention(units=4),
        attention.WeightedAttention: lambda: attention.WeightedAttention(),
        attention_compat.ScaledDotProductAttention: (
            lambda: attention_compat.ScaledDotProductAttention()
        ),
        attention_compat.SeqSelfAttention: lambda: attention_compat.SeqSelfAttention(units=4),
        attention_compat.SeqWeightedAttention: lambda: attention_compat.SeqWeightedAttention(),
        attention_compat.ResidualScaledDotProductAttention: lambda: (
            attention_compat.ResidualScaledDotProductAttention(history_only=True)
        ),
        multihead.MultiHead: lambda: multihead.MultiHead(keras.layers.Dense(4)),
        multihead.MultiHeadAttention: lambda: multihead.MultiHeadAttention(2, 4),
        multihead_compat.MultiHead: lambda: multihead_compat.MultiHead(keras.layers.Dense(4)),
        multihead_compat.MultiHeadAttention: lambda: multihead_compat.MultiHeadAttention(2),
        position.PositionEmbedding: lambda: position.PositionEmbedding(8),
        position.RotaryEmbedding: lambda: position.RotaryEmbedding(),
        position.SinePositionEncoding: lambda: position.SinePositionEncoding(),
        position_compat.PositionEmbedding: lambda: position_compat.PositionEmbedding(8, 4),
        position_compat.TrigPosEmbedding: lambda: position_compat.TrigPosEmbedding(),
        layernorm.LayerNormalization: lambda: layernorm.LayerNormalization(),
        layernorm.RMSNormalization: lambda: layernorm.RMSNormalization(),
        layernorm_compat.LayerNormalization: lambda: layernorm_compat.LayerNormalization(),
        transformer.FeedForward: lambda: transformer.FeedForward(8),
        transformer.TransformerEncoder: lambda: transformer.TransformerEncoder(8, 2),
        transformer.TransformerDecoder: lambda: transformer.TransformerDecoder(8, 2),
        transformer.Seq2SeqTransformer: lambda: transformer.Seq2SeqTransformer(
            encoder_vocabulary_size=9,
            hidden_dim=8,
            num_heads=2,
            intermediate_dim=16,
            num_encoder_layers=1,
            num_decoder_layers=1,
            max_sequence_length=6,
        ),
        transformer_compat.EmbeddingRet: lambda: transformer_compat.EmbeddingRet(9, 4),
        transformer_compat.EmbeddingSim: lambda: transformer_compat.EmbeddingSim(),
        transformer_compat.FeedForward: lambda: transformer_compat.FeedForward(8),
        models.Embedding: lambda: models.Embedding(9, 4),
        models.ReversibleEmbedding: lambda: models.ReversibleEmbedding(9, 4),
        models.ConditionalRandomField: lambda: models.ConditionalRandomField(name="crf"),
        models.TextClassifierPreprocessor: lambda: models.TextClassifierPreprocessor(
            tokenizers.BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]), 8
        ),
        bert.BertBackbone: _bert,
        bert.RobertaBackbone: lambda: bert.RobertaBackbone(**SMALL, max_sequence_length=16),
        bert.AlbertBackbone: lambda: bert.AlbertBackbone(
            **SMALL, embedding_dim=4, max_sequence_length=16
        ),
        bert.XLMRobertaBackbone: lambda: bert.XLMRobertaBackbone(**SMALL, max_sequence_length=16),
        bert.CamembertBackbone: lambda: bert.CamembertBackbone(**SMALL, max_sequence_length=16),
        bert.RobertaClassifier: lambda: bert.RobertaClassifier(_roberta(), num_classes=3),
        bert.RobertaTokenClassifier: lambda: bert.RobertaTokenClassifier(_roberta(), num_classes=3),
        bert.RobertaQuestionAnswerer: lambda: bert.RobertaQuestionAnswerer(_roberta()),
        bert.RobertaMaskedLM: lambda: bert.RobertaMaskedLM(_roberta()),
        bert.AlbertClassifier: lambda: bert.AlbertClassifier(_albert(), num_classes=3),
        bert.AlbertTokenClassifier: lambda: bert.AlbertTokenClassifier(_albert(), num_classes=3),
        bert.AlbertQuestionAnswerer: lambda: bert.AlbertQuestionAnswerer(_albert()),
        bert.AlbertMaskedLM: lambda: bert.AlbertMaskedLM(_albert()),
        bert.BertClassifier: lambda: bert.BertClassifier(_bert(), num_classes=3),
        bert.BertTokenClassifier: lambda: bert.BertTokenClassifier(_bert(), num_classes=3),
        bert.BertPretrainer: lambda: bert.BertPretrainer(_bert()),
        bert.BertQuestionAnswerer: lambda: bert.BertQuestionAnswerer(_bert()),
        bert.BertSeq2SeqLM: lambda: bert.BertSeq2SeqLM(_bert()),
        bert.BertCausalLM: lambda: bert.BertCausalLM(_bert()),
        training.BertMultiTask: lambda: training.BertMultiTask(
            _bert(), [training.Task("nli", "classification", num_classes=3)]
        ),
        bert_compat.AdamWarmup: lambda: bert_compat.AdamWarmup(decay_steps=10, warmup_steps=2),
        bert_compat.KerasBertModel: lambda: bert_compat.KerasBertModel(*_tiny_graph()),
        bert_compat.Masked: lambda: bert_compat.Masked(return_masked=True),
        bert_compat.Extract: lambda: bert_compat.Extract(index=2),
        bert_compat.MaskedConv1D: lambda: bert_compat.MaskedConv1D(filters=3, kernel_size=2),
        bert_compat.MaskedGlobalMaxPool1D: lambda: bert_compat.MaskedGlobalMaxPool1D(),
        bert_compat.TaskEmbedding: lambda: bert_compat.TaskEmbedding(3, 4, mask_zero=True),
        bert_compat.TokenEmbedding: lambda: bert_compat.TokenEmbedding(9, 4, mask_zero=True),
        bert_compat.EmbeddingSimilarity: lambda: bert_compat.EmbeddingSimilarity(
            initializer="ones"
        ),
        b4k_layers.ConditionalRandomField: lambda: b4k_layers.ConditionalRandomField(),
        b4k_layers.MaximumEntropyMarkovModel: lambda: b4k_layers.MaximumEntropyMarkovModel(),
        b4k_layers.GlobalPointer: lambda: b4k_layers.GlobalPointer(2, 4),
        b4k_layers.EfficientGlobalPointer: lambda: b4k_layers.EfficientGlobalPointer(2, 4),
        b4k_layers.Loss: lambda: b4k_layers.Loss(1),
        b4k_optimizers.Adam: lambda: b4k_optimizers.Adam(),
        b4k_optimizers.AdaFactor: lambda: b4k_optimizers.AdaFactor(),
        b4k_optimizers.Lion: lambda: b4k_optimizers.Lion(),
        gpt.GPT2Backbone: _gpt2,
        gpt.GPT2CausalLM: lambda: gpt.GPT2CausalLM(_gpt2()),
        gpt.OpenAIGPTBackbone: _openai_gpt,
        gpt.OpenAIGPTCausalLM: lambda: gpt.OpenAIGPTCausalLM(_openai_gpt()),
        electra.ElectraBackbone: _electra,
        electra.ElectraDiscriminator: lambda: electra.ElectraDiscriminator(_electra()),
        electra.ElectraMaskedLM: lambda: electra.ElectraMaskedLM(_electra(), tie_weights=False),
        electra.ElectraClassifier: lambda: electra.ElectraClassifier(_electra(), num_classes=3),
        electra.ElectraTokenClassifier: lambda: electra.ElectraTokenClassifier(
            _electra(), num_classes=3
        ),
        electra.ElectraQuestionAnswerer: lambda: electra.ElectraQuestionAnswerer(_electra()),
        roformer.RoFormerEncoder: _roformer_encoder,
        roformer.RoFormerBackbone: lambda: _roformer(embedding_dim=6),
        roformer.RoFormerV2Backbone: lambda: roformer.RoFormerV2Backbone(
            **SMALL, max_sequence_length=16
        ),
        roformer.RoFormerMaskedLM: lambda: roformer.RoFormerMaskedLM(_roformer()),
        roformer.RoFormerClassifier: lambda: roformer.RoFormerClassifier(
            _roformer(), num_classes=3
        ),
        roformer.RoFormerTokenClassifier: lambda: roformer.RoFormerTokenClassifier(
            _roformer(), num_classes=3
        ),
        roformer.RoFormerQuestionAnswerer: lambda: roformer.RoFormerQuestionAnswerer(_roformer()),
        t5.T5Backbone: _t5,
        t5.T5Seq2SeqLM: lambda: t5.T5Seq2SeqLM(_t5()),
        t5.T5Attention: lambda: t5.T5Attention(2, 3, dropout=0.1),
        t5.T5Block: lambda: t5.T5Block(2, 3, 12, gated=True, is_decoder=True),
        t5.T5RelativePositionBias: lambda: t5.T5RelativePositionBias(2, bidirectional=False),
        nezha.NezhaBackbone: _nezha,
        nezha.NezhaMaskedLM: lambda: nezha.NezhaMaskedLM(_nezha()),
        nezha.NezhaClassifier: lambda: nezha.NezhaClassifier(_nezha(), num_classes=3),
        nezha.NezhaTokenClassifier: lambda: nezha.NezhaTokenClassifier(_nezha(), num_classes=3),
        nezha.NezhaQuestionAnswerer: lambda: nezha.NezhaQuestionAnswerer(_nezha()),
        training.GradientAccumulation: lambda: training.GradientAccumulation(_sgd(), 2),
        training.LayerAdaptation: lambda: training.LayerAdaptation(_sgd()),
        training.LearningRateMultipliers: lambda: training.LearningRateMultipliers(
            _sgd(), {"dense": 0.5}
        ),
        training.OptimizerWrapper: lambda: training.OptimizerWrapper(_sgd()),
        training.WarmupLinearDecay: lambda: training.WarmupLinearDecay(0.1, 2, 10),
        training.PiecewiseLinear: lambda: training.PiecewiseLinear({0: 0.0, 10: 1.0}),
        training.AccumulationSchedule: lambda: training.AccumulationSchedule(
            training.PiecewiseLinear({0: 1.0, 10: 4.0}), 2
        ),
    }


# Classes that are not saved on their own, each with the reason.
NOT_SAVED = {
    "kerastack.models.heads.MaskedLMHead": "tied to a backbone's embeddings; saved in its model",
    "kerastack.models.base.TaskModel": "a base class: its subclasses are checked",
}


def test_every_exported_class_has_a_case():
    cases = {f"{cls.__module__}.{cls.__qualname__}" for cls in _cases()}
    missing = sorted(set(_exported_classes()) - cases - set(NOT_SAVED))
    assert not missing, f"add a case to tests/models/test_config_keys.py for {missing}"


@pytest.mark.parametrize("cls", list(_cases()), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_get_config_holds_every_constructor_argument(cls):
    instance = _cases()[cls]()
    config = instance.get_config()
    missing = _missing_arguments(cls, config)
    assert not missing, f"{cls.__name__}.get_config() lacks the constructor arguments {missing}"
    np.testing.assert_equal(type(instance.from_config(config)), cls)


def test_a_forgotten_argument_is_caught():
    class Forgetful(keras.layers.Layer):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def get_config(self):
            return {**super().get_config(), "units": self.units}  # scale forgotten

    Forgetful.__module__ = "kerastack.fake"
    assert _missing_arguments(Forgetful, Forgetful(3).get_config()) == ["scale"]


def _missing_arguments(cls, config):
    """The constructor arguments of `cls` that `config` lacks."""
    # The constructor kerastack wrote (a class using Keras's own, such as an
    # Embedding subclass, leaves its config to Keras).
    owner = next(k for k in cls.__mro__ if "__init__" in k.__dict__)
    init = owner.__init__ if owner.__module__.startswith("kerastack.") else (lambda self: None)
    parameters = inspect.signature(init).parameters.values()
    arguments = {
        p.name
        for p in parameters
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in KERAS_ARGUMENTS
    }
    return sorted(arguments - set(config))


def test_saved_by_arguments_refuses_a_constructor_its_keys_do_not_match():
    from kerastack.models import SavedByArguments

    with pytest.raises(TypeError, match=r"lacks the constructor arguments \['depth'\]"):

        class Forgetful(SavedByArguments, keras.Model):
            CONFIG_KEYS = ("width",)

            def __init__(self, width, depth, dtype=None, **kwargs):
                super().__init__(**kwargs)

    with pytest.raises(TypeError, match=r"names \['height'\], which are not constructor"):

        class Inventive(SavedByArguments, keras.Model):
            CONFIG_KEYS = ("width", "height")

            def __init__(self, width, **kwargs):
                super().__init__(**kwargs)
