#!/usr/bin/env python3
"""Export a sentencepiece Unigram model (from `spm_train`) as an XLM-R-style HF tokenizer directory.

    make_tokenizer.py SPM.model OUTDIR [--max-length 512]

Writes OUTDIR/tokenizer.json, tokenizer_config.json and special_tokens_map.json exactly as
transformers' XLMRobertaConverter builds them (fairseq id layout: <s>=0 <pad>=1 </s>=2 <unk>=3,
then the sentencepiece pieces, <mask> last), so `AutoTokenizer.from_pretrained(OUTDIR)` and
xling's Tokenizer::from_file(OUTDIR) read the same file. Needs transformers and protobuf
(the parity venv, tools/parity/requirements.txt).
"""
import argparse
import importlib
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--max-length", type=int, default=512)
    a = ap.parse_args()
    conv_mod = importlib.import_module("transformers.convert_slow_tokenizer")

    class Spm:  # what the converter reads of a slow tokenizer
        vocab_file = a.model
        handle_byte_fallback = False

        @staticmethod
        def convert_tokens_to_ids(token):  # fairseq's fixed ids, used for the post-processor
            return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[token]

    tok = conv_mod.XLMRobertaConverter(Spm()).converted()
    os.makedirs(a.out, exist_ok=True)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    cfg = dict(specials, tokenizer_class="XLMRobertaTokenizer", model_max_length=a.max_length,
               clean_up_tokenization_spaces=False)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(a.out, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=1)
    print(f"{a.out}/tokenizer.json: {tok.get_vocab_size()} tokens")


if __name__ == "__main__":
    main()
