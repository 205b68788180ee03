#!/usr/bin/python3
"""Small random super-resolution checkpoints and their PyTorch outputs, for test/models/sr.test.ts.

The three architectures are written out below in plain PyTorch, module for module as their authors define
them, so that `state_dict()` has exactly the key names of the checkpoints users download:
  * ESRGAN's original RRDBNet (xinntao/ESRGAN `architecture.py` + `block.py`, the "old arch"): one flattened
    nn.Sequential `model`: conv_first, ShortcutBlock(RRDBs…, LR conv), (Upsample, conv, LeakyReLU)×n, HR conv,
    LeakyReLU, last conv;
  * BasicSR's RRDBNet (`basicsr/archs/rrdbnet_arch.py`, Real-ESRGAN's x4plus/x2plus): conv_first, body.N,
    conv_body, conv_up1/2, conv_hr, conv_last, with pixel_unshuffle of the input at scale 2 and 1;
  * Real-ESRGAN's SRVGGNetCompact (`realesrgan/archs/srvgg_arch.py`): body = [conv, act, (conv, act)×n, conv],
    pixel_shuffle, plus the nearest-upsampled input.

Writes into weights/sr/: `<name>.safetensors` (the state_dict) and `<name>.reference.safetensors` (`single.input`,
`single.output`, `batch.input`, `batch.output`: one image and a batch of 2). Deterministic (fixed seeds).

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 weights/sr/make_references.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import safetensors_io  # noqa: E402


# ---- ESRGAN, original architecture (block.py's helpers, reduced to the options the released models use) ----


def sequential(*modules):
    """block.py's `sequential`: flattens nested nn.Sequentials, so indices count the leaf modules."""
    flat = []
    for m in modules:
        if isinstance(m, nn.Sequential):
            flat.extend(m.children())
        elif m is not None:
            flat.append(m)
    return nn.Sequential(*flat)


def conv_block(in_nc, out_nc, act=True):
    """conv_block(kernel 3, pad 1, norm None, act 'leakyrelu' → LeakyReLU(0.2), mode 'CNA')."""
    return sequential(nn.Conv2d(in_nc, out_nc, 3, 1, 1), nn.LeakyReLU(0.2) if act else None)


class ShortcutBlock(nn.Module):
    def __init__(self, sub):
        super().__init__()
        self.sub = sub

    def forward(self, x):
        return x + self.sub(x)


class OldResidualDenseBlock5C(nn.Module):
    """ResidualDenseBlock_5C: conv1..conv4 with LeakyReLU, conv5 without; keys `convK.0.weight`."""

    def __init__(self, nc, gc):
        super().__init__()
        self.conv1 = conv_block(nc, gc)
        self.conv2 = conv_block(nc + gc, gc)
        self.conv3 = conv_block(nc + 2 * gc, gc)
        self.conv4 = conv_block(nc + 3 * gc, gc)
        self.conv5 = conv_block(nc + 4 * gc, nc, act=False)

    def forward(self, x):
        x1 = self.conv1(x)
        x2 = self.conv2(torch.cat((x, x1), 1))
        x3 = self.conv3(torch.cat((x, x1, x2), 1))
        x4 = self.conv4(torch.cat((x, x1, x2, x3), 1))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5.mul(0.2) + x


class OldRRDB(nn.Module):
    def __init__(self, nc, gc):
        super().__init__()
        self.RDB1 = OldResidualDenseBlock5C(nc, gc)
        self.RDB2 = OldResidualDenseBlock5C(nc, gc)
        self.RDB3 = OldResidualDenseBlock5C(nc, gc)

    def forward(self, x):
        return self.RDB3(self.RDB2(self.RDB1(x))).mul(0.2) + x


def upconv_block(in_nc, out_nc):
    """block.py's upconv_blcok: nearest ×2, conv, LeakyReLU(0.2)."""
    return sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_block(in_nc, out_nc))


class OldRRDBNet(nn.Module):
    """architecture.py's RRDBNet(in_nc, out_nc, nf, nb, gc, upscale, act_type='leakyrelu', upsample_mode='upconv')."""

    def __init__(self, in_nc, out_nc, nf, nb, gc, upscale):
        super().__init__()
        n_upscale = int(math.log(upscale, 2))
        fea_conv = conv_block(in_nc, nf, act=False)
        rb_blocks = [OldRRDB(nf, gc) for _ in range(nb)]
        lr_conv = conv_block(nf, nf, act=False)
        upsampler = [upconv_block(nf, nf) for _ in range(n_upscale)]
        hr_conv0 = conv_block(nf, nf)
        hr_conv1 = conv_block(nf, out_nc, act=False)
        self.model = sequential(fea_conv, ShortcutBlock(sequential(*rb_blocks, lr_conv)), *upsampler, hr_conv0, hr_conv1)

    def forward(self, x):
        return self.model(x)


# ---- BasicSR RRDBNet ----


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch, num_out_ch, scale, num_feat, num_block, num_grow_ch):
        super().__init__()
        self.scale = scale
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        if self.scale == 2:
            feat = F.pixel_unshuffle(x, 2)
        elif self.scale == 1:
            feat = F.pixel_unshuffle(x, 4)
        else:
            feat = x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


# ---- Real-ESRGAN SRVGGNetCompact ----


class SRVGGNetCompact(nn.Module):
    def __init__(self, num_in_ch, num_out_ch, num_feat, num_conv, upscale, act_type):
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList()

        def activation():
            if act_type == "relu":
                return nn.ReLU(inplace=True)
            if act_type == "prelu":
                return nn.PReLU(num_parameters=num_feat)
            return nn.LeakyReLU(negative_slope=0.1, inplace=True)

        self.body.append(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1))
        self.body.append(activation())
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(activation())
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


# ---- the checkpoints ----

# (name, constructor, arguments, dtype on disk, single input (C, H, W), batch-of-2 input (C, H, W))
CASES = [
    ("rrdbnet-x4", RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=16, num_block=2, num_grow_ch=8), "F32", (3, 11, 13), (3, 7, 9)),
    ("rrdbnet-x2", RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=2, num_feat=12, num_block=1, num_grow_ch=6), "F32", (3, 10, 14), (3, 8, 6)),
    ("rrdbnet-x1", RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=1, num_feat=8, num_block=2, num_grow_ch=4), "F32", (3, 12, 20), (3, 8, 8)),
    ("esrgan-x4", OldRRDBNet, dict(in_nc=3, out_nc=3, nf=16, nb=2, gc=8, upscale=4), "F16", (3, 11, 13), (3, 7, 9)),
    ("esrgan-x2", OldRRDBNet, dict(in_nc=3, out_nc=3, nf=8, nb=1, gc=4, upscale=2), "F32", (3, 9, 10), (3, 5, 7)),
    ("srvgg-x4", SRVGGNetCompact, dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=4, act_type="prelu"), "F32", (3, 11, 13), (3, 7, 9)),
    ("srvgg-x2", SRVGGNetCompact, dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=2, act_type="prelu"), "F32", (3, 11, 13), (3, 7, 9)),
    ("srvgg-x3-lrelu", SRVGGNetCompact, dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=3, act_type="leakyrelu"), "F32", (3, 11, 13), (3, 7, 9)),
]


def randomize(model, generator):
    """PyTorch's default conv init, plus random biases and PReLU slopes (defaults are all 0 / 0.25)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.1, 0.1, generator=generator)
            elif p.dim() == 1:  # PReLU slopes, some negative
                p.uniform_(-0.2, 0.5, generator=generator)


def main():
    torch.set_num_threads(2)
    total = 0
    for seed, (name, cls, args, dtype, single, batch) in enumerate(CASES):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(1000 + seed)
        model = cls(**args).eval()
        randomize(model, generator)
        state = model.state_dict()
        if dtype == "F16":
            # The reference runs the f16 weights in f32, as the engine does after converting them at load.
            state = {k: v.half() for k, v in state.items()}
            model.load_state_dict({k: v.float() for k, v in state.items()})
        description = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
        total += safetensors_io.write(HERE / f"{name}.safetensors", state, {"description": description, "source": "weights/sr/make_references.py"})

        reference = {}
        print(f"{name}: {description}")
        with torch.no_grad():
            for case, shape, n in (("single", single, 1), ("batch", batch, 2)):
                x = torch.rand((n, *shape), generator=generator)
                y = model(x)
                reference[f"{case}.input"] = x
                reference[f"{case}.output"] = y
                print(f"  {case}: {tuple(x.shape)} -> {tuple(y.shape)}, max |y| {y.abs().max():.3f}")
        total += safetensors_io.write(HERE / f"{name}.reference.safetensors", reference, {"config": json.dumps(args)})
    print(f"{total / 1024:.0f} KiB written")


if __name__ == "__main__":
    main()
