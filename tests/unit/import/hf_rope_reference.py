#!/usr/bin/env python3
"""Writes tests/fixtures/configs/hf_rope_reference.json: what Hugging Face transformers itself
computes for the rope of every config the importer tests use (inv_freq, attention_scaling, cos and
sin at a few positions, and the attention softmax scale). rope_table_test compares the importer
against it bit for bit (inv_freq) or to 1e-6 (cos/sin). Needs torch and transformers; no GPU, no
network. Run from the repository root:

    python3 tests/unit/import/hf_rope_reference.py
"""
import importlib
import json
import pathlib
import tempfile

import torch
import transformers
from transformers import AutoConfig

ROOT = pathlib.Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
OUT = CONFIGS / "hf_rope_reference.json"
POSITIONS = [0, 1, 2, 3, 17, 100, 255, 1000, 2047, 4095, 4096, 10000]

CLASSES = {
    "llama": ("LlamaRotaryEmbedding", "LlamaAttention"),
    "qwen2": ("Qwen2RotaryEmbedding", "Qwen2Attention"),
    "deepseek_v2": ("DeepseekV2RotaryEmbedding", "DeepseekV2Attention"),
    "deepseek_v3": ("DeepseekV3RotaryEmbedding", "DeepseekV3Attention"),
}


def cases():
    """(case name, config.json path) for every config the tests read."""
    for f in ["DeepSeek-V3.json", "DeepSeek-R1.json", "DeepSeek-V2-Lite.json"]:
        yield f, CONFIGS / f
    for f in sorted((CONFIGS / "synthetic").glob("*.json")):
        yield "synthetic/" + f.name, f
    for d in sorted(GOLDEN.iterdir()):
        if (d / "config.json").exists():
            yield "golden/" + d.name, d / "config.json"


def load_config(path):
    # AutoConfig wants a folder with config.json. auto_map is dropped so that the built-in classes
    # (the ones the importer follows) are used, never a checkpoint's remote code.
    data = json.loads(pathlib.Path(path).read_text())
    data.pop("auto_map", None)
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "config.json").write_text(json.dumps(data))
        return AutoConfig.from_pretrained(tmp)


def reference(path):
    config = load_config(path)
    rope_cls, attn_cls = CLASSES[config.model_type]
    module = importlib.import_module(f"transformers.models.{config.model_type}.modeling_{config.model_type}")
    rope = getattr(module, rope_cls)(config)
    positions = [p for p in POSITIONS if p < config.max_position_embeddings]
    out = rope(torch.zeros(1, dtype=torch.float32), torch.tensor([positions], dtype=torch.long))
    half = rope.inv_freq.shape[0]
    if isinstance(out, tuple):  # cos, sin of width rope_dim (two copies of the half)
        cos, sin = out[0][0, :, :half], out[1][0, :, :half]
    else:  # DeepseekV2: complex freqs_cis, already times attention_scaling
        cos, sin = out[0].real, out[0].imag
    with torch.device("meta"):
        attention = getattr(module, attn_cls)(config, layer_idx=0)
    return {
        "path": str(pathlib.Path(path).relative_to(ROOT)),
        "model_type": config.model_type,
        "rope_type": config.rope_parameters.get("rope_type", "default"),
        "inv_freq": [float(x) for x in rope.inv_freq.float()],
        "attention_scaling": float(rope.attention_scaling),
        "softmax_scale": float(attention.scaling),
        "positions": positions,
        "cos": [[float(x) for x in row] for row in cos.float()],
        "sin": [[float(x) for x in row] for row in sin.float()],
    }


def main():
    result = {
        "generator": "tests/unit/import/hf_rope_reference.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cases": {},
    }
    for name, path in cases():
        try:
            result["cases"][name] = reference(path)
        except Exception as e:  # recorded, so one config transformers rejects does not hide the rest
            result["cases"][name] = {"path": str(path.relative_to(ROOT)), "error": f"{type(e).__name__}: {e}"}
            print(f"{name}: {type(e).__name__}: {e}")
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT} ({len(result['cases'])} cases)")


if __name__ == "__main__":
    main()
