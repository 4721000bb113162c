"""blur2vid on diffusers' CogVideoX classes: the conditioned transformer and the sampling loop.

Written from the specification in ``shared/reference/blur2vid-model.md`` (no code from the
official repository). Everything here imports torch/diffusers, so only ``blur2vid.py`` imports
this module, inside functions.

The model (CogVideoX-2B fine-tuned) differs from diffusers' ``CogVideoXTransformer3DModel`` in one
place, the patch embedding: every latent frame gets ``blur_proj(sinusoid(intervals)) +
blur_condition[is_blur_frame]`` added to its patch-conv output (broadcast over the frame's
patches). The blurred photo's latent is latent frame 0 (a temporal concatenation), unnoised and
re-imposed before every transformer call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXTransformer3DModel
from diffusers.models.embeddings import CogVideoXPatchEmbed
from diffusers.utils.torch_utils import randn_tensor

from ..exposure import interval_encoding

#: sinusoid size per interval coordinate (12 frequencies, sin then cos)
FEATURES_PER_SCALAR = 24
#: raw frames per latent frame of the causal VAE
FRAMES_PER_LATENT = 4
#: interval coordinates per latent frame: 4 frames x [start, end]
COORDS_PER_LATENT = 2 * FRAMES_PER_LATENT
BLUR_FEATURES = FEATURES_PER_SCALAR * COORDS_PER_LATENT  # 192

BLUR_KEYS = ("patch_embed.blur_proj.weight", "patch_embed.blur_proj.bias", "patch_embed.blur_condition")


# ---------------------------------------------------------------------------------------------
# conditioning layout (pure numpy; unit-tested on its own)
# ---------------------------------------------------------------------------------------------
def latent_frames(num_frames: int) -> int:
    """Latent frames of the causal VAE for ``num_frames`` video frames: (n - 1) // 4 + 1."""
    return (int(num_frames) - 1) // FRAMES_PER_LATENT + 1


def conditioning_layout(output_rows: np.ndarray, num_frames: int = 17,
                        input_interval: tuple[float, float] = (-0.5, 0.5)) -> tuple[np.ndarray, np.ndarray]:
    """Grouped interval tensor and condition mask for one model call.

    output_rows: (F, 2) intervals in exposure units, F <= num_frames - 1 (the model's padding
    slot). They are padded to ``num_frames`` rows by repeating the last one, then to a multiple of
    4 by repeating the first one at the front, and each group of 4 is flattened to
    [s0, e0, ..., s3, e3]. The blurred photo's row (``input_interval`` x4) goes first.

    Returns intervals (1 + latent_frames(num_frames), 8) float32 and mask (same length,) bool with
    only the blur frame True.
    """
    from ..exposure import group_intervals
    from ..types import Intervals

    rows = np.asarray(output_rows, np.float64).reshape(-1, 2)
    if not 1 <= len(rows) <= int(num_frames) - 1:
        from ..errors import InputError

        raise InputError(f"blur2vid: one model call holds 1..{int(num_frames) - 1} intervals "
                         f"(plus the padding slot), got {len(rows)}")
    out = group_intervals(Intervals(rows), FRAMES_PER_LATENT, pad_to=int(num_frames))
    blur = np.tile(np.asarray(input_interval, np.float64), FRAMES_PER_LATENT)[None]
    grouped = np.concatenate([blur, out]).astype(np.float32)
    mask = np.zeros(len(grouped), bool)
    mask[0] = True
    return grouped, mask


def interval_sinusoids(intervals: np.ndarray | torch.Tensor) -> np.ndarray:
    """(..., F_lat, 8) grouped intervals -> (..., F_lat, 192) float64 sinusoid features."""
    x = intervals.detach().cpu().double().numpy() if isinstance(intervals, torch.Tensor) else np.asarray(intervals)
    return interval_encoding(x.astype(np.float64), num_freqs=FEATURES_PER_SCALAR // 2)


# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
class BlurPatchEmbed(CogVideoXPatchEmbed):
    """diffusers' CogVideoX patch embedding plus the blur2vid frame conditioning.

    Extra parameters: ``blur_proj`` (Linear 192 -> inner dim) over the interval sinusoids and
    ``blur_condition`` (2, inner dim): row 0 for the blurred-photo frame, row 1 for generated
    frames. The conditioning for the next forward is given with :meth:`condition`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blur_proj = torch.nn.Linear(BLUR_FEATURES, self.embed_dim)
        self.blur_condition = torch.nn.Parameter(torch.zeros(2, self.embed_dim))
        self._frame_term: torch.Tensor | None = None
        self._pos_cache: dict[tuple, torch.Tensor] = {}

    def frame_embedding(self, intervals: torch.Tensor, condition_mask: torch.Tensor) -> torch.Tensor:
        """(B|1, F_lat, 8) intervals and (B|1, F_lat) bool mask -> (B|1, F_lat, D) term added to
        every patch of that frame."""
        feats = torch.from_numpy(interval_sinusoids(intervals)).to(
            device=self.blur_proj.weight.device, dtype=torch.float32)
        info = self.blur_proj(feats.to(self.blur_proj.weight.dtype))
        mask = condition_mask.to(device=info.device, dtype=torch.bool)
        cond = torch.where(mask[..., None], self.blur_condition[0], self.blur_condition[1])
        return info + cond.to(info.dtype)

    def positional_embedding(self, height: int, width: int, frames: int, device: torch.device,
                             dtype: torch.dtype) -> torch.Tensor:
        """diffusers' 3D sin-cos table for this grid, computed once per size and cached (the
        stock module recomputes it on every forward when the grid differs from the config)."""
        key = (height, width, frames, str(device), dtype)
        table = self._pos_cache.get(key)
        if table is None:
            table = self._get_positional_embeddings(height, width, frames, device=device).to(dtype=dtype)
            self._pos_cache = {key: table}
        return table

    def forward(self, text_embeds: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        if (self.patch_size_t is not None or self.use_learned_positional_embeddings
                or not self.use_positional_embeddings):
            raise NotImplementedError("blur2vid uses the CogVideoX-2B layout (no temporal patching, sin-cos "
                                      "positions); this transformer config is not supported")
        if self._frame_term is None:
            raise RuntimeError("BlurPatchEmbed: no interval conditioning given (call through Blur2VidTransformer)")
        text = self.text_proj(text_embeds)
        b, f, c, h, w = image_embeds.shape
        video = self.proj(image_embeds.reshape(b * f, c, h, w))
        video = video.view(b, f, *video.shape[1:])  # (B, F, D, h', w')
        term = self._frame_term.to(video.dtype).expand(b, f, -1)
        video = video + term[..., None, None]
        video = video.flatten(3).transpose(2, 3).flatten(1, 2)  # frame-major, then row-major
        embeds = torch.cat([text, video], dim=1).contiguous()
        pos = self.positional_embedding(h, w, (f - 1) * self.temporal_compression_ratio + 1, embeds.device,
                                        embeds.dtype)
        return embeds + pos


class Blur2VidTransformer(CogVideoXTransformer3DModel):
    """``CogVideoXTransformer3DModel`` with :class:`BlurPatchEmbed` (same config, 3 more tensors).

    ``forward(hidden_states, encoder_hidden_states, timestep, intervals, condition_mask)``: the
    intervals (B|1, F_lat, 8) and mask (B|1, F_lat) broadcast over the batch.
    """

    @functools.wraps(CogVideoXTransformer3DModel.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        old = self.patch_embed
        cfg = self.config
        self.patch_embed = BlurPatchEmbed(
            patch_size=cfg.patch_size, patch_size_t=cfg.patch_size_t, in_channels=cfg.in_channels,
            embed_dim=old.embed_dim, text_embed_dim=cfg.text_embed_dim, bias=cfg.patch_bias,
            sample_width=cfg.sample_width, sample_height=cfg.sample_height, sample_frames=cfg.sample_frames,
            temporal_compression_ratio=cfg.temporal_compression_ratio,
            max_text_seq_length=cfg.max_text_seq_length,
            spatial_interpolation_scale=cfg.spatial_interpolation_scale,
            temporal_interpolation_scale=cfg.temporal_interpolation_scale,
            use_positional_embeddings=not cfg.use_rotary_positional_embeddings,
            use_learned_positional_embeddings=cfg.use_learned_positional_embeddings,
        )

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor,  # type: ignore[override]
                timestep: torch.Tensor | int, intervals: torch.Tensor | None = None,
                condition_mask: torch.Tensor | None = None, *, frame_embedding: torch.Tensor | None = None,
                return_dict: bool = False, **kwargs: Any) -> Any:
        """``frame_embedding`` (precomputed by :meth:`BlurPatchEmbed.frame_embedding`) may replace
        intervals + mask; the sampling loop computes it once per call, not once per step."""
        pe = self.patch_embed
        if frame_embedding is None:
            if intervals is None or condition_mask is None:
                raise TypeError("Blur2VidTransformer.forward needs intervals and condition_mask")
            frame_embedding = pe.frame_embedding(intervals, condition_mask)
        pe._frame_term = frame_embedding
        try:
            return super().forward(hidden_states, encoder_hidden_states, timestep, return_dict=return_dict, **kwargs)
        finally:
            pe._frame_term = None


# ---------------------------------------------------------------------------------------------
# random draws
# ---------------------------------------------------------------------------------------------
class NoiseSource(Protocol):
    """Where the sampler's random draws come from (spec: initial latents, VAE posterior noise,
    then the scheduler's draws in call order)."""

    def initial(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor: ...

    def posterior(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor: ...

    def scheduler(self, step: int, draw: int, shape: tuple[int, ...], device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor | None: ...


@dataclass
class GeneratorNoise:
    """All draws from one ``torch.Generator``, in the official call order (2nd-order scheduler
    steps draw twice and use the second draw, so the same seed gives the same video)."""

    generator: torch.Generator

    def _draw(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        return randn_tensor(shape, generator=self.generator, device=device, dtype=dtype)

    def initial(self, shape, device, dtype):  # noqa: ANN001, D102
        return self._draw(shape, device, dtype)

    def posterior(self, shape, device, dtype):  # noqa: ANN001, D102
        return self._draw(shape, device, dtype)

    def scheduler(self, step, draw, shape, device, dtype):  # noqa: ANN001, D102
        return self._draw(shape, device, dtype)


@dataclass
class RecordedNoise:
    """Injected draws (tests): ``scheduler_draws`` maps ``"step{i}_draw{j}"`` to arrays; a draw
    that is computed-then-discarded may be missing (returns None)."""

    initial_latents: np.ndarray
    posterior_noise: np.ndarray
    scheduler_draws: dict[str, np.ndarray] = field(default_factory=dict)

    def initial(self, shape, device, dtype):  # noqa: ANN001, D102
        return _as_tensor(self.initial_latents, shape, device, dtype)

    def posterior(self, shape, device, dtype):  # noqa: ANN001, D102
        return _as_tensor(self.posterior_noise, shape, device, dtype)

    def scheduler(self, step, draw, shape, device, dtype):  # noqa: ANN001, D102
        arr = self.scheduler_draws.get(f"step{step}_draw{draw}")
        return None if arr is None else _as_tensor(arr, shape, device, dtype)


def _as_tensor(arr: np.ndarray, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(arr)).to(device=device, dtype=dtype)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"recorded noise: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    return t


# ---------------------------------------------------------------------------------------------
# scheduler step (CogVideoXDPMScheduler math, with the noise supplied by a NoiseSource)
# ---------------------------------------------------------------------------------------------
def dpm_step(scheduler: CogVideoXDPMScheduler, v: torch.Tensor, old_x0: torch.Tensor | None, t: int,
             t_back: int | None, sample: torch.Tensor, step: int,
             noise: NoiseSource) -> tuple[torch.Tensor, torch.Tensor]:
    """One stochastic DPM-Solver++(2M) step of ``CogVideoXDPMScheduler`` with v-prediction and
    eta 0, built on the scheduler's own ``alphas_cumprod``/``get_variables``/``get_mult``.
    Returns (next sample, predicted x0)."""
    cfg = scheduler.config
    if cfg.prediction_type != "v_prediction":
        raise ValueError(f"blur2vid expects a v_prediction scheduler, got {cfg.prediction_type!r}")
    prev_t = t - cfg.num_train_timesteps // scheduler.num_inference_steps
    a_t = scheduler.alphas_cumprod[t]
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    a_back = scheduler.alphas_cumprod[t_back] if t_back is not None else None
    x0 = (a_t ** 0.5) * sample - ((1 - a_t) ** 0.5) * v
    h, r, _, _ = scheduler.get_variables(a_t, a_prev, a_back)
    mult = list(scheduler.get_mult(h, r, a_t, a_prev, a_back))
    mult_noise = (1 - a_prev) ** 0.5 * (1 - (-2 * h).exp()) ** 0.5
    second_order = old_x0 is not None and prev_t >= 0
    z = noise.scheduler(step, 0, tuple(sample.shape), sample.device, sample.dtype)
    if not second_order:
        if z is None:
            raise ValueError(f"missing scheduler noise for step {step}")
        return mult[0] * sample - mult[1] * x0 + mult_noise * z, x0
    z = noise.scheduler(step, 1, tuple(sample.shape), sample.device, sample.dtype)
    if z is None:
        raise ValueError(f"missing scheduler noise for step {step}")
    d = mult[2] * x0 - mult[3] * old_x0
    return mult[0] * sample - mult[1] * d + mult_noise * z, x0


# ---------------------------------------------------------------------------------------------
# sampling loop
# ---------------------------------------------------------------------------------------------
@dataclass
class Trace:
    """Optional per-step record (tests, debugging): what the transformer saw and returned."""

    timesteps: list[torch.Tensor] = field(default_factory=list)
    model_inputs: list[torch.Tensor] = field(default_factory=list)
    model_outputs: list[torch.Tensor] = field(default_factory=list)
    pred_x0: list[torch.Tensor] = field(default_factory=list)
    latents: list[torch.Tensor] = field(default_factory=list)
    image_latents: torch.Tensor | None = None


@dataclass
class SampleResult:
    frames: np.ndarray  # (num_frames, H, W, 3) float32 in [0, 1]: every decoded frame
    latents: torch.Tensor  # (1, F_lat + 1, 16, h, w) final latents incl. the blur slot
    timings: dict[str, float]


StepCallback = Callable[[int, int], None]


class Blur2VidSampler:
    """The blur2vid sampling loop on loaded parts.

    ``prompt_embeds`` is T5("") (1, L, text_dim): the model's prompt is always empty, positive and
    negative. ``device``/``dtype``: where and in what precision the transformer and VAE run; the
    latents and the scheduler arithmetic stay float32. ``offload``: keep the models on the CPU and
    move each to ``device`` only while it runs.
    """

    def __init__(self, transformer: Blur2VidTransformer, vae: AutoencoderKLCogVideoX,
                 scheduler: CogVideoXDPMScheduler, prompt_embeds: torch.Tensor, *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 offload: bool = False) -> None:
        self.transformer, self.vae, self.scheduler = transformer, vae, scheduler
        self.prompt_embeds = prompt_embeds
        self.device, self.dtype, self.offload = torch.device(device), dtype, offload
        self.denoiser: Callable[..., Any] = transformer  # may be replaced by a torch.compile'd module

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def _on(self, module: torch.nn.Module) -> None:
        if self.offload:
            module.to(self.device)

    def _off(self, module: torch.nn.Module) -> None:
        if self.offload:
            module.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    @torch.no_grad()
    def encode(self, image: np.ndarray, noise: NoiseSource) -> torch.Tensor:
        """(H, W, 3) uint8 -> scaled posterior sample (1, 1, 16, h, w) float32."""
        x = torch.from_numpy(np.array(image, copy=True)).float() / 127.5 - 1.0  # official float mapping
        x = x.permute(2, 0, 1)[None, :, None].to(self.device, self.dtype)  # (1, 3, 1, H, W)
        self._on(self.vae)
        try:
            dist = self.vae.encode(x).latent_dist
        finally:
            self._off(self.vae)
        z = noise.posterior(tuple(dist.mean.shape), dist.mean.device, dist.mean.dtype)
        lat = dist.mean + dist.std * z
        return (lat.permute(0, 2, 1, 3, 4) * self.scaling_factor).float()

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """(1, F_lat, 16, h, w) generated latents -> (frames, H, W, 3) float32 in [0, 1]."""
        z = (latents.permute(0, 2, 1, 3, 4) / self.scaling_factor).to(self.device, self.dtype)
        self._on(self.vae)
        try:
            video = self.vae.decode(z).sample
        finally:
            self._off(self.vae)
        video = (video / 2 + 0.5).clamp(0, 1)
        return video[0].permute(1, 2, 3, 0).float().cpu().numpy()

    @torch.no_grad()
    def __call__(self, image: np.ndarray, output_rows: np.ndarray, *, steps: int = 50, guidance: float = 1.0,
                 num_frames: int = 17, noise: NoiseSource, on_step: StepCallback | None = None,
                 trace: Trace | None = None, input_interval: tuple[float, float] = (-0.5, 0.5)) -> SampleResult:
        """One generation: ``image`` (H, W, 3) uint8 at the model size, ``output_rows`` (F, 2) with
        F < num_frames. Returns all ``num_frames`` decoded frames (frame j shows row j)."""
        import time

        H, W = image.shape[:2]
        h, w = H // 8, W // 8
        timings: dict[str, float] = {}
        intervals_np, mask_np = conditioning_layout(output_rows, num_frames, input_interval)
        n_lat = latent_frames(num_frames)
        if len(intervals_np) != n_lat + 1:
            raise ValueError(f"conditioning has {len(intervals_np)} rows, expected {n_lat + 1}")
        dev = self.device
        channels = int(self.transformer.config.in_channels)

        t0 = time.perf_counter()
        init = noise.initial((1, n_lat, channels, h, w), torch.device("cpu"), torch.float32).to(dev)
        image_latents = self.encode(image, noise).to(dev)
        timings["vae_encode"] = time.perf_counter() - t0
        if trace is not None:
            trace.image_latents = image_latents.detach().cpu()

        latents = torch.cat([image_latents, init], dim=1)  # float32 (1, 1 + n_lat, 16, h, w)
        self.scheduler.set_timesteps(int(steps), device=dev)
        timesteps = self.scheduler.timesteps
        cfg = float(guidance) > 1.0
        text = self.prompt_embeds.to(dev, self.dtype)
        batch = 2 if cfg else 1
        text = text.expand(batch, -1, -1)

        t0 = time.perf_counter()
        self._on(self.transformer)
        try:
            pe = self.transformer.patch_embed
            frame_term = pe.frame_embedding(torch.from_numpy(intervals_np[None]), torch.from_numpy(mask_np[None]))
            zero = torch.zeros_like(image_latents)
            old_x0: torch.Tensor | None = None
            if on_step is not None:
                on_step(0, len(timesteps))
            for i, t in enumerate(timesteps):
                if not cfg:
                    # Without guidance the published pipeline writes the blur latent into the latents
                    # themselves (its model input aliases them), so the scheduler steps it too. The
                    # slot is never decoded; we mirror it so that the final latents match exactly.
                    latents[:, :1] = image_latents
                model_in = latents.repeat(batch, 1, 1, 1, 1)
                model_in[-1:, :1] = image_latents  # the cond half always sees the clean blur latent
                if cfg:
                    model_in[:1, :1] = zero  # the uncond half differs only here
                tt = t.expand(batch)
                v = self.denoiser(hidden_states=model_in.to(self.dtype), encoder_hidden_states=text, timestep=tt,
                                  frame_embedding=frame_term, return_dict=False)[0].float()
                if cfg:
                    v_u, v_c = v.chunk(2)
                    v_mix = v_u + float(guidance) * (v_c - v_u)
                else:
                    v_mix = v
                prev = timesteps[i - 1] if i > 0 else None
                latents, old_x0 = dpm_step(self.scheduler, v_mix, old_x0, int(t), None if prev is None else int(prev),
                                           latents, i, noise)
                if trace is not None:
                    trace.timesteps.append(tt.cpu().clone())
                    trace.model_inputs.append(model_in.cpu().clone())
                    trace.model_outputs.append(v.cpu().clone())
                    trace.pred_x0.append(old_x0.cpu().clone())
                    trace.latents.append(latents.cpu().clone())
                if on_step is not None:
                    on_step(i + 1, len(timesteps))
        finally:
            self._off(self.transformer)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        timings["denoise"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        frames = self.decode(latents[:, ~torch.from_numpy(mask_np).to(dev)])
        timings["vae_decode"] = time.perf_counter() - t0
        return SampleResult(frames=frames, latents=latents.cpu().clone(), timings=timings)
