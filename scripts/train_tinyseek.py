#!/usr/bin/env python3
"""Trains tinyseek: a small model with DeepSeek-V3's architecture, for the demo and for measuring
what quantization costs. Runs on the GPU machine (torch + transformers + tokenizers, no network)
in well under 15 minutes.

Architecture (transformers' DeepseekV3ForCausalLM): MLA with q_lora, MoE with a shared expert and
noaux_tc sigmoid routing (the e_score_correction_bias is adjusted aux-loss-free, as DeepSeek-V3
does), the first layer dense, YaRN off. Corpus: the King James Bible (public domain), prepared by
scripts/prepare_kjv_corpus.py; held-out chapters are never trained on.

  python3 scripts/train_tinyseek.py --train out/corpus/kjv-train.txt \
      --heldout samples/models/tinyseek/heldout.txt --out OUTDIR [--minutes 10]

Writes OUTDIR/{config.json, generation_config.json, model.safetensors (bf16), tokenizer.json,
tokenizer_config.json, train_report.json}.
"""
import argparse
import json
import math
import os
import time

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]
# DeepSeek-V3's pre-tokenizer splits (data from its tokenizer.json).
DSV3_SPLITS = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]
# A DeepSeek-V3 style chat template (system text, then User/Assistant turns).
CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{{bos_token}}{% for message in messages %}{% if message['role'] == 'system' %}{{message['content']}}{% endif %}{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %}"
)
SEQ = 256          # training and evaluation window, tokens
EVAL_WINDOW = 256  # evaluation: [BOS] + 256 tokens per window, all 256 scored


def train_tokenizer(text, vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in DSV3_SPLITS]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
    return tok


def make_config(vocab):
    return DeepseekV3Config(
        vocab_size=vocab, hidden_size=256, intermediate_size=768, moe_intermediate_size=128,
        num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=4,
        n_shared_experts=1, n_routed_experts=8, num_experts_per_tok=2, n_group=4, topk_group=2,
        topk_method="noaux_tc", scoring_func="sigmoid", norm_topk_prob=True,
        routed_scaling_factor=2.5, first_k_dense_replace=1,
        q_lora_rank=128, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
        max_position_embeddings=1024, rope_theta=10000.0, rope_interleave=True,
        rms_norm_eps=1e-6, bos_token_id=0, eos_token_id=1, tie_word_embeddings=False,
        initializer_range=0.02)


def heldout_perplexity(model, ids, bos, device):
    """exp(mean NLL) over non-overlapping windows of EVAL_WINDOW tokens, each fed as [BOS]+window.
    dse-eval computes exactly this; keep the two in step."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, EVAL_WINDOW):
            window = ids[start:start + EVAL_WINDOW]
            x = torch.tensor([[bos] + window], device=device)
            logits = model(x, use_cache=False).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, torch.tensor(window, device=device),
                                                    reduction="sum")
            total += float(nll)
            count += len(window)
    return math.exp(total / count), count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--minutes", type=float, default=2.0, help="training time budget")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(0)
    device = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True

    train_text = open(args.train, encoding="utf-8").read()
    held_text = open(args.heldout, encoding="utf-8").read()
    tok = train_tokenizer(train_text, args.vocab)
    os.makedirs(args.out, exist_ok=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": SPECIALS[0],
                   "eos_token": SPECIALS[1], "pad_token": SPECIALS[1], "model_max_length": 1024,
                   "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False,
                   "legacy": True, "chat_template": CHAT_TEMPLATE}, f, ensure_ascii=False, indent=2)
    all_ids = tok.encode(train_text).ids
    # The last 3% of the training text is a validation split for early stopping: with ~1M tokens
    # an 8M-parameter model memorises the corpus within a few dozen epochs, so keep the weights
    # of the best validation loss. The held-out chapters stay untouched until the end.
    n_val = len(all_ids) * 3 // 100
    train_ids = torch.tensor(all_ids[:-n_val], dtype=torch.long)
    val_ids = torch.tensor(all_ids[-n_val:], dtype=torch.long)
    held_ids = tok.encode(held_text).ids
    print(f"tokenizer: {tok.get_vocab_size()} ids; train {len(train_ids)} tokens, held-out {len(held_ids)}",
          flush=True)

    cfg = make_config(tok.get_vocab_size())
    model = DeepseekV3ForCausalLM(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters", flush=True)

    # Aux-loss-free balancing (DeepSeek-V3 §2.1.2): after each step, raise the selection bias of
    # under-loaded experts and lower it for over-loaded ones by a fixed step.
    loads = {}

    def count_load(name):
        def hook(_module, _inputs, output):
            idx = output[2] if isinstance(output, tuple) else None
            if idx is not None:
                loads[name] = loads.get(name, 0) + torch.bincount(idx.flatten(), minlength=cfg.n_routed_experts)
        return hook

    gates = {n: m for n, m in model.named_modules() if n.endswith("mlp.gate") and hasattr(m, "e_score_correction_bias")}
    for n, m in gates.items():
        m.register_forward_hook(count_load(n))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), fused=True)
    budget = args.minutes * 60
    n_windows = (len(train_ids) - 1) // SEQ
    step, losses, tokens_seen = 0, [], 0
    warmup = 100
    est_steps = None
    train_start = time.time()
    best = (float("inf"), None, 0)

    def val_loss():
        model.eval()
        n = (len(val_ids) - 1) // SEQ
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            x = torch.stack([val_ids[i * SEQ:(i + 1) * SEQ] for i in range(n)]).to(device)
            return float(model(x, labels=x.clone(), use_cache=False).loss)

    while True:
        elapsed = time.time() - train_start
        if step % 25 == 0:
            v = val_loss()
            if v < best[0]:
                best = (v, {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()}, step)
        if elapsed > budget:
            break
        # Cosine schedule over the time budget (the step count is not known in advance).
        frac = min(elapsed / budget, 1.0)
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n_windows, (args.batch,)) * SEQ + torch.randint(0, SEQ, (args.batch,))
        starts = starts.clamp(max=len(train_ids) - SEQ - 1)
        batch = torch.stack([train_ids[s:s + SEQ + 1] for s in starts]).to(device)
        model.train()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(batch[:, :-1], labels=batch[:, :-1].clone(), use_cache=False)
        # HF shifts labels internally: labels = inputs, loss over next-token predictions.
        loss = out.loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for n, m in gates.items():
                if n in loads:
                    load = loads[n].float()
                    m.e_score_correction_bias += 1e-3 * torch.sign(load.mean() - load)
            loads.clear()
        tokens_seen += batch.numel()
        losses.append(float(loss.detach()))
        if step % 100 == 0:
            print(f"step {step} loss {float(loss):.3f} val {best[0]:.3f}@{best[2]} lr {lr:.2e} {elapsed:.0f}s", flush=True)
        step += 1

    model.load_state_dict(best[1])
    print(f"keeping the weights of step {best[2]} (validation loss {best[0]:.4f})", flush=True)
    # The checkpoint is bf16; evaluate exactly those weights in fp32.
    model = model.to(torch.bfloat16).to(torch.float32)
    ppl, scored = heldout_perplexity(model, held_ids, cfg.bos_token_id, device)
    print(f"held-out perplexity (HF fp32 over the bf16 checkpoint): {ppl:.4f} over {scored} tokens", flush=True)

    prompt = tok.encode("In the beginning").ids
    gen = model.generate(torch.tensor([[0] + prompt], device=device), max_new_tokens=48, do_sample=False,
                         pad_token_id=1)[0].tolist()
    sample = tok.decode(gen[1:])
    print("greedy sample:", sample, flush=True)

    model.to(torch.bfloat16).save_pretrained(args.out, safe_serialization=True)
    report = {"parameters": n_params, "steps": step, "best_step": best[2], "best_val_loss": best[0], "tokens_seen": tokens_seen,
              "final_train_loss": sum(losses[-50:]) / max(1, len(losses[-50:])),
              "heldout_perplexity_hf_fp32": ppl, "heldout_tokens_scored": scored,
              "eval_window": EVAL_WINDOW, "greedy_sample": sample,
              "train_seconds": time.time() - train_start, "total_seconds": time.time() - t0,
              "torch": torch.__version__, "transformers": __import__("transformers").__version__,
              "tokenizers": __import__("tokenizers").__version__, "gpu": torch.cuda.get_device_name()}
    with open(os.path.join(args.out, "train_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
