"""diffusers' UNet2DModel, UNet2DConditionModel and AutoencoderKL in plain PyTorch 1.13.

There is no `diffusers` package on this machine, so the modules are written out here, module for module as
huggingface/diffusers defines them (models/unets/unet_2d.py, unet_2d_condition.py, unet_2d_blocks.py,
resnet.py, attention_processor.py, attention.py, transformers/transformer_2d.py, embeddings.py,
autoencoders/autoencoder_kl.py, vae.py), so that `state_dict()` has diffusers' key names and `config.json` has
diffusers' fields: a checkpoint saved here loads in diffusers and the other way round.

Only the options the synthe engine implements are accepted; any other value of a config field raises a
ValueError naming the field (e.g. `resnet_time_scale_shift="scale_shift"`, `time_embedding_type="fourier"`).
"""

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import safetensors_io  # noqa: E402

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"


# ---- config handling shared by the three models ----


class ConfigMixin:
    """`from_config(dict)` with diffusers' field names and defaults; refuses values the engine does not implement."""

    DEFAULTS: dict = {}
    # field -> allowed values; a field not listed here accepts any value
    ONLY: dict = {}

    @classmethod
    def check_config(cls, config):
        unknown = sorted(k for k in config if not k.startswith("_") and k not in cls.DEFAULTS)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown config field(s) {unknown}")
        if config.get("_class_name", cls.__name__) != cls.__name__:
            raise ValueError(f"{cls.__name__}: config is for {config['_class_name']}")
        full = {**cls.DEFAULTS, **{k: v for k, v in config.items() if not k.startswith("_")}}
        for field, allowed in cls.ONLY.items():
            if full[field] not in allowed:
                raise ValueError(f"{cls.__name__}: {field}={full[field]!r} is not supported (only {allowed!r})")
        return full

    @classmethod
    def from_config(cls, config):
        return cls(cls.check_config(config))

    def to_config(self):
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in self.config.items()}
        return {"_class_name": type(self).__name__, **plain}

    def save_pretrained(self, directory, metadata=None):
        """Writes config.json and diffusion_pytorch_model.safetensors (F32) as diffusers' save_pretrained does."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.to_config(), indent=2) + "\n")
        state = {k: v.detach().float().contiguous() for k, v in self.state_dict().items()}
        return safetensors_io.write(directory / WEIGHTS_NAME, state, metadata)

    @classmethod
    def from_pretrained(cls, directory):
        directory = Path(directory)
        model = cls.from_config(json.loads((directory / CONFIG_NAME).read_text()))
        tensors, _ = safetensors_io.read(directory / WEIGHTS_NAME)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        return model.eval()


def per_block(value, n, name):
    """diffusers lets several fields be one value for every block or a list with one value per block."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} blocks")
        return list(value)
    return [value] * n


# ---- embeddings.py ----


def timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift, max_period=10000):
    """get_timestep_embedding: (N,) float -> (N, dim) sinusoids, computed in float32."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - downscale_freq_shift)
    angles = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels, flip_sin_to_cos, downscale_freq_shift):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift

    def forward(self, timesteps):
        return timestep_embedding(timesteps, self.num_channels, self.flip_sin_to_cos, self.downscale_freq_shift)


class TimestepEmbedding(nn.Module):
    """linear_1 -> SiLU -> linear_2."""

    def __init__(self, in_channels, time_embed_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample):
        return self.linear_2(self.act(self.linear_1(sample)))


# ---- resnet.py ----


class ResnetBlock2D(nn.Module):
    """time_embedding_norm "default": GroupNorm, SiLU, conv, + time projection, GroupNorm, SiLU, conv, + shortcut."""

    def __init__(self, in_channels, out_channels, temb_channels, eps, groups, dropout=0.0, output_scale_factor=1.0):
        super().__init__()
        self.output_scale_factor = output_scale_factor
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels is not None else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)
        self.nonlinearity = nn.SiLU()
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, input_tensor, temb):
        h = self.conv1(self.nonlinearity(self.norm1(input_tensor)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        h = self.conv2(self.dropout(self.nonlinearity(self.norm2(h))))
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        return (input_tensor + h) / self.output_scale_factor


class Downsample2D(nn.Module):
    """3x3 conv with stride 2; with padding 0 the input is first padded by one row and column at the end."""

    def __init__(self, channels, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0.0)
        return self.conv(x)


class Upsample2D(nn.Module):
    """nearest x2 (or to `output_size`), then a 3x3 conv."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, output_size=None):
        if output_size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=output_size, mode="nearest")
        return self.conv(x)


# ---- attention_processor.py / attention.py ----


class Attention(nn.Module):
    """diffusers' Attention with AttnProcessor semantics: optional GroupNorm over channels of a (B,C,H,W) input,
    multi-head softmax(q k^T / sqrt(dim_head)) v, to_out.0, optional residual and output rescale."""

    def __init__(self, query_dim, heads, dim_head, cross_attention_dim=None, bias=False, norm_num_groups=None, eps=1e-5,
                 residual_connection=False, rescale_output_factor=1.0, dropout=0.0):
        super().__init__()
        inner_dim = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.residual_connection = residual_connection
        self.rescale_output_factor = rescale_output_factor
        kv_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.group_norm = (nn.GroupNorm(norm_num_groups, query_dim, eps=eps, affine=True)
                           if norm_num_groups is not None else None)
        self.to_q = nn.Linear(query_dim, inner_dim, bias=bias)
        self.to_k = nn.Linear(kv_dim, inner_dim, bias=bias)
        self.to_v = nn.Linear(kv_dim, inner_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner_dim, query_dim, bias=True), nn.Dropout(dropout)])

    def forward(self, hidden_states, encoder_hidden_states=None):
        residual = hidden_states
        spatial = hidden_states.dim() == 4
        if spatial:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.reshape(b, c, h * w).transpose(1, 2)  # (B, L, C)
        if self.group_norm is not None:
            hidden_states = self.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q, k, v = self.to_q(hidden_states), self.to_k(context), self.to_v(context)
        batch = q.shape[0]
        split = lambda t: t.reshape(batch, t.shape[1], self.heads, -1).transpose(1, 2)  # (B, H, L, D)
        q, k, v = split(q), split(k), split(v)
        weights = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, q.shape[2], -1)
        out = self.to_out[1](self.to_out[0](out))
        if spatial:
            out = out.transpose(1, 2).reshape(b, c, h, w)
        if self.residual_connection:
            out = out + residual
        return out / self.rescale_output_factor


def spatial_attention(channels, attention_head_dim, groups, eps, output_scale_factor=1.0):
    """The self-attention of AttnDownBlock2D, AttnUpBlock2D and UNetMidBlock2D (`_from_deprecated_attn_block`)."""
    return Attention(channels, heads=channels // attention_head_dim, dim_head=attention_head_dim, bias=True,
                     norm_num_groups=groups, eps=eps, residual_connection=True,
                     rescale_output_factor=output_scale_factor)


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    """net.0 = GEGLU(dim, 4 dim), net.1 = Dropout, net.2 = Linear(4 dim, dim)."""

    def __init__(self, dim, mult=4, dropout=0.0):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim)])

    def forward(self, x):
        for module in self.net:
            x = module(x)
        return x


class BasicTransformerBlock(nn.Module):
    """norm_type "layer_norm", only_cross_attention False: self-attention, cross-attention, GEGLU feed-forward."""

    def __init__(self, dim, heads, dim_head, cross_attention_dim, dropout=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.attn1 = Attention(dim, heads, dim_head, bias=False, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim=cross_attention_dim, bias=False,
                               dropout=dropout)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.ff = FeedForward(dim, dropout=dropout)

    def forward(self, x, encoder_hidden_states):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    """Continuous input: GroupNorm (eps 1e-6), proj_in (1x1 conv, or linear after flattening), blocks, proj_out,
    plus the input."""

    def __init__(self, heads, dim_head, in_channels, num_layers, cross_attention_dim, norm_num_groups,
                 use_linear_projection, dropout=0.0):
        super().__init__()
        inner = heads * dim_head
        self.use_linear_projection = use_linear_projection
        self.norm = nn.GroupNorm(norm_num_groups, in_channels, eps=1e-6, affine=True)
        if use_linear_projection:
            self.proj_in = nn.Linear(in_channels, inner)
            self.proj_out = nn.Linear(inner, in_channels)
        else:
            self.proj_in = nn.Conv2d(in_channels, inner, 1)
            self.proj_out = nn.Conv2d(inner, in_channels, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, dim_head, cross_attention_dim, dropout) for _ in range(num_layers)])

    def forward(self, hidden_states, encoder_hidden_states):
        b, _, h, w = hidden_states.shape
        residual = hidden_states
        x = self.norm(hidden_states)
        if not self.use_linear_projection:
            x = self.proj_in(x)
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, x.shape[1])  # (B, L, C)
        if self.use_linear_projection:
            x = self.proj_in(x)
        for block in self.transformer_blocks:
            x = block(x, encoder_hidden_states)
        if self.use_linear_projection:
            x = self.proj_out(x)
        x = x.reshape(b, h, w, x.shape[-1]).permute(0, 3, 1, 2)
        if not self.use_linear_projection:
            x = self.proj_out(x)
        return x + residual


# ---- unet_2d_blocks.py ----
# Down blocks: forward(h, temb, encoder_hidden_states) -> (h, skip outputs). Up blocks consume the skips from the end.


class DownBlock(nn.Module):
    """DownBlock2D / AttnDownBlock2D / CrossAttnDownBlock2D / DownEncoderBlock2D: `resnets`, optional `attentions`
    (one after each resnet), optional `downsamplers`."""

    def __init__(self, resnets, attentions, add_downsample, out_channels, downsample_padding):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions is not None:
            self.attentions = nn.ModuleList(attentions)
        self.downsamplers = (nn.ModuleList([Downsample2D(out_channels, downsample_padding)])
                             if add_downsample else None)

    def forward(self, h, temb=None, encoder_hidden_states=None):
        attentions = getattr(self, "attentions", [None] * len(self.resnets))
        skips = ()
        for resnet, attention in zip(self.resnets, attentions):
            h = resnet(h, temb)
            if isinstance(attention, Transformer2DModel):
                h = attention(h, encoder_hidden_states)
            elif attention is not None:
                h = attention(h)
            skips += (h,)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            skips += (h,)
        return h, skips


class UpBlock(nn.Module):
    """UpBlock2D / AttnUpBlock2D / CrossAttnUpBlock2D (skips concatenated on channels) and UpDecoderBlock2D (none)."""

    def __init__(self, resnets, attentions, add_upsample, out_channels):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions is not None:
            self.attentions = nn.ModuleList(attentions)
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, h, skips=(), temb=None, encoder_hidden_states=None, upsample_size=None):
        attentions = getattr(self, "attentions", [None] * len(self.resnets))
        for resnet, attention in zip(self.resnets, attentions):
            if skips:
                h = torch.cat([h, skips[-1]], dim=1)
                skips = skips[:-1]
            h = resnet(h, temb)
            if isinstance(attention, Transformer2DModel):
                h = attention(h, encoder_hidden_states)
            elif attention is not None:
                h = attention(h)
        if self.upsamplers is not None:
            h = self.upsamplers[0](h, upsample_size)
        return h


class MidBlock(nn.Module):
    """UNetMidBlock2D (self-attention, or none with add_attention false) and UNetMidBlock2DCrossAttn:
    resnets[0], then (attention, resnet) once."""

    def __init__(self, resnets, attentions):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions is not None:
            self.attentions = nn.ModuleList(attentions)

    def forward(self, h, temb=None, encoder_hidden_states=None):
        h = self.resnets[0](h, temb)
        attentions = getattr(self, "attentions", [None] * (len(self.resnets) - 1))
        for attention, resnet in zip(attentions, self.resnets[1:]):
            if isinstance(attention, Transformer2DModel):
                h = attention(h, encoder_hidden_states)
            elif attention is not None:
                h = attention(h)
            h = resnet(h, temb)
        return h


def make_down_block(kind, num_layers, in_channels, out_channels, temb_channels, add_downsample, eps, groups,
                    downsample_padding, attention_head_dim=None, heads=None, transformer_layers=1,
                    cross_attention_dim=None, use_linear_projection=False, dropout=0.0):
    resnets = [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, eps, groups, dropout)
               for i in range(num_layers)]
    if kind in ("DownBlock2D", "DownEncoderBlock2D"):
        attentions = None
    elif kind == "AttnDownBlock2D":
        attentions = [spatial_attention(out_channels, attention_head_dim, groups, eps) for _ in range(num_layers)]
    elif kind == "CrossAttnDownBlock2D":
        attentions = [Transformer2DModel(heads, out_channels // heads, out_channels, transformer_layers,
                                         cross_attention_dim, groups, use_linear_projection, dropout)
                      for _ in range(num_layers)]
    else:
        raise ValueError(f"down block type {kind!r} is not supported")
    return DownBlock(resnets, attentions, add_downsample, out_channels, downsample_padding)


def make_up_block(kind, num_layers, in_channels, out_channels, prev_output_channel, temb_channels, add_upsample, eps,
                  groups, attention_head_dim=None, heads=None, transformer_layers=1, cross_attention_dim=None,
                  use_linear_projection=False, dropout=0.0):
    if kind == "UpDecoderBlock2D":
        resnets = [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, eps, groups,
                                 dropout) for i in range(num_layers)]
        return UpBlock(resnets, None, add_upsample, out_channels)
    # the last resnet takes the skip of the previous level's input; the first one takes the block below's output
    resnets = [ResnetBlock2D((prev_output_channel if i == 0 else out_channels)
                             + (in_channels if i == num_layers - 1 else out_channels),
                             out_channels, temb_channels, eps, groups, dropout) for i in range(num_layers)]
    if kind == "UpBlock2D":
        attentions = None
    elif kind == "AttnUpBlock2D":
        attentions = [spatial_attention(out_channels, attention_head_dim, groups, eps) for _ in range(num_layers)]
    elif kind == "CrossAttnUpBlock2D":
        attentions = [Transformer2DModel(heads, out_channels // heads, out_channels, transformer_layers,
                                         cross_attention_dim, groups, use_linear_projection, dropout)
                      for _ in range(num_layers)]
    else:
        raise ValueError(f"up block type {kind!r} is not supported")
    return UpBlock(resnets, attentions, add_upsample, out_channels)


def make_mid_block(channels, temb_channels, eps, groups, output_scale_factor=1.0, attention_head_dim=None,
                   attn_groups=None, add_attention=True, heads=None, cross_attention_dim=None, transformer_layers=1,
                   use_linear_projection=False, dropout=0.0):
    """heads given: UNetMidBlock2DCrossAttn; otherwise UNetMidBlock2D."""
    resnets = [ResnetBlock2D(channels, channels, temb_channels, eps, groups, dropout, output_scale_factor)
               for _ in range(2)]
    if heads is not None:
        attentions = [Transformer2DModel(heads, channels // heads, channels, transformer_layers, cross_attention_dim,
                                         groups, use_linear_projection, dropout)]
    elif add_attention:
        head_dim = attention_head_dim if attention_head_dim is not None else channels
        attentions = [spatial_attention(channels, head_dim, attn_groups if attn_groups is not None else groups, eps,
                                        output_scale_factor)]
    else:
        attentions = None
    return MidBlock(resnets, attentions)


def check_divisible(channels, groups, name):
    if groups is None or channels % groups != 0:
        raise ValueError(f"{name}: {channels} channels are not divisible into {groups} groups")


# ---- unet_2d.py ----


class UNet2DModel(ConfigMixin, nn.Module):
    """sample (B, in_channels, H, W), timestep (B,) or scalar, class_labels (B,) int64 -> (B, out_channels, H, W)."""

    DEFAULTS = dict(
        sample_size=None, in_channels=3, out_channels=3, center_input_sample=False,
        time_embedding_type="positional", time_embedding_dim=None, freq_shift=0, flip_sin_to_cos=True,
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        mid_block_type="UNetMidBlock2D",
        up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(224, 448, 672, 896), layers_per_block=2, mid_block_scale_factor=1,
        downsample_padding=1, downsample_type="conv", upsample_type="conv", dropout=0.0, act_fn="silu",
        attention_head_dim=8, norm_num_groups=32, attn_norm_num_groups=None, norm_eps=1e-5,
        resnet_time_scale_shift="default", add_attention=True, class_embed_type=None, num_class_embeds=None,
        num_train_timesteps=None,
    )
    ONLY = dict(time_embedding_type=("positional",), time_embedding_dim=(None,), mid_block_type=("UNetMidBlock2D",),
                downsample_type=("conv",), upsample_type=("conv",), act_fn=("silu", "swish"),
                resnet_time_scale_shift=("default",), class_embed_type=(None,))

    def __init__(self, config):
        super().__init__()
        self.config = config = self.check_config(config)
        boc = list(config["block_out_channels"])
        n = len(boc)
        if len(config["down_block_types"]) != n or len(config["up_block_types"]) != n:
            raise ValueError("UNet2DModel: block_out_channels, down_block_types and up_block_types differ in length")
        groups, eps, head_dim = config["norm_num_groups"], config["norm_eps"], config["attention_head_dim"]
        for c in boc:
            check_divisible(c, groups, "UNet2DModel")
        temb = boc[0] * 4
        self.conv_in = nn.Conv2d(config["in_channels"], boc[0], 3, padding=1)
        self.time_proj = Timesteps(boc[0], config["flip_sin_to_cos"], config["freq_shift"])
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        self.class_embedding = (nn.Embedding(config["num_class_embeds"], temb)
                                if config["num_class_embeds"] is not None else None)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(config["down_block_types"]):
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(make_down_block(
                kind, config["layers_per_block"], in_ch, out_ch, temb, i < n - 1, eps, groups,
                config["downsample_padding"], attention_head_dim=head_dim if head_dim is not None else out_ch,
                dropout=config["dropout"]))
        self.mid_block = make_mid_block(
            boc[-1], temb, eps, groups, config["mid_block_scale_factor"], head_dim,
            config["attn_norm_num_groups"], config["add_attention"], dropout=config["dropout"])
        self.up_blocks = nn.ModuleList()
        rev = boc[::-1]
        out_ch = rev[0]
        for i, kind in enumerate(config["up_block_types"]):
            prev, out_ch = out_ch, rev[i]
            self.up_blocks.append(make_up_block(
                kind, config["layers_per_block"] + 1, rev[min(i + 1, n - 1)], out_ch, prev, temb, i < n - 1, eps,
                groups, attention_head_dim=head_dim if head_dim is not None else out_ch, dropout=config["dropout"]))
        self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], config["out_channels"], 3, padding=1)

    def time_and_class_embedding(self, sample, timestep, class_labels):
        timesteps = torch.as_tensor(timestep)
        if timesteps.dim() == 0:
            timesteps = timesteps[None]
        timesteps = timesteps * torch.ones(sample.shape[0], dtype=timesteps.dtype)
        emb = self.time_embedding(self.time_proj(timesteps))
        if self.class_embedding is not None:
            if class_labels is None:
                raise ValueError("class_labels should be provided when doing class conditioning")
            emb = emb + self.class_embedding(class_labels)
        elif class_labels is not None:
            raise ValueError("class_embedding needs to be initialized in order to use class conditioning")
        return emb

    def forward(self, sample, timestep, class_labels=None):
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        emb = self.time_and_class_embedding(sample, timestep, class_labels)
        h = self.conv_in(sample)
        skips = (h,)
        for block in self.down_blocks:
            h, res = block(h, emb)
            skips += res
        h = self.mid_block(h, emb)
        for block in self.up_blocks:
            k = len(block.resnets)
            h, skips = block(h, skips[-k:], emb), skips[:-k]
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))


# ---- unet_2d_condition.py ----


class UNet2DConditionModel(ConfigMixin, nn.Module):
    """sample (B, in, H, W), timestep (B,) or scalar, encoder_hidden_states (B, L, cross_attention_dim) -> (B, out, H, W).

    Naming quirk kept from diffusers: `attention_head_dim` is the NUMBER OF HEADS of every Transformer2DModel
    (diffusers sets num_attention_heads = attention_head_dim); each head has channels // attention_head_dim dims.
    """

    DEFAULTS = dict(
        sample_size=None, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True,
        freq_shift=0,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn",
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        only_cross_attention=False, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        downsample_padding=1, mid_block_scale_factor=1, dropout=0.0, act_fn="silu", norm_num_groups=32,
        norm_eps=1e-5, cross_attention_dim=1280, transformer_layers_per_block=1,
        reverse_transformer_layers_per_block=None, encoder_hid_dim=None, encoder_hid_dim_type=None,
        attention_head_dim=8, num_attention_heads=None, dual_cross_attention=False, use_linear_projection=False,
        class_embed_type=None, addition_embed_type=None, addition_time_embed_dim=None, num_class_embeds=None,
        upcast_attention=False, resnet_time_scale_shift="default", resnet_skip_time_act=False,
        resnet_out_scale_factor=1.0, time_embedding_type="positional", time_embedding_dim=None,
        time_embedding_act_fn=None, timestep_post_act=None, time_cond_proj_dim=None, conv_in_kernel=3,
        conv_out_kernel=3, projection_class_embeddings_input_dim=None, attention_type="default",
        class_embeddings_concat=False, mid_block_only_cross_attention=None, cross_attention_norm=None,
        addition_embed_type_num_heads=64,
    )
    ONLY = dict(
        mid_block_type=("UNetMidBlock2DCrossAttn",), only_cross_attention=(False,),
        reverse_transformer_layers_per_block=(None,), encoder_hid_dim=(None,), encoder_hid_dim_type=(None,),
        num_attention_heads=(None,), dual_cross_attention=(False,), class_embed_type=(None,),
        addition_embed_type=(None,), resnet_time_scale_shift=("default",), resnet_skip_time_act=(False,),
        time_embedding_type=("positional",), time_embedding_act_fn=(None,), timestep_post_act=(None,),
        time_cond_proj_dim=(None,), act_fn=("silu", "swish"), attention_type=("default",),
        class_embeddings_concat=(False,), mid_block_only_cross_attention=(None, False), cross_attention_norm=(None,),
    )

    def __init__(self, config):
        super().__init__()
        self.config = config = self.check_config(config)
        boc = list(config["block_out_channels"])
        n = len(boc)
        if len(config["down_block_types"]) != n or len(config["up_block_types"]) != n:
            raise ValueError("UNet2DConditionModel: block_out_channels, down_block_types and up_block_types differ "
                             "in length")
        groups, eps, dropout = config["norm_num_groups"], config["norm_eps"], config["dropout"]
        for c in boc:
            check_divisible(c, groups, "UNet2DConditionModel")
        heads = per_block(config["attention_head_dim"], n, "attention_head_dim")
        cross = per_block(config["cross_attention_dim"], n, "cross_attention_dim")
        layers = per_block(config["layers_per_block"], n, "layers_per_block")
        tlayers = per_block(config["transformer_layers_per_block"], n, "transformer_layers_per_block")
        linear = config["use_linear_projection"]
        for c, h in zip(boc, heads):
            if c % h != 0:
                raise ValueError(f"UNet2DConditionModel: {c} channels are not divisible into {h} attention heads")
        k_in, k_out = config["conv_in_kernel"], config["conv_out_kernel"]
        temb = config["time_embedding_dim"] or boc[0] * 4
        self.conv_in = nn.Conv2d(config["in_channels"], boc[0], k_in, padding=(k_in - 1) // 2)
        self.time_proj = Timesteps(boc[0], config["flip_sin_to_cos"], config["freq_shift"])
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        self.class_embedding = (nn.Embedding(config["num_class_embeds"], temb)
                                if config["num_class_embeds"] is not None else None)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(config["down_block_types"]):
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(make_down_block(
                kind, layers[i], in_ch, out_ch, temb, i < n - 1, eps, groups, config["downsample_padding"],
                heads=heads[i], transformer_layers=tlayers[i], cross_attention_dim=cross[i],
                use_linear_projection=linear, dropout=dropout))
        self.mid_block = make_mid_block(
            boc[-1], temb, eps, groups, config["mid_block_scale_factor"], heads=heads[-1],
            cross_attention_dim=cross[-1], transformer_layers=tlayers[-1], use_linear_projection=linear,
            dropout=dropout)
        self.up_blocks = nn.ModuleList()
        rev, rheads, rcross, rlayers, rtlayers = boc[::-1], heads[::-1], cross[::-1], layers[::-1], tlayers[::-1]
        out_ch = rev[0]
        for i, kind in enumerate(config["up_block_types"]):
            prev, out_ch = out_ch, rev[i]
            self.up_blocks.append(make_up_block(
                kind, rlayers[i] + 1, rev[min(i + 1, n - 1)], out_ch, prev, temb, i < n - 1, eps, groups,
                heads=rheads[i], transformer_layers=rtlayers[i], cross_attention_dim=rcross[i],
                use_linear_projection=linear, dropout=dropout))
        self.num_upsamplers = n - 1
        if groups is not None:
            self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
            self.conv_act = nn.SiLU()
        else:
            self.conv_norm_out = self.conv_act = None
        self.conv_out = nn.Conv2d(boc[0], config["out_channels"], k_out, padding=(k_out - 1) // 2)

    time_and_class_embedding = UNet2DModel.time_and_class_embedding

    def forward(self, sample, timestep, encoder_hidden_states, class_labels=None):
        # sizes that are not a multiple of 2**num_upsamplers upsample to the skip's size, as diffusers does
        factor = 2 ** self.num_upsamplers
        forward_upsample_size = any(s % factor != 0 for s in sample.shape[-2:])
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        emb = self.time_and_class_embedding(sample, timestep, class_labels)
        h = self.conv_in(sample)
        skips = (h,)
        for block in self.down_blocks:
            h, res = block(h, emb, encoder_hidden_states)
            skips += res
        h = self.mid_block(h, emb, encoder_hidden_states)
        for i, block in enumerate(self.up_blocks):
            k = len(block.resnets)
            res, skips = skips[-k:], skips[:-k]
            size = skips[-1].shape[2:] if forward_upsample_size and i < len(self.up_blocks) - 1 else None
            h = block(h, res, emb, encoder_hidden_states, size)
        if self.conv_norm_out is not None:
            h = self.conv_act(self.conv_norm_out(h))
        return self.conv_out(h)


# ---- autoencoders/vae.py, autoencoder_kl.py ----


class Encoder(nn.Module):
    def __init__(self, in_channels, out_channels, down_block_types, block_out_channels, layers_per_block,
                 norm_num_groups, mid_block_add_attention):
        super().__init__()
        boc = block_out_channels
        self.conv_in = nn.Conv2d(in_channels, boc[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(down_block_types):
            if kind != "DownEncoderBlock2D":
                raise ValueError(f"AutoencoderKL: down block type {kind!r} is not supported")
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(make_down_block(kind, layers_per_block, in_ch, out_ch, None, i < len(boc) - 1,
                                                    1e-6, norm_num_groups, downsample_padding=0))
        self.mid_block = make_mid_block(boc[-1], None, 1e-6, norm_num_groups, attention_head_dim=boc[-1],
                                        add_attention=mid_block_add_attention)
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, boc[-1], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[-1], 2 * out_channels, 3, padding=1)  # double_z: mean and log-variance

    def forward(self, x):
        h = self.conv_in(x)
        for block in self.down_blocks:
            h, _ = block(h)
        h = self.mid_block(h)
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, in_channels, out_channels, up_block_types, block_out_channels, layers_per_block,
                 norm_num_groups, mid_block_add_attention):
        super().__init__()
        rev = list(block_out_channels)[::-1]
        self.conv_in = nn.Conv2d(in_channels, rev[0], 3, padding=1)
        self.mid_block = make_mid_block(rev[0], None, 1e-6, norm_num_groups, attention_head_dim=rev[0],
                                        add_attention=mid_block_add_attention)
        self.up_blocks = nn.ModuleList()
        out_ch = rev[0]
        for i, kind in enumerate(up_block_types):
            if kind != "UpDecoderBlock2D":
                raise ValueError(f"AutoencoderKL: up block type {kind!r} is not supported")
            prev, out_ch = out_ch, rev[i]
            self.up_blocks.append(make_up_block(kind, layers_per_block + 1, prev, out_ch, None, None,
                                                i < len(rev) - 1, 1e-6, norm_num_groups))
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, rev[-1], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(rev[-1], out_channels, 3, padding=1)

    def forward(self, z):
        h = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            h = block(h)
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))


class DiagonalGaussianDistribution:
    """moments (B, 2C, H, W) -> mean, logvar clamped to [-30, 20], std = exp(logvar / 2)."""

    def __init__(self, moments):
        self.mean, logvar = torch.chunk(moments, 2, dim=1)
        self.logvar = torch.clamp(logvar, -30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator=None):
        return self.mean + self.std * torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)


class AutoencoderKL(ConfigMixin, nn.Module):
    """encode(x) -> DiagonalGaussianDistribution; decode(z) -> image. Neither applies `scaling_factor`: diffusers'
    pipelines multiply latents by it after encoding and divide by it before decoding."""

    DEFAULTS = dict(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",), block_out_channels=(64,), layers_per_block=1, act_fn="silu",
        latent_channels=4, norm_num_groups=32, sample_size=32, scaling_factor=0.18215, shift_factor=None,
        latents_mean=None, latents_std=None, force_upcast=True, use_quant_conv=True, use_post_quant_conv=True,
        mid_block_add_attention=True,
    )
    ONLY = dict(act_fn=("silu", "swish"))

    def __init__(self, config):
        super().__init__()
        self.config = config = self.check_config(config)
        if len(config["down_block_types"]) != len(config["block_out_channels"]) or \
                len(config["up_block_types"]) != len(config["block_out_channels"]):
            raise ValueError("AutoencoderKL: block_out_channels, down_block_types and up_block_types differ in length")
        for c in config["block_out_channels"]:
            check_divisible(c, config["norm_num_groups"], "AutoencoderKL")
        latent = config["latent_channels"]
        common = dict(block_out_channels=list(config["block_out_channels"]),
                      layers_per_block=config["layers_per_block"], norm_num_groups=config["norm_num_groups"],
                      mid_block_add_attention=config["mid_block_add_attention"])
        self.encoder = Encoder(config["in_channels"], latent, config["down_block_types"], **common)
        self.decoder = Decoder(latent, config["out_channels"], config["up_block_types"], **common)
        self.quant_conv = nn.Conv2d(2 * latent, 2 * latent, 1) if config["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(latent, latent, 1) if config["use_post_quant_conv"] else None

    def encode(self, x):
        moments = self.encoder(x)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        return DiagonalGaussianDistribution(moments)

    def decode(self, z):
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def forward(self, x, generator=None):
        return self.decode(self.encode(x).sample(generator))
