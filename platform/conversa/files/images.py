"""Images as stored and sent (SPEC §8): re-encoded without metadata, orientation applied, compressed
when big, with a thumbnail; decompression bombs refused before any pixel is decoded.

Decisions:

- The format never changes: JPEG stays JPEG (quality 85, progressive), PNG stays PNG (optimised
  up to 2 MP; zlib level 6 above, as level 9 takes ten times longer on photographic content for ~8%
  less), WebP stays WebP (lossy, quality 85), GIF stays GIF. ``ProcessedImage.mime`` is the input
  type.
- Animated GIF and WebP keep their animation: every frame is re-saved (durations and loop count
  kept, comments and other extensions dropped). Animations are capped in frames and in total
  pixels (frames × width × height), or refused.
- Metadata: EXIF (GPS, camera, …), XMP, comments and text chunks are dropped. The ICC colour
  profile is kept when the colour space is unchanged (without it, wide-gamut phone photos look
  dull); CMYK is converted to RGB (through its profile when there is one).
- Over ``TARGET_BYTES`` after re-encoding: scaled to at most 2560 px on the long side, then the
  quality steps down (JPEG/WebP) and the size steps down, until under ``TARGET_BYTES`` or at the
  floor (1280 px for JPEG/WebP at quality 60; 1024 px for PNG/GIF), which is kept as it is.
- Refusals: a decompression bomb (more than ``MAX_PIXELS``, read from the header before decoding)
  → ImageTooLarge, 422 ``image_rejected``; a truncated, corrupt or undecodable file, or one that is
  not the sniffed format → ImageRejected, 415 ``unsupported_media_type``.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps, ImageSequence

from conversa.errors import DomainError

MAX_PIXELS = 40_000_000  # 40 MP: more than any phone camera; 160 MB as RGBA
# Pillow's own guard, for this process: warns over the limit, raises over twice it. Both are
# errors here (see _open), and MAX_PIXELS is also checked explicitly, should anything reset this.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

MAX_FRAMES = 1000
MAX_ANIMATION_PIXELS = 40_000_000  # frames × width × height: e.g. 480×270 for 300 frames

TARGET_BYTES = 2_000_000  # "images over 2 MB are compressed"
MAX_SIDE = 2560
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 85
WEBP_QUALITY = 85
THUMBNAIL_QUALITY = 80
PNG_OPTIMIZE_PIXELS = 2_000_000

# (long side cap or None, quality) tried in order until the result fits; the last is the floor.
LOSSY_STEPS = ((None, 85), (MAX_SIDE, 85), (MAX_SIDE, 75), (MAX_SIDE, 65), (2048, 65), (1600, 62),
               (1280, 60))
LOSSLESS_STEPS = ((None, None), (MAX_SIDE, None), (2048, None), (1600, None), (1280, None), (1024, None))

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}

# What a decoder raises on a broken file (Pillow uses SyntaxError for some malformed headers).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
                 ZeroDivisionError)

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageRejected(DomainError):
    """The file is not a usable image of its type: truncated, corrupt, or another format."""

    status = 415
    code = "unsupported_media_type"
    default_message = _("This image is damaged or not in a supported format.")


class ImageTooLarge(ImageRejected):
    """Too many pixels (a decompression bomb) or too long an animation."""

    status = 422
    code = "image_rejected"
    default_message = _("This image is too large: it has too many pixels.")


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    mime: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_mime: str


def check_image_header(fileobj: BinaryIO, *, mime: str) -> tuple[int, int]:
    """The image's size from its header alone; ImageTooLarge for a decompression bomb.

    Cheap enough for the upload request, so a bomb is refused before clamd (which would unpack it
    for seconds) or anyone else touches it. Leaves the file at position 0.
    """
    fmt = FORMATS.get(mime)
    if fmt is None:
        raise ImageRejected(details={"mime": mime})
    fileobj.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fileobj, formats=[fmt]) as source:
                _check_pixels(source.size)
                size = source.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageTooLarge(details={"max_pixels": MAX_PIXELS}) from None
        except DECODE_ERRORS as exc:
            raise ImageRejected(details={"mime": mime, "reason": "unreadable"}) from exc
        finally:
            fileobj.seek(0)
    return size


def process_image(fileobj: BinaryIO | bytes, *, mime: str) -> ProcessedImage:
    """Re-encode an image whose type was sniffed as ``mime`` (one of ``FORMATS``).

    Reads the whole file from position 0. Raises ImageTooLarge (422) for decompression bombs and
    ImageRejected (415) for anything that does not decode. CPU-heavy for large photos (up to a
    few seconds): better in a worker than in a request.
    """
    if isinstance(fileobj, bytes | bytearray):
        fileobj = io.BytesIO(fileobj)
    fmt = FORMATS.get(mime)
    if fmt is None:
        raise ImageRejected(details={"mime": mime})
    fileobj.seek(0)
    with warnings.catch_warnings():
        # Pillow warns (DecompressionBombWarning) between MAX_IMAGE_PIXELS and twice it: refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fileobj, formats=[fmt]) as source:
                _check_pixels(source.size)  # header only: nothing decoded yet
                if fmt in ("GIF", "WEBP") and getattr(source, "is_animated", False):
                    frames, durations, loop, icc = _load_frames(source)
                    data, (width, height) = _encode_animation(frames, fmt, durations, loop, icc)
                    still = frames[0]
                else:
                    source.load()
                    still, icc = _prepare_still(source, fmt)
                    data, (width, height) = _encode_still(still, fmt, icc)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageTooLarge(details={"max_pixels": MAX_PIXELS}) from None
        except DECODE_ERRORS as exc:
            reason = "truncated" if "truncated" in str(exc) else "unreadable"
            raise ImageRejected(details={"mime": mime, "reason": reason}) from exc
    thumbnail, thumbnail_mime = _thumbnail(still)
    return ProcessedImage(data=data, mime=mime, width=width, height=height, thumbnail=thumbnail,
                          thumbnail_mime=thumbnail_mime)


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageRejected(details={"width": width, "height": height})
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(details={"max_pixels": MAX_PIXELS, "width": width, "height": height})


# --- stills ---------------------------------------------------------------------------------------


def _prepare_still(source: Image.Image, fmt: str) -> tuple[Image.Image, bytes | None]:
    """Oriented, in a mode the format saves, with no metadata left; and the ICC profile to keep."""
    icc = source.info.get("icc_profile")
    try:
        image = ImageOps.exif_transpose(source)
    except DECODE_ERRORS:  # unreadable EXIF: the pixels are still good, the orientation is lost
        image = source.copy()
    if image.mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc), None
    elif fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    elif fmt == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return _strip(image), icc


def _encode_still(image: Image.Image, fmt: str, icc: bytes | None) -> tuple[bytes, tuple[int, int]]:
    steps = LOSSY_STEPS if fmt in ("JPEG", "WEBP") else LOSSLESS_STEPS
    data, size, tried = b"", image.size, set()
    for max_side, quality in steps:
        if (_fitted_size(image.size, max_side), quality) in tried:
            continue  # already this small: the same result again
        tried.add((_fitted_size(image.size, max_side), quality))
        scaled = _scaled(image, max_side)
        data, size = _save(scaled, fmt, quality, icc), scaled.size
        if len(data) <= TARGET_BYTES:
            break
    return data, size


def _save(image: Image.Image, fmt: str, quality: int | None, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=quality or JPEG_QUALITY, optimize=True, progressive=True,
                   **extra)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=quality or WEBP_QUALITY, method=4, **extra)
    elif fmt == "PNG":
        # zlib level 9 costs ten times level 6 on photographic content for ~8% less: only when small.
        small = image.width * image.height <= PNG_OPTIMIZE_PIXELS
        effort = {"optimize": True} if small else {"compress_level": 6}
        image.save(buffer, "PNG", **effort, **extra)
    else:
        image.save(buffer, "GIF", optimize=True)
    return buffer.getvalue()


def _fitted_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    width, height = size
    if max_side is None or max(width, height) <= max_side:
        return size
    ratio = max_side / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _scaled(image: Image.Image, max_side: int | None) -> Image.Image:
    size = _fitted_size(image.size, max_side)
    if size == image.size:
        return image
    return _strip(_resizable(image).resize(size, Image.Resampling.LANCZOS))


def _resizable(image: Image.Image) -> Image.Image:
    """Palette and 1-bit images resize badly (or not at all with LANCZOS): to L/RGB(A) first."""
    if image.mode == "P":
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


# --- animations -----------------------------------------------------------------------------------


def _load_frames(source: Image.Image) -> tuple[list[Image.Image], list[int], int | None, bytes | None]:
    """Every frame, oriented and without metadata, counting pixels before each frame is decoded."""
    orientation = _orientation(source)
    icc = source.info.get("icc_profile")
    loop = source.info.get("loop")
    frames, durations, pixels = [], [], 0
    for index, frame in enumerate(ImageSequence.Iterator(source)):
        _check_pixels(frame.size)
        pixels += frame.width * frame.height
        if index + 1 > MAX_FRAMES or pixels > MAX_ANIMATION_PIXELS:
            raise ImageTooLarge(
                _("This animation is too long or too large."),
                details={"max_frames": MAX_FRAMES, "max_pixels": MAX_ANIMATION_PIXELS},
            )
        durations.append(int(frame.info.get("duration") or 100))
        image = frame.convert("RGBA" if _has_alpha(frame) else "RGB")
        if orientation in _ORIENTATION_TRANSPOSE:
            image = image.transpose(_ORIENTATION_TRANSPOSE[orientation])
        frames.append(_strip(image))
    return frames, durations, loop, icc


def _encode_animation(
    frames: list[Image.Image], fmt: str, durations: list[int], loop: int | None, icc: bytes | None
) -> tuple[bytes, tuple[int, int]]:
    data, size, tried = b"", frames[0].size, set()
    transparent = any(_has_alpha(frame) for frame in frames)
    for max_side, _quality in LOSSLESS_STEPS:
        if _fitted_size(frames[0].size, max_side) in tried:
            continue
        tried.add(_fitted_size(frames[0].size, max_side))
        scaled = [_scaled(frame, max_side) for frame in frames]
        buffer = io.BytesIO()
        params = {"save_all": True, "append_images": scaled[1:], "duration": durations}
        if fmt == "GIF":
            if loop is not None:
                params["loop"] = loop
            # Whole frames: transparent ones must clear the previous one (disposal 2).
            scaled[0].save(buffer, "GIF", **({"disposal": 2} if transparent else {}), **params)
        else:
            scaled[0].save(buffer, "WEBP", quality=WEBP_QUALITY, method=4, loop=loop or 0,
                           **({"icc_profile": icc} if icc else {}), **params)
        data, size = buffer.getvalue(), scaled[0].size
        if len(data) <= TARGET_BYTES:
            break
    return data, size


# --- thumbnails and helpers -----------------------------------------------------------------------


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    """At most THUMBNAIL_SIDE on the long side: JPEG, or PNG when the image has transparency."""
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit(image)
    alpha = _has_alpha(image)
    thumb = image.convert("RGBA" if alpha else "RGB")
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    thumb = _strip(thumb)
    buffer = io.BytesIO()
    if alpha:
        thumb.save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    thumb.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale to L (a plain convert would clip everything above 255 to white)."""
    image = image.convert("I") if image.mode != "F" else image
    low, high = image.getextrema()
    if high <= 255:
        return image.convert("L")
    scale = 255 / high
    return image.point(lambda value: value * scale).convert("L")


def _has_alpha(image: Image.Image) -> bool:
    """Transparency that shows: an alpha channel that is not fully opaque, or a transparent colour."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return image.getchannel("A").getextrema()[0] < 255
    return "transparency" in image.info


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112) or 1)
    except DECODE_ERRORS:
        return 1


def _strip(image: Image.Image) -> Image.Image:
    """No metadata travels with the pixels: savers fall back to ``info`` for EXIF, XMP, comments,
    text chunks and ICC. Only the transparent colour of palette/greyscale images is kept."""
    image.info = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    return image


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(image, source_profile, ImageCms.createProfile("sRGB"),
                                             outputMode="RGB")
        except (OSError, ValueError, ImageCms.PyCMSError):
            pass  # an unusable profile: the plain conversion below
    return image.convert("RGB")
