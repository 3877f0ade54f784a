#!/usr/bin/env python3
"""Convert a model directory's pickled weights (pytorch_model.bin, or shards listed in
pytorch_model.bin.index.json) to safetensors, next to them, so that xling can load it.

xling never unpickles: a pickle can run arbitrary code. This script loads each file with
torch.load(weights_only=True), which refuses anything but tensors and plain containers.
Tensors that share storage (tied weights) are written under every name, as older
transformers versions did; xling and transformers accept that layout.

Usage: .venv/bin/python tools/convert_bin_to_safetensors.py MODEL_DIR [--max-shard-size 5GB]
Writes model.safetensors (or model-0000k-of-0000n.safetensors + model.safetensors.index.json)
and leaves the .bin files in place.
"""
import argparse
import json
import os
import sys


def parse_size(text):
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1}
    t = text.strip().upper()
    for u in ("KB", "MB", "GB", "TB", "B"):
        if t.endswith(u):
            return int(float(t[: -len(u)]) * units[u])
    return int(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--max-shard-size", default="5GB")
    args = ap.parse_args()

    import torch
    from safetensors.torch import save_file

    d = args.model_dir
    index = os.path.join(d, "pytorch_model.bin.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(d, "pytorch_model.bin")):
        files = ["pytorch_model.bin"]
    else:
        sys.exit(f"{d}: no pytorch_model.bin or pytorch_model.bin.index.json")

    state = {}
    for name in files:
        path = os.path.join(d, name)
        print(f"loading {path}", file=sys.stderr)
        part = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(part, dict):
            sys.exit(f"{path}: expected a state dict, found {type(part).__name__}")
        for k, v in part.items():
            if not isinstance(v, torch.Tensor):
                sys.exit(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
            state[k] = v.detach().contiguous().clone()  # one storage per name

    limit = parse_size(args.max_shard_size)
    shards, current, size = [], {}, 0
    for k in sorted(state):
        n = state[k].numel() * state[k].element_size()
        if current and size + n > limit:
            shards.append(current)
            current, size = {}, 0
        current[k] = state[k]
        size += n
    shards.append(current)

    meta = {"format": "pt"}
    if len(shards) == 1:
        out = os.path.join(d, "model.safetensors")
        save_file(shards[0], out, metadata=meta)
        print(f"wrote {out} ({len(state)} tensors)", file=sys.stderr)
        return
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(d, name), metadata=meta)
        for k, v in shard.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    print(f"wrote {len(shards)} shards + model.safetensors.index.json ({len(state)} tensors)", file=sys.stderr)


if __name__ == "__main__":
    main()
