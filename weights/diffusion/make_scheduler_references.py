#!/usr/bin/python3
"""Whole-schedule scheduler trajectories (schedulers.py, diffusers' semantics) for the TypeScript schedulers' tests.

Writes weights/diffusion/schedulers.reference.json: a list of cases
  {"name", "class", "config", "numInferenceSteps", "timesteps", "initNoiseSigma",
   "steps": [{"t", "sample", "modelOutput", "noise", "scaledInput", "prevSample"}, ...]}
`config` holds only the fields set for the case: every other field takes diffusers' default. Each case runs the whole
schedule in order on a vector of 12 numbers (so multistep state is exercised): the first `sample` is a standard
normal draw times initNoiseSigma, then each step draws `modelOutput` (standard normal) and, when the step uses one,
`noise` (standard normal; null otherwise), `scaledInput` = scale_model_input(sample, t) and
`prevSample` = step(modelOutput, t, sample, noise); the next step's `sample` is this `prevSample`. All arithmetic is
float32 as in diffusers; numbers are written with 9 significant digits (exact float32 round trip). Deterministic:

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 weights/diffusion/make_scheduler_references.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from schedulers import SCHEDULERS  # noqa: E402

OUT = HERE / "schedulers.reference.json"
SIZE = 12

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")  # Stable Diffusion 1.x/2.x betas
COSINE = dict(beta_schedule="squaredcos_cap_v2")

# (name, class, config, inference steps)
CASES = [
    ("ddpm linear epsilon leading+1", "DDPMScheduler", dict(steps_offset=1), 10),
    ("ddpm sd v trailing noclip", "DDPMScheduler",
     dict(**SD, prediction_type="v_prediction", timestep_spacing="trailing", clip_sample=False), 6),
    ("ddpm cosine sample linspace clip1.5", "DDPMScheduler",
     dict(**COSINE, prediction_type="sample", timestep_spacing="linspace", clip_sample_range=1.5), 5),
    ("ddpm linear epsilon linspace", "DDPMScheduler", dict(timestep_spacing="linspace"), 4),
    ("ddim sd epsilon leading+1 alpha0", "DDIMScheduler",
     dict(**SD, steps_offset=1, set_alpha_to_one=False, clip_sample=False), 10),
    ("ddim sd v trailing", "DDIMScheduler",
     dict(**SD, prediction_type="v_prediction", timestep_spacing="trailing", clip_sample=False), 7),
    ("ddim cosine sample linspace", "DDIMScheduler",
     dict(**COSINE, prediction_type="sample", timestep_spacing="linspace"), 5),
    ("ddim linear epsilon leading clip", "DDIMScheduler", dict(), 8),
    ("euler sd epsilon linspace", "EulerDiscreteScheduler", dict(**SD), 10),
    ("euler sd epsilon leading+1", "EulerDiscreteScheduler", dict(**SD, timestep_spacing="leading", steps_offset=1), 8),
    ("euler linear v trailing", "EulerDiscreteScheduler",
     dict(prediction_type="v_prediction", timestep_spacing="trailing"), 6),
    ("euler linear sample linspace (fractional t) sigma_min", "EulerDiscreteScheduler",
     dict(prediction_type="sample", final_sigmas_type="sigma_min"), 7),
    ("euler-a sd epsilon linspace", "EulerAncestralDiscreteScheduler", dict(**SD), 8),
    ("euler-a sd epsilon leading+1", "EulerAncestralDiscreteScheduler",
     dict(**SD, timestep_spacing="leading", steps_offset=1), 10),
    ("euler-a linear v trailing", "EulerAncestralDiscreteScheduler",
     dict(prediction_type="v_prediction", timestep_spacing="trailing"), 5),
    ("dpm++2m sd epsilon linspace", "DPMSolverMultistepScheduler", dict(**SD), 10),
    ("dpm++2m sd epsilon leading+1", "DPMSolverMultistepScheduler",
     dict(**SD, timestep_spacing="leading", steps_offset=1), 8),
    ("dpm++2m linear v trailing", "DPMSolverMultistepScheduler",
     dict(prediction_type="v_prediction", timestep_spacing="trailing"), 6),
    ("dpm++2m cosine sample linspace no-lower-order-final", "DPMSolverMultistepScheduler",
     dict(**COSINE, prediction_type="sample", lower_order_final=False), 5),
    ("dpm++2m linear epsilon sigma_min lower-order-final", "DPMSolverMultistepScheduler",
     dict(final_sigmas_type="sigma_min"), 6),
    ("dpm++2m linear epsilon sigma_min second-order-final", "DPMSolverMultistepScheduler",
     dict(final_sigmas_type="sigma_min", lower_order_final=False), 6),
    ("dpm++2m heun sd epsilon linspace", "DPMSolverMultistepScheduler", dict(**SD, solver_type="heun"), 7),
    ("lcm defaults", "LCMScheduler", dict(), 4),
    ("lcm v original100 clip", "LCMScheduler",
     dict(prediction_type="v_prediction", original_inference_steps=100, clip_sample=True), 6),
    ("lcm sample set_alpha_to_one false", "LCMScheduler",
     dict(prediction_type="sample", set_alpha_to_one=False, timestep_scaling=5.0), 8),
]


def numbers(x):
    """float32 values with 9 significant digits: the shortest text that reads back as the same float32."""
    return [float(f"{v:.9g}") for v in x.tolist()]


def scalar(t):
    """A timestep as diffusers holds it: int for DDPM/DDIM/DPM/LCM, float32 for the Euler schedulers."""
    t = torch.as_tensor(t)
    return float(f"{float(t):.9g}") if t.is_floating_point() else int(t)


def run_case(seed, name, class_name, config, steps):
    scheduler = SCHEDULERS[class_name].from_config(config)
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    sigma0 = scheduler.init_noise_sigma
    sample = torch.randn(SIZE, generator=g) * sigma0
    records = []
    for t in scheduler.timesteps:
        model_output = torch.randn(SIZE, generator=g)
        noise = torch.randn(SIZE, generator=g) if scheduler.noise_needed(t) else None
        scaled = scheduler.scale_model_input(sample, t)
        prev = scheduler.step(model_output, t, sample, noise=noise)
        if not torch.isfinite(prev).all():
            raise RuntimeError(f"{name}: non-finite sample at t={t}")
        records.append({"t": scalar(t), "sample": numbers(sample), "modelOutput": numbers(model_output),
                        "noise": numbers(noise) if noise is not None else None, "scaledInput": numbers(scaled),
                        "prevSample": numbers(prev)})
        sample = prev
    return {"name": name, "class": class_name, "config": config, "numInferenceSteps": steps,
            "timesteps": [scalar(t) for t in scheduler.timesteps], "initNoiseSigma": float(f"{float(sigma0):.9g}"),
            "steps": records}


def main():
    cases = [run_case(seed, *case) for seed, case in enumerate(CASES)]
    text = json.dumps(cases, separators=(",", ":"))
    OUT.write_text(text + "\n")
    for case in cases:
        print(f"{case['name']:55s} t={case['timesteps']}")
    print(f"{len(cases)} cases, {len(text) / 1024:.0f} KiB -> {OUT.name}")


if __name__ == "__main__":
    main()
