"""Test oracle for `slm convert` (tests only, never used by the product).

Creates a randomly initialised small Hugging Face model (LlamaForCausalLM, Qwen2ForCausalLM or a
sentence-transformers style BertModel), saves it as a Hugging Face folder in OUT_DIR/model
(config.json, model.safetensors, the tokenizer files copied from TOKENIZER_DIR; for bert also
1_Pooling/config.json with mean pooling) and, for the decoders, writes the logits transformers
computes for a few prompts: every position, float32, row-major [positions][vocab], once with the
float32 weights (ref-f32-K.bin) and once with the weights rounded to float16 (ref-f16-K.bin).
The prompts are in prompts.json.

usage: hf_random_model.py llama|qwen2|bert OUT_DIR TOKENIZER_DIR VOCAB_SIZE
Exit status 77 when torch or transformers is missing (the caller skips).
"""
import json
import os
import shutil
import sys

try:
    import numpy as np
    import torch
    import transformers
except ImportError as e:  # the C test reports a visible skip
    print(f"missing Python package: {e.name}")
    sys.exit(77)


def build(arch, vocab):
    common = dict(
        vocab_size=vocab, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rms_norm_eps=1e-5, attn_implementation="eager", torch_dtype="float32",
    )
    if arch == "bert":
        cfg = transformers.BertConfig(
            vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
            layer_norm_eps=1e-12, attn_implementation="eager")
        model = transformers.BertModel(cfg, add_pooling_layer=True)
    elif arch == "llama":
        cfg = transformers.LlamaConfig(rope_theta=10000.0, tie_word_embeddings=False,
                                       bos_token_id=1, eos_token_id=2, **common)
        model = transformers.LlamaForCausalLM(cfg)
    else:
        cfg = transformers.Qwen2Config(rope_theta=1000000.0, tie_word_embeddings=True,
                                       bos_token_id=0, eos_token_id=0, **common)
        model = transformers.Qwen2ForCausalLM(cfg)
    gen = torch.Generator().manual_seed({"llama": 1234, "qwen2": 4321, "bert": 777}[arch])
    with torch.no_grad():  # every parameter random, norms around 1, so none can be misplaced
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1.0 + 0.2 * noise if "norm" in name.lower() else 0.1 * noise)
    return model.eval()


def logits(model, prompt):
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=False)
    return out.logits[0].float().numpy().astype(np.float32)


def main():
    arch, out_dir, tok_dir, vocab = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    model = build(arch, vocab)
    hf_dir = os.path.join(out_dir, "model")
    model.save_pretrained(hf_dir, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if os.path.exists(os.path.join(tok_dir, name)):
            shutil.copy(os.path.join(tok_dir, name), hf_dir)
    if arch == "bert":
        os.makedirs(os.path.join(hf_dir, "1_Pooling"))
        with open(os.path.join(hf_dir, "1_Pooling", "config.json"), "w") as f:
            json.dump({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True,
                       "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False}, f)
        return
    prompts = [[1, 80, 147, 201, 282, 57], [5, 17, 300, 2000, 9, 1500, 42, 42, 7, 1, 3, 4], [7]]
    for k, p in enumerate(prompts):
        logits(model, p).tofile(os.path.join(out_dir, f"ref-f32-{k}.bin"))
    model.half().float()  # the float16 conversion's weights, computed in float32
    for k, p in enumerate(prompts):
        logits(model, p).tofile(os.path.join(out_dir, f"ref-f16-{k}.bin"))
    with open(os.path.join(out_dir, "prompts.json"), "w") as f:
        json.dump(prompts, f)


if __name__ == "__main__":
    main()
