"""OpenAI GPT (GPT-1) as a causal language model: the backbone, logits tied
to the token embedding, and generation with a key/value cache."""

from kerastack.core import serializable
from kerastack.gpt._causal_lm import _CausalLM
from kerastack.gpt.openai_gpt_backbone import OpenAIGPTBackbone, _Pretrained
from kerastack.models import TaskModel


@serializable
class OpenAIGPTCausalLM(_CausalLM, _Pretrained, TaskModel):
    """OpenAI GPT's language model (HF's `OpenAIGPTLMHeadModel`): an
    `OpenAIGPTBackbone` and next-token logits `x @ tokens_embed^T`, the
    output projection tied to the token embedding (no bias).

    A functional `keras.Model` from `{"token_ids", "padding_mask"}` to
    float32 logits `(B, T, V)` (also under mixed precision): train it with
    `fit` on next-token targets, and continue prompts with `generate`.

    Letters: B batch, T length, P prompt length, D width, V vocabulary,
    C cache length.

    Args:
        backbone: an `OpenAIGPTBackbone`.
        **kwargs: `keras.Model` arguments (`name`, ...); the dtype policy is
            the backbone's.

    Example:

    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> model = OpenAIGPTCausalLM(backbone)
    >>> prompt = np.array([[5, 6, 7], [8, 9, 10]], "int32")
    >>> model.generate(prompt, max_new_tokens=4).shape
    (2, 4)
    >>> model.generate(prompt, max_new_tokens=4, strategy="sample", top_p=0.9, seed=0).shape
    (2, 4)

    References:
        - HF `transformers.OpenAIGPTLMHeadModel` (which has no key/value
          cache: its `generate` recomputes the prefix at every step, as
          `use_cache=False` does here; the tokens are the same)
    """

    BACKBONE = OpenAIGPTBackbone

    def _padding_id(self, tokenizer):
        return tokenizer.padding_id  # the end token, or <unk> without one
