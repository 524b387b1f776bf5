"""Photo evidence: EXIF GPS → ticket location, and EXIF-free copies for utilities (Pillow)."""

from __future__ import annotations

import io
from collections.abc import Collection

from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD
from pillow_heif import register_heif_opener

register_heif_opener()  # iPhones send HEIC

PHOTO_TYPES = {"image/jpeg", "image/png", "image/heic", "image/heif", "image/webp"}
# What the bytes are, whatever the sender labelled them: Open311 clients (Python requests' default
# multipart, curl -F without ;type=) often send a photo part without a Content-Type.
_FORMAT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}


def photo_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG, WebP or HEIC photo judged by its bytes (Pillow); None otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return _FORMAT_TYPES.get(img.format or "")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def uploaded_photo_type(data: bytes, limit: int, allowed: Collection[str] = PHOTO_TYPES) -> str | None:
    """The type a form upload is stored as, judged by its bytes like Open311; None refuses it.

    The browser's Content-Type is what the file name suggested: a PNG saved as .jpg is still a PNG,
    and a text file renamed .jpg is no photo at all.
    """
    if not data or len(data) > limit:
        return None
    kind = photo_type(data)
    return kind if kind in allowed else None


def _degrees(value: tuple[float, float, float], ref: str) -> float:
    d, m, s = (float(x) for x in value)
    sign = -1.0 if ref in ("S", "W") else 1.0
    return sign * (d + m / 60 + s / 3600)


def gps_from_photo(data: bytes) -> tuple[float, float] | None:
    """(lat, lon) from the photo's EXIF GPS block, or None when it has none or cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            gps = img.getexif().get_ifd(IFD.GPSInfo)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    try:
        lat = _degrees(gps[GPS.GPSLatitude], str(gps.get(GPS.GPSLatitudeRef, "N")))
        lon = _degrees(gps[GPS.GPSLongitude], str(gps.get(GPS.GPSLongitudeRef, "E")))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lat, 6), round(lon, 6)


def strip_metadata(data: bytes) -> bytes | None:
    """Re-encode the pixels only (no EXIF, GPS, maker notes); None when it is not a readable image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "JPEG"
            img.load()
            pixels = img.convert("RGBA") if img.mode == "P" else img
            # Rebuilt from raw pixels: no info dict, so no EXIF, GPS, comment or maker notes survive.
            clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    out = io.BytesIO()
    if fmt not in ("JPEG", "PNG", "WEBP"):
        fmt = "JPEG"
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    clean.save(out, format=fmt)
    return out.getvalue()
