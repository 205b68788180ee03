"""diffusers' noise schedulers in plain PyTorch/numpy, with diffusers' config fields, defaults and float32 arithmetic.

Written from huggingface/diffusers' schedulers/scheduling_*.py so that the same config, model outputs and noise give
the same samples. The interface is diffusers' own: `from_config(dict)`, `set_timesteps(n)`, `timesteps`,
`init_noise_sigma`, `scale_model_input(sample, t)`, `step(model_output, t, sample, noise=...)`. The only change is
that stochastic steps take their Gaussian draw as `noise` (diffusers' `variance_noise`) instead of a generator, and
`noise_needed(t)` says whether the next step uses one.

Only the options the synthe engine implements are accepted; other values of known fields raise a ValueError naming
the field. Unknown fields are ignored, as diffusers' `from_config` does (so a DDPMScheduler config can configure a
DDIMScheduler).
"""

import math

import numpy as np
import torch


def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999):
    """The "squaredcos_cap_v2" (Glide cosine) schedule, computed in float64 and stored as float32."""

    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / num_diffusion_timesteps) / alpha_bar(i / num_diffusion_timesteps), max_beta)
             for i in range(num_diffusion_timesteps)]
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(config):
    n = config["num_train_timesteps"]
    schedule = config["beta_schedule"]
    if schedule == "linear":
        return torch.linspace(config["beta_start"], config["beta_end"], n, dtype=torch.float32)
    if schedule == "scaled_linear":
        return torch.linspace(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, n, dtype=torch.float32) ** 2
    if schedule == "squaredcos_cap_v2":
        return betas_for_alpha_bar(n)
    raise ValueError(f"beta_schedule={schedule!r} is not supported")


def spaced_timesteps(config, num_inference_steps, round_linspace):
    """diffusers' "linspace", "leading" (+ steps_offset) and "trailing" spacings, descending, as float64.
    DDPM and DDIM round linspace timesteps to integers; the Euler schedulers keep them fractional."""
    n = config["num_train_timesteps"]
    if num_inference_steps > n:
        raise ValueError(f"num_inference_steps={num_inference_steps} exceeds num_train_timesteps={n}")
    spacing = config["timestep_spacing"]
    if spacing == "linspace":
        timesteps = np.linspace(0, n - 1, num_inference_steps)
        return (timesteps.round() if round_linspace else timesteps)[::-1].copy()
    if spacing == "leading":
        return (np.arange(0, num_inference_steps) * (n // num_inference_steps)).round()[::-1] + config["steps_offset"]
    if spacing == "trailing":
        return np.round(np.arange(n, 0, -n / num_inference_steps)) - 1
    raise ValueError(f"timestep_spacing={spacing!r} is not supported")


class Scheduler:
    DEFAULTS: dict = {}
    # field -> allowed values; unlisted fields accept any value
    ONLY: dict = {}
    # where the reference's noise comes in: no scheduler draws unless noise_needed() says so
    stochastic = False

    def __init__(self, config=None):
        config = dict(config or {})
        full = {**self.DEFAULTS, **{k: v for k, v in config.items() if k in self.DEFAULTS}}
        for field, allowed in self.ONLY.items():
            if full[field] not in allowed:
                raise ValueError(f"{type(self).__name__}: {field}={full[field]!r} is not supported "
                                 f"(only {allowed!r})")
        if full["prediction_type"] not in self.PREDICTION_TYPES:
            raise ValueError(f"{type(self).__name__}: prediction_type={full['prediction_type']!r} is not supported "
                             f"(only {self.PREDICTION_TYPES!r})")
        self.config = full
        self.betas = make_betas(full)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.num_inference_steps = None
        self.init_noise_sigma = 1.0

    PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")

    @classmethod
    def from_config(cls, config):
        return cls(config)

    def to_config(self):
        return {"_class_name": type(self).__name__, **self.config}

    def scale_model_input(self, sample, timestep):
        return sample

    def noise_needed(self, timestep):
        return False

    def predicted_original_sample(self, model_output, sample, alpha_prod_t):
        """x0 from the model output, at cumulative alpha `alpha_prod_t` (a float32 0-d tensor)."""
        beta_prod_t = 1 - alpha_prod_t
        kind = self.config["prediction_type"]
        if kind == "epsilon":
            return (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t ** 0.5
        if kind == "sample":
            return model_output
        return alpha_prod_t ** 0.5 * sample - beta_prod_t ** 0.5 * model_output  # v_prediction

    def clip(self, x0):
        if self.config.get("clip_sample"):
            r = self.config["clip_sample_range"]
            return x0.clamp(-r, r)
        return x0


COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
              prediction_type="epsilon", timestep_spacing="leading", steps_offset=0, rescale_betas_zero_snr=False)
COMMON_ONLY = dict(trained_betas=(None,), rescale_betas_zero_snr=(False,))
THRESHOLDING = dict(thresholding=False, dynamic_thresholding_ratio=0.995, sample_max_value=1.0)


class DDPMScheduler(Scheduler):
    """Ancestral sampling with variance_type "fixed_small" (the posterior variance, clamped at 1e-20)."""

    DEFAULTS = dict(**COMMON, **THRESHOLDING, variance_type="fixed_small", clip_sample=True, clip_sample_range=1.0)
    ONLY = dict(**COMMON_ONLY, thresholding=(False,), variance_type=("fixed_small",))
    stochastic = True

    def set_timesteps(self, num_inference_steps):
        self.timesteps = torch.from_numpy(spaced_timesteps(self.config, num_inference_steps, True).astype(np.int64))
        self.num_inference_steps = num_inference_steps

    def previous_timestep(self, timestep):
        # the next entry of `timesteps`, -1 after the last one (diffusers >= 0.25; older versions subtracted n // steps)
        index = int((self.timesteps == timestep).nonzero()[0][0])
        return int(self.timesteps[index + 1]) if index + 1 < len(self.timesteps) else -1

    def noise_needed(self, timestep):
        return int(timestep) > 0

    def add_noise(self, original_samples, noise, timesteps):
        """The forward process q(x_t | x_0): sqrt(acp) x0 + sqrt(1 - acp) noise, per batch item."""
        acp = self.alphas_cumprod[timesteps].reshape(-1, *([1] * (original_samples.dim() - 1)))
        return acp ** 0.5 * original_samples + (1 - acp) ** 0.5 * noise

    def step(self, model_output, timestep, sample, noise=None):
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        beta_prod_t = 1 - alpha_prod_t
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        current_alpha_t = alpha_prod_t / alpha_prod_t_prev
        current_beta_t = 1 - current_alpha_t
        x0 = self.clip(self.predicted_original_sample(model_output, sample, alpha_prod_t))
        x0_coeff = (alpha_prod_t_prev ** 0.5 * current_beta_t) / beta_prod_t
        sample_coeff = current_alpha_t ** 0.5 * beta_prod_t_prev / beta_prod_t
        prev_sample = x0_coeff * x0 + sample_coeff * sample
        if t > 0:
            if noise is None:
                raise ValueError("DDPMScheduler.step needs `noise` for t > 0")
            variance = torch.clamp((1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t, min=1e-20)
            prev_sample = prev_sample + variance ** 0.5 * noise
        return prev_sample


class DDIMScheduler(Scheduler):
    """DDIM; eta > 0 adds sigma_t(eta) * noise. The previous timestep is always t - num_train_timesteps // steps,
    whatever the spacing (as diffusers does)."""

    DEFAULTS = dict(**COMMON, **THRESHOLDING, clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True)
    ONLY = dict(**COMMON_ONLY, thresholding=(False,))

    def __init__(self, config=None):
        super().__init__(config)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.eta = 0.0

    def set_timesteps(self, num_inference_steps):
        self.timesteps = torch.from_numpy(spaced_timesteps(self.config, num_inference_steps, True).astype(np.int64))
        self.num_inference_steps = num_inference_steps

    def noise_needed(self, timestep):
        return self.eta > 0

    def step(self, model_output, timestep, sample, eta=0.0, noise=None):
        t = int(timestep)
        prev_t = t - self.config["num_train_timesteps"] // self.num_inference_steps
        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        beta_prod_t = 1 - alpha_prod_t
        x0 = self.predicted_original_sample(model_output, sample, alpha_prod_t)
        kind = self.config["prediction_type"]
        if kind == "epsilon":
            eps = model_output
        elif kind == "sample":
            eps = (sample - alpha_prod_t ** 0.5 * x0) / beta_prod_t ** 0.5
        else:
            eps = alpha_prod_t ** 0.5 * model_output + beta_prod_t ** 0.5 * sample
        x0 = self.clip(x0)
        variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
        std_dev_t = eta * variance ** 0.5
        prev_sample = alpha_prod_t_prev ** 0.5 * x0 + (1 - alpha_prod_t_prev - std_dev_t ** 2) ** 0.5 * eps
        if eta > 0:
            if noise is None:
                raise ValueError("DDIMScheduler.step needs `noise` when eta > 0")
            prev_sample = prev_sample + std_dev_t * noise
        return prev_sample


class IndexedScheduler(Scheduler):
    """Schedulers that keep a step index (Euler, DPM-Solver, LCM): it starts at the first call's timestep."""

    step_index = None

    def index_for_timestep(self, timestep):
        # diffusers picks the second match when a timestep repeats, so that a restart in the middle does not skip
        matches = (self.timesteps == timestep).nonzero()
        if len(matches) == 0:
            raise ValueError(f"timestep {timestep} is not in the schedule {self.timesteps.tolist()}")
        return int(matches[1 if len(matches) > 1 else 0])

    def current_index(self, timestep):
        if self.step_index is None:
            self.step_index = self.index_for_timestep(timestep)
        return self.step_index


def interpolated_sigmas(alphas_cumprod, timesteps):
    """sigma(t) = sqrt((1 - acp) / acp), linearly interpolated at (possibly fractional) timesteps, as float64."""
    sigmas = np.array(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5)
    return np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)


class EulerDiscreteScheduler(IndexedScheduler):
    """Euler (s_churn 0, so deterministic) in sigma space; the model sees sample / sqrt(sigma^2 + 1)."""

    DEFAULTS = dict(**{**COMMON, "timestep_spacing": "linspace"}, interpolation_type="linear",
                    use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False, sigma_min=None,
                    sigma_max=None, timestep_type="discrete", final_sigmas_type="zero")
    ONLY = dict(**COMMON_ONLY, interpolation_type=("linear",), use_karras_sigmas=(False,),
                use_exponential_sigmas=(False,), use_beta_sigmas=(False,), timestep_type=("discrete",),
                final_sigmas_type=("zero", "sigma_min"))
    PREDICTION_TYPES = ("epsilon", "v_prediction", "sample", "original_sample")

    def __init__(self, config=None):
        super().__init__(config)
        sigmas = (((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5).flip(0)
        self.sigmas = torch.cat([sigmas, torch.zeros(1)])

    @property
    def init_noise_sigma(self):
        max_sigma = self.sigmas.max()
        if self.config["timestep_spacing"] in ("linspace", "trailing"):
            return float(max_sigma)
        return float((max_sigma ** 2 + 1) ** 0.5)

    @init_noise_sigma.setter
    def init_noise_sigma(self, value):
        pass  # derived from the sigmas

    def final_sigma(self):
        if self.config["final_sigmas_type"] == "sigma_min":
            return float(((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5)
        return 0.0

    def set_timesteps(self, num_inference_steps):
        timesteps = spaced_timesteps(self.config, num_inference_steps, False).astype(np.float32)
        sigmas = interpolated_sigmas(self.alphas_cumprod, timesteps)
        self.sigmas = torch.from_numpy(np.concatenate([sigmas, [self.final_sigma()]]).astype(np.float32))
        self.timesteps = torch.from_numpy(timesteps)
        self.num_inference_steps = num_inference_steps
        self.step_index = None

    def scale_model_input(self, sample, timestep):
        sigma = self.sigmas[self.current_index(timestep)]
        return sample / ((sigma ** 2 + 1) ** 0.5)

    def denoised(self, model_output, sample, sigma):
        kind = self.config["prediction_type"]
        if kind == "epsilon":
            return sample - sigma * model_output
        if kind == "v_prediction":
            return model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
        return model_output

    def step(self, model_output, timestep, sample, noise=None):
        index = self.current_index(timestep)
        sample = sample.to(torch.float32)
        sigma = self.sigmas[index]
        x0 = self.denoised(model_output, sample, sigma)
        derivative = (sample - x0) / sigma
        prev_sample = sample + derivative * (self.sigmas[index + 1] - sigma)
        self.step_index += 1
        return prev_sample


class EulerAncestralDiscreteScheduler(EulerDiscreteScheduler):
    """Euler to sigma_down, then fresh noise of std sigma_up (drawn at every step, also the last where it is 0)."""

    DEFAULTS = dict(**{**COMMON, "timestep_spacing": "linspace"})
    ONLY = dict(**COMMON_ONLY)
    PREDICTION_TYPES = ("epsilon", "v_prediction")
    stochastic = True

    def final_sigma(self):
        return 0.0

    def noise_needed(self, timestep):
        return True

    def step(self, model_output, timestep, sample, noise=None):
        if noise is None:
            raise ValueError("EulerAncestralDiscreteScheduler.step needs `noise`")
        index = self.current_index(timestep)
        sample = sample.to(torch.float32)
        sigma_from, sigma_to = self.sigmas[index], self.sigmas[index + 1]
        x0 = self.denoised(model_output, sample, sigma_from)
        sigma_up = (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5
        sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
        derivative = (sample - x0) / sigma_from
        prev_sample = sample + derivative * (sigma_down - sigma_from) + noise * sigma_up
        self.step_index += 1
        return prev_sample


class DPMSolverMultistepScheduler(IndexedScheduler):
    """DPM-Solver++ (data prediction), order 1 or 2, multistep: keeps the last x0 predictions. With
    lower_order_final and fewer than 15 steps, or final_sigmas_type "zero", the last step is first order."""

    DEFAULTS = dict(**{**COMMON, "timestep_spacing": "linspace"}, **THRESHOLDING, solver_order=2,
                    algorithm_type="dpmsolver++", solver_type="midpoint", lower_order_final=True, euler_at_final=False,
                    use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False, use_lu_lambdas=False,
                    use_flow_sigmas=False, flow_shift=1.0, final_sigmas_type="zero", lambda_min_clipped=-math.inf,
                    variance_type=None)
    ONLY = dict(**COMMON_ONLY, thresholding=(False,), solver_order=(1, 2), algorithm_type=("dpmsolver++",),
                solver_type=("midpoint", "heun"), use_karras_sigmas=(False,), use_exponential_sigmas=(False,),
                use_beta_sigmas=(False,), use_lu_lambdas=(False,), use_flow_sigmas=(False,),
                final_sigmas_type=("zero", "sigma_min"), lambda_min_clipped=(-math.inf,), variance_type=(None,))

    def set_timesteps(self, num_inference_steps):
        n, config = self.config["num_train_timesteps"], self.config
        spacing = config["timestep_spacing"]
        # n + 1 points with the last (smallest) dropped, unlike DDIM's spacings
        if spacing == "linspace":
            timesteps = np.linspace(0, n - 1, num_inference_steps + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif spacing == "leading":
            ratio = n // (num_inference_steps + 1)
            timesteps = (np.arange(0, num_inference_steps + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64)
            timesteps += config["steps_offset"]
        elif spacing == "trailing":
            timesteps = np.arange(n, 0, -n / num_inference_steps).round().copy().astype(np.int64) - 1
        else:
            raise ValueError(f"timestep_spacing={spacing!r} is not supported")
        sigmas = interpolated_sigmas(self.alphas_cumprod, timesteps)
        last = (float(((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5)
                if config["final_sigmas_type"] == "sigma_min" else 0.0)
        self.sigmas = torch.from_numpy(np.concatenate([sigmas, [last]]).astype(np.float32))
        self.timesteps = torch.from_numpy(timesteps)
        self.num_inference_steps = len(timesteps)
        self.model_outputs = [None] * config["solver_order"]
        self.lower_order_nums = 0
        self.step_index = None

    @staticmethod
    def alpha_sigma(sigma):
        alpha_t = 1 / ((sigma ** 2 + 1) ** 0.5)
        return alpha_t, sigma * alpha_t

    def lambdas(self, *indices):
        """(alpha, sigma, lambda = log alpha - log sigma) at the given indices of `sigmas`."""
        out = []
        for i in indices:
            alpha, sigma = self.alpha_sigma(self.sigmas[i])
            out.append((alpha, sigma, torch.log(alpha) - torch.log(sigma)))
        return out

    def data_prediction(self, model_output, sample):
        alpha_t, sigma_t = self.alpha_sigma(self.sigmas[self.step_index])
        kind = self.config["prediction_type"]
        if kind == "epsilon":
            return (sample - sigma_t * model_output) / alpha_t
        if kind == "sample":
            return model_output
        return alpha_t * sample - sigma_t * model_output

    def first_order_update(self, x0, sample):
        (alpha_t, sigma_t, lambda_t), (_, sigma_s, lambda_s) = self.lambdas(self.step_index + 1, self.step_index)
        h = lambda_t - lambda_s
        return (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0

    def second_order_update(self, sample):
        i = self.step_index
        (alpha_t, sigma_t, lambda_t), (_, sigma_s0, lambda_s0), (_, _, lambda_s1) = self.lambdas(i + 1, i, i - 1)
        m0, m1 = self.model_outputs[-1], self.model_outputs[-2]
        h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1
        r0 = h_0 / h
        d0, d1 = m0, (1.0 / r0) * (m0 - m1)
        if self.config["solver_type"] == "midpoint":
            return ((sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * d0
                    - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * d1)
        return ((sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * d0
                + (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * d1)

    def step(self, model_output, timestep, sample, noise=None):
        index = self.current_index(timestep)
        config, n = self.config, len(self.timesteps)
        lower_order_final = index == n - 1 and (config["euler_at_final"] or (config["lower_order_final"] and n < 15)
                                                or config["final_sigmas_type"] == "zero")
        x0 = self.data_prediction(model_output, sample)
        self.model_outputs = self.model_outputs[1:] + [x0]
        sample = sample.to(torch.float32)
        if config["solver_order"] == 1 or self.lower_order_nums < 1 or lower_order_final:
            prev_sample = self.first_order_update(x0, sample)
        else:
            prev_sample = self.second_order_update(sample)
        self.lower_order_nums = min(self.lower_order_nums + 1, config["solver_order"])
        self.step_index += 1
        return prev_sample


class LCMScheduler(IndexedScheduler):
    """Latent consistency sampling: the timesteps are spread over the `original_inference_steps` schedule the model
    was distilled on (timestep_spacing is not used); each step computes the boundary-condition denoised sample and,
    except at the last step, re-noises it to the next timestep."""

    DEFAULTS = dict(**{**COMMON, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"},
                    **THRESHOLDING, original_inference_steps=50, clip_sample=False, clip_sample_range=1.0,
                    set_alpha_to_one=True, timestep_scaling=10.0)
    ONLY = dict(**COMMON_ONLY, thresholding=(False,))
    stochastic = True

    def __init__(self, config=None):
        super().__init__(config)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]

    def set_timesteps(self, num_inference_steps, original_inference_steps=None, strength=1.0):
        n = self.config["num_train_timesteps"]
        original = original_inference_steps or self.config["original_inference_steps"]
        if original > n:
            raise ValueError(f"original_inference_steps={original} exceeds num_train_timesteps={n}")
        if num_inference_steps > original:
            raise ValueError(f"num_inference_steps={num_inference_steps} exceeds original_inference_steps={original}")
        k = n // original
        origin = (np.asarray(list(range(1, int(original * strength) + 1))) * k - 1)[::-1].copy()
        if len(origin) // num_inference_steps < 1:
            raise ValueError("too many inference steps for the original schedule and strength")
        indices = np.floor(np.linspace(0, len(origin), num=num_inference_steps, endpoint=False)).astype(np.int64)
        self.timesteps = torch.from_numpy(origin[indices]).to(torch.int64)
        self.num_inference_steps = num_inference_steps
        self.step_index = None

    def noise_needed(self, timestep):
        index = self.step_index if self.step_index is not None else self.index_for_timestep(timestep)
        return index != self.num_inference_steps - 1

    def boundary_condition_scalings(self, timestep):
        sigma_data = 0.5
        scaled = timestep * self.config["timestep_scaling"]
        c_skip = sigma_data ** 2 / (scaled ** 2 + sigma_data ** 2)
        c_out = scaled / (scaled ** 2 + sigma_data ** 2) ** 0.5
        return c_skip, c_out

    def step(self, model_output, timestep, sample, noise=None):
        index = self.current_index(timestep)
        timestep = torch.as_tensor(timestep, dtype=torch.int64)
        prev_timestep = self.timesteps[index + 1] if index + 1 < len(self.timesteps) else timestep
        alpha_prod_t = self.alphas_cumprod[timestep]
        alpha_prod_t_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        beta_prod_t, beta_prod_t_prev = 1 - alpha_prod_t, 1 - alpha_prod_t_prev
        c_skip, c_out = self.boundary_condition_scalings(timestep)
        kind = self.config["prediction_type"]
        if kind == "epsilon":
            x0 = (sample - beta_prod_t.sqrt() * model_output) / alpha_prod_t.sqrt()
        elif kind == "sample":
            x0 = model_output
        else:
            x0 = alpha_prod_t.sqrt() * sample - beta_prod_t.sqrt() * model_output
        denoised = c_out * self.clip(x0) + c_skip * sample
        if index != self.num_inference_steps - 1:
            if noise is None:
                raise ValueError("LCMScheduler.step needs `noise` before the last step")
            prev_sample = alpha_prod_t_prev.sqrt() * denoised + beta_prod_t_prev.sqrt() * noise
        else:
            prev_sample = denoised
        self.step_index += 1
        return prev_sample


SCHEDULERS = {cls.__name__: cls for cls in (DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler,
                                            EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler,
                                            LCMScheduler)}
