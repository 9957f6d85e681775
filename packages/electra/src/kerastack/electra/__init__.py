"""kerastack-electra: ELECTRA (Clark et al., 2020) on every Keras 3 backend.

- `ElectraConfig`: HF's `config.json` (`model_type` "electra"), checked.
- `ElectraBackbone`: the encoder (embeddings of their own width, projected
  to the blocks' width when it differs; BERT's post-norm blocks; no pooler).
- Task models: `ElectraDiscriminator` (replaced-token detection),
  `ElectraMaskedLM` (the generator), `ElectraClassifier`,
  `ElectraTokenClassifier`, `ElectraQuestionAnswerer`; each loads the
  matching HF checkpoint strictly (`from_pretrained`).
- Checkpoints: Google's original TF checkpoints (`load_google_checkpoint`,
  no TensorFlow needed) and export to HF's layout (`save_electra_weights`).
- keras-hub presets: `kerastack.models.from_pretrained(folder)` loads a
  keras-hub `ElectraBackbone` preset (`electra_from_keras_hub`,
  `electra_keras_hub_weight_table`; keras-hub's added pooler left out).
- Tokenizer: ELECTRA uses BERT's WordPiece vocabulary, `BertTokenizer`.
"""

from kerastack.electra.convert import save_electra_weights
from kerastack.electra.electra_backbone import ElectraBackbone
from kerastack.electra.electra_config import ElectraConfig
from kerastack.electra.electra_weights import backbone_weight_table, google_to_hf_name
from kerastack.electra.google_checkpoint import load_google_checkpoint
from kerastack.electra.heads import (
    ElectraClassifier,
    ElectraDiscriminator,
    ElectraMaskedLM,
    ElectraQuestionAnswerer,
    ElectraTokenClassifier,
)
from kerastack.electra.keras_hub_preset import (
    electra_from_keras_hub,
    electra_keras_hub_weight_table,
)
from kerastack.tokenizers import BertTokenizer

__all__ = [
    "BertTokenizer",
    "ElectraBackbone",
    "ElectraClassifier",
    "ElectraConfig",
    "ElectraDiscriminator",
    "ElectraMaskedLM",
    "ElectraQuestionAnswerer",
    "ElectraTokenClassifier",
    "backbone_weight_table",
    "electra_from_keras_hub",
    "electra_keras_hub_weight_table",
    "google_to_hf_name",
    "load_google_checkpoint",
    "save_electra_weights",
]
