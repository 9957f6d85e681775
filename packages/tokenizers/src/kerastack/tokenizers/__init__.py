"""kerastack-tokenizers: the tokenizers of kerastack's model families, with no
Keras and no backend: WordPiece (BERT, ELECTRA, RoFormer, NEZHA), byte-level
BPE (RoBERTa, GPT-2), OpenAI GPT's BPE and SentencePiece (ALBERT, T5, XLM-R,
CamemBERT). Data pipelines and servers can use them alone."""

from kerastack.tokenizers import compat
from kerastack.tokenizers.albert_tokenizer import AlbertTokenizer
from kerastack.tokenizers.bert_tokenizer import BertTokenizer, read_vocabulary
from kerastack.tokenizers.byte_pair_tokenizer import BytePairTokenizer, RobertaTokenizer
from kerastack.tokenizers.files import HUB_FILES, checkpoint_folder, parse_json, read_json_object
from kerastack.tokenizers.gpt2_tokenizer import GPT2Tokenizer
from kerastack.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer
from kerastack.tokenizers.t5_tokenizer import T5Tokenizer
from kerastack.tokenizers.xlm_roberta_tokenizer import CamembertTokenizer, XLMRobertaTokenizer

__all__ = [
    "AlbertTokenizer",
    "BertTokenizer",
    "BytePairTokenizer",
    "CamembertTokenizer",
    "GPT2Tokenizer",
    "HUB_FILES",
    "OpenAIGPTTokenizer",
    "RobertaTokenizer",
    "T5Tokenizer",
    "XLMRobertaTokenizer",
    "checkpoint_folder",
    "compat",
    "parse_json",
    "read_json_object",
    "read_vocabulary",
]
