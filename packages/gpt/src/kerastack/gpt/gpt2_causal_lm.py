"""GPT-2 as a causal language model: the backbone, logits tied to the token
embedding, and generation with a key/value cache."""

from kerastack.core import serializable
from kerastack.gpt._causal_lm import _CausalLM
from kerastack.gpt.gpt2_backbone import GPT2Backbone, _Pretrained
from kerastack.models import TaskModel


@serializable
class GPT2CausalLM(_CausalLM, _Pretrained, TaskModel):
    """GPT-2's language model (HF's `GPT2LMHeadModel`): a `GPT2Backbone`
    and next-token logits `x @ wte^T`, the output projection tied to the
    token embedding (no bias).

    A functional `keras.Model` from `{"token_ids", "padding_mask"}` to
    float32 logits `(B, T, V)` (also under mixed precision): train it with
    `fit` on next-token targets, and continue prompts with `generate`.

    Letters: B batch, T length, P prompt length, D width, V vocabulary,
    C cache length.

    Args:
        backbone: a `GPT2Backbone`.
        **kwargs: `keras.Model` arguments (`name`, ...); the dtype policy is
            the backbone's.

    Example:

    >>> backbone = GPT2Backbone(vocabulary_size=96, num_layers=2, num_heads=4,
    ...     hidden_dim=32, intermediate_dim=128, max_sequence_length=64)
    >>> model = GPT2CausalLM(backbone)
    >>> prompt = np.array([[5, 6, 7], [8, 9, 10]], "int32")
    >>> model.generate(prompt, max_new_tokens=4).shape
    (2, 4)
    >>> model.generate(prompt, max_new_tokens=4, strategy="sample", top_p=0.9, seed=0).shape
    (2, 4)

    References:
        - `keras_hub.models.GPT2CausalLM`, HF `transformers.GPT2LMHeadModel`
    """

    BACKBONE = GPT2Backbone

    def _final_norm(self, x):
        return self.backbone.layer_norm(x)  # GPT-2's final norm, (B, T, D)
