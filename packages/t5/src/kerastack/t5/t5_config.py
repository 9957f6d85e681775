"""T5's hyperparameters (T5, T5.1.1, mT5), read from Hugging Face's `config.json`."""

import dataclasses

from kerastack.models import ConfigField, ModelConfig

# HF's `feed_forward_proj`: the activation of the feed-forward networks, and
# whether they are gated. "gated-gelu" means GELU's tanh form (HF's
# "gelu_new"), as T5.1.1 and mT5 were trained.
FEED_FORWARDS = {
    "relu": ("relu", False),
    "gated-gelu": ("gelu_approximate", True),
    "gelu": ("gelu", False),
    "gated-relu": ("relu", True),
    "gated-silu": ("silu", True),
}


@dataclasses.dataclass(frozen=True)
class T5Config(ModelConfig):
    """The shape of a T5 model; field names and defaults are HF's
    (`T5Config`, whose defaults are "t5-small").

    Fields:
        vocab_size: int, tokens in the vocabulary (T5: 32,128).
        d_model: int, model width D.
        d_kv: int, the width of each attention head (not tied to
            `d_model / num_heads`).
        d_ff: int, feed-forward width.
        num_layers: int, encoder blocks.
        num_decoder_layers: int or None, decoder blocks (`num_layers` when
            None).
        num_heads: int, attention heads per block.
        relative_attention_num_buckets, relative_attention_max_distance:
            the relative position buckets (see `relative_position_bucket`).
        dropout_rate: float.
        layer_norm_epsilon: float, of the RMS norms.
        feed_forward_proj: `"relu"` (T5) or `"gated-gelu"` (T5.1.1, mT5),
            also `"gelu"`, `"gated-relu"`, `"gated-silu"`.
        tie_word_embeddings: bool, whether the output projection is the
            token embedding (then the decoder's output is scaled by
            `d_model**-0.5` first, as T5 was trained) or its own `lm_head`.
        scale_decoder_outputs: bool or None. transformers 5 writes
            `tie_word_embeddings: true` into every T5 config and says here
            whether the output is scaled (and so tied, as T5's is); when
            given it decides (see `tied_output`).
        pad_token_id, eos_token_id, decoder_start_token_id: ints (T5: 0, 1
            and 0).

    Example:

    >>> config = T5Config(vocab_size=64, d_model=20, d_kv=6, d_ff=24, num_layers=2,
    ...     num_decoder_layers=3, num_heads=3, feed_forward_proj="gated-gelu",
    ...     tie_word_embeddings=False)
    >>> arguments = config.backbone_arguments()
    >>> arguments["activation"], arguments["gated"], arguments["num_decoder_layers"]
    ('gelu_approximate', True, 3)
    >>> T5Config(feed_forward_proj="swish")
    Traceback (most recent call last):
    ...
    ValueError: Unknown feed_forward_proj 'swish'; expected one of [...].
    """

    MODEL_TYPE = "t5"
    FIELDS = {
        "vocab_size": ConfigField.size(),
        "d_model": ConfigField.size(),
        "d_kv": ConfigField.size(),
        "d_ff": ConfigField.size(),
        "num_layers": ConfigField.count(low=0),
        "num_decoder_layers": ConfigField.size(low=0, optional=True),
        "num_heads": ConfigField.count(),
        "relative_attention_num_buckets": ConfigField.size(low=2),
        "relative_attention_max_distance": ConfigField.size(low=1),
        "dropout_rate": ConfigField.rate(),
        "layer_norm_epsilon": ConfigField.positive(),
        "feed_forward_proj": ConfigField.name(FEED_FORWARDS),
        "pad_token_id": ConfigField.size(low=0),
        "eos_token_id": ConfigField.size(low=0),
        "decoder_start_token_id": ConfigField.size(low=0),
    }

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int | None = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    scale_decoder_outputs: bool | None = None
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0

    def validate(self):
        """`tie_word_embeddings` must be a bool (and `scale_decoder_outputs`
        a bool or None)."""
        for key in ("tie_word_embeddings", "scale_decoder_outputs"):
            value = getattr(self, key)
            if not isinstance(value, bool) and not (key != "tie_word_embeddings" and value is None):
                raise ValueError(f"`{key}` must be true or false, received {key}={value!r}.")
        if self.num_decoder_layers is not None and self.num_decoder_layers > 2**12:
            raise ValueError(
                f"`num_decoder_layers` must be at most {2**12}, received "
                f"num_decoder_layers={self.num_decoder_layers}."
            )

    @classmethod
    def check_options(cls, values):
        """A list of end tokens (kerastack's decoding takes one) is an error,
        and so are `dense_act_fn` / `is_gated_act` that disagree with
        `feed_forward_proj` (transformers lets them override it; kerastack
        reads the activation from `feed_forward_proj` only)."""
        if isinstance(values.get("eos_token_id"), list):
            raise ValueError(
                "`eos_token_id` must be one token id, received "
                f"eos_token_id={values['eos_token_id']!r}."
            )
        projection = values.get("feed_forward_proj", "relu")
        if not isinstance(projection, str):
            return  # the field's own check names it
        gated = projection.startswith("gated-")
        implied = {"dense_act_fn": projection.split("-")[-1], "is_gated_act": gated}
        if implied["dense_act_fn"] == "gelu" and gated:
            implied["dense_act_fn"] = "gelu_new"  # transformers' reading of "gated-gelu"
        disagreeing = [
            f"{key}={values[key]!r}"
            for key, expected in implied.items()
            if key in values and values[key] != expected
        ]
        if disagreeing:
            raise ValueError(
                f"feed_forward_proj={projection!r} implies {implied}, but the config sets "
                f"{', '.join(disagreeing)}; kerastack reads the activation from "
                "feed_forward_proj alone."
            )

    @property
    def tied_output(self):
        """Whether the output projection is the token embedding, the
        decoder's output scaled by `d_model**-0.5` first (T5), or an
        `lm_head` of its own, unscaled (T5.1.1, mT5):
        `scale_decoder_outputs` where the file gives it (transformers 5),
        else `tie_word_embeddings`."""
        if self.scale_decoder_outputs is not None:
            return self.scale_decoder_outputs
        return self.tie_word_embeddings

    def backbone_arguments(self):
        """Keyword arguments of `T5Backbone` for this config."""
        activation, gated = FEED_FORWARDS[self.feed_forward_proj]
        decoder_layers = self.num_decoder_layers
        return {
            "vocabulary_size": self.vocab_size,
            "hidden_dim": self.d_model,
            "key_value_dim": self.d_kv,
            "intermediate_dim": self.d_ff,
            "num_encoder_layers": self.num_layers,
            "num_decoder_layers": self.num_layers if decoder_layers is None else decoder_layers,
            "num_heads": self.num_heads,
            "relative_attention_num_buckets": self.relative_attention_num_buckets,
            "relative_attention_max_distance": self.relative_attention_max_distance,
            "dropout": self.dropout_rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": activation,
            "gated": gated,
            "tie_embedding_weights": self.tied_output,
            "padding_id": self.pad_token_id,
            "end_token_id": self.eos_token_id,
            "decoder_start_token_id": self.decoder_start_token_id,
        }

    def to_hf_dict(self):
        """The `config.json` dict transformers reads for this config."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["scale_decoder_outputs"] = self.tied_output
        if values["num_decoder_layers"] is None:
            values["num_decoder_layers"] = values["num_layers"]
        architectures = ["MT5ForConditionalGeneration"] if self.MODEL_TYPE == "mt5" else None
        values.update(
            {
                "model_type": self.MODEL_TYPE,
                "architectures": architectures or ["T5ForConditionalGeneration"],
                "is_encoder_decoder": True,
            }
        )
        return values


@dataclasses.dataclass(frozen=True)
class MT5Config(T5Config):
    """mT5's config (HF's `model_type` "mt5"): the fields of `T5Config`,
    with mT5's defaults (gated GELU). mT5's output projection is always its
    own `lm_head`, unscaled (transformers 5 writes `tie_word_embeddings:
    true` into mT5 configs too, and never scales).

    Example:

    >>> config = MT5Config.from_dict({"model_type": "mt5", "vocab_size": 250112})
    >>> config.feed_forward_proj, config.tied_output
    ('gated-gelu', False)
    """

    MODEL_TYPE = "mt5"

    vocab_size: int = 250112
    d_ff: int = 1024
    feed_forward_proj: str = "gated-gelu"
    tie_word_embeddings: bool = False

    @property
    def tied_output(self):
        """Always False: mT5's output is an `lm_head` of its own."""
        return False


def read_t5_config(path):
    """`T5Config` or `MT5Config`, as the `config.json` in `path` (a file,
    or the folder holding it) names its `model_type`.

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "config.json"), "w") as file:
    ...     json.dump({"model_type": "mt5", "d_model": 20}, file)
    >>> type(read_t5_config(folder)).__name__
    'MT5Config'
    """
    import os

    from kerastack.models import read_json_object

    file = os.path.join(path, "config.json") if os.path.isdir(path) else path
    if os.path.isfile(file):
        model_type = read_json_object(file).get("model_type", "t5")
        if model_type == "mt5":
            return MT5Config.from_json(path)
    return T5Config.from_json(path)
