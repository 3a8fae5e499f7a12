"""Image processing with real Pillow: metadata gone, orientation applied, compression, thumbnails, bombs
and broken files refused (no database)."""

import io
import json
import resource
import time

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from conversa.errors import domain_error_response
from conversa.files import images
from conversa.files.images import (
    MAX_PIXELS,
    TARGET_BYTES,
    ImageRejected,
    ImageTooLarge,
    ProcessedImage,
    process_image,
)
from tests.fixtures import media_files as f

RED, BLUE = (220, 30, 30), (30, 30, 220)


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def assert_no_metadata(data: bytes):
    image = reopen(data)
    assert "exif" not in image.info and "xmp" not in image.info and "comment" not in image.info
    assert not image.getexif()
    assert not image.getexif().get_ifd(f.GPS_IFD)
    for marker in (b"SpyCam", b"Exif\x00\x00", b"secret", b"GPS", b"xmpmeta"):
        assert marker not in data


# --- JPEG -----------------------------------------------------------------------------------------


def test_a_phone_jpeg_loses_its_exif_and_gps_and_is_turned_upright():
    original = f.jpeg((200, 100), orientation=6)
    source = reopen(original)
    assert source.getexif()[f.ORIENTATION] == 6 and source.getexif().get_ifd(f.GPS_IFD)[1] == "S"

    result = process_image(io.BytesIO(original), mime="image/jpeg")

    assert isinstance(result, ProcessedImage) and result.mime == "image/jpeg"
    assert (result.width, result.height) == (100, 200)
    image = reopen(result.data)
    assert image.format == "JPEG" and image.size == (100, 200) and image.info.get("progressive")
    assert_no_metadata(result.data)
    # Orientation 6 is "rotate 90° clockwise to view": the left (red) half ends up on top.
    assert close_to(image.getpixel((50, 20)), RED) and close_to(image.getpixel((50, 180)), BLUE)


@pytest.mark.parametrize("orientation, size", [(1, (200, 100)), (3, (200, 100)), (8, (100, 200))])
def test_other_orientations(orientation, size):
    result = process_image(io.BytesIO(f.jpeg((200, 100), orientation=orientation)), mime="image/jpeg")
    assert (result.width, result.height) == size == reopen(result.data).size


def test_xmp_and_comments_are_dropped_and_the_colour_profile_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>23,33S</exif:GPSLatitude></x:xmpmeta>'
    original = f.encode(f.pattern(), "JPEG", exif=f.exif_with_gps().tobytes(), xmp=xmp,
                        comment=b"secret", icc_profile=srgb)
    assert b"xmpmeta" in original and b"secret" in original
    result = process_image(io.BytesIO(original), mime="image/jpeg")
    assert_no_metadata(result.data)
    assert reopen(result.data).info.get("icc_profile") == srgb


def test_a_cmyk_jpeg_becomes_rgb():
    result = process_image(io.BytesIO(f.encode(f.pattern().convert("CMYK"), "JPEG")), mime="image/jpeg")
    image = reopen(result.data)
    assert image.mode == "RGB" and close_to(image.getpixel((10, 50)), RED, tolerance=60)


def test_a_grey_jpeg_stays_grey():
    result = process_image(io.BytesIO(f.encode(f.pattern().convert("L"), "JPEG")), mime="image/jpeg")
    assert reopen(result.data).mode == "L" and result.thumbnail_mime == "image/jpeg"


def test_a_3_mb_noisy_jpeg_is_compressed_under_2_mb():
    original = f.encode(f.noise((1700, 1100)), "JPEG", quality=100)
    assert len(original) > 3_000_000
    result = process_image(io.BytesIO(original), mime="image/jpeg")
    assert len(result.data) <= TARGET_BYTES <= 2_000_000
    assert reopen(result.data).format == "JPEG"


def test_a_big_noisy_photo_is_scaled_to_2560_px_at_most():
    original = f.encode(f.noise((3000, 2000), seed=2), "JPEG", quality=95)
    assert len(original) > 5_000_000
    started = time.monotonic()
    result = process_image(io.BytesIO(original), mime="image/jpeg")
    assert len(result.data) <= TARGET_BYTES and max(result.width, result.height) <= 2560
    assert reopen(result.data).size == (result.width, result.height)
    assert time.monotonic() - started < 10


def test_a_large_photo_that_compresses_well_keeps_its_size():
    original = f.encode(f.pattern((3000, 2000)), "JPEG", quality=95)
    result = process_image(io.BytesIO(original), mime="image/jpeg")
    assert (result.width, result.height) == (3000, 2000)


# --- PNG, WebP, GIF -------------------------------------------------------------------------------


def test_png_stays_png_without_text_chunks_or_exif():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location")
    original = f.png(pnginfo=info, exif=f.exif_with_gps(orientation=8).tobytes())
    result = process_image(io.BytesIO(original), mime="image/png")
    image = reopen(result.data)
    assert result.mime == "image/png" and image.format == "PNG"
    assert (result.width, result.height) == (100, 200)  # eXIf orientation 8 applied
    assert "Comment" not in image.info and not getattr(image, "text", {})
    assert_no_metadata(result.data)


def test_transparent_png_keeps_its_alpha_and_gets_a_png_thumbnail():
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((200, 10, 10, 255), (0, 0, 200, 300))
    result = process_image(io.BytesIO(f.encode(image, "PNG")), mime="image/png")
    assert reopen(result.data).mode == "RGBA"
    thumbnail = reopen(result.thumbnail)
    assert result.thumbnail_mime == "image/png" and thumbnail.format == "PNG" and thumbnail.size == (320, 240)
    assert thumbnail.getpixel((300, 100))[3] == 0


def test_an_opaque_rgba_screenshot_gets_a_jpeg_thumbnail():
    result = process_image(io.BytesIO(f.png((800, 600), mode="RGBA")), mime="image/png")
    assert result.thumbnail_mime == "image/jpeg" and reopen(result.thumbnail).format == "JPEG"


def test_a_palette_png_keeps_its_transparent_colour():
    palette = f.pattern((200, 100)).convert("P")
    result = process_image(io.BytesIO(f.encode(palette, "PNG", transparency=0)), mime="image/png")
    image = reopen(result.data)
    assert image.mode == "P" and image.info.get("transparency") == 0
    assert result.thumbnail_mime == "image/png"


def test_a_16_bit_png_gets_a_visible_thumbnail():
    deep = Image.linear_gradient("L").resize((300, 200)).convert("I").point(lambda value: value * 256)
    deep = deep.convert("I;16")
    result = process_image(io.BytesIO(f.encode(deep, "PNG")), mime="image/png")
    thumbnail = reopen(result.thumbnail).convert("L")
    low, high = thumbnail.getextrema()
    assert low < 30 and high > 220  # a gradient, not clipped to white


def test_a_noisy_png_is_scaled_down_to_its_floor():
    original = f.encode(f.noise((2000, 1500), seed=3), "PNG")
    assert len(original) > 8_000_000
    result = process_image(io.BytesIO(original), mime="image/png")
    assert result.mime == "image/png" and max(result.width, result.height) == images.LOSSLESS_STEPS[-1][0]
    assert len(result.data) < len(original) / 3


def test_webp_stays_webp_without_exif():
    result = process_image(io.BytesIO(f.webp((200, 100))), mime="image/webp")
    assert reopen(result.data).format == "WEBP" and (result.width, result.height) == (100, 200)
    assert_no_metadata(result.data)


def test_an_animated_gif_keeps_its_frames_but_not_its_comment():
    original = f.gif((60, 40), frames=5)
    assert b"secret comment" in original
    result = process_image(io.BytesIO(original), mime="image/gif")
    image = Image.open(io.BytesIO(result.data))
    assert image.format == "GIF" and image.n_frames == 5 and image.info.get("loop") == 0
    assert image.info.get("duration") == 80
    assert b"secret comment" not in result.data and "comment" not in image.info
    assert result.thumbnail_mime == "image/jpeg" and reopen(result.thumbnail).size == (60, 40)


def test_a_still_gif_stays_a_gif():
    result = process_image(io.BytesIO(f.gif((60, 40))), mime="image/gif")
    assert reopen(result.data).format == "GIF" and b"secret comment" not in result.data


def test_an_animated_webp_keeps_its_frames():
    frames = [f.pattern((120, 80)).rotate(angle) for angle in (0, 90, 180)]
    original = f.encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    result = process_image(io.BytesIO(original), mime="image/webp")
    assert Image.open(io.BytesIO(result.data)).n_frames == 3


def test_an_animation_too_long_is_refused(monkeypatch):
    monkeypatch.setattr(images, "MAX_ANIMATION_PIXELS", 60 * 40 * 4)
    with pytest.raises(ImageTooLarge):
        process_image(io.BytesIO(f.gif((60, 40), frames=5)), mime="image/gif")
    monkeypatch.setattr(images, "MAX_ANIMATION_PIXELS", 10**9)
    monkeypatch.setattr(images, "MAX_FRAMES", 3)
    with pytest.raises(ImageTooLarge):
        process_image(io.BytesIO(f.gif((60, 40), frames=5)), mime="image/gif")


# --- thumbnails -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(4000, 3000), (1000, 3000), (321, 100)])
def test_thumbnails_are_at_most_320_px(size):
    result = process_image(io.BytesIO(f.jpeg(size, orientation=None)), mime="image/jpeg")
    thumbnail = reopen(result.thumbnail)
    assert max(thumbnail.size) == 320 and result.thumbnail_mime == "image/jpeg"
    assert_no_metadata(result.thumbnail)


def test_small_images_are_not_enlarged_for_their_thumbnail():
    result = process_image(io.BytesIO(f.png((50, 30))), mime="image/png")
    assert reopen(result.thumbnail).size == (50, 30)


# --- refusals -------------------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header_without_allocating_it():
    bomb = f.png_bomb(20000, 20000)  # 400 million pixels in ~50 KB
    assert len(bomb) < 100_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImageTooLarge) as caught:
        process_image(io.BytesIO(bomb), mime="image/png")
    assert time.monotonic() - started < 1
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 50_000  # decoding it would take 400 MB
    error = caught.value
    assert error.status == 422 and error.code == "image_rejected"
    assert isinstance(error, ImageRejected)
    assert error.details["max_pixels"] == MAX_PIXELS
    assert json.loads(domain_error_response(error).content)["error"]["code"] == "image_rejected"


def test_just_over_the_cap_is_refused_too():
    # 49 MP: between MAX_IMAGE_PIXELS and twice it, where Pillow only warns.
    with pytest.raises(ImageTooLarge):
        process_image(io.BytesIO(f.png_bomb(7000, 7000)), mime="image/png")


def test_the_cap_holds_even_if_pillows_guard_is_switched_off(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageTooLarge) as caught:
        process_image(io.BytesIO(f.png_bomb(8000, 6000)), mime="image/png")
    assert caught.value.details["width"] == 8000


def test_pillows_guard_is_set():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS == 40_000_000


@pytest.mark.parametrize(
    "data, mime",
    [
        (f.jpeg((800, 600))[:3000], "image/jpeg"),  # truncated JPEG
        (f.png((800, 600))[:-40], "image/png"),  # truncated PNG
        (f.png(), "image/jpeg"),  # not the sniffed format
        (b"\xff\xd8\xff\xe0" + b"garbage" * 100, "image/jpeg"),
        (f.PDF, "image/png"),
        (b"", "image/gif"),
        (f.SVG, "image/svg+xml"),  # never an image type here
    ],
    ids=["truncated-jpeg", "truncated-png", "png-as-jpeg", "garbage-jpeg", "pdf", "empty", "svg"],
)
def test_broken_or_foreign_files_are_refused(data, mime):
    with pytest.raises(ImageRejected) as caught:
        process_image(io.BytesIO(data), mime=mime)
    error = caught.value
    assert type(error) is ImageRejected and error.status == 415 and error.code == "unsupported_media_type"
    assert str(error.message)


def test_a_truncated_jpeg_says_so():
    with pytest.raises(ImageRejected) as caught:
        process_image(f.jpeg((800, 600))[:3000], mime="image/jpeg")
    assert caught.value.details == {"mime": "image/jpeg", "reason": "truncated"}
