"""The blur2vid backend: exactness against the official fixtures, plus unit tests on tiny models.

The fixture set defaults to ``<shared data>/blur2vid_tiny``; point ``BLUR4D_BLUR2VID_FIXTURES`` at
any other set in the same format (README of the set, ``cases/<preset>__gs<g>/`` folders) to check
it the same way.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from blur4d.errors import InputError, WeightsNotFoundError  # noqa: E402
from blur4d.types import Intervals  # noqa: E402

SHARED_DATA = Path(os.environ.get("BLUR4D_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

ATOL = 1e-5
ENV_FIXTURES = "BLUR4D_BLUR2VID_FIXTURES"


def _fixture_root(shared: Path | None = None) -> Path:
    env = os.environ.get(ENV_FIXTURES)
    return Path(env) if env else (shared or SHARED_DATA) / "blur2vid_tiny"


def _case_names() -> list[str]:
    cases = _fixture_root() / "cases"
    return sorted(p.name for p in cases.iterdir() if p.is_dir()) if cases.is_dir() else ["<no fixtures>"]


@pytest.fixture(scope="module")
def fx(shared_data: Path) -> Path:
    root = _fixture_root(shared_data)
    if not (root / "model" / "transformer" / "model.safetensors").is_file():
        pytest.skip(f"blur2vid fixtures not found at {root}")
    return root


@pytest.fixture(scope="module")
def sampler(fx: Path):  # noqa: ANN201
    """The fixture model loaded as the published loader does (strict, float32, CPU)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler

    from blur4d.generate._cogvideox import Blur2VidSampler
    from blur4d.generate.blur2vid import load_transformer

    tr = load_transformer(fx / "model" / "transformer", fx / "model" / "transformer" / "model.safetensors",
                          dtype=torch.float32)
    vae = AutoencoderKLCogVideoX.from_pretrained(fx / "model" / "vae").eval()
    vae.enable_slicing()
    vae.enable_tiling()
    sch = CogVideoXDPMScheduler.from_pretrained(fx / "model", subfolder="scheduler")
    sch = CogVideoXDPMScheduler.from_config(sch.config)
    emb = torch.from_numpy(np.load(fx / "prompt_embeds.npy"))
    return Blur2VidSampler(tr, vae, sch, emb)


def _maxdiff(a, b) -> float:  # noqa: ANN001
    a = a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def _run_case(sampler, case: Path, noise_mode: str):  # noqa: ANN001, ANN202
    from blur4d.generate._cogvideox import GeneratorNoise, RecordedNoise, Trace

    args = json.loads((case / "call_args.json").read_text())
    kw = args["kwargs"]
    n_frames = int(np.asarray(kw["num_frames"]["torch.tensor"] if isinstance(kw["num_frames"], dict)
                              else kw["num_frames"]).reshape(-1)[0])
    kept = int(args.get("num_frames_kept", n_frames - 1))
    rows = np.load(case / "output_intervals.npy")[0][:kept]
    if noise_mode == "recorded":
        z = np.load(case / "scheduler_noise.npz")
        noise = RecordedNoise(np.load(case / "initial_latents.npy"), np.load(case / "vae_posterior_noise.npy"),
                              {k: z[k] for k in z.files})
    else:
        noise = GeneratorNoise(torch.Generator("cpu").manual_seed(int(kw["generator"]["manual_seed"])))
    trace = Trace()
    image = np.load(case / "pipeline_image_uint8.npy")[0]
    assert image.shape[:2] == (kw["height"], kw["width"])
    res = sampler(image, rows, steps=int(kw["num_inference_steps"]), guidance=float(kw["guidance_scale"]),
                  num_frames=n_frames, noise=noise, trace=trace)
    return res, trace


@pytest.mark.parametrize("noise_mode", ["recorded", "generator"])
@pytest.mark.parametrize("case_name", _case_names())
def test_fixture_case_reproduced(fx: Path, sampler, case_name: str, noise_mode: str) -> None:  # noqa: ANN001
    """Per-step transformer inputs/outputs, x0 predictions, latents, final latents and decoded
    frames within 1e-5 of the official run; with the recorded draws injected, and with only the
    seed (our draws in the official order)."""
    case = fx / "cases" / case_name
    res, tr = _run_case(sampler, case, noise_mode)
    stack = lambda xs: torch.stack(xs).numpy()  # noqa: E731
    np.testing.assert_array_equal(stack(tr.timesteps), np.load(case / "timesteps.npy"))
    report = {
        "image_latents": _maxdiff(tr.image_latents, np.load(case / "image_latents.npy")),
        "model_inputs": _maxdiff(stack(tr.model_inputs), np.load(case / "model_inputs.npy")),
        "model_outputs": _maxdiff(stack(tr.model_outputs), np.load(case / "model_outputs.npy")),
        "pred_x0": _maxdiff(stack(tr.pred_x0), np.load(case / "pred_x0.npy")),
        "latents_after_step": _maxdiff(stack(tr.latents), np.load(case / "latents_after_step.npy")),
        "final_latents": _maxdiff(res.latents, np.load(case / "final_latents.npy")),
        "frames": _maxdiff(res.frames, np.load(case / "frames.npy")),
    }
    bad = {k: v for k, v in report.items() if not v <= ATOL}
    assert not bad, f"{case_name} ({noise_mode}): max |diff| over {ATOL}: {bad} (all: {report})"


def test_fixture_conditioning_layout(fx: Path) -> None:
    """Our Intervals presets map onto exactly the official output intervals, grouped tensor and mask."""
    from blur4d.generate._cogvideox import conditioning_layout

    presets = {"present": lambda n: Intervals.present(n),
               "past_present_and_future": lambda n: Intervals.past_present_future(n)}
    for case in sorted((fx / "cases").iterdir()):
        args = json.loads((case / "call_args.json").read_text())
        kept = int(args["num_frames_kept"])
        out_rows = np.load(case / "output_intervals.npy")[0]
        if args["interval_preset"] in presets:
            ours = presets[args["interval_preset"]](kept).bounds
            np.testing.assert_allclose(ours, out_rows[:kept], atol=1e-7)
        grouped, mask = conditioning_layout(out_rows[:kept], num_frames=len(out_rows))
        np.testing.assert_array_equal(grouped, np.load(case / "intervals.npy")[0])
        np.testing.assert_array_equal(mask, np.load(case / "condition_mask.npy")[0])


def test_fixture_forward_reference(fx: Path, sampler) -> None:  # noqa: ANN001
    """The stand-alone transformer forward, its patch embedding and the information embedding."""
    from blur4d.generate._cogvideox import interval_sinusoids

    ld = lambda n: torch.from_numpy(np.load(fx / "forward_reference" / n))  # noqa: E731
    tr = sampler.transformer
    captured = {}
    hook = tr.patch_embed.register_forward_hook(lambda m, i, o: captured.setdefault("pe", o.detach().clone()))
    try:
        with torch.no_grad():
            out = tr(hidden_states=ld("hidden_states.npy"), encoder_hidden_states=ld("encoder_hidden_states.npy"),
                     timestep=ld("timestep.npy"), intervals=ld("intervals.npy"),
                     condition_mask=ld("condition_mask.npy"))[0]
            feats = torch.from_numpy(interval_sinusoids(ld("intervals.npy"))).float()
            info = tr.patch_embed.blur_proj(feats)
    finally:
        hook.remove()
    assert _maxdiff(out, ld("output.npy")) <= ATOL
    assert _maxdiff(captured["pe"], ld("patch_embed_output.npy")) <= ATOL
    assert _maxdiff(info, ld("information_embedding.npy")) <= ATOL


def test_fixture_preprocess_and_generator(fx: Path, tmp_path: Path) -> None:
    """The backend end to end on the fixture photo: the published input round trip, and frames
    equal to the official PNG frames (truncating x255) up to one level where float noise crosses
    an integer."""
    from blur4d.generate.blur2vid import Blur2VidGenerator
    from blur4d.media import read_image
    from blur4d.progress import Recorder

    case = fx / "cases" / "present__gs1.1"
    if not case.is_dir():
        pytest.skip("fixture set has no present__gs1.1 case")
    args = json.loads((case / "call_args.json").read_text())["kwargs"]
    gen = Blur2VidGenerator(weights=str(fx / "model" / "transformer" / "model.safetensors"),
                            base_model=str(fx / "model"),
                            prompt_embeds=str(fx / "prompt_embeds.npy"), steps=args["num_inference_steps"],
                            guidance=args["guidance_scale"], height=args["height"], width=args["width"],
                            output_size="model")
    photo = read_image(fx / "input_blurred.png")
    np.testing.assert_array_equal(gen.prepare_image(photo.pixels), np.load(case / "pipeline_image_uint8.npy")[0])
    rec = Recorder()
    out = gen(photo, Intervals.present(16), samples=2, seed=args["generator"]["manual_seed"], progress=rec)
    ref = (np.load(case / "frames.npy")[:16] * 255).astype(np.uint8)
    diff = np.abs(out.video.frames.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    # sample k uses seed + k: a different, reproducible video
    assert [c["seed"] for c in out.choices] == [args["generator"]["manual_seed"] + k for k in range(2)]
    assert np.abs(out.samples[1].frames.astype(int) - out.samples[0].frames.astype(int)).mean() > 1
    steps = [c for c in rec.calls if c[0] == "blur2vid: denoise"]
    n = args["num_inference_steps"]
    assert steps[-1] == ("blur2vid: denoise", 2 * n, 2 * n) and len({c[1] for c in steps}) == 2 * n + 1
    assert out.provenance.backend == "blur2vid" and out.provenance.seed == args["generator"]["manual_seed"]


# ---------------------------------------------------------------------------------------------
# unit tests on tiny random configurations
# ---------------------------------------------------------------------------------------------
TINY = dict(num_attention_heads=2, attention_head_dim=8, num_layers=1, text_embed_dim=12, max_text_seq_length=5,
            time_embed_dim=8, sample_height=4, sample_width=4, sample_frames=9)


def _tiny_transformer(seed: int = 0):  # noqa: ANN202
    from blur4d.generate._cogvideox import Blur2VidTransformer

    torch.manual_seed(seed)
    model = Blur2VidTransformer(**TINY).eval()
    with torch.no_grad():
        model.patch_embed.blur_proj.weight.normal_(0, 0.3)
        model.patch_embed.blur_proj.bias.normal_(0, 0.3)
        model.patch_embed.blur_condition.normal_(0, 0.5)
    return model


def test_conditioning_layout_spec_rows() -> None:
    """The spec's exact grouped rows for both presets, the padding slot and the GoPro 9-frame layout."""
    from blur4d.generate._cogvideox import conditioning_layout, interval_sinusoids, latent_frames

    g, m = conditioning_layout(Intervals.present(16).bounds, 17)
    assert g.shape == (6, 8) and m.tolist() == [True] + [False] * 5
    np.testing.assert_array_equal(g[0], [-0.5, 0.5] * 4)
    np.testing.assert_array_equal(g[1], [-0.5, -0.4375] * 4)
    np.testing.assert_array_equal(g[2], [-0.4375, -0.375, -0.375, -0.3125, -0.3125, -0.25, -0.25, -0.1875])
    np.testing.assert_array_equal(g[5], [0.3125, 0.375, 0.375, 0.4375, 0.4375, 0.5, 0.4375, 0.5])
    assert g.sum() == pytest.approx(-1.875)
    p, _ = conditioning_layout(Intervals.past_present_future(16).bounds, 17)
    np.testing.assert_array_equal(p[1], [-1, -0.875] * 4)
    np.testing.assert_array_equal(p[5], [0.625, 0.75, 0.75, 0.875, 0.875, 1, 0.875, 1])
    assert p.sum() == pytest.approx(-3.75)
    assert interval_sinusoids(g[None]).sum() == pytest.approx(568.5217949136, abs=1e-8)
    assert interval_sinusoids(p[None]).sum() == pytest.approx(557.5402219363, abs=1e-8)
    np.testing.assert_allclose(interval_sinusoids(g[None])[0, 1, :3], [-0.4794255386, -0.2300017117, -0.1075135220],
                               atol=1e-9)
    # GoPro: 7 frames + padding in a 9-frame model -> 3 latents + blur
    go, gm = conditioning_layout(Intervals.present(6).bounds.tolist() + [[0.5, 0.5]], 9)
    assert go.shape == (4, 8) and latent_frames(9) == 3 and gm.sum() == 1
    np.testing.assert_array_equal(go[3, 4:], [0.5, 0.5, 0.5, 0.5])  # last row padded by repetition
    with pytest.raises(InputError):
        conditioning_layout(Intervals.present(17).bounds, 17)


def test_blur_terms_zero_equals_stock_diffusers() -> None:
    """With blur_proj and blur_condition zero the model is diffusers' CogVideoX transformer."""
    from diffusers import CogVideoXTransformer3DModel

    ours = _tiny_transformer()
    with torch.no_grad():
        for k in ("blur_proj.weight", "blur_proj.bias", "blur_condition"):
            ours.patch_embed.get_parameter(k).zero_()
    stock = CogVideoXTransformer3DModel(**TINY).eval()
    sd = {k: v for k, v in ours.state_dict().items() if "blur" not in k}
    stock.load_state_dict(sd, strict=True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 16, 4, 6, generator=g)
    text = torch.randn(2, 5, 12, generator=g)
    iv = torch.rand(1, 3, 8, generator=g) - 0.5
    mask = torch.tensor([[True, False, False]])
    with torch.no_grad():
        a = ours(x, text, torch.tensor([500, 500]), iv, mask)[0]
        b = stock(x, text, torch.tensor([500, 500]), return_dict=False)[0]
    assert _maxdiff(a, b) == 0.0


def test_frame_term_is_per_frame_and_broadcast() -> None:
    """info + cond is added once per latent frame to all of its patches; row 0 of blur_condition
    goes on the blur frame, row 1 on generated frames; intervals broadcast over the batch."""
    from blur4d.generate._cogvideox import interval_sinusoids

    model = _tiny_transformer()
    pe = model.patch_embed
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 16, 4, 6, generator=g)
    text = torch.randn(2, 5, 12, generator=g)
    iv = torch.rand(1, 3, 8, generator=g) - 0.5
    mask = torch.tensor([[True, False, False]])
    with torch.no_grad():
        term = pe.frame_embedding(iv, mask)
        pe._frame_term = term
        full = pe(text, x)
        pe._frame_term = torch.zeros_like(term)
        bare = pe(text, x)
        pe._frame_term = None
        feats = torch.from_numpy(interval_sinusoids(iv)).float()
        expect = pe.blur_proj(feats) + torch.stack([pe.blur_condition[0], pe.blur_condition[1], pe.blur_condition[1]])
    delta = (full - bare)[:, 5:].reshape(2, 3, 2 * 3, -1)  # (B, frames, patches, D)
    assert torch.allclose(delta[:, :, :1].expand_as(delta), delta, atol=1e-6)
    assert torch.allclose(delta[:, :, 0], expect.expand(2, -1, -1), atol=1e-6)
    assert torch.equal(full[:, :5], bare[:, :5])  # text tokens get nothing


def test_guidance_handling_and_trace() -> None:
    """guidance 1: one forward per step with the blur latent in slot 0; guidance > 1: [uncond,
    cond] batch differing only in slot 0 (zeros vs blur latent), mixed as v_u + s (v_c - v_u)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler

    from blur4d.generate._cogvideox import Blur2VidSampler, GeneratorNoise, RecordedNoise, Trace

    torch.manual_seed(3)
    vae = AutoencoderKLCogVideoX(block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4,
                                 latent_channels=16).eval()
    sch = CogVideoXDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=3.0,
                                timestep_spacing="trailing", set_alpha_to_one=True)
    s = Blur2VidSampler(_tiny_transformer(), vae, sch, torch.randn(1, 5, 12))
    image = (np.random.default_rng(0).random((32, 48, 3)) * 255).astype(np.uint8)
    rows = Intervals.present(8).bounds
    for guidance in (1.0, 1.5):
        tr = Trace()
        res = s(image, rows, steps=3, guidance=guidance, num_frames=9,
                noise=GeneratorNoise(torch.Generator().manual_seed(0)), trace=tr)
        assert res.frames.shape == (9, 32, 48, 3) and 0 <= res.frames.min() and res.frames.max() <= 1
        for i, (inp, v) in enumerate(zip(tr.model_inputs, tr.model_outputs)):
            assert inp.shape[0] == (2 if guidance > 1 else 1) and inp.shape[1] == 4
            assert torch.equal(inp[-1, 0], tr.image_latents[0, 0])
            if guidance > 1:
                assert torch.count_nonzero(inp[0, 0]) == 0 and torch.equal(inp[0, 1:], inp[1, 1:])
                v_mix = v[0] + guidance * (v[1] - v[0])
            else:
                v_mix = v[0]
            t = int(tr.timesteps[i][0])
            a = sch.alphas_cumprod[t]
            x0 = (a ** 0.5) * inp[-1:].float() - ((1 - a) ** 0.5) * v_mix[None]
            sample = inp[-1:].clone()
            if guidance > 1 and i > 0:  # with guidance the slot-0 latents evolve freely
                sample[:, 0] = tr.latents[i - 1][:, 0]
                x0[:, 0] = ((a ** 0.5) * sample[:, 0] - ((1 - a) ** 0.5) * v_mix[None, 0])
            assert torch.allclose(x0[:, 1:], tr.pred_x0[i][:, 1:], atol=1e-5)
    post = np.zeros((1, 16, 1, 4, 6))
    with pytest.raises(ValueError, match="missing scheduler noise"):  # recorded draws must be complete
        s(image, rows, steps=2, num_frames=9, noise=RecordedNoise(np.zeros((1, 3, 16, 4, 6)), post))
    with pytest.raises(ValueError, match="expected shape"):
        s(image, rows, steps=2, num_frames=9, noise=RecordedNoise(np.zeros((1, 1, 16, 4, 6)), post))


def test_plan_calls_split_and_order() -> None:
    from blur4d.generate.blur2vid import Blur2VidGenerator

    g = Blur2VidGenerator()
    ivs = Intervals.present(40)
    calls = g.plan_calls(ivs)
    assert len(calls) == 3 and all(len(c) <= 16 for c in calls)
    assert sorted(np.concatenate(calls).tolist()) == list(range(40))
    for c in calls:  # every interleaved call spans (nearly) the whole request
        assert ivs.bounds[c].min() <= -0.44 and ivs.bounds[c].max() >= 0.44
    cont = Blur2VidGenerator(split="contiguous").plan_calls(ivs)
    assert [len(c) for c in cont] == [14, 13, 13] and cont[0].tolist() == list(range(14))
    rev = Intervals(Intervals.present(5).bounds[::-1])
    assert g.plan_calls(rev)[0].tolist() == [4, 3, 2, 1, 0]  # fed in time order
    assert len(g.plan_calls(Intervals.present(16))) == 1


def test_options_validated() -> None:
    from blur4d.generate.blur2vid import Blur2VidGenerator

    g = Blur2VidGenerator()
    assert g.output_hw(3000, 4000) == (831, 1109) and g.output_hw(480, 640) == (480, 640)
    assert Blur2VidGenerator(output_size="model").output_hw(480, 640) == (720, 1280)

    for bad in (dict(steps=0), dict(guidance=0.5), dict(height=100), dict(model_frames=16), dict(output_size="x"),
                dict(split="x"), dict(dtype="int8")):
        with pytest.raises(InputError):
            Blur2VidGenerator(**bad)
    with pytest.raises(InputError):
        Blur2VidGenerator()(np.zeros((32, 32, 3), np.uint8), Intervals.present(4), direction=np.zeros((4, 4)))


def test_strict_loading_names_keys(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from blur4d.generate.blur2vid import load_transformer

    model = _tiny_transformer()
    model.save_config(tmp_path / "transformer")
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, tmp_path / "ok.safetensors")
    loaded = load_transformer(tmp_path / "transformer", tmp_path / "ok.safetensors", dtype=torch.float32)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in sd.items())
    stock = {k: v for k, v in sd.items() if "blur" not in k}
    save_file(stock, tmp_path / "stock.safetensors")
    with pytest.raises(InputError, match="patch_embed.blur_condition.*stock CogVideoX"):
        load_transformer(tmp_path / "transformer", tmp_path / "stock.safetensors", dtype=torch.float32)
    save_file({**sd, "extra.weight": torch.zeros(2)}, tmp_path / "extra.safetensors")
    with pytest.raises(InputError, match="unexpected keys: extra.weight"):
        load_transformer(tmp_path / "transformer", tmp_path / "extra.safetensors", dtype=torch.float32)
    half = load_transformer(tmp_path / "transformer", tmp_path / "ok.safetensors", dtype=torch.bfloat16,
                            official_cast=True)
    assert half.patch_embed.blur_condition.dtype == torch.bfloat16


def _empty_hub_cache(monkeypatch, path: Path) -> None:  # noqa: ANN001
    """Point huggingface_hub at ``path`` (its constants are read at import, so patch them too)."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_CACHE", str(path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(path))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)


def test_missing_weights_are_one_clear_error_without_download(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from blur4d.generate.blur2vid import resolve_base_model, resolve_weights

    _empty_hub_cache(monkeypatch, tmp_path / "hub")
    monkeypatch.delenv("BLUR4D_BLUR2VID_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError, match="allow_download"):
        resolve_weights(None)
    with pytest.raises(WeightsNotFoundError, match="allow_download"):
        resolve_base_model("THUDM/CogVideoX-2b")
    with pytest.raises(WeightsNotFoundError, match="no such file"):
        resolve_weights(str(tmp_path / "nope.safetensors"))
    (tmp_path / "base").mkdir()
    with pytest.raises(WeightsNotFoundError, match="missing transformer/config.json"):
        resolve_base_model(str(tmp_path / "base"))


def test_hub_ids_resolve_from_the_local_hub_cache(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Hub ids are looked up in the usual cache (local_files_only): a cached snapshot is used."""
    from blur4d.generate.blur2vid import DEFAULT_WEIGHTS_FILE, resolve_base_model, resolve_weights

    hub = tmp_path / "hub"
    _empty_hub_cache(monkeypatch, hub)
    rev = "0123456789abcdef0123456789abcdef01234567"
    for repo, files in (("tedlasai/blur2vid", [DEFAULT_WEIGHTS_FILE]),
                        ("THUDM/CogVideoX-2b", ["transformer/config.json", "vae/config.json",
                                                "scheduler/scheduler_config.json"])):
        root = hub / ("models--" + repo.replace("/", "--"))
        (root / "refs").mkdir(parents=True)
        (root / "refs" / "main").write_text(rev)
        for f in files:
            (root / "snapshots" / rev / f).parent.mkdir(parents=True, exist_ok=True)
            (root / "snapshots" / rev / f).write_text("{}")
    w = resolve_weights("tedlasai/blur2vid")
    assert w.is_file() and str(w).endswith(DEFAULT_WEIGHTS_FILE) and rev in str(w)
    assert resolve_base_model("THUDM/CogVideoX-2b") == hub / "models--THUDM--CogVideoX-2b" / "snapshots" / rev


def test_empty_prompt_embedding_cached_once(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """No cache: T5("") is computed from text_encoder/ (tiny random T5 here), cached, and the next
    load never touches the encoder."""
    transformers = pytest.importorskip("transformers")
    from blur4d.generate.blur2vid import default_prompt_cache, load_prompt_embeds

    monkeypatch.setenv("BLUR4D_CACHE_DIR", str(tmp_path / "cache"))
    base = tmp_path / "base"
    cfg = transformers.T5Config(vocab_size=32, d_model=12, d_kv=4, d_ff=16, num_layers=1, num_heads=2,
                                pad_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    enc = transformers.T5EncoderModel(cfg)
    enc.save_pretrained(base / "text_encoder")
    emb, src = load_prompt_embeds(base, str(base), None, None, seq_len=5, dim=12)
    cache = default_prompt_cache(str(base), 5, 12)
    assert cache.is_file() and "computed" in src and emb.shape == (1, 5, 12)
    with torch.no_grad():
        ref = enc.eval().to(torch.bfloat16)(torch.tensor([[1, 0, 0, 0, 0]]))[0]
    assert torch.equal(emb, ref)
    shutil.rmtree(base / "text_encoder")
    again, src2 = load_prompt_embeds(base, str(base), None, None, seq_len=5, dim=12)
    assert src2 == str(cache) and torch.equal(again, emb)
    with pytest.raises(InputError, match="expected shape"):
        load_prompt_embeds(base, str(base), None, None, seq_len=6, dim=12) if default_prompt_cache(
            str(base), 6, 12).exists() else load_prompt_embeds(base, str(base), str(cache), None, seq_len=6, dim=12)
    with pytest.raises(WeightsNotFoundError, match="prompt_embeds=FILE"):
        load_prompt_embeds(base, "other", None, None, seq_len=5, dim=12)


def test_cli_end_to_end_tiny_local_model(fx: Path, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """`blur4d generate photo.png --backend blur2vid --weights FILE --base-model DIR` on a tiny
    local base folder (fixture configs + VAE + our cached empty-prompt embedding)."""
    from safetensors.torch import save_file

    from blur4d.cli.main import main
    from blur4d.media import load_video

    monkeypatch.setenv("BLUR4D_CACHE_DIR", str(tmp_path / "cache"))
    base = tmp_path / "cogvideox-tiny"
    for sub in ("transformer", "vae", "scheduler"):
        (base / sub).mkdir(parents=True)
    shutil.copy(fx / "model" / "transformer" / "config.json", base / "transformer" / "config.json")
    for f in (fx / "model" / "vae").iterdir():
        shutil.copy(f, base / "vae" / f.name)
    shutil.copy(fx / "model" / "scheduler" / "scheduler_config.json", base / "scheduler" / "scheduler_config.json")
    save_file({"prompt_embeds": torch.from_numpy(np.load(fx / "prompt_embeds.npy"))},
              base / "empty_prompt_embeds.safetensors")
    photo = tmp_path / "photo.png"
    shutil.copy(fx / "input_blurred.png", photo)
    out = tmp_path / "video.mp4"
    rc = main(["generate", str(photo), "--out", str(out), "--backend", "blur2vid", "--weights",
               str(fx / "model" / "transformer" / "model.safetensors"), "--base-model", str(base), "--steps", "2",
               "--frames", "6", "--past-future", "-o", "height=48", "-o", "width=64", "-q"])
    assert rc == 0, capsys.readouterr().err
    video = load_video(out)
    # the default output size keeps the photo's aspect, scaled down (never up) to the model's
    # pixel count (here 48 x 64): derived from the fixture, which may be portrait or landscape
    from blur4d.media import read_image

    ph, pw = read_image(photo).pixels.shape[:2]
    s = min(1.0, (48 * 64 / (ph * pw)) ** 0.5)
    assert video.num_frames == 6
    assert abs(video.height - ph * s) <= 1 and abs(video.width - pw * s) <= 1, ((video.height, video.width), (ph, pw))
    assert video.height * video.width <= 48 * 64 + max(video.height, video.width)
    np.testing.assert_allclose(video.intervals.bounds, Intervals.past_present_future(6).bounds)
    side = json.loads((tmp_path / "video.mp4.json").read_text())
    assert side["backend"] == "blur2vid" and side["config"]["steps"] == 2
    # nothing local and downloads off: one line, exit 1, no download
    _empty_hub_cache(monkeypatch, tmp_path / "hub")
    rc = main(["generate", str(photo), "--out", str(tmp_path / "v2.mp4"), "--backend", "blur2vid", "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "allow_download" in err


def test_direction_time_reversal_on_synthetic_motion() -> None:
    """A square moving right: asking for right-to-left reverses the clip (the intervals are
    symmetric, so the reversed clip explains the same blur); asymmetric intervals are kept."""
    from blur4d.generate.blur2vid import _direction_angle, _orient, global_motion

    frames = np.zeros((8, 48, 64, 3), np.uint8)
    for i in range(8):
        frames[i, 16:32, 8 + 4 * i: 24 + 4 * i] = 220
        frames[i, 20:28, 12 + 4 * i: 16 + 4 * i] = 90
    motion = global_motion(frames)
    assert motion[0] > 20 and abs(motion[1]) < 2  # 28 px to the right
    ivs = Intervals.present(8)
    kept, why = _orient(frames, ivs, _direction_angle("left-to-right"))
    assert kept is frames and why.startswith("kept")
    rev, why = _orient(frames, ivs, _direction_angle("right-to-left"))
    assert why.startswith("time-reversed") and np.array_equal(rev, frames[::-1])
    asym = Intervals.uniform(8, -0.5, 1.0)
    same, why = _orient(frames, asym, 180.0)
    assert same is frames and "not symmetric" in why
    assert _direction_angle(90) == 90.0 and _direction_angle("bottom-to-top") == 270.0


def test_many_frames_run_several_calls_and_join_in_order() -> None:
    """40 intervals (given in shuffled order) -> 3 calls of <= 16, same seed per call, frames
    put back where they were asked for. A stand-in sampler with the real call signature paints
    each frame with its interval's centre."""
    from blur4d.generate._cogvideox import SampleResult
    from blur4d.generate.blur2vid import Blur2VidGenerator

    seen = []

    class Painter:
        def __call__(self, image, rows, *, steps, guidance, num_frames, noise, on_step=None):  # noqa: ANN001, ANN204
            seen.append((len(rows), noise.generator.initial_seed(), image.shape))
            assert len(rows) <= num_frames - 1 and np.all(np.diff(rows[:, 0]) > 0)  # time order
            frames = np.zeros((num_frames, 32, 48, 3), np.float32)
            frames[: len(rows)] = ((rows.mean(1) + 1.0) / 2.0)[:, None, None, None]
            for i in range(steps + 1):
                on_step(i, steps)
            return SampleResult(frames=frames, latents=torch.zeros(1), timings={"denoise": 0.0})

    gen = Blur2VidGenerator(steps=3, height=32, width=48, output_size="model")
    gen._sampler = Painter()
    perm = np.random.default_rng(0).permutation(40)
    ivs = Intervals(Intervals.past_present_future(40).bounds[perm])
    out = gen(np.full((20, 30, 3), 128, np.uint8), ivs, samples=2, seed=7)
    assert [s[0] for s in seen] == [14, 13, 13] * 2 and [s[1] for s in seen] == [7] * 3 + [8] * 3
    want = (((ivs.centers + 1.0) / 2.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out.video.frames[:, 0, 0, 0], want)
    assert out.video.intervals == ivs and out.choices[0]["calls"] == 3
    assert Blur2VidGenerator().output_hw(20, 30) == (20, 30)


def test_full_size_layout_matches_the_released_checkpoint() -> None:
    """CogVideoX-2b config (built on the meta device, no memory): 739 state-dict keys = diffusers'
    736 + the 3 blur tensors, 1 694 158 272 parameters, as the spec's must-hold facts say."""
    from diffusers import CogVideoXTransformer3DModel

    from blur4d.generate._cogvideox import BLUR_KEYS, Blur2VidTransformer

    cfg = dict(num_attention_heads=30, attention_head_dim=64, num_layers=30, text_embed_dim=4096,
               max_text_seq_length=226, time_embed_dim=512, sample_height=60, sample_width=90, sample_frames=49)
    with torch.device("meta"):
        ours = Blur2VidTransformer(**cfg)
        stock = CogVideoXTransformer3DModel(**cfg)
    sd, ref = ours.state_dict(), stock.state_dict()
    assert len(sd) == 739 and len(ref) == 736 and set(sd) - set(ref) == set(BLUR_KEYS)
    assert sum(p.numel() for p in ours.parameters()) == 1_694_158_272
    assert tuple(sd["patch_embed.blur_proj.weight"].shape) == (1920, 192)
    assert tuple(sd["patch_embed.blur_condition"].shape) == (2, 1920)
    assert all(sd[k].shape == ref[k].shape for k in ref)
