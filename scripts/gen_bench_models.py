#!/usr/bin/env python3
"""Builds random-weight benchmark models with the architectures of real DeepSeek models.

Runs where torch and transformers exist (the GPU machine; no network needed). Each model is built
with transformers' own class from the real configuration (tests/fixtures/configs where the file
exists, else the numbers of docs/reference/ARCHITECTURES.md), given random weights with a spread
that keeps activations O(1) (as scripts/gen_golden.py does), and saved with save_pretrained in
bf16 together with a small tokenizer: tests/fixtures/golden/llama/tokenizer.json (384 ids) and its
tokenizer_config.json. The model's vocab_size stays the real one: dsc and the runtime accept an
embedding larger than the tokenizer (the extra rows are padding, as DeepSeek-V3's 129280 rows for
128815 ids), so the lm_head and embedding cost what they cost in the real model. BOS/EOS are set to
the tokenizer's ids 0 and 1.

Only the throughput matters here: the weights are random, the text is noise.

  python3 scripts/gen_bench_models.py --out /tmp/dse-bench/models [--only qwen1.5b,llm7b,v2lite]

Writes OUT/<name>/{config.json, model*.safetensors, tokenizer.json, tokenizer_config.json}.
Needs about 3.5 GB (qwen1.5b), 14 GB (llm7b) and 31 GB (v2lite) of disk, and as much GPU memory
(the weights are drawn on the GPU, which is much faster than on the CPU).
"""
import argparse
import json
import os
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "tests", "fixtures", "configs")
TOKENIZER_DIR = os.path.join(REPO, "tests", "fixtures", "golden", "llama")

# HF config keys that are not hyper-parameters (remote code, training only).
DROP_KEYS = ("auto_map", "architectures", "transformers_version", "torch_dtype", "model_type",
             "quantization_config")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def models():
    """(name, config class name, model class name, kwargs) per benchmark model."""
    # R1-Distill-Qwen-1.5B: tests/fixtures/configs/synthetic (typed from ARCHITECTURES.md section 7).
    qwen = load_json(os.path.join(CONFIGS, "synthetic", "r1-distill-qwen-1.5b.json"))
    yield "qwen1.5b", "Qwen2Config", "Qwen2ForCausalLM", qwen
    # deepseek-llm-7b: no config file in the repository; ARCHITECTURES.md section 6.
    yield "llm7b", "LlamaConfig", "LlamaForCausalLM", dict(
        vocab_size=102400, hidden_size=4096, num_hidden_layers=30, num_attention_heads=32,
        num_key_value_heads=32, intermediate_size=11008, max_position_embeddings=4096,
        rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, hidden_act="silu")
    # DeepSeek-V2-Lite: the published config.json (tests/fixtures/configs/DeepSeek-V2-Lite.json).
    v2 = load_json(os.path.join(CONFIGS, "DeepSeek-V2-Lite.json"))
    rs = dict(v2.get("rope_scaling") or {})
    if rs:
        rs.setdefault("rope_type", rs.get("type"))  # transformers' native class reads rope_type
        v2["rope_scaling"] = rs
    yield "v2lite", "DeepseekV2Config", "DeepseekV2ForCausalLM", v2


def randomize(model, torch, seed):
    # Same spread as scripts/gen_golden.py: N(0, 1/fan_in) matrices, norms around 1, small biases.
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                base = 1.0 if ("norm" in name or "layernorm" in name) else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g, device=p.device, dtype=torch.float32))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g, device=p.device, dtype=torch.float32) * (fan_in ** -0.5))


def build(name, cfg_cls_name, model_cls_name, raw, out_root, torch, transformers):
    out_dir = os.path.join(out_root, name)
    if os.path.exists(os.path.join(out_dir, "config.json")):
        print(f"{name}: {out_dir} exists, kept", flush=True)
        return out_dir
    t0 = time.time()
    kwargs = {k: v for k, v in raw.items() if k not in DROP_KEYS}
    kwargs["bos_token_id"] = 0  # the small tokenizer's <｜begin▁of▁sentence｜>
    kwargs["eos_token_id"] = 1  # and <｜end▁of▁sentence｜>
    cfg = getattr(transformers, cfg_cls_name)(**kwargs)
    cfg.torch_dtype = torch.bfloat16
    model_cls = getattr(transformers, model_cls_name)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = model_cls(cfg)
    finally:
        torch.set_default_dtype(torch.float32)
    model = model.to(torch.bfloat16).eval()
    randomize(model, torch, seed=1234)
    n_params = sum(p.numel() for p in model.parameters())
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True, max_shard_size="4GB")
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER_DIR, f), os.path.join(out_dir, f))
    print(f"{name}: {model_cls_name}, {n_params / 1e9:.2f} B parameters, bf16, saved to {out_dir} "
          f"in {time.time() - t0:.0f} s", flush=True)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for the model folders")
    ap.add_argument("--only", default="", help="comma-separated subset of qwen1.5b,llm7b,v2lite")
    args = ap.parse_args()
    import torch
    import transformers
    wanted = set(filter(None, args.only.split(",")))
    known = [m[0] for m in models()]
    unknown = wanted - set(known)
    if unknown:
        sys.exit(f"gen_bench_models: unknown model(s) {sorted(unknown)}; expected some of {known}")
    for name, cfg_cls, model_cls, raw in models():
        if wanted and name not in wanted:
            continue
        build(name, cfg_cls, model_cls, raw, args.out, torch, transformers)


if __name__ == "__main__":
    main()
