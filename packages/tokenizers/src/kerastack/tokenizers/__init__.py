"""kerastack-tokenizers: the tokenizers of kerastack's model families, with no
Keras and no backend: WordPiece (BERT), byte-level BPE (RoBERTa, GPT-2) and
SentencePiece (ALBERT). Data pipelines and servers can use them alone."""

from kerastack.tokenizers import compat
from kerastack.tokenizers.albert_tokenizer import AlbertTokenizer
from kerastack.tokenizers.bert_tokenizer import BertTokenizer, read_vocabulary
from kerastack.tokenizers.byte_pair_tokenizer import BytePairTokenizer, RobertaTokenizer
from kerastack.tokenizers.files import HUB_FILES, checkpoint_folder, parse_json, read_json_object
from kerastack.tokenizers.gpt2_tokenizer import GPT2Tokenizer

__all__ = [
    "AlbertTokenizer",
    "BertTokenizer",
    "BytePairTokenizer",
    "GPT2Tokenizer",
    "HUB_FILES",
    "RobertaTokenizer",
    "checkpoint_folder",
    "compat",
    "parse_json",
    "read_json_object",
    "read_vocabulary",
]
