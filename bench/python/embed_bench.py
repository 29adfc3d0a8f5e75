"""Embedding throughput and agreement: sentence-transformers (PyTorch CPU) and onnxruntime (the
same weights exported to ONNX) on the bench's texts, compared with the project's MiniLM (Rust,
candle) when `--rust-json` gives its output. Writes one JSON file of figures.

The model comes from the local directory the project already uses (no hub access): the
sentence-transformers layout (mean pooling, L2 normalisation, max_seq_length 256, which is what
all-MiniLM-L6-v2 ships with) is written around those files in a cache directory.
"""
import argparse
import json
import os
import pathlib
import random
import statistics
import subprocess
import time

import numpy as np

WORDS = (
    "lambda rust python latency memory cold start warm request response model embedding token "
    "serverless function runtime cost deploy region table item write read cache batch vector "
    "query document score rank label summary extract field date money email phone price order "
    "customer invoice refund support ticket billing account login password error outage fast "
    "slow reliable contract schema validation gateway stage route handler binary size zip"
).split()


def make_texts(n: int, seed: int = 7) -> list:
    """Deterministic texts of 4 to 120 words (about 8 to 200 tokens)."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        length = rng.choice([4, 8, 12, 20, 32, 48, 64, 120])
        words = [rng.choice(WORDS) for _ in range(length)]
        words[0] = words[0].capitalize()
        texts.append(" ".join(words) + ".")
    return texts


def st_dir(model_dir: pathlib.Path, cache: pathlib.Path) -> pathlib.Path:
    out = cache / "minilm-sentence-transformers"
    (out / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        link = out / name
        if not link.exists():
            link.symlink_to((model_dir / name).resolve())
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False}))
    (out / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512,
                                                           "tokenizer_class": "BertTokenizer"}))
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    return out


def timed(passes: int, fn):
    seconds = []
    for _ in range(passes):
        t = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t)
    return sorted(seconds)


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a * b).sum(axis=1)
    return {"min": float(c.min()), "mean": float(c.mean())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True, type=pathlib.Path)
    p.add_argument("--cache", required=True, type=pathlib.Path)
    p.add_argument("--texts-out", required=True, type=pathlib.Path)
    p.add_argument("--out", required=True, type=pathlib.Path)
    p.add_argument("--rust-json", type=pathlib.Path,
                   help="where the project's MiniLM writes its figures and vectors")
    p.add_argument("--rust-bin", type=pathlib.Path,
                   help="the project's bench-embed binary: run between sentence-transformers' "
                        "passes, one pass a round, so both see the same machine load")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--write-texts-only", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    texts = make_texts(args.n)
    args.texts_out.parent.mkdir(parents=True, exist_ok=True)
    args.texts_out.write_text(json.dumps(texts))
    if args.write_texts_only:
        return

    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    import onnxruntime as ort

    result = {"texts": len(texts), "batch": args.batch, "torch_threads": torch.get_num_threads()}
    tok = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    tokens = sum(len(e.ids) for e in tok.encode_batch(texts))
    result["tokens"] = tokens

    # sentence-transformers, PyTorch CPU.
    t = time.perf_counter()
    st = SentenceTransformer(str(st_dir(args.model_dir, args.cache)), device="cpu")
    load_ms = (time.perf_counter() - t) * 1e3
    st.max_seq_length = 256
    encode = lambda: st.encode(texts, batch_size=args.batch, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
    st_vectors = encode()
    # Side by side: each round times one sentence-transformers pass, then one pass of the
    # project's MiniLM (its own process: a warm-up pass, then the timed one), so that load from
    # elsewhere on the machine falls on both alike.
    st_seconds, rust_runs = [], []
    for _ in range(args.repeat):
        st_seconds += timed(1, encode)
        if args.rust_bin:
            out = subprocess.run([str(args.rust_bin), "--model-dir", str(args.model_dir),
                                  "--texts", str(args.texts_out), "--repeat", "1"],
                                 check=True, capture_output=True, text=True)
            rust_runs.append(json.loads(out.stdout))
    s = sorted(st_seconds)
    result["sentence_transformers"] = {"load_ms": load_ms, "pass_seconds": s,
                                       "texts_per_s": len(texts) / s[len(s) // 2],
                                       "tokens_per_s": tokens / s[len(s) // 2]}
    if rust_runs:
        rust = rust_runs[0]
        rust["pass_seconds"] = sorted(r["pass_seconds"][0] for r in rust_runs)
        rust["load_ms"] = sorted(r["load_ms"] for r in rust_runs)[len(rust_runs) // 2]
        median = rust["pass_seconds"][len(rust_runs) // 2]
        rust["texts_per_s"] = len(texts) / median
        rust["tokens_per_s"] = rust["tokens"] / median
        args.rust_json.write_text(json.dumps(rust))

    # onnxruntime on the same weights, exported once.
    onnx_path = args.cache / "minilm.onnx"
    if not onnx_path.exists():
        bert = st[0].auto_model.eval()
        sample = tok.encode_batch(texts[:2])
        width = max(len(e.ids) for e in sample)
        ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in sample])
        mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in sample])
        kwargs = dict(input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"], opset_version=17,
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                                    ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
        with torch.no_grad():
            try:
                torch.onnx.export(bert, (ids, mask, torch.zeros_like(ids)), str(onnx_path),
                                  dynamo=False, **kwargs)
            except TypeError:
                torch.onnx.export(bert, (ids, mask, torch.zeros_like(ids)), str(onnx_path), **kwargs)
    t = time.perf_counter()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_load_ms = (time.perf_counter() - t) * 1e3
    pad = tok.token_to_id("[PAD]") or 0

    def ort_embed():
        out = []
        for i in range(0, len(texts), args.batch):
            enc = tok.encode_batch(texts[i:i + args.batch])
            width = max(len(e.ids) for e in enc)
            ids = np.array([e.ids + [pad] * (width - len(e.ids)) for e in enc], dtype=np.int64)
            mask = np.array([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in enc], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(out)

    ort_vectors = ort_embed()
    s = timed(args.repeat, ort_embed)
    result["onnxruntime"] = {"load_ms": ort_load_ms, "pass_seconds": s,
                             "texts_per_s": len(texts) / s[len(s) // 2],
                             "tokens_per_s": tokens / s[len(s) // 2],
                             "version": ort.__version__}
    agreement = {"onnxruntime_vs_sentence_transformers": cosine_stats(ort_vectors, st_vectors)}
    if args.rust_json and args.rust_json.exists():
        rust = json.loads(args.rust_json.read_text())
        rv = np.array(rust.pop("vectors"), dtype=np.float32)
        result["rust"] = rust
        agreement["rust_vs_sentence_transformers"] = cosine_stats(rv, st_vectors)
        agreement["rust_vs_onnxruntime"] = cosine_stats(rv, ort_vectors)
    result["agreement"] = agreement
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items()}, indent=1)[:2000])


if __name__ == "__main__":
    main()
