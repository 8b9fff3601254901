from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

import ppfom.image as image_mod
from ppfom.errors import PpfomError
from ppfom.image import read_image

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _write_cv2(path, array, ext=None):
    """cv2.imwrite cannot handle non-ASCII paths; encode then write bytes."""
    ok, buf = cv2.imencode(ext or path.suffix, array)
    assert ok
    buf.tofile(str(path))
    return path


def _quadrants(h=16, w=24):
    """An RGB image whose orientation and channel order are both recognisable."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = RED
    img[: h // 2, w // 2:] = GREEN
    img[h // 2:, : w // 2] = BLUE
    img[h // 2:, w // 2:] = (255, 255, 0)
    return img


def _one_line_error(path, match):
    with pytest.raises(PpfomError) as info:
        read_image(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert match in message
    return message


def test_rgb_png_is_exact_and_rgb_ordered(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    path = _write_cv2(tmp_path / "a.png", img[:, :, ::-1])
    out = read_image(path)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff"])
def test_formats_decode_to_rgb(tmp_path, ext):
    img = _quadrants(32, 32)
    path = _write_cv2(tmp_path / f"q{ext}", img[:, :, ::-1])
    out = read_image(path)
    assert out.shape == (32, 32, 3)
    # Compare quadrant centres (lossy codecs blur the borders).
    for (y, x), colour in zip([(4, 4), (4, 28), (28, 4), (28, 28)],
                              [RED, GREEN, BLUE, (255, 255, 0)], strict=True):
        assert np.abs(out[y, x].astype(int) - colour).max() <= 12, (ext, y, x, out[y, x])


def test_grayscale_png_becomes_three_equal_channels(tmp_path):
    gray = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    out = read_image(_write_cv2(tmp_path / "g.png", gray))
    assert out.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)


def test_hxwx1_array_becomes_rgb():
    gray = np.array([[[0], [128], [255]]], np.uint8)
    out = image_mod._to_rgb_uint8(gray, False, "x", "source image")
    np.testing.assert_array_equal(out, [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]])


def test_gray_alpha_is_composited_over_white(tmp_path):
    value = np.full((1, 3), 100, np.uint8)
    alpha = np.array([[0, 255, 128]], np.uint8)
    Image.fromarray(np.dstack([value, alpha]), "LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    blended = round(100 * 128 / 255 + 255 * (1 - 128 / 255))
    np.testing.assert_array_equal(out[0, :, 0], [255, 100, blended])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_rgba_is_composited_over_white_in_rgb_order(tmp_path):
    rgba = np.array([[[200, 10, 0, 255], [0, 0, 0, 0], [200, 10, 0, 51]]], np.uint8)
    _write_cv2(tmp_path / "rgba.png", rgba[:, :, [2, 1, 0, 3]])
    out = read_image(tmp_path / "rgba.png").astype(int)
    expected_partial = [round(v * 0.2 + 255 * 0.8) for v in (200, 10, 0)]
    np.testing.assert_array_equal(out[0], [[200, 10, 0], [255, 255, 255], expected_partial])


def test_palette_png_with_transparency(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png", transparency=0)
    np.testing.assert_array_equal(read_image(tmp_path / "p.png")[0], [[255, 255, 255], [10, 20, 30]])


def test_16_bit_png_scales_to_8_bit(tmp_path):
    rgb16 = np.array([[[0, 257 * 100, 65535], [65535, 0, 257 * 3]]], np.uint16)
    _write_cv2(tmp_path / "c16.png", rgb16[:, :, ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "c16.png")[0], [[0, 100, 255], [255, 0, 3]])
    gray16 = np.array([[0, 32896, 65535]], np.uint16)  # 32896 = 128 * 257
    _write_cv2(tmp_path / "g16.png", gray16)
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[0, :, 1], [0, 128, 255])


def test_float_tiff_in_unit_range_scales_and_clips(tmp_path):
    rgbf = np.array([[[0.0, 0.5, 1.0], [0.2, 1.5, -0.5]]], np.float32)
    _write_cv2(tmp_path / "f.tiff", rgbf[:, :, ::-1])
    # OpenCV 4.11 (the Python 3.10 / paddle 2.6 environment) decodes float TIFF two levels off.
    np.testing.assert_allclose(read_image(tmp_path / "f.tiff")[0], [[0, 128, 255], [51, 255, 0]], atol=2)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tiff"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_once(tmp_path, orientation, ext):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{ext}"
    Image.fromarray(_quadrants()).save(path, exif=exif, quality=95, lossless=True)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB")).astype(int)
    out = read_image(path).astype(int)
    assert out.shape == expected.shape
    assert np.abs(out - expected).mean() < 3


def test_non_ascii_path_with_spaces(tmp_path):
    img = _quadrants()
    path = _write_cv2(tmp_path / "мой фото é.png", img[:, :, ::-1])
    np.testing.assert_array_equal(read_image(path), img)


def test_missing_file_names_the_flag(tmp_path):
    message = _one_line_error(tmp_path / "x.png", "does not exist")
    assert "--source_image" in message


def test_folder_is_rejected(tmp_path):
    _one_line_error(tmp_path, "folder")


def test_zero_bytes(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    _one_line_error(tmp_path / "z.png", "empty")


def test_text_file_renamed_png(tmp_path):
    (tmp_path / "t.png").write_text("not an image\n")
    _one_line_error(tmp_path / "t.png", "not a readable image")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_truncated_file(tmp_path, ext):
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    full = _write_cv2(tmp_path / f"full{ext}", noise).read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(full[: int(len(full) * 0.6)])
    _one_line_error(cut, "not a readable image")


def _png_header_only(path, width, height):
    """A PNG whose header claims a huge canvas but holds no real pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_refused_from_header(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 9000, 9000)
    message = _one_line_error(path, "9000x9000")
    assert str(image_mod.MAX_PIXELS) in message


def test_pillow_bomb_limit_is_reported_too(tmp_path):
    path = _png_header_only(tmp_path / "huge.png", 20000, 20000)
    _one_line_error(path, "over the limit")


def test_limit_is_the_module_constant(tmp_path, monkeypatch):
    path = _write_cv2(tmp_path / "s.png", np.zeros((10, 20, 3), np.uint8))
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 199)
    _one_line_error(path, "20x10")
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 200)
    assert read_image(path).shape == (10, 20, 3)
