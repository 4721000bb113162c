"""The ``blur2vid`` generation backend: the published model (CogVideoX-2B fine-tuned with
exposure-interval conditioning, Tedla et al., SIGGRAPH Asia 2025) in our own implementation on
diffusers' CogVideoX classes.

What it needs (nothing is downloaded unless ``allow_download=True``):

* ``weights``: the fine-tuned transformer state dict (``model.safetensors``), a file, a folder
  holding one, or a hub id (``tedlasai/blur2vid`` = ``cogvideox-outsidephotos/checkpoint/
  model.safetensors``; ``owner/name/path/in/repo.safetensors`` for another file). Env:
  ``BLUR4D_BLUR2VID_WEIGHTS``.
* ``base_model``: CogVideoX-2b in diffusers layout (``transformer/config.json``, ``vae/``,
  ``scheduler/``), a folder or a hub id. Env: ``BLUR4D_COGVIDEOX_BASE``. The base transformer's
  weights are never read.
* the T5 embedding of the empty prompt (the model's prompt is always ""): found in
  ``prompt_embeds`` (option), ``<base>/empty_prompt_embeds.safetensors`` or the cache folder
  (``$BLUR4D_CACHE_DIR``, default ``~/.cache/blur4d``); when none exists and the base model (or
  ``text_encoder``) has ``text_encoder/``, it is computed once, cached, and the 4.7B-parameter
  encoder is never loaded again. See ``third_party/blur2vid/README.md``.

Requests for more frames than one model call holds (16) run several calls; see
:meth:`Blur2VidGenerator.plan_calls` for how they are split and joined.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError, InputError, WeightsNotFoundError
from ..progress import NO_PROGRESS, Progress
from ..types import Generation, Intervals, Provenance, Video

log = logging.getLogger("blur4d.generate.blur2vid")

DEFAULT_WEIGHTS = "tedlasai/blur2vid"
DEFAULT_WEIGHTS_FILE = "cogvideox-outsidephotos/checkpoint/model.safetensors"
DEFAULT_BASE = "THUDM/CogVideoX-2b"
ENV_WEIGHTS = "BLUR4D_BLUR2VID_WEIGHTS"
ENV_BASE = "BLUR4D_COGVIDEOX_BASE"
ENV_CACHE = "BLUR4D_CACHE_DIR"
PROMPT_CACHE_NAME = "empty_prompt_embeds.safetensors"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/.+)?$")
_DTYPES = {"float32": "float32", "fp32": "float32", "float": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
           "float16": "float16", "fp16": "float16", "half": "float16"}
_DIRECTIONS = {"left-to-right": 0.0, "top-to-bottom": 90.0, "right-to-left": 180.0, "bottom-to-top": 270.0}


@dataclass
class Blur2VidGenerator:
    """The published blur2vid diffusion model as a generation backend (see the module docstring)."""

    weights: str | None = None
    """Fine-tuned transformer: .safetensors file, folder, or hub id
    (env BLUR4D_BLUR2VID_WEIGHTS; default tedlasai/blur2vid)."""
    base_model: str | None = None
    """CogVideoX-2b in diffusers layout: folder or hub id (env BLUR4D_COGVIDEOX_BASE; default THUDM/CogVideoX-2b)."""
    steps: int = 50
    """Denoising steps (the published default is 50)."""
    guidance: float = 1.0
    """Classifier-free guidance scale; > 1 adds an unconditional branch without the blur latent
    (1.1 in the paper's tests)."""
    dtype: str | None = None
    """float32, bfloat16 or float16; default bfloat16 on a GPU, float32 on a CPU."""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N."""
    height: int = 720
    """Model resolution (multiple of 16). The photo is resized to it, not cropped, as the published code does."""
    width: int = 1280
    """Model resolution (multiple of 16)."""
    model_frames: int = 17
    """Frames per model call incl. the padding slot (17 for the released in-the-wild model, 9 for the GoPro one)."""
    prompt_embeds: str | None = None
    """Cached T5("") embedding (.safetensors with key prompt_embeds, or .npy); written here when computed."""
    text_encoder: str | None = None
    """Folder with text_encoder/ (and tokenizer/) to compute the embedding once, when no cache exists."""
    vae_tiling: bool = True
    """Tiled VAE encode/decode (the published setting; lowers memory at 1280x720)."""
    vae_slicing: bool = True
    """Sliced VAE over the batch."""
    cpu_offload: bool = False
    """Keep the models on the CPU and move each to the GPU only while it runs (small GPUs)."""
    compile: bool = False
    """torch.compile each transformer block (slow first call, faster steps on a GPU)."""
    allow_download: bool = False
    """Allow downloading missing weights from the Hugging Face hub (several GB); otherwise only
    local files and the hub cache are used."""
    official_preprocess: bool = True
    """Reproduce the published input round trip (uint8 -> [-1, 1] -> truncating uint8: values 1..63 drop by 1)."""
    output_size: str = "photo"
    """'photo': frames resized to the photo's aspect and size, at most the model's pixel count
    (keeps the geometry for 3D analysis); 'model': the model resolution."""
    split: str = "interleave"
    """How >16-frame requests are split into calls: 'interleave' (every call spans the whole
    request) or 'contiguous'."""
    official_weight_cast: bool = False
    """Round weights through float16 before bfloat16, as the published loader does (bit parity with it on a GPU)."""

    _sampler: Any = field(default=None, init=False, repr=False, compare=False)
    _sources: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _load_seconds: float = field(default=0.0, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------------------------------
    # validation and resolution
    # ------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        if int(self.steps) < 1:
            raise InputError(f"blur2vid steps: must be >= 1, got {self.steps}")
        if not float(self.guidance) >= 1.0:
            raise InputError(f"blur2vid guidance: must be >= 1.0 (1.0 = no guidance), got {self.guidance}")
        for name in ("height", "width"):
            v = int(getattr(self, name))
            if v < 16 or v % 16:
                raise InputError(f"blur2vid {name}: must be a positive multiple of 16, got {v}")
        if int(self.model_frames) < 5 or (int(self.model_frames) - 1) % 4:
            raise InputError(f"blur2vid model_frames: must be 4k+1 >= 5 (17 for the released model), "
                             f"got {self.model_frames}")
        if self.output_size not in ("photo", "model"):
            raise InputError(f"blur2vid output_size: expected 'photo' or 'model', got {self.output_size!r}")
        if self.split not in ("interleave", "contiguous"):
            raise InputError(f"blur2vid split: expected 'interleave' or 'contiguous', got {self.split!r}")
        if self.dtype is not None and str(self.dtype).lower() not in _DTYPES:
            raise InputError(f"blur2vid dtype: expected one of float32, bfloat16, float16, got {self.dtype!r}")

    def config(self) -> dict[str, Any]:
        """The options (not the loaded models: ``asdict`` would deep-copy them)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def resolved_device(self) -> str:
        import torch

        dev = str(self.device or "auto")
        if dev == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"blur2vid device: {dev!r} requested but CUDA is not available; use --device cpu")
        return dev

    def resolved_dtype(self) -> str:
        if self.dtype:
            return _DTYPES[str(self.dtype).lower()]
        return "float32" if self.resolved_device() == "cpu" else "bfloat16"

    # ------------------------------------------------------------------------------------------
    # loading
    # ------------------------------------------------------------------------------------------
    def load(self, progress: Progress = NO_PROGRESS) -> Any:
        """Resolve and load everything once (kept for later calls). Returns the sampler."""
        if self._sampler is not None:
            return self._sampler
        from ..registry import require

        torch = require("torch", extra="diffusion", feature="the blur2vid backend")
        require("diffusers", extra="diffusion", feature="the blur2vid backend")
        from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler

        from ._cogvideox import Blur2VidSampler

        t0 = time.perf_counter()
        progress("blur2vid: load", 0, 4)
        device, dtype_name = self.resolved_device(), self.resolved_dtype()
        dtype = getattr(torch, dtype_name)
        weights_file = resolve_weights(self.weights, allow_download=self.allow_download)
        base = resolve_base_model(self.base_model, allow_download=self.allow_download)
        progress("blur2vid: load", 1, 4)
        home = "cpu" if self.cpu_offload else device
        transformer = load_transformer(base / "transformer", weights_file, dtype=dtype, device=home,
                                       official_cast=self.official_weight_cast)
        progress("blur2vid: load", 2, 4)
        vae = AutoencoderKLCogVideoX.from_pretrained(base / "vae", torch_dtype=dtype, local_files_only=True)
        vae = vae.to(home).eval().requires_grad_(False)
        if self.vae_tiling:
            vae.enable_tiling()
        if self.vae_slicing:
            vae.enable_slicing()
        scheduler = CogVideoXDPMScheduler.from_pretrained(base, subfolder="scheduler", local_files_only=True)
        scheduler = CogVideoXDPMScheduler.from_config(scheduler.config)
        progress("blur2vid: load", 3, 4)
        cfg = transformer.config
        embeds, embeds_source = load_prompt_embeds(
            base, self.base_model or os.environ.get(ENV_BASE) or DEFAULT_BASE, self.prompt_embeds,
            self.text_encoder, seq_len=int(cfg.max_text_seq_length), dim=int(cfg.text_embed_dim),
            device=device, allow_download=self.allow_download)
        sampler = Blur2VidSampler(transformer, vae, scheduler, embeds, device=device, dtype=dtype,
                                  offload=self.cpu_offload)
        if self.compile:
            for block in transformer.transformer_blocks:
                block.compile()
        self._sources = {"weights": str(weights_file), "base_model": str(base), "prompt_embeds": embeds_source,
                         "device": device, "dtype": dtype_name}
        self._sampler = sampler
        self._load_seconds = time.perf_counter() - t0
        progress("blur2vid: load", 4, 4)
        return sampler

    # ------------------------------------------------------------------------------------------
    # intervals -> model calls
    # ------------------------------------------------------------------------------------------
    def plan_calls(self, intervals: Intervals) -> list[np.ndarray]:
        """Split the request into model calls of at most ``model_frames - 1`` intervals each.

        Frames are ordered by time (start, then end) first: the model was trained on intervals
        in increasing time. With ``split='interleave'`` (default) call c of n gets the frames
        c, c+n, c+2n, ... of that order, so every call spans the whole requested time range
        (the model saw gapped intervals in training) and, because every call of one sample
        uses the same seed and so the same initial noise, the calls settle on the same motion;
        the frames are then put back in the requested order. ``'contiguous'`` gives each call
        a consecutive block instead. Returns, per call, the indices into ``intervals``.
        """
        cap = int(self.model_frames) - 1
        b = intervals.bounds
        order = np.lexsort((b[:, 1], b[:, 0]))
        n = max(1, math.ceil(len(order) / cap))
        if self.split == "interleave":
            return [order[c::n] for c in range(n)]
        return [np.asarray(chunk) for chunk in np.array_split(order, n)]

    # ------------------------------------------------------------------------------------------
    # the call
    # ------------------------------------------------------------------------------------------
    def prepare_image(self, pixels: np.ndarray) -> np.ndarray:
        """Photo (H, W, 3) uint8 -> the model's (height, width, 3) uint8 input: PIL bicubic
        resize without keeping the aspect (as the published code), then the published round
        trip when ``official_preprocess``."""
        from PIL import Image

        arr = np.asarray(pixels)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise InputError(f"blur2vid photo: expected (H, W, 3) uint8, got shape {arr.shape} {arr.dtype}")
        if arr.shape[:2] != (self.height, self.width):
            arr = np.asarray(Image.fromarray(arr).resize((self.width, self.height), Image.BICUBIC))
        if self.official_preprocess:
            import torch

            x = torch.from_numpy(np.array(arr, copy=True)).float() / 127.5 - 1.0
            arr = ((x.numpy() + 1.0) * np.float32(127.5)).astype(np.uint8)
        return np.ascontiguousarray(arr)

    def output_hw(self, photo_h: int, photo_w: int) -> tuple[int, int]:
        """Size of the returned frames: the model's, or (``output_size='photo'``) the photo's
        aspect ratio and size, scaled down (never up) to at most the model's pixel count."""
        if self.output_size == "model":
            return self.height, self.width
        scale = min(1.0, math.sqrt(self.height * self.width / float(photo_h * photo_w)))
        return max(1, round(photo_h * scale)), max(1, round(photo_w * scale))

    def __call__(self, photo: Any, intervals: Intervals, *, samples: int = 1, seed: int | None = 0,
                 direction: Any = None, progress: Progress = NO_PROGRESS) -> Generation:
        import torch

        from ._cogvideox import GeneratorNoise

        if int(samples) < 1:
            raise InputError(f"blur2vid samples: must be >= 1, got {samples}")
        if not isinstance(intervals, Intervals):
            intervals = Intervals(np.asarray(intervals, np.float64))
        pixels = photo.pixels if hasattr(photo, "pixels") else np.asarray(photo)
        target_angle = _direction_angle(direction)
        image = self.prepare_image(pixels)
        sampler = self.load(progress)
        calls = self.plan_calls(intervals)
        base_seed = int(seed) if seed is not None else secrets.randbits(31)
        total = int(samples) * len(calls) * int(self.steps)
        done = 0
        progress("blur2vid: denoise", 0, total)
        timings: dict[str, float] = {"load": self._load_seconds}
        videos: list[Video] = []
        choices: list[dict[str, Any]] = []
        notes = _interval_notes(intervals)
        out_hw = self.output_hw(pixels.shape[0], pixels.shape[1])
        for k in range(int(samples)):
            sample_seed = base_seed + k
            frames = np.zeros((len(intervals), self.height, self.width, 3), np.float32)
            for idx in calls:
                def on_step(i: int, n: int, _d: int = done) -> None:
                    progress("blur2vid: denoise", _d + i, total)

                gen = torch.Generator("cpu").manual_seed(sample_seed)
                res = sampler(image, intervals.bounds[idx], steps=int(self.steps), guidance=float(self.guidance),
                              num_frames=int(self.model_frames), noise=GeneratorNoise(gen), on_step=on_step)
                frames[idx] = res.frames[: len(idx)]
                done += int(self.steps)
                for key, val in res.timings.items():
                    timings[key] = timings.get(key, 0.0) + val
            u8 = (frames * 255.0).astype(np.uint8)  # truncating, as the published export does
            if out_hw != u8.shape[1:3]:
                u8 = _resize_frames(u8, out_hw)
            choice: dict[str, Any] = {"seed": sample_seed, "calls": len(calls)}
            if target_angle is not None:
                u8, choice["direction"] = _orient(u8, intervals, target_angle)
            videos.append(Video(u8, intervals, fps=20.0))
            choices.append(choice)
        config = self.config()
        prov = Provenance.capture(
            "blur2vid", config, seed=base_seed, packages=("torch", "diffusers", "transformers", "safetensors"),
            timings=timings, sources=dict(self._sources),
            calls=[[int(i) for i in idx] for idx in calls], interval_notes=notes,
            sample_seeds=[c["seed"] for c in choices])
        videos = [Video(v.frames, v.intervals, v.fps, prov) for v in videos]
        return Generation(samples=tuple(videos), choices=tuple(choices), provenance=prov)


# ---------------------------------------------------------------------------------------------
# resolution of weights, base model and the cached prompt embedding
# ---------------------------------------------------------------------------------------------
def _hub_error(what: str, spec: str, flag: str, size: str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"{what}: {spec!r} is not a local path and not in the Hugging Face cache (downloads are off); pass "
        f"{flag} with a local path, or allow the download ({size}) with -o allow_download=true")


def resolve_weights(spec: str | None, *, allow_download: bool = False) -> Path:
    """The fine-tuned transformer's .safetensors file (see the module docstring)."""
    spec = spec or os.environ.get(ENV_WEIGHTS) or DEFAULT_WEIGHTS
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for rel in ("model.safetensors", "checkpoint/model.safetensors", DEFAULT_WEIGHTS_FILE):
            if (path / rel).is_file():
                return path / rel
        found = sorted(path.glob("*.safetensors"))
        if len(found) == 1:
            return found[0]
        raise WeightsNotFoundError(
            f"--weights {path}: expected model.safetensors (or exactly one .safetensors file) in the folder, "
            f"found {[p.name for p in found]}")
    if not _HUB_ID.match(spec) or spec.startswith((".", "/", "~")):
        raise WeightsNotFoundError(f"--weights {spec}: no such file or folder")
    parts = spec.split("/")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:]) or DEFAULT_WEIGHTS_FILE
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, filename, local_files_only=not allow_download))
    except Exception as err:  # LocalEntryNotFoundError, EntryNotFoundError, network errors
        if not allow_download:
            raise _hub_error("blur2vid weights", spec, "--weights FILE", "about 3.4 GB") from err
        raise WeightsNotFoundError(f"--weights {spec}: download of {repo}/{filename} failed: {err}") from err


_BASE_PATTERNS = ["model_index.json", "transformer/config.json", "vae/*", "scheduler/*"]


def resolve_base_model(spec: str | None, *, allow_download: bool = False) -> Path:
    """A folder in diffusers layout with transformer/config.json, vae/ and scheduler/ (only the
    base transformer's config is used; its weights are never downloaded or read)."""
    spec = spec or os.environ.get(ENV_BASE) or DEFAULT_BASE
    path = Path(spec).expanduser()
    if not path.exists():
        if not _HUB_ID.match(spec) or spec.startswith((".", "/", "~")):
            raise WeightsNotFoundError(f"--base-model {spec}: no such folder")
        from huggingface_hub import snapshot_download

        try:
            path = Path(snapshot_download(spec, allow_patterns=_BASE_PATTERNS, local_files_only=not allow_download))
        except Exception as err:
            if not allow_download:
                raise _hub_error("CogVideoX base model", spec, "--base-model DIR",
                                 "about 0.9 GB: VAE and configs") from err
            raise WeightsNotFoundError(f"--base-model {spec}: download failed: {err}") from err
    need = ["transformer/config.json", "vae/config.json", "scheduler/scheduler_config.json"]
    missing = [n for n in need if not (path / n).is_file()]
    if missing:
        raise WeightsNotFoundError(
            f"--base-model {path}: not a CogVideoX folder in diffusers layout, missing {', '.join(missing)}")
    return path


def load_transformer(config_dir: Path, weights_file: Path, *, dtype: Any, device: str = "cpu",
                     official_cast: bool = False) -> Any:
    """Build the conditioned transformer from the base config without allocating random weights
    and load the state dict strictly (an InputError names missing/unexpected keys)."""
    import torch
    from safetensors.torch import load_file

    from ._cogvideox import Blur2VidTransformer

    config = Blur2VidTransformer.load_config(config_dir)
    with torch.device("meta"):
        model = Blur2VidTransformer.from_config(config)
    try:
        state = load_file(str(weights_file), device="cpu")
    except Exception as err:
        raise InputError(f"--weights {weights_file}: cannot read as safetensors ({err})") from err
    check_state_dict(model, state, weights_file)
    if official_cast and dtype == torch.bfloat16:
        state = {k: v.to(torch.float16).to(torch.bfloat16) for k, v in state.items()}
    state = {k: v.to(dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    pe = model.patch_embed
    pe.register_buffer("pos_embedding", pe._get_positional_embeddings(pe.sample_height, pe.sample_width,
                                                                      pe.sample_frames), persistent=False)
    leftover = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if leftover:
        raise BackendError(f"blur2vid transformer: tensors left uninitialised after loading: {leftover[:5]}")
    return model.to(device).eval().requires_grad_(False)  # tensors already have `dtype`


def check_state_dict(model: Any, state: dict, source: Any) -> None:
    """Strict key and shape check with a one-line error naming what is wrong."""
    from ._cogvideox import BLUR_KEYS

    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in sorted(set(state) & set(expected))
              if tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return

    def _few(items: list[str]) -> str:
        return ", ".join(items[:6]) + (f", ... ({len(items)} in all)" if len(items) > 6 else "")

    hint = ("it looks like a stock CogVideoX transformer, not the blur2vid fine-tune"
            if set(missing) == set(BLUR_KEYS) and not unexpected else
            "use the blur2vid checkpoint (model.safetensors) with its CogVideoX-2b base config")
    parts = []
    if missing:
        parts.append(f"missing keys: {_few(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {_few(unexpected)}")
    if shapes:
        parts.append(f"shape mismatches: {_few(shapes)}")
    raise InputError(f"--weights {source}: not a blur2vid transformer state dict for this base config "
                     f"({'; '.join(parts)}); {hint}")


def cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "blur4d"


def default_prompt_cache(base_spec: str, seq_len: int, dim: int) -> Path:
    """Per-base-model cache file for T5("") (one name per hub id / folder and size)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", str(base_spec)).strip("-")[-80:]
    return cache_dir() / "blur2vid" / f"{slug}-t5-empty-{seq_len}x{dim}.safetensors"


def read_prompt_embeds(path: Path) -> Any:
    import torch

    if path.suffix == ".npy":
        return torch.from_numpy(np.load(path, allow_pickle=False))
    from safetensors.torch import load_file

    data = load_file(str(path))
    if "prompt_embeds" not in data:
        raise InputError(f"prompt_embeds {path}: expected a tensor named 'prompt_embeds', found {sorted(data)}")
    return data["prompt_embeds"]


def write_prompt_embeds(path: Path, embeds: Any, meta: dict[str, str]) -> Path:
    from safetensors.torch import save_file

    from .._fs import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=True) as tmp:
        save_file({"prompt_embeds": embeds.detach().cpu().contiguous()}, str(tmp), metadata=meta)
    return path


def load_prompt_embeds(base: Path, base_spec: str, explicit: str | None, text_encoder: str | None, *,
                       seq_len: int, dim: int, device: str = "cpu", allow_download: bool = False) -> tuple[Any, str]:
    """The cached T5("") embedding (1, seq_len, dim); computed once (and cached) when a text
    encoder is at hand. Returns (tensor, where it came from)."""
    candidates = [Path(explicit).expanduser()] if explicit else []
    candidates += [base / PROMPT_CACHE_NAME, default_prompt_cache(base_spec, seq_len, dim)]
    for cand in candidates:
        if cand.is_file():
            emb = read_prompt_embeds(cand)
            if tuple(emb.shape) != (1, seq_len, dim):
                raise InputError(f"prompt_embeds {cand}: expected shape (1, {seq_len}, {dim}) for this transformer, "
                                 f"got {tuple(emb.shape)}")
            return emb, str(cand)
    enc_root = Path(text_encoder).expanduser() if text_encoder else base
    if not (enc_root / "text_encoder" / "config.json").is_file():
        if text_encoder is None and allow_download and not Path(base_spec).exists():
            from huggingface_hub import snapshot_download

            enc_root = Path(snapshot_download(base_spec, allow_patterns=["text_encoder/*", "tokenizer/*"]))
        else:
            raise WeightsNotFoundError(
                f"blur2vid: no cached empty-prompt embedding ({candidates[-1]}) and no text encoder to make one; "
                f"pass -o prompt_embeds=FILE or -o text_encoder=DIR (a folder with text_encoder/ and tokenizer/); "
                f"see third_party/blur2vid/README.md")
    emb, how = encode_empty_prompt(enc_root, seq_len=seq_len, device=device)
    if tuple(emb.shape) != (1, seq_len, dim):
        raise InputError(f"text encoder {enc_root}: gives {tuple(emb.shape)}, "
                         f"the transformer expects (1, {seq_len}, {dim})")
    target = Path(explicit).expanduser() if explicit else candidates[-1]  # never write into the base folder
    write_prompt_embeds(target, emb, {"source": str(enc_root), "prompt": "", "tokenization": how})
    return emb, f"{target} (computed from {enc_root})"


def cache_empty_prompt(base_model: str | None = None, *, text_encoder: str | None = None, out: str | None = None,
                       allow_download: bool = False) -> Path:
    """Make (or find) the cached T5("") embedding for ``base_model`` and return its path.

    Needs ``text_encoder/`` (and ideally ``tokenizer/``) in the base folder or in
    ``text_encoder``, or ``allow_download=True`` for a hub id (about 9.5 GB, once). Afterwards the
    text encoder is never needed again.
    """
    import json as _json

    spec = base_model or os.environ.get(ENV_BASE) or DEFAULT_BASE
    base = resolve_base_model(spec, allow_download=allow_download)
    cfg = _json.loads((base / "transformer" / "config.json").read_text())
    _, src = load_prompt_embeds(base, spec, out, text_encoder, seq_len=int(cfg.get("max_text_seq_length", 226)),
                                dim=int(cfg.get("text_embed_dim", 4096)), allow_download=allow_download)
    return Path(src.split(" (computed")[0])


def encode_empty_prompt(root: Path, *, seq_len: int, device: str = "cpu", dtype: str = "bfloat16") -> tuple[Any, str]:
    """T5("") as the published pipeline computes it: ids of "" padded to ``seq_len`` (EOS then
    pad), no attention mask, encoder in bfloat16. The encoder is freed on return."""
    import torch

    from ..registry import require

    transformers = require("transformers", extra="diffusion", feature="computing the T5 embedding of the empty prompt")
    enc = transformers.T5EncoderModel.from_pretrained(root / "text_encoder", torch_dtype=getattr(torch, dtype),
                                                      local_files_only=True)
    ids, how = None, ""
    if (root / "tokenizer").is_dir():
        try:
            tok = transformers.AutoTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
            ids = tok([""], padding="max_length", max_length=seq_len, truncation=True, add_special_tokens=True,
                      return_tensors="pt").input_ids
            how = "tokenizer"
        except Exception as err:  # e.g. sentencepiece missing for the slow T5 tokenizer
            log.warning("tokenizer unusable (%s); using the T5 ids of the empty prompt: [eos, pad, ...]", err)
    if ids is None:
        eos, pad = enc.config.eos_token_id, enc.config.pad_token_id
        if eos is None or pad is None:
            raise BackendError(f"text encoder {root}: no tokenizer and no eos/pad ids in its config")
        ids = torch.tensor([[eos] + [pad] * (seq_len - 1)])
        how = "eos+pad ids from the encoder config"
    enc = enc.to(device).eval()
    with torch.no_grad():
        emb = enc(ids.to(device))[0]
    del enc
    return emb.cpu(), how


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _interval_notes(intervals: Intervals) -> list[str]:
    lo, hi = intervals.span
    notes = []
    if lo < -1.0 - 1e-9 or hi > 1.0 + 1e-9:
        notes.append(f"intervals span [{lo:g}, {hi:g}]; the model was trained on [-1, 1] (extrapolating)")
    return notes


def _resize_frames(frames: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = hw
    shrink = h * w < frames.shape[1] * frames.shape[2]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])


def _direction_angle(direction: Any) -> float | None:
    """Requested global motion direction in degrees (image axes, 0 = rightwards, 90 = down)."""
    if direction is None:
        return None
    if isinstance(direction, (int, float)) and not isinstance(direction, bool):
        return float(direction) % 360.0
    if isinstance(direction, str):
        key = direction.strip().lower().replace("_", "-")
        if key in _DIRECTIONS:
            return _DIRECTIONS[key]
        try:
            return float(key) % 360.0
        except ValueError:
            pass
    raise InputError(f"blur2vid direction: expected {', '.join(_DIRECTIONS)} or an angle in degrees, got "
                     f"{direction if isinstance(direction, str) else type(direction).__name__}; "
                     "per-region guidance maps are not supported by this backend")


def global_motion(frames: np.ndarray) -> np.ndarray:
    """Image motion (dx, dy) in pixels from the first to the last frame: dense DIS flow between
    consecutive grey frames, averaged over the textured pixels (where flow is measurable: the
    strongest quarter of the gradient magnitudes), summed over the clip."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    total = np.zeros(2)
    for a, b in zip(grey[:-1], grey[1:]):
        flow = dis.calc(a, b, None)
        mag = np.hypot(cv2.Sobel(a, cv2.CV_32F, 1, 0), cv2.Sobel(a, cv2.CV_32F, 0, 1))
        sel = mag >= max(float(np.percentile(mag, 75)), 1e-3)
        if sel.any():
            total += flow[sel].mean(axis=0)
    return total


def _orient(frames: np.ndarray, intervals: Intervals, angle: float) -> tuple[np.ndarray, str]:
    """Time-reverse a sample whose global motion opposes ``angle``. A blurred photo does not fix
    the direction of time; reversal is a valid alternative only when the requested intervals
    are symmetric about the exposure centre (bounds == -reversed bounds)."""
    b = intervals.bounds
    order = np.lexsort((b[:, 1], b[:, 0]))
    sb = b[order]
    if len(frames) < 2:
        return frames, "kept (one frame)"
    if not np.allclose(sb, -sb[::-1, ::-1], atol=1e-9):
        return frames, "kept (intervals not symmetric about the exposure centre: time reversal would change them)"
    motion = global_motion(frames[order])
    want = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    along = float(motion @ want)
    if abs(along) < 0.5:
        return frames, f"kept (global motion {motion.round(2).tolist()} px is too small to orient)"
    if along >= 0:
        return frames, f"kept (global motion {motion.round(2).tolist()} px agrees with {angle:g} deg)"
    out = frames.copy()
    out[order] = frames[order[::-1]]
    return out, f"time-reversed (global motion {motion.round(2).tolist()} px opposed {angle:g} deg)"
