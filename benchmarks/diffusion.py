"""blur2vid generation speed: one generation, timed per phase, with peak memory.

    python benchmarks/diffusion.py                  # full size on a GPU, the small config on a CPU
    python benchmarks/diffusion.py --size full --dtype bfloat16 [--compile] [--offload]
    python benchmarks/diffusion.py --size small --steps 4 --json out.json

``full`` is the published setting: 1280x720, 17 frames (16 kept), 50 steps, guidance 1.0, with
CogVideoX-2B-sized transformer (30 layers x 1920) and VAE, randomly initialised (speed does not
depend on the weight values; nothing is downloaded). The published figure is about 120 s per
video on an NVIDIA L40. ``small`` is a scaled-down model and size that runs on a CPU in about a
minute, to check the script and see the phase split. Not a test: prints a table.

Phases: load (build + move to the device), VAE encode, each denoising step (the first one
separately: it includes torch.compile's compilation when on), VAE decode. Peak memory is
``torch.cuda.max_memory_allocated`` on a GPU, the process's peak RSS on a CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

FULL = dict(
    transformer=dict(num_attention_heads=30, attention_head_dim=64, num_layers=30, text_embed_dim=4096,
                     max_text_seq_length=226, time_embed_dim=512, sample_height=60, sample_width=90, sample_frames=49),
    vae=dict(),  # diffusers' defaults are CogVideoX-2b's VAE
    height=720, width=1280, frames=17, steps=50,
)
SMALL = dict(
    transformer=dict(num_attention_heads=4, attention_head_dim=32, num_layers=4, text_embed_dim=256,
                     max_text_seq_length=32, time_embed_dim=64, sample_height=20, sample_width=32, sample_frames=17),
    vae=dict(block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8),
    height=160, width=256, frames=17, steps=8,
)
SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", prediction_type="v_prediction",
                 rescale_betas_zero_snr=True, snr_shift_scale=3.0, timestep_spacing="trailing", set_alpha_to_one=True,
                 clip_sample=False, steps_offset=0, num_train_timesteps=1000)


def _peak_bytes(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


def _random_init(module, seed: int = 0) -> None:  # noqa: ANN001
    """Fill every tensor with small random values in place (fast, no per-layer init code)."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim >= 2:
                vals = torch.randn(p.shape, generator=g) / max(1.0, float(np.sqrt(p[0].numel())))
            elif name.endswith("weight"):
                vals = 1.0 + 0.02 * torch.randn(p.shape, generator=g)
            else:
                vals = 0.02 * torch.randn(p.shape, generator=g)
            p.copy_(vals.to(p.dtype))


def run(size: str, device: str, dtype_name: str, steps: int | None, height: int | None, width: int | None,
        frames: int | None, guidance: float, compile_: bool, offload: bool, tiling: bool) -> dict:
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler
    from diffusers.utils import logging as dlogging

    dlogging.set_verbosity_error()

    from blur4d.generate._cogvideox import Blur2VidSampler, Blur2VidTransformer, GeneratorNoise

    cfg = FULL if size == "full" else SMALL
    steps = steps or cfg["steps"]
    H, W, F = height or cfg["height"], width or cfg["width"], frames or cfg["frames"]
    dtype = getattr(torch, dtype_name)
    home = "cpu" if offload else device
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)

    t0 = time.perf_counter()
    with torch.device("meta"):
        tr = Blur2VidTransformer(**cfg["transformer"])
    tr = tr.to_empty(device="cpu")
    _random_init(tr, 0)
    pe = tr.patch_embed
    pe.register_buffer("pos_embedding", pe._get_positional_embeddings(pe.sample_height, pe.sample_width,
                                                                      pe.sample_frames), persistent=False)
    tr = tr.to(home, dtype).eval().requires_grad_(False)
    torch.manual_seed(1)
    vae = AutoencoderKLCogVideoX(**cfg["vae"]).to(home, dtype).eval().requires_grad_(False)
    if tiling:
        vae.enable_tiling()
    vae.enable_slicing()
    sch = CogVideoXDPMScheduler(**SCHEDULER)
    text = torch.randn(1, tr.config.max_text_seq_length, tr.config.text_embed_dim)
    sampler = Blur2VidSampler(tr, vae, sch, text, device=device, dtype=dtype, offload=offload)
    if compile_:
        for block in tr.transformer_blocks:
            block.compile()
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    t_load = time.perf_counter() - t0
    params = sum(p.numel() for p in tr.parameters())

    stamps: list[float] = []

    def on_step(i: int, n: int) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    image = (np.random.default_rng(0).random((H, W, 3)) * 255).astype(np.uint8)
    rows = np.stack([np.linspace(-0.5, 0.5, F)[:-1], np.linspace(-0.5, 0.5, F)[1:]], 1)
    t0 = time.perf_counter()
    res = sampler(image, rows, steps=steps, guidance=guidance, num_frames=F,
                  noise=GeneratorNoise(torch.Generator().manual_seed(0)), on_step=on_step)
    total = time.perf_counter() - t0
    per_step = np.diff(stamps).tolist()  # stamps[0] is taken just before the first step
    n_lat = (F - 1) // 4 + 1
    tokens = (n_lat + 1) * (H // 16) * (W // 16) + tr.config.max_text_seq_length
    return {
        "size": size, "device": device, "dtype": dtype_name, "compile": compile_, "offload": offload,
        "height": H, "width": W, "frames": F, "steps": steps, "guidance": guidance, "tokens": tokens,
        "transformer_params": params, "load_s": t_load, "vae_encode_s": res.timings["vae_encode"],
        "denoise_s": res.timings["denoise"], "first_step_s": per_step[0] if per_step else float("nan"),
        "step_median_s": statistics.median(per_step[1:]) if len(per_step) > 1 else float("nan"),
        "vae_decode_s": res.timings["vae_decode"], "generation_s": total, "peak_memory_bytes": _peak_bytes(device),
        "peak_memory_kind": "cuda max_memory_allocated" if device.startswith("cuda") else "process peak RSS",
        "per_step_s": per_step, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None,
    }


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=("full", "small"), default=None, help="default: full with CUDA, else small")
    ap.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    ap.add_argument("--dtype", default=None, help="default: bfloat16 on a GPU, float32 on a CPU")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None, help="model frames incl. padding (17)")
    ap.add_argument("--guidance", type=float, default=1.0)
    ap.add_argument("--compile", action="store_true", help="torch.compile each transformer block")
    ap.add_argument("--offload", action="store_true", help="model CPU offload")
    ap.add_argument("--no-tiling", action="store_true", help="disable VAE tiling")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    a = ap.parse_args(argv)
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = a.size or ("full" if device.startswith("cuda") else "small")
    dtype = a.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    r = run(size, device, dtype, a.steps, a.height, a.width, a.frames, a.guidance, a.compile, a.offload,
            not a.no_tiling)
    print(f"blur2vid generation benchmark: {r['size']} config, {r['width']}x{r['height']}, {r['frames']} frames, "
          f"{r['steps']} steps, guidance {r['guidance']}, {r['device']} {r['gpu'] or ''} {r['dtype']}, "
          f"{r['transformer_params'] / 1e6:.1f}M transformer params, {r['tokens']} tokens, {r['threads']} threads")
    rows = [("load (build, random init, to device)", r["load_s"]), ("VAE encode", r["vae_encode_s"]),
            ("denoise total", r["denoise_s"]), ("  first step", r["first_step_s"]),
            ("  median step", r["step_median_s"]), ("VAE decode", r["vae_decode_s"]),
            ("generation (encode+denoise+decode)", r["generation_s"])]
    print(f"{'phase':40s} {'seconds':>10s}")
    for name, sec in rows:
        print(f"{name:40s} {sec:10.3f}")
    print(f"{'peak memory (' + r['peak_memory_kind'] + ')':40s} {r['peak_memory_bytes'] / 2**30:9.2f} GiB")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
