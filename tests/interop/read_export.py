#!/usr/bin/python3
"""An independent reader of what `sdlab export` writes, for the test suite.

    read_export.py FORMAT DIR X.npy CODES.npy

Written from the formats' specifications and the loaders' documented semantics, not from sdlab's code:
safetensors (an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
offsets, then the bytes), and for each library the files, configuration keys and tensor names its loader
requires (strictly, as its load_state_dict is strict) and the inference formula of its encoder:

  saelens              SAELens 6.x SAE.load_from_disk: cfg.json + sae_weights.safetensors; sae_lens_version
                       >= 6.0.0 (top level or in metadata) skips the pre-6 conversion; architectures standard,
                       gated, topk, jumprelu, transcoder, skip_transcoder, jumprelu_transcoder.
  saelens-compat       the same, and SAELens 5.x's required keys (5.x: standard, gated, jumprelu, topk;
                       activation_fn_str relu, tanh-relu or topk); the codes under both readings.
  sparsify             SparseCoder.load_from_disk: cfg.json (d_in, k, num_latents, transcode) + sae.safetensors
                       (encoder.weight, encoder.bias, W_dec, b_dec, one dtype); codes TopK of ReLU.
  dictionary-learning  the state dict of trainer.dict_class (config.json) in model.safetensors.

The codes are recomputed in float64 from the stored tensors (bfloat16 widened exactly) for the rows of X.npy
and compared with sdlab's CODES.npy (float32, computed by sdlab from its float32 arrays).  Each pre-activation
h_i = <w_i, x'> + b_i carries a bound e_i on the difference between the two computations: float32's
gamma_{d+4} (d + 4 rounded operations in sdlab's sum, the subtraction of b_dec included) times
S_i = sum_a |w_ia| (|x_a| + |b_dec_a|) + |b_i|, plus, for bfloat16 tensors, 2^-8 S_i (each stored weight and
bias within 2^-8 relative of sdlab's); Gated magnitudes exp(r_i) e_i + 2 gamma (exp(r_i) S_i + |b_mag_i|).  An
entry whose decision (above the threshold, among the k largest, gate open) lies within those bounds is
ambiguous and may go either way; every other entry must be equally zero or non-zero in both, and equal within
its bound.  Exit 0 when the export is sound, 1 with one line naming the first fault.
"""
import json
import os
import re
import struct
import sys

import numpy as np

U32 = 2.0 ** -24
U_BF16 = 2.0 ** -8


class Fault(Exception):
    pass


def read_safetensors(path):
    """name -> float64 (or int64) ndarray, and the set of dtypes, from the specification alone"""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise Fault(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise Fault(f"{path}: header length {n} beyond the file")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, UnicodeDecodeError) as e:
        raise Fault(f"{path}: header is not JSON: {e}")
    data = raw[8 + n:]
    sizes = {"F32": 4, "F64": 8, "BF16": 2, "F16": 2, "I32": 4, "I64": 8}
    out, dtypes, spans = {}, set(), []
    for name, t in header.items():
        if name == "__metadata__":
            if not isinstance(t, dict) or not all(isinstance(v, str) for v in t.values()):
                raise Fault(f"{path}: __metadata__ must map strings to strings")
            continue
        dt, shape, (b, e) = t["dtype"], t["shape"], t["data_offsets"]
        if dt not in sizes:
            raise Fault(f"{path}: tensor {name}: dtype {dt}")
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * sizes[dt] or e > len(data) or b < 0:
            raise Fault(f"{path}: tensor {name}: offsets [{b}, {e}] do not hold {shape} {dt}")
        buf = data[b:e]
        if dt == "BF16":  # the upper 16 bits of a float32
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            a = bits.view(np.float32).astype(np.float64)
        elif dt in ("I32", "I64"):
            a = np.frombuffer(buf, dtype="<i4" if dt == "I32" else "<i8").astype(np.int64)
        else:
            a = np.frombuffer(buf, dtype={"F32": "<f4", "F64": "<f8", "F16": "<f2"}[dt]).astype(np.float64)
        out[name] = a.reshape(shape)
        dtypes.add(dt)
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:  # entirely indexed, no holes, no overlaps
        if b != pos:
            raise Fault(f"{path}: the tensors' bytes leave a hole or overlap at {pos}")
        pos = e
    if pos != len(data):
        raise Fault(f"{path}: {len(data) - pos} bytes after the last tensor")
    return out, dtypes


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f, object_pairs_hook=no_duplicates)
    except (OSError, ValueError) as e:
        raise Fault(f"{path}: {e}")


def need(cond, msg):
    if not cond:
        raise Fault(msg)


def exact_names(tensors, names, where):
    need(set(tensors) == set(names), f"{where}: tensors {sorted(tensors)}, a strict load wants {sorted(names)}")


def shape(tensors, name, want, where):
    need(tuple(tensors[name].shape) == tuple(want), f"{where}: {name} is {list(tensors[name].shape)}, not {list(want)}")


def version_at_least_6(v):
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:[-.]?(?:rc|a|b)\.?\d+)?$", str(v))
    need(m is not None, f"sae_lens_version {v!r} is not a version")
    return int(m.group(1)) >= 6


# ---- the encoders, as each library documents them; each returns (pre-activation h, bound, codes, decide)
# where decide(h, lo, hi) classifies entries: 1 surely active, 0 surely zero, -1 ambiguous ----

def bounds(W, b, x, bdec, u_extra):
    """|h_sdlab - h_exact| bounds: W is d_sae x d (rows the encoder directions)"""
    d = W.shape[1]
    g = (d + 4) * U32 / (1 - (d + 4) * U32)
    S = (np.abs(x) + np.abs(bdec)[None, :]) @ np.abs(W).T + np.abs(b)[None, :]
    return (g + u_extra) * S


def relu_like(h, e, thr):
    """codes h where h > max(thr, 0); ambiguous within e of the boundary"""
    t = np.maximum(thr, 0.0)
    codes = np.where(h > t, h, 0.0)
    amb = np.abs(h - t) <= e + np.abs(t) * U32
    return codes, amb


def topk_codes(h, e, k, relu_first):
    """TopK of h (sparsify: of relu(h)), negatives zeroed; ambiguous: near the k-th value or zero"""
    hh = np.maximum(h, 0.0) if relu_first else h
    order = np.argsort(-hh, axis=1, kind="stable")
    codes = np.zeros_like(h)
    rows = np.arange(h.shape[0])[:, None]
    sel = order[:, :k]
    codes[rows, sel] = np.maximum(hh[rows, sel], 0.0)
    chosen = np.zeros(h.shape, dtype=bool)
    chosen[rows, sel] = True
    kth = hh[rows[:, 0], order[:, k - 1]][:, None]
    nxt = hh[rows[:, 0], order[:, k]][:, None] if h.shape[1] > k else np.full_like(kth, -np.inf)
    emax = e.max(axis=1, keepdims=True)
    # surely in: above every unselected value even with both errors; surely out: below every selected one
    sure = (chosen & (hh - emax > nxt + emax)) | (~chosen & (hh + emax < kth - emax))
    # a value surely below zero has code 0 whether selected or not
    return codes, (~sure & (h >= -e)) | (np.abs(h) <= e)


def gated(W, b_gate, r_mag, b_mag, x, bdec, u_extra, sd, what):
    """gate (W x' + b_gate > 0) times relu(exp(r_mag) W x' + b_mag), x' = x - b_dec"""
    pre = (x - bdec[None, :]) @ W.T
    gate = pre + b_gate[None, :]
    er = np.exp(r_mag)[None, :]
    mag = er * pre + b_mag[None, :]
    e_gate = bounds(W, b_gate, x, bdec, u_extra)
    # sdlab forms exp(r)(z - b_gate) + b_mag from z = W x' + b_gate: z's bound, the subtraction's and the
    # product's rounding, and expf's (within a few units in the last place)
    e_mag = er * (2 * e_gate) + (8 * U32 + u_extra) * (er * (np.abs(pre) + np.abs(b_gate)[None, :]) +
                                                        np.abs(b_mag)[None, :])
    codes = np.where((gate > 0) & (mag > 0), mag, 0.0)
    amb = (np.abs(gate) <= e_gate) | (np.abs(mag) <= e_mag)
    return compare(codes, amb, mag, e_mag, sd, what)


def compare(codes, amb, h, e, sd, what):
    if sd.shape != codes.shape:
        raise Fault(f"{what}: sdlab's codes are {sd.shape}, the reader's {codes.shape}")
    sd = sd.astype(np.float64)
    firm = ~amb
    mism = firm & ((sd != 0) != (codes != 0))
    if mism.any():
        s, i = np.argwhere(mism)[0]
        raise Fault(f"{what}: row {s}, latent {i}: sdlab {sd[s, i]:.9g}, the reader {codes[s, i]:.9g} "
                    f"(pre-activation {h[s, i]:.9g}, bound {e[s, i]:.3g})")
    on = sd != 0  # where sdlab's code is non-zero it is the pre-activation (or, gated, the magnitude)
    bad = on & (np.abs(sd - np.where(codes != 0, codes, h)) > e)
    if bad.any():
        s, i = np.argwhere(bad)[0]
        raise Fault(f"{what}: row {s}, latent {i}: sdlab {sd[s, i]:.9g}, the reader {codes[s, i]:.9g} "
                    f"(bound {e[s, i]:.3g})")
    need((codes != 0).any(), f"{what}: no code is non-zero: nothing compared")
    return int(amb.sum())


# ---- the layouts ----

SAELENS6 = {"standard", "gated", "topk", "jumprelu", "transcoder", "skip_transcoder", "jumprelu_transcoder"}
SAELENS5 = {"standard", "gated", "jumprelu", "topk"}
DTYPES = {"float32", "float64", "float16", "bfloat16"} | {"torch." + t for t in ("float32", "float64", "float16",
                                                                                   "bfloat16")}
LLM5 = ("d_in", "d_sae", "context_size", "model_name", "hook_name", "hook_layer", "hook_head_index",
        "dataset_path", "dtype")


def saelens(d, x, sd, u_extra, compat):
    cfg = load_json(os.path.join(d, "cfg.json"))
    ten, _ = read_safetensors(os.path.join(d, "sae_weights.safetensors"))
    for k in ("d_in", "d_sae", "architecture", "dtype"):
        need(k in cfg, f"cfg.json: no {k}")
    arch, din, dsae = cfg["architecture"], cfg["d_in"], cfg["d_sae"]
    need(arch in SAELENS6, f"cfg.json: architecture {arch!r} is not one SAELens 6 loads")
    need(cfg["dtype"] in DTYPES, f"cfg.json: dtype {cfg['dtype']!r}")
    ver = cfg.get("sae_lens_version", (cfg.get("metadata") or {}).get("sae_lens_version"))
    need(ver is not None and version_at_least_6(ver), "cfg.json: no sae_lens_version >= 6 (the pre-6 conversion "
         "would run)")
    trans = "transcoder" in arch
    dout = cfg.get("d_out") if trans else din
    need(not trans or isinstance(dout, int), "cfg.json: a transcoder without d_out (SAELens would take 768)")
    apply = cfg.get("apply_b_dec_to_input", True)
    need(not trans or apply is False, "cfg.json: a transcoder needs apply_b_dec_to_input false")
    need(cfg.get("normalize_activations", "none") == "none", "cfg.json: normalize_activations is not none")
    names = {"standard": ["W_enc", "b_enc", "W_dec", "b_dec"], "topk": ["W_enc", "b_enc", "W_dec", "b_dec"],
             "jumprelu": ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"],
             "gated": ["W_enc", "b_gate", "b_mag", "r_mag", "W_dec", "b_dec"],
             "transcoder": ["W_enc", "b_enc", "W_dec", "b_dec"],
             "jumprelu_transcoder": ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"],
             "skip_transcoder": ["W_enc", "b_enc", "W_dec", "b_dec", "W_skip"]}[arch]
    exact_names(ten, names, "sae_weights.safetensors")
    shape(ten, "W_enc", (din, dsae), arch)
    shape(ten, "W_dec", (dsae, dout), arch)
    shape(ten, "b_dec", (dout,), arch)
    W = ten["W_enc"].T
    bdec = ten["b_dec"] if apply else np.zeros(din)
    xin = x - bdec[None, :]
    readings = [("SAELens 6", arch, cfg.get("k"))]
    if compat:
        for k in LLM5:
            need(k in cfg, f"cfg.json: SAELens 5.x requires {k}")
        need(arch in SAELENS5, f"cfg.json: SAELens 5.x has no architecture {arch!r}")
        fn = cfg.get("activation_fn_str", "relu")
        need(fn in ("relu", "tanh-relu", "topk"), f"cfg.json: SAELens 5.x knows no activation_fn_str {fn!r}")
        need((fn == "topk") == (arch == "topk"), "cfg.json: activation_fn_str and architecture disagree")
        readings.append(("SAELens 5.x", arch, (cfg.get("activation_fn_kwargs") or {}).get("k")))
    amb = 0
    for who, a, k in readings:
        if a == "gated":
            amb += gated(W, ten["b_gate"], ten["r_mag"], ten["b_mag"], x, bdec, u_extra, sd, f"{who} gated")
            continue
        b = ten["b_enc"]
        h = xin @ W.T + b[None, :]
        e = bounds(W, b, x, bdec, u_extra)
        if a == "topk":
            need(isinstance(k, int) and 0 < k <= dsae, f"{who}: topk without a valid k")
            codes, am = topk_codes(h, e, k, relu_first=False)
        elif "jumprelu" in a:
            codes, am = relu_like(h, e, ten["threshold"][None, :])
            e = e + np.abs(ten["threshold"])[None, :] * U32
        else:
            codes, am = relu_like(h, e, np.zeros((1, dsae)))
        amb += compare(codes, am, h, e, sd, f"{who} {a}")
    return amb


def sparsify(d, x, sd, u_extra):
    cfg = load_json(os.path.join(d, "cfg.json"))
    ten, dtypes = read_safetensors(os.path.join(d, "sae.safetensors"))
    need("d_in" in cfg, "cfg.json: no d_in")
    din = cfg["d_in"]
    need(cfg.get("activation", "topk") == "topk", "cfg.json: activation is not topk")
    n = cfg.get("num_latents", 0) or din * cfg.get("expansion_factor", 32)
    k = cfg.get("k", 32)
    need(not cfg.get("skip_connection", False) and not cfg.get("multi_topk", False), "cfg.json: skip or multi-topk")
    exact_names(ten, ["encoder.weight", "encoder.bias", "W_dec", "b_dec"], "sae.safetensors")
    need(len(dtypes) == 1, f"sae.safetensors: several dtypes {sorted(dtypes)} (sparsify takes the first's)")
    shape(ten, "encoder.weight", (n, din), "sparsify")
    shape(ten, "W_dec", (n, din), "sparsify")
    shape(ten, "b_dec", (din,), "sparsify")
    W, b = ten["encoder.weight"], ten["encoder.bias"]
    bdec = np.zeros(din) if cfg.get("transcode", False) else ten["b_dec"]
    h = (x - bdec[None, :]) @ W.T + b[None, :]
    e = bounds(W, b, x, bdec, u_extra)
    codes, am = topk_codes(h, e, k, relu_first=True)
    return compare(codes, am, h, e, sd, "sparsify topk")


def dictionary_learning(d, x, sd, u_extra):
    cfg = load_json(os.path.join(d, "config.json"))
    tr = cfg.get("trainer") or {}
    cls = tr.get("dict_class")
    ten, _ = read_safetensors(os.path.join(d, "model.safetensors"))
    din = x.shape[1]
    if cls == "AutoEncoder":
        exact_names(ten, ["bias", "encoder.weight", "encoder.bias", "decoder.weight"], cls)
        W, b, bdec = ten["encoder.weight"], ten["encoder.bias"], ten["bias"]
        h = (x - bdec[None, :]) @ W.T + b[None, :]
        e = bounds(W, b, x, bdec, u_extra)
        # from_pretrained(normalize_decoder=True) rescales decoder columns that are not unit norm (to
        # torch.allclose's default tolerances), which multiplies the codes by those norms: only bfloat16's
        # rounding may do that here, and the change counts in the bound
        norms = np.linalg.norm(ten["decoder.weight"], axis=0)
        if not np.allclose(norms, 1.0, rtol=1e-5, atol=1e-8):
            need(u_extra > 0 and np.all(np.abs(norms - 1) <= 4 * U_BF16), f"{cls}: decoder columns not unit norm")
            e = e * norms[None, :] + np.abs(h) * np.abs(norms - 1)[None, :]
            h = h * norms[None, :]
        codes, am = relu_like(h, e, np.zeros((1, W.shape[0])))
    elif cls == "JumpReluAutoEncoder":
        exact_names(ten, ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"], cls)
        W, b = ten["W_enc"].T, ten["b_enc"]
        h = x @ W.T + b[None, :]  # no b_dec subtraction in this class
        # b_enc was folded from b_E - W_E b_D in double and rounded: its bound holds that rounding too
        bdec = ten["b_dec"]
        e = bounds(W, np.abs(b) + np.abs(bdec) @ np.abs(W).T, x, bdec, u_extra) + np.abs(ten["threshold"])[None, :] * U32
        codes, am = relu_like(h, e, ten["threshold"][None, :])
    elif cls == "GatedAutoEncoder":
        exact_names(ten, ["decoder_bias", "encoder.weight", "r_mag", "gate_bias", "mag_bias", "decoder.weight"], cls)
        need(tr.get("activation_dim") == din, f"config.json: activation_dim {tr.get('activation_dim')} is not {din}")
        return gated(ten["encoder.weight"], ten["gate_bias"], ten["r_mag"], ten["mag_bias"], x, ten["decoder_bias"],
                     u_extra, sd, cls)
    elif cls in ("AutoEncoderTopK", "BatchTopKSAE"):
        exact_names(ten, ["k", "threshold", "encoder.weight", "encoder.bias", "decoder.weight", "b_dec"], cls)
        k = int(ten["k"])
        need(tr.get("k") == k, f"{cls}: config.json's trainer.k {tr.get('k')} is not the state dict's k {k}")
        W, b, bdec = ten["encoder.weight"], ten["encoder.bias"], ten["b_dec"]
        h = (x - bdec[None, :]) @ W.T + b[None, :]
        e = bounds(W, b, x, bdec, u_extra)
        if cls == "BatchTopKSAE":  # use_threshold: relu, then a * (a > threshold)
            thr = float(ten["threshold"])
            need(thr >= 0, f"{cls}: threshold {thr} was never set")
            codes, am = relu_like(h, e, np.full((1, W.shape[0]), thr))
        else:
            codes, am = topk_codes(h, e, k, relu_first=True)
    else:
        raise Fault(f"config.json: dict_class {cls!r} is none this reader knows")
    need(tr.get("activation_dim") == din, f"config.json: activation_dim {tr.get('activation_dim')} is not {din}")
    return compare(codes, am, h, e, sd, cls)


def main():
    if len(sys.argv) != 5:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    fmt, d, xp, cp = sys.argv[1:]
    try:
        x = np.load(xp).astype(np.float64)
        sd = np.load(cp)
        bf16 = False
        for name in ("sae_weights.safetensors", "sae.safetensors", "model.safetensors"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                bf16 = "BF16" in read_safetensors(p)[1]
        u_extra = 2 * U_BF16 if bf16 else 0.0
        if fmt in ("saelens", "saelens-compat"):
            amb = saelens(d, x, sd, u_extra, fmt == "saelens-compat")
        elif fmt == "sparsify":
            amb = sparsify(d, x, sd, u_extra)
        elif fmt == "dictionary-learning":
            amb = dictionary_learning(d, x, sd, u_extra)
        else:
            raise Fault(f"unknown format {fmt}")
    except Fault as f:
        print(f"read_export: {f}", file=sys.stderr)
        return 1
    print(f"read_export: {fmt}: {sd.shape[0]} rows agree ({amb} ambiguous entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
