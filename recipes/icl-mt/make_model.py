#!/usr/bin/env python3
"""In-context MT recipe, step 2: a byte-level BPE tokenizer trained on the pool (HF `tokenizers`,
GPT-2/Qwen2-style: bytes never unknown, spaces kept by the decoder) and a small Qwen2-shaped
config.json, written to OUTDIR for `xling finetune --task causal-lm --init-from-config`."""
import argparse
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", required=True, help="pool.jsonl of prepare.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=704)
    ap.add_argument("--max-positions", type=int, default=1024)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    texts = []
    for line in open(a.pool, encoding="utf-8"):
        r = json.loads(line)
        texts += [r["source"], r["target"]]
    eos = "<|endoftext|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab, special_tokens=[eos], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # The prompt format's labels and separators are part of every training row.
    tok.train_from_iterator(texts + ["English: x\nGerman: y\n\n"] * 100, trainer=trainer)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": eos, "pad_token": eos, "bos_token": None,
               "model_max_length": a.max_positions, "clean_up_tokenization_spaces": False},
              open(os.path.join(a.out, "tokenizer_config.json"), "w"), indent=1)
    eid = tok.token_to_id(eos)
    cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": tok.get_vocab_size(),
           "hidden_size": a.hidden, "intermediate_size": a.intermediate, "num_hidden_layers": a.layers,
           "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "hidden_act": "silu",
           "max_position_embeddings": a.max_positions, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
           "tie_word_embeddings": True, "use_sliding_window": False, "attention_dropout": 0.0,
           "initializer_range": 0.02, "bos_token_id": eid, "eos_token_id": eid, "pad_token_id": eid,
           "torch_dtype": "float32"}
    json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
    json.dump({"bos_token_id": eid, "eos_token_id": eid, "pad_token_id": eid, "do_sample": False},
              open(os.path.join(a.out, "generation_config.json"), "w"), indent=1)
    print(f"tokenizer: {tok.get_vocab_size()} tokens; config: hidden {a.hidden}, {a.layers} layers -> {a.out}")


if __name__ == "__main__":
    main()
