"""Photo decoding: EXIF orientation, ICC, 16-bit, grayscale, palette, RGBA, CMYK, formats."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from blur4d.errors import InputError
from blur4d.media import read_frames, read_image, write_image, write_mp4


def _gradient(w=64, h=48):
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                           np.full((h, w, 1), 90, np.float32)], 2).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil(tmp_path, orientation):
    img = Image.fromarray(_gradient(64, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.jpg"
    img.save(p, exif=exif, quality=100)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
    got = read_image(p).pixels
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.shape[:2] == ((64, 40)[::-1] if orientation < 5 else (64, 40))


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("WEBP", ".webp")])
def test_formats(tmp_path, fmt, suffix):
    p = tmp_path / f"x{suffix}"
    Image.fromarray(_gradient()).save(p, format=fmt, **({"quality": 100} if fmt in ("JPEG", "WEBP") else {}))
    px = read_image(p).pixels
    assert px.shape == (48, 64, 3) and px.dtype == np.uint8
    assert np.abs(px.astype(int) - _gradient()).mean() < 3


def test_grayscale_palette_rgba_cmyk_16bit(tmp_path):
    g = _gradient()
    Image.fromarray(g[..., 0]).save(tmp_path / "l.png")
    assert read_image(tmp_path / "l.png").pixels.shape == (48, 64, 3)
    Image.fromarray(g).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").pixels.shape == (48, 64, 3)
    rgba = np.concatenate([g, np.full((48, 64, 1), 128, np.uint8)], 2)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="alpha"):
        ph = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(ph.pixels, g)
    Image.fromarray(g).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    assert np.abs(read_image(tmp_path / "c.jpg").pixels.astype(int) - g).mean() < 6
    sixteen = (g[..., 0].astype(np.uint16) * 257)
    Image.fromarray(sixteen).save(tmp_path / "s.png")  # mode I;16
    np.testing.assert_array_equal(read_image(tmp_path / "s.png").pixels[..., 0], g[..., 0])
    import cv2

    rgb16 = (g.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])
    cv2.imwrite(str(tmp_path / "rgb16.tif"), rgb16[..., ::-1])
    for name in ("rgb16.png", "rgb16.tif"):
        assert np.abs(read_image(tmp_path / name).pixels.astype(int) - g).max() <= 1, name


def test_icc_profile_is_converted_to_srgb(tmp_path):
    g = _gradient()
    srgb = ImageCms.createProfile("sRGB")
    p = tmp_path / "icc.jpg"
    prof = ImageCms.ImageCmsProfile(srgb)
    Image.fromarray(g).save(p, icc_profile=prof.tobytes(), quality=100)
    ph = read_image(p)
    assert any("ICC" in w for w in ph.warnings)
    assert np.abs(ph.pixels.astype(int) - g).mean() < 3  # sRGB -> sRGB is (nearly) the identity


def test_exif_focal_length_is_read(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    ifd = exif.get_ifd(0x8769)
    ifd[0x920A] = 4.25
    ifd[0xA405] = 26
    p = tmp_path / "f.jpg"
    Image.fromarray(_gradient()).save(p, exif=exif)
    info = read_image(p).exif
    assert info["make"] == "TestCam" and info["focal_length_mm"] == pytest.approx(4.25)
    assert info["focal_length_35mm"] == 26


def test_bad_images(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, I am not a JPEG")
    buf = io.BytesIO()
    Image.fromarray(_gradient(256, 256)).save(buf, format="JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    buf = io.BytesIO()
    Image.fromarray(_gradient(256, 256)).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    Image.fromarray(_gradient(20, 20)).save(tmp_path / "tiny.png")
    cases = {"missing.jpg": "no such file", "empty.jpg": "empty", "text.jpg": "not a recognised image",
             "trunc.jpg": "truncated", "trunc.png": "truncated", "tiny.png": "too small", ".": "folder"}
    for name, msg in cases.items():
        with pytest.raises(InputError, match=msg):
            read_image(tmp_path / name)
    with pytest.raises(InputError, match="MP limit"):
        read_image(tmp_path / "trunc.png", max_pixels=1000)


def test_video_inputs(tmp_path):
    frames = np.stack([_gradient()] * 3)
    write_mp4(tmp_path / "v.mp4", frames, 10)
    got, fps = read_frames(tmp_path / "v.mp4")
    assert got.shape == (3, 48, 64, 3) and fps == pytest.approx(10)
    write_mp4(tmp_path / "one.mp4", frames[:1], 10)
    with pytest.raises(InputError, match="1 frame"):
        read_frames(tmp_path / "one.mp4")
    (tmp_path / "folder").mkdir()
    for i in range(3):
        write_image(tmp_path / "folder" / f"f{i}.png", frames[i])
    assert read_frames(tmp_path / "folder")[0].shape == (3, 48, 64, 3)
    Image.fromarray(frames[0]).save(tmp_path / "still.gif")
    with pytest.raises(InputError, match="1 frame"):
        read_frames(tmp_path / "still.gif")
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="cannot decode|0 frame"):
        read_frames(tmp_path / "bad.mp4")
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match="0 image frame"):
        read_frames(tmp_path / "e")


def test_odd_sized_mp4_is_padded(tmp_path):
    frames = np.zeros((2, 33, 47, 3), np.uint8)
    write_mp4(tmp_path / "odd.mp4", frames, 10)
    assert read_frames(tmp_path / "odd.mp4")[0].shape == (2, 34, 48, 3)


def _swapped_rb_profile() -> bytes:
    """sRGB's ICC profile with the red and blue colorant tags swapped: a valid RGB profile in
    which a pixel's red value means sRGB blue and vice versa."""
    import struct

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    entries = {bytes(data[132 + 12 * i: 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, b = entries[b"rXYZ"], entries[b"bXYZ"]
    data[r + 4: r + 12], data[b + 4: b + 12] = data[b + 4: b + 12], data[r + 4: r + 12]
    return bytes(data)


def test_non_srgb_icc_profile_is_converted(tmp_path):
    g = _gradient()
    p = tmp_path / "swapped.png"
    Image.fromarray(g).save(p, icc_profile=_swapped_rb_profile())
    ph = read_image(p)
    assert any("ICC" in w for w in ph.warnings)
    # converting through the profile swaps red and blue (up to LittleCMS rounding)
    assert np.abs(ph.pixels.astype(int) - g[..., ::-1]).max() <= 2
    assert np.abs(ph.pixels.astype(int) - g).mean() > 20


@pytest.mark.parametrize("suffix,codec", [(".webm", "libvpx-vp9"), (".mov", "libx264")])
def test_webm_and_mov_inputs(tmp_path, suffix, codec):
    import imageio.v3 as iio

    frames = np.stack([np.roll(_gradient(), 3 * i, axis=1) for i in range(4)])
    path = tmp_path / f"v{suffix}"
    iio.imwrite(path, frames, plugin="FFMPEG", fps=8, codec=codec, macro_block_size=1)
    got, fps = read_frames(path)
    assert got.shape == frames.shape and fps == pytest.approx(8)
    assert np.abs(got.astype(int) - frames).mean() < 8


def test_encode_png_round_trips_gray_rgb_rgba():
    import io

    from PIL import Image

    from blur4d.media import encode_png

    rng = np.random.default_rng(0)
    for shape in ((9, 7), (9, 7, 3), (9, 7, 4)):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        for level in (1, 3):
            back = np.asarray(Image.open(io.BytesIO(encode_png(img, level=level))))
            assert back.shape == img.shape and np.array_equal(back, img)


def test_write_image_png_level_same_pixels(tmp_path):
    """The OpenCV PNG path (``png_level``) writes the same pixels as Pillow's, in RGB order, gray too."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    for name, img in (("rgb", rgb), ("gray", gray)):
        write_image(tmp_path / f"{name}_pil.png", img)
        write_image(tmp_path / f"{name}_cv.png", img, png_level=1)
        a = np.asarray(Image.open(tmp_path / f"{name}_pil.png"))
        b = np.asarray(Image.open(tmp_path / f"{name}_cv.png"))
        assert b.shape == img.shape and np.array_equal(a, b) and np.array_equal(b, img)
