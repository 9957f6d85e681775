"""XLM-RoBERTa's and CamemBERT's encoders: RoBERTa's, read from configs of
their own `model_type`."""

from kerastack.bert.bert_config import CamembertConfig, XLMRobertaConfig
from kerastack.bert.roberta_backbone import RobertaBackbone
from kerastack.core import serializable


@serializable
class XLMRobertaBackbone(RobertaBackbone):
    """XLM-RoBERTa's encoder (Conneau et al., 2020): `RobertaBackbone`
    (same arguments, inputs, outputs and HF names, `roberta.` in task
    checkpoints), shaped by an HF config of `model_type` "xlm-roberta".
    Its tokenizer is `kerastack.tokenizers.XLMRobertaTokenizer`.

    Example:

    >>> backbone = XLMRobertaBackbone(vocabulary_size=50, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=12)
    >>> ids = np.array([[0, 5, 6, 2, 1]])  # <s> ... </s> <pad>
    >>> tuple(backbone({"token_ids": ids, "padding_mask": ids != 1})["sequence_output"].shape)
    (1, 5, 8)
    >>> backbone.config_class().MODEL_TYPE
    'xlm-roberta'
    """

    hf_model_type = "xlm-roberta"
    hf_architecture = "XLMRoberta"

    @staticmethod
    def config_class():
        """`XLMRobertaConfig`."""
        return XLMRobertaConfig


@serializable
class CamembertBackbone(RobertaBackbone):
    """CamemBERT's encoder (Martin et al., 2020): `RobertaBackbone`, shaped
    by an HF config of `model_type` "camembert". Its tokenizer is
    `kerastack.tokenizers.CamembertTokenizer`.

    Example:

    >>> backbone = CamembertBackbone(vocabulary_size=50, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=12)
    >>> ids = np.array([[5, 9, 9, 6, 1]])  # <s> ... </s> <pad>
    >>> tuple(backbone({"token_ids": ids, "padding_mask": ids != 1})["pooled_output"].shape)
    (1, 8)
    """

    hf_model_type = "camembert"
    hf_architecture = "Camembert"

    @staticmethod
    def config_class():
        """`CamembertConfig`."""
        return CamembertConfig
