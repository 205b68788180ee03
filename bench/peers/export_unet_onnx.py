#!/usr/bin/python3
"""Exports a diffusers UNet2DConditionModel folder to ONNX, so ONNX Runtime Web runs the same UNet as synthe.

The folder (config.json + diffusion_pytorch_model.safetensors) is loaded into the plain-PyTorch copy of
diffusers' UNet2DConditionModel in weights/diffusion/diffusers_torch.py and traced by torch.onnx.export (opset
17) at fixed shapes. The timestep is traced as a constant (diffusers' forward turns it into a tensor with
torch.as_tensor), so the graph's inputs are `sample` and `encoder_hidden_states` only and its output is `out`.

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peers/export_unet_onnx.py FOLDER OUT.onnx \\
      --batch 2 --tokens 77 --timestep 500
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "weights" / "diffusion"))
from diffusers_torch import UNet2DConditionModel  # noqa: E402


class Traced(torch.nn.Module):
    def __init__(self, unet, timestep):
        super().__init__()
        self.unet = unet
        self.timestep = timestep

    def forward(self, sample, encoder_hidden_states):
        return self.unet(sample, self.timestep, encoder_hidden_states)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("out")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=77)
    parser.add_argument("--timestep", type=float, default=500.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    unet = UNet2DConditionModel.from_pretrained(args.folder)
    config = unet.config
    size = config["sample_size"]
    sample = torch.zeros(args.batch, config["in_channels"], size, size)
    states = torch.zeros(args.batch, args.tokens, config["cross_attention_dim"])
    with torch.no_grad():
        torch.onnx.export(Traced(unet, args.timestep), (sample, states), args.out, opset_version=17,
                          input_names=["sample", "encoder_hidden_states"], output_names=["out"])
    print(f"wrote {args.out} ({Path(args.out).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
