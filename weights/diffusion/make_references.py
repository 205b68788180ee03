#!/usr/bin/python3
"""Tiny random diffusers-format models and their PyTorch outputs, the ground truth for synthe's UNet and VAE loaders.

For each case below, writes weights/diffusion/tiny/<name>/:
  config.json                          the model's diffusers config (`_class_name` included)
  diffusion_pytorch_model.safetensors  its state_dict with diffusers' key names, F32
  reference.safetensors                inputs and outputs (F32; class labels I64), described in `__metadata__`

The models come from diffusers_torch.py (plain-PyTorch copies of diffusers' modules). Weights are PyTorch's default
init, then randomized where the default is trivial: every norm gets a random affine (weight in [0.6, 1.4], bias in
[-0.3, 0.3]), every bias is drawn from [-0.1, 0.1], and attention query/key projections are doubled so that the
softmax is far from uniform. Deterministic (fixed seeds); runs in a few seconds:

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 weights/diffusion/make_references.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import sys
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import safetensors_io  # noqa: E402
from diffusers_torch import Attention, AutoencoderKL, UNet2DConditionModel, UNet2DModel  # noqa: E402

OUT = HERE / "tiny"
SOURCE = "weights/diffusion/make_references.py"


def randomize(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.GroupNorm, nn.LayerNorm)):
                module.weight.uniform_(0.6, 1.4, generator=generator)
                module.bias.uniform_(-0.3, 0.3, generator=generator)
            elif isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
                module.bias.uniform_(-0.1, 0.1, generator=generator)
            if isinstance(module, Attention):
                module.to_q.weight.mul_(2.0)
                module.to_k.weight.mul_(2.0)


def build(cls, config, seed):
    torch.manual_seed(seed)
    model = cls.from_config(config).eval()
    randomize(model, torch.Generator().manual_seed(1000 + seed))
    return model


def describe(generator_seed, what):
    return f"{what}, torch.Generator().manual_seed({generator_seed})"


def unet2d_case(config, seed, batch, size, timestep, class_labels):
    model = build(UNet2DModel, config, seed)
    g = torch.Generator().manual_seed(2000 + seed)
    sample = torch.randn(batch, config["in_channels"], size, size, generator=g)
    timestep = torch.tensor(timestep, dtype=torch.float32)
    inputs = {"sample": sample, "timestep": timestep}
    meta = {
        "sample": describe(2000 + seed, f"F32 {list(sample.shape)} torch.randn, the noisy sample"),
        "timestep": f"F32 {list(timestep.shape)} diffusion timestep(s) {timestep.tolist()}"
                    + (" (0-d scalar: broadcast to the batch)" if timestep.dim() == 0 else ", one per batch item"),
    }
    if class_labels is not None:
        inputs["class_labels"] = torch.tensor(class_labels, dtype=torch.int64)
        meta["class_labels"] = f"I64 [{len(class_labels)}] class indices {class_labels} into class_embedding"
    with torch.no_grad():
        out = model(inputs["sample"], inputs["timestep"], inputs.get("class_labels"))
    meta["out"] = f"F32 {list(out.shape)} UNet2DModel(sample, timestep, class_labels) (the predicted noise)"
    return model, {**inputs, "out": out}, meta


def unet2d_condition_case(config, seed, batch, size, timestep, sequence_length):
    model = build(UNet2DConditionModel, config, seed)
    g = torch.Generator().manual_seed(2000 + seed)
    sample = torch.randn(batch, config["in_channels"], size, size, generator=g)
    encoder_hidden_states = torch.randn(batch, sequence_length, config["cross_attention_dim"], generator=g)
    timestep = torch.tensor(timestep, dtype=torch.float32)
    with torch.no_grad():
        out = model(sample, timestep, encoder_hidden_states)
    tensors = {"sample": sample, "timestep": timestep, "encoder_hidden_states": encoder_hidden_states, "out": out}
    meta = {
        "sample": describe(2000 + seed, f"F32 {list(sample.shape)} torch.randn (drawn first), the noisy latent"),
        "timestep": f"F32 {list(timestep.shape)} timesteps {timestep.tolist()}, one per batch item "
                    "(fractional values occur with Euler schedulers)",
        "encoder_hidden_states": describe(2000 + seed, f"F32 {list(encoder_hidden_states.shape)} torch.randn "
                                                       "(drawn second), stands in for text-encoder output"),
        "out": f"F32 {list(out.shape)} UNet2DConditionModel(sample, timestep, encoder_hidden_states)",
    }
    return model, tensors, meta


def autoencoder_case(config, seed):
    model = build(AutoencoderKL, config, seed)
    g = torch.Generator().manual_seed(2000 + seed)
    size = config["sample_size"]
    sample = torch.rand(1, config["in_channels"], size, size, generator=g) * 2 - 1
    with torch.no_grad():
        dist = model.encode(sample)
        latent = dist.sample(g)
        decoded = model.decode(latent)
    tensors = {"sample": sample, "latent_dist_mean": dist.mean, "latent_dist_std": dist.std, "latent": latent,
               "decoded": decoded}
    meta = {
        "sample": describe(2000 + seed, f"F32 {list(sample.shape)} torch.rand * 2 - 1 (image in [-1, 1])"),
        "latent_dist_mean": "F32 mean of encode(sample).latent_dist: first latent_channels channels of "
                            "quant_conv(encoder(sample))",
        "latent_dist_std": "F32 std of encode(sample).latent_dist: exp(0.5 * clamp(logvar, -30, 20)), logvar "
                           "being the last latent_channels channels",
        "latent": "F32 latent_dist.sample() = mean + std * torch.randn (the same generator, drawn after `sample`)",
        "decoded": "F32 decode(latent) = decoder(post_quant_conv(latent)); scaling_factor is NOT applied by "
                   "encode or decode (the pipeline multiplies encoded latents by it and divides before decoding)",
        "scaling_factor_applied": "false",
    }
    return model, tensors, meta


UNET2D = dict(
    sample_size=16, in_channels=3, out_channels=3, block_out_channels=[16, 32],
    down_block_types=["DownBlock2D", "AttnDownBlock2D"], up_block_types=["AttnUpBlock2D", "UpBlock2D"],
    layers_per_block=1, norm_num_groups=8, attention_head_dim=8, num_class_embeds=5, flip_sin_to_cos=True,
    freq_shift=0,
)
UNET2D_NOCLS = dict(
    sample_size=12, in_channels=2, out_channels=3, block_out_channels=[8, 12, 20],
    down_block_types=["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    up_block_types=["AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    layers_per_block=2, norm_num_groups=4, attention_head_dim=None, flip_sin_to_cos=False, freq_shift=1,
)
# Channels are (16, 32) rather than (32, 64) to keep the committed files small; with attention_head_dim 8 (diffusers'
# legacy meaning: 8 HEADS) the heads are 2 and 4 wide, so reading it as a head width (2 and 4 heads) gives other numbers.
UNET2D_CONDITION = dict(
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=[16, 32],
    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
    layers_per_block=1, cross_attention_dim=24, attention_head_dim=8, norm_num_groups=8,
    use_linear_projection=False,
)
UNET2D_CONDITION_LINEAR = {**UNET2D_CONDITION, "use_linear_projection": True, "attention_head_dim": [2, 4]}
AUTOENCODER_KL = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[16, 32],
    down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
    layers_per_block=1, norm_num_groups=8, scaling_factor=0.18215, sample_size=16,
)

CASES = [
    ("unet2d", lambda: unet2d_case(UNET2D, 0, 2, 16, [10.0, 500.0], [1, 4])),
    ("unet2d-nocls", lambda: unet2d_case(UNET2D_NOCLS, 1, 1, 12, 321.0, None)),
    ("unet2d-condition", lambda: unet2d_condition_case(UNET2D_CONDITION, 2, 2, 8, [981.0, 37.25], 7)),
    ("unet2d-condition-linear", lambda: unet2d_condition_case(UNET2D_CONDITION_LINEAR, 3, 1, 8, [500.0], 77)),
    ("autoencoder-kl", lambda: autoencoder_case(AUTOENCODER_KL, 4)),
]


def check_round_trip(cls, directory, tensors):
    """The written files alone reproduce the reference exactly."""
    model = cls.from_pretrained(directory)
    ref = {k: torch.from_numpy(v) for k, v in safetensors_io.read(directory / "reference.safetensors")[0].items()}
    with torch.no_grad():
        if cls is AutoencoderKL:
            dist = model.encode(ref["sample"])
            got = {"latent_dist_mean": dist.mean, "latent_dist_std": dist.std, "decoded": model.decode(ref["latent"])}
        elif cls is UNet2DModel:
            got = {"out": model(ref["sample"], ref["timestep"], ref.get("class_labels"))}
        else:
            got = {"out": model(ref["sample"], ref["timestep"], ref["encoder_hidden_states"])}
    for k, v in got.items():
        assert torch.equal(v, ref[k]), f"{directory.name}: {k} differs after reloading"


def main():
    torch.set_num_threads(2)
    total = 0
    for name, make in CASES:
        model, tensors, meta = make()
        directory = OUT / name
        params = sum(p.numel() for p in model.parameters())
        total += model.save_pretrained(directory, {"source": SOURCE, "description": f"tiny random {name}"})
        metadata = {**meta, "source": SOURCE, "weights": "diffusion_pytorch_model.safetensors",
                    "config": json.dumps(model.to_config(), separators=(",", ":")),
                    "computed_with": f"torch {torch.__version__} CPU float32, eval mode"}
        tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
        total += safetensors_io.write(directory / "reference.safetensors", tensors, metadata)
        total += (directory / "config.json").stat().st_size
        check_round_trip(type(model), directory, tensors)
        summary = ", ".join(f"{k} {list(v.shape)}" for k, v in tensors.items())
        out = tensors["out" if "out" in tensors else "decoded"]
        print(f"{name}: {params} parameters; {summary}; output std {out.std():.3f}, max |.| {out.abs().max():.3f}")
    print(f"{total / 1024:.0f} KiB written to {OUT.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
