"""Generates torch_fixtures.json: inputs and PyTorch outputs for test/reference.test.ts.

Run from the repo root with a Python that has torch (developed against torch 1.13, CPU, float32):
    /usr/bin/python3 test/reference/torch_fixtures.py
The test run itself never needs Python; it only reads the JSON written here.
Non-finite floats are written as the strings "NaN", "Infinity", "-Infinity".
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(1)
FIX = {}
TENSORS = {}  # id -> encoded tensor; inputs shared between cases are stored once
TENSOR_IDS = {}


class F32:
    """A float32 value serialized with the shortest decimal that round-trips through float32."""

    def __init__(self, v):
        v = np.float32(v)
        if v == 0 or 1e-4 < abs(v) < 1e6:
            self.text = np.format_float_positional(v, unique=True, trim="-")
        else:
            self.text = np.format_float_scientific(v, unique=True, trim="-")


def enc_values(t):
    vals = []
    for v in t.detach().to(torch.float32).contiguous().reshape(-1).numpy():
        if np.isnan(v):
            vals.append("NaN")
        elif np.isinf(v):
            vals.append("Infinity" if v > 0 else "-Infinity")
        else:
            vals.append(F32(v))
    return vals


def enc(t):
    key = id(t)
    if key not in TENSOR_IDS:
        tid = f"t{len(TENSORS)}"
        TENSOR_IDS[key] = tid
        TENSORS[tid] = {"shape": list(t.shape), "data": enc_values(t)}
        KEEP.append(t)  # keep alive so id() stays unique
    return TENSOR_IDS[key]


KEEP = []


def add(name, inputs, output, **params):
    assert name not in FIX, name
    FIX[name] = {"inputs": {k: enc(v) for k, v in inputs.items()}, "params": params, "output": enc(output)}


def randn(*shape, s=1.0):
    return torch.randn(tuple(shape)) * s


# ----------------------------------------------------------------------------- elementwise
x = randn(2, 3, 4, 5, s=3.0)
special = torch.tensor([0.0, -0.0, 1e-8, -1e-8, 5.0, -5.0, 20.0, -20.0, 100.0, -100.0, float("inf"), float("-inf"), float("nan")])
for tag, t in [("rand", x), ("special", special)]:
    add(f"relu/{tag}", {"x": t}, F.relu(t))
    add(f"leakyRelu/{tag}", {"x": t}, F.leaky_relu(t), slope=0.01)
    add(f"leakyRelu0.2/{tag}", {"x": t}, F.leaky_relu(t, 0.2), slope=0.2)
    add(f"silu/{tag}", {"x": t}, F.silu(t))
    add(f"gelu/{tag}", {"x": t}, F.gelu(t), approximate="none")
    add(f"geluTanh/{tag}", {"x": t}, F.gelu(t, approximate="tanh"), approximate="tanh")
    add(f"tanh/{tag}", {"x": t}, torch.tanh(t))
    add(f"sigmoid/{tag}", {"x": t}, torch.sigmoid(t))
    add(f"clamp/{tag}", {"x": t}, torch.clamp(t, -0.5, 0.7), min=-0.5, max=0.7)
    add(f"clampMin/{tag}", {"x": t}, torch.clamp(t, min=0.25), min=0.25)
    add(f"clampMax/{tag}", {"x": t}, torch.clamp(t, max=-0.3), max=-0.3)
    add(f"clampInverted/{tag}", {"x": t}, torch.clamp(t, 1.0, -1.0), min=1.0, max=-1.0)
    add(f"scale/{tag}", {"x": t}, t * 0.1, s=0.1)
w3 = torch.tensor([0.25, -0.5, 2.0])
add("prelu/channel", {"x": x, "w": w3}, F.prelu(x, w3))
add("prelu/single", {"x": x, "w": torch.tensor([0.3])}, F.prelu(x, torch.tensor([0.3])))
xc = randn(2, 3)
add("prelu/2d", {"x": xc, "w": w3}, F.prelu(xc, w3))

bin_cases = [((2, 1, 4), (3, 1)), ((4,), (2, 3, 4)), ((2, 3, 4), (2, 3, 4)), ((1,), (3, 2)), ((5, 1, 1, 3), (1, 4, 2, 1)), ((), (2, 2))]
for i, (sa, sb) in enumerate(bin_cases):
    a = randn(*sa)
    b = randn(*sb)
    b = torch.where(b.abs() < 0.05, torch.full_like(b, 0.5), b)
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)]:
        add(f"{op}/{i}", {"a": a, "b": b}, fn(a, b))
a = randn(3, 4)
add("add/scalar", {"a": a}, a + 0.3, scalar=0.3)
add("mul/scalar", {"a": a}, a * 0.1, scalar=0.1)
add("div/scalar", {"a": a}, a / 3.0, scalar=3.0)
add("sub/scalarFirst", {"a": a}, 1.5 - a, scalar=1.5)

# ----------------------------------------------------------------------------- matmul / linear
mm_cases = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((1, 3, 5), (2, 5, 1)), ((7, 16), (16, 9))]
for i, (sa, sb) in enumerate(mm_cases):
    a = randn(*sa)
    b = randn(*sb)
    add(f"matmul/{i}", {"a": a, "b": b}, torch.matmul(a, b))
xl = randn(2, 3, 5)
wl = randn(4, 5)
bl = randn(4)
add("linear/bias", {"x": xl, "w": wl, "b": bl}, F.linear(xl, wl, bl))
add("linear/nobias", {"x": xl, "w": wl}, F.linear(xl, wl))
x1 = randn(5)
add("linear/1d", {"x": x1, "w": wl, "b": bl}, F.linear(x1, wl, bl))

# ----------------------------------------------------------------------------- softmax
xs = randn(2, 3, 4, s=4.0)
for d in [0, 1, 2, -1, -2]:
    add(f"softmax/dim{d}", {"x": xs}, torch.softmax(xs, d), dim=d)
    add(f"logSoftmax/dim{d}", {"x": xs}, torch.log_softmax(xs, d), dim=d)
xm = torch.tensor([[1.0, 2.0, 3.0], [float("-inf")] * 3, [float("-inf"), 0.0, float("-inf")], [1000.0, 1000.0, -1000.0]])
add("softmax/masked", {"x": xm}, torch.softmax(xm, -1), dim=-1)
add("logSoftmax/masked", {"x": xm}, torch.log_softmax(xm, -1), dim=-1)

# ----------------------------------------------------------------------------- interpolate
count = 0
for (H, W) in [(2, 2), (3, 3), (3, 5), (4, 7), (5, 4)]:
    # Non-affine small integers: short to store, and bilinear can't hide weight/corner mix-ups.
    k = torch.arange(H * W, dtype=torch.float32)
    xi = ((k % 7) ** 2 + k).reshape(1, 1, H, W)
    specs = [
        {"size": [4, 4]}, {"size": [5, 5]}, {"size": [7, 3]}, {"size": [2, 3]}, {"size": [1, 1]}, {"size": [H, W]},
        {"size": [2 * H, 3 * W]}, {"size": [11, 2]},
        {"scale_factor": 2.0}, {"scale_factor": 1.5}, {"scale_factor": 0.5}, {"scale_factor": 1.7}, {"scale_factor": 3.0},
        {"scale_factor": [2.5, 1.25]}, {"scale_factor": 1.1}, {"scale_factor": 0.75}, {"scale_factor": 2.0 / 3.0},
        {"scale_factor": 1.7, "recompute_scale_factor": True},
    ]
    for spec in specs:
        sf = spec.get("scale_factor")
        if sf is not None:
            sfs = sf if isinstance(sf, list) else [sf, sf]
            if math.floor(H * sfs[0]) < 1 or math.floor(W * sfs[1]) < 1:
                continue
        for mode, ac in [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)]:
            kw = dict(spec)
            if "scale_factor" in kw and isinstance(kw["scale_factor"], list):
                kw["scale_factor"] = tuple(kw["scale_factor"])
            if "size" in kw:
                kw["size"] = tuple(kw["size"])
            y = F.interpolate(xi, mode=mode, align_corners=ac, **kw)
            params = {"mode": mode}
            if ac is not None:
                params["alignCorners"] = ac
            if "size" in spec:
                params["size"] = spec["size"]
            if "scale_factor" in spec:
                params["scaleFactor"] = spec["scale_factor"]
            if spec.get("recompute_scale_factor"):
                params["recomputeScaleFactor"] = True
            add(f"interpolate/{count}", {"x": xi}, y, **params)
            count += 1

# Sizes where float32 index arithmetic (what torch does) and float64 pick different source pixels.
for (H, W), spec in [((2, 31), {"size": [41, 40]}), ((2, 31), {"scale_factor": 1.3}), ((14, 6), {"size": [23, 74]})]:
    xi = torch.arange(H * W, dtype=torch.float32).reshape(1, 1, H, W)
    for mode in ["nearest", "nearest-exact"]:
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec.items()}
        params = {"mode": mode}
        if "size" in spec:
            params["size"] = spec["size"]
        else:
            params["scaleFactor"] = spec["scale_factor"]
        add(f"interpolate/{count}", {"x": xi}, F.interpolate(xi, mode=mode, **kw), **params)
        count += 1

# ----------------------------------------------------------------------------- pixel shuffle / depth to space
xp = randn(2, 8, 2, 3)
add("pixelShuffle/r2", {"x": xp}, F.pixel_shuffle(xp, 2), r=2)
xp3 = randn(1, 18, 2, 2)
add("pixelShuffle/r3", {"x": xp3}, F.pixel_shuffle(xp3, 3), r=3)
xu = randn(2, 3, 4, 6)
add("pixelUnshuffle/r2", {"x": xu}, F.pixel_unshuffle(xu, 2), r=2)


def depth_to_space_tf(x, b):
    # tf.nn.depth_to_space on NHWC: out[n, h*b+i, w*b+j, c] = in[n, h, w, (i*b + j)*C + c]
    n, cin, h, w = x.shape
    c = cin // (b * b)
    nhwc = x.permute(0, 2, 3, 1).reshape(n, h, w, b, b, c)
    out = nhwc.permute(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c)
    return out.permute(0, 3, 1, 2).contiguous()


add("depthToSpace/b2", {"x": xp}, depth_to_space_tf(xp, 2), blockSize=2)
add("depthToSpace/b3", {"x": xp3}, depth_to_space_tf(xp3, 3), blockSize=3)

# ----------------------------------------------------------------------------- conv
conv_cases = [
    dict(cin=4, cout=6, k=(3, 3), stride=1, padding=1, dilation=1, groups=1, bias=True),
    dict(cin=4, cout=6, k=(3, 3), stride=2, padding=0, dilation=1, groups=1, bias=False),
    dict(cin=4, cout=6, k=(2, 3), stride=(2, 1), padding=(1, 2), dilation=1, groups=2, bias=True),
    dict(cin=4, cout=4, k=(3, 3), stride=1, padding="same", dilation=2, groups=4, bias=True),
    dict(cin=4, cout=6, k=(4, 2), stride=1, padding="same", dilation=1, groups=1, bias=True),
    dict(cin=4, cout=6, k=(2, 2), stride=1, padding="same", dilation=(1, 3), groups=2, bias=False),
    dict(cin=4, cout=6, k=(1, 1), stride=1, padding="valid", dilation=1, groups=1, bias=True),
    dict(cin=4, cout=8, k=(3, 2), stride=(1, 3), padding=(2, 0), dilation=(2, 1), groups=2, bias=True),
    dict(cin=4, cout=6, k=(5, 5), stride=3, padding=2, dilation=1, groups=1, bias=True),
]
for i, c in enumerate(conv_cases):
    xi = randn(2 if i == 0 else 1, c["cin"], 7, 6)
    w = randn(c["cout"], c["cin"] // c["groups"], *c["k"], s=0.5)
    b = randn(c["cout"]) if c["bias"] else None
    y = F.conv2d(xi, w, b, stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"])
    ins = {"x": xi, "w": w}
    if b is not None:
        ins["b"] = b
    add(f"conv2d/{i}", ins, y, stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"])
xi = randn(3, 5, 5)
w = randn(2, 3, 3, 3)
add("conv2d/unbatched", {"x": xi, "w": w}, F.conv2d(xi, w, padding=1), stride=1, padding=1, dilation=1, groups=1)

convt_cases = [
    dict(cin=4, cout=6, k=(3, 3), stride=1, padding=0, output_padding=0, dilation=1, groups=1, bias=True),
    dict(cin=4, cout=6, k=(3, 3), stride=2, padding=1, output_padding=1, dilation=1, groups=1, bias=True),
    dict(cin=4, cout=6, k=(4, 4), stride=2, padding=1, output_padding=0, dilation=1, groups=2, bias=False),
    dict(cin=4, cout=4, k=(2, 3), stride=(3, 2), padding=(0, 1), output_padding=(2, 1), dilation=1, groups=4, bias=True),
    dict(cin=4, cout=6, k=(3, 2), stride=1, padding=(1, 0), output_padding=(1, 0), dilation=(2, 1), groups=1, bias=True),
    dict(cin=6, cout=3, k=(5, 3), stride=(2, 3), padding=(2, 1), output_padding=(1, 2), dilation=(1, 2), groups=3, bias=True),
]
for i, c in enumerate(convt_cases):
    xi = randn(2 if i == 0 else 1, c["cin"], 4, 5)
    w = randn(c["cin"], c["cout"] // c["groups"], *c["k"], s=0.5)
    b = randn(c["cout"]) if c["bias"] else None
    y = F.conv_transpose2d(xi, w, b, stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"], groups=c["groups"], dilation=c["dilation"])
    ins = {"x": xi, "w": w}
    if b is not None:
        ins["b"] = b
    add(f"convTranspose2d/{i}", ins, y, stride=c["stride"], padding=c["padding"], outputPadding=c["output_padding"], dilation=c["dilation"], groups=c["groups"])


# ----------------------------------------------------------------------------- attention
def sdpa_math(q, k, v, attn_mask=None, is_causal=False, scale=None):
    # The reference definition from the torch.nn.functional.scaled_dot_product_attention docs (torch >= 2.0).
    L, S = q.size(-2), k.size(-2)
    scale_factor = 1 / math.sqrt(q.size(-1)) if scale is None else scale
    attn_bias = torch.zeros(L, S, dtype=q.dtype)
    if is_causal:
        assert attn_mask is None
        temp_mask = torch.ones(L, S, dtype=torch.bool).tril(diagonal=0)
        attn_bias.masked_fill_(temp_mask.logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_bias = attn_bias.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            attn_bias = attn_mask + attn_bias
    attn_weight = q @ k.transpose(-2, -1) * scale_factor
    attn_weight = attn_weight + attn_bias
    attn_weight = torch.softmax(attn_weight, dim=-1)
    return attn_weight @ v


q = randn(2, 3, 4, 8)
k = randn(2, 3, 6, 8)
v = randn(2, 3, 6, 5)
add("sdpa/plain", {"q": q, "k": k, "v": v}, sdpa_math(q, k, v))
add("sdpa/scale", {"q": q, "k": k, "v": v}, sdpa_math(q, k, v, scale=0.2), scale=0.2)
add("sdpa/causal", {"q": q, "k": k, "v": v}, sdpa_math(q, k, v, is_causal=True), isCausal=True)
fm = randn(2, 1, 4, 6)
add("sdpa/floatMask", {"q": q, "k": k, "v": v, "mask": fm}, sdpa_math(q, k, v, attn_mask=fm))
bm = torch.rand(4, 6) > 0.4
bm[1, :] = False  # a fully masked query row -> NaN
bm[2, :] = True
add("sdpa/boolMask", {"q": q, "k": k, "v": v, "mask": bm.float()}, sdpa_math(q, k, v, attn_mask=bm))
q3 = randn(5, 7, 16)
k3 = randn(5, 9, 16)
v3 = randn(5, 9, 16)
add("sdpa/rank3", {"q": q3, "k": k3, "v": v3}, sdpa_math(q3, k3, v3))

# ----------------------------------------------------------------------------- norms
xg = randn(2, 6, 3, 4, s=2.0) + 1.5
wg = randn(6)
bg = randn(6)
add("groupNorm/affine", {"x": xg, "w": wg, "b": bg}, F.group_norm(xg, 3, wg, bg, 1e-5), groups=3, eps=1e-5)
add("groupNorm/plain", {"x": xg}, F.group_norm(xg, 2, eps=1e-6), groups=2, eps=1e-6)
add("groupNorm/perChannel", {"x": xg, "w": wg, "b": bg}, F.group_norm(xg, 6, wg, bg), groups=6, eps=1e-5)
xln = randn(2, 3, 8, s=3.0) - 2.0
wln = randn(8)
bln = randn(8)
add("layerNorm/last", {"x": xln, "w": wln, "b": bln}, F.layer_norm(xln, [8], wln, bln, 1e-5), normalizedShape=[8], eps=1e-5)
wln2 = randn(3, 8)
bln2 = randn(3, 8)
add("layerNorm/two", {"x": xln, "w": wln2, "b": bln2}, F.layer_norm(xln, [3, 8], wln2, bln2, 1e-6), normalizedShape=[3, 8], eps=1e-6)
add("layerNorm/plain", {"x": xln}, F.layer_norm(xln, [8]), normalizedShape=[8], eps=1e-5)
xin = randn(2, 3, 4, 5, s=2.0) + 0.7
win = randn(3)
bin_ = randn(3)
add("instanceNorm/affine", {"x": xin, "w": win, "b": bin_}, F.instance_norm(xin, weight=win, bias=bin_, eps=1e-5), eps=1e-5)
add("instanceNorm/plain", {"x": xin}, F.instance_norm(xin, eps=1e-3), eps=1e-3)
rm = randn(3)
rv = torch.rand(3) + 0.5
add("batchNorm/affine", {"x": xin, "rm": rm, "rv": rv, "w": win, "b": bin_}, F.batch_norm(xin, rm, rv, win, bin_, training=False, eps=1e-5), eps=1e-5)
add("batchNorm/plain", {"x": xin, "rm": rm, "rv": rv}, F.batch_norm(xin, rm, rv, training=False, eps=1e-3), eps=1e-3)

# ----------------------------------------------------------------------------- diffusers
xgg = randn(2, 3, 8, s=2.0)
h, g = xgg.chunk(2, dim=-1)
add("geglu/none", {"x": xgg}, h * F.gelu(g), approximate="none")
add("geglu/tanh", {"x": xgg}, h * F.gelu(g, approximate="tanh"), approximate="tanh")


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False, downscale_freq_shift=1, scale=1, max_period=10000):
    # Verbatim logic of diffusers.models.embeddings.get_timestep_embedding.
    assert len(timesteps.shape) == 1, "Timesteps should be a 1d-array"
    half_dim = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half_dim, dtype=torch.float32, device=timesteps.device)
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


ts = torch.tensor([0.0, 1.0, 10.0, 250.5, 999.0])
for name, dim, kw in [
    ("default8", 8, {}),
    ("odd7", 7, {}),
    ("sd320", 320, {"flip_sin_to_cos": True, "downscale_freq_shift": 0}),
    ("scaled", 16, {"scale": 2.0, "max_period": 1000, "downscale_freq_shift": 1}),
    ("oddFlip9", 9, {"flip_sin_to_cos": True, "downscale_freq_shift": 0.5}),
]:
    params = {"dim": dim}
    names = {"flip_sin_to_cos": "flipSinToCos", "downscale_freq_shift": "downscaleFreqShift", "scale": "scale", "max_period": "maxPeriod"}
    for key, val in kw.items():
        params[names[key]] = val
    add(f"timestepEmbedding/{name}", {"t": ts}, get_timestep_embedding(ts, dim, **kw), **params)

def dump(o):
    # Hand-rolled compact serializer so F32 values keep their shortest float32 text.
    if isinstance(o, F32):
        return o.text
    if isinstance(o, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in o.items()) + "}"
    if isinstance(o, (list, tuple)):
        return "[" + ",".join(dump(v) for v in o) + "]"
    return json.dumps(o)


out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_fixtures.json")
with open(out_path, "w") as f:
    f.write(dump({"torch": torch.__version__, "tensors": TENSORS, "cases": FIX}))
    f.write("\n")
print(f"wrote {len(FIX)} cases to {out_path}")
