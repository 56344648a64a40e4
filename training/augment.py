"""Augmentation that looks like a camera, applied to aligned uint8 RGB crops as training sees them.

Each step imitates something the app meets on a webcam or a recorded video that the training photos
lack: small, distant faces (downscaled to 24-64 px and scaled back up), motion and defocus blur, JPEG
and video-codec blocking, exposure, white balance and gamma shifts, sensor noise, grayscale, partial
occlusion (a hand, dark glasses, hair), the landmark jitter of the app's own detector (a small random
similarity transform of the aligned crop), small rotations and mirroring. Everything is drawn from the
generator passed in, so a seed reproduces a batch exactly.
"""
from __future__ import annotations

import cv2
import numpy as np

SMALL_FACE_PX = (24, 64)
# Recorded with every run's recipe; raised with any change to what the augmentation does.
# 2: JPEG and video blocking encoded in the encoder's colour order (1 gave it RGB as if BGR).
VERSION = 2


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One augmented copy of an (S, S, 3) uint8 RGB crop; the input is not modified."""
    crop = np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)
    crop = _jitter_alignment(crop, rng)
    if rng.random() < 0.3:
        crop = _small_face(crop, rng)
    if rng.random() < 0.25:
        crop = _blur(crop, rng)
    if rng.random() < 0.8:
        crop = _exposure(crop, rng)
    if rng.random() < 0.3:
        crop = _white_balance(crop, rng)
    if rng.random() < 0.25:
        crop = _noise(crop, rng)
    if rng.random() < 0.2:
        crop = _occlude(crop, rng)
    if rng.random() < 0.08:
        crop = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if rng.random() < 0.4:
        crop = _compress(crop, rng)
    return crop


def _jitter_alignment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotation within +-12 degrees, scale 0.9-1.1 and a shift of up to 5%: what landmark noise of a few
    pixels and a tilted head do to an aligned crop."""
    size = crop.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-12, 12), rng.uniform(0.9, 1.1))
    matrix[:, 2] += rng.uniform(-0.05, 0.05, 2) * size
    return cv2.warpAffine(crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _small_face(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = crop.shape[0]
    small = int(rng.integers(SMALL_FACE_PX[0], SMALL_FACE_PX[1] + 1))
    tiny = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
    return cv2.resize(tiny, (size, size), interpolation=cv2.INTER_LINEAR)


def _blur(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return motion_blur(crop, int(rng.integers(3, 10)), rng.uniform(0, 180))
    if kind == 1:  # defocus: a disc kernel
        radius = int(rng.integers(1, 4))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)).astype(np.float32)
        return cv2.filter2D(crop, -1, kernel / kernel.sum())
    return cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.5))


def motion_blur(crop: np.ndarray, length: int, angle: float) -> np.ndarray:
    """Blur along a line of `length` pixels at `angle` degrees: a face or camera moving during the exposure."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(crop, -1, kernel / max(kernel.sum(), 1e-6))


def _exposure(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    contrast = rng.uniform(0.6, 1.4)
    out = cv2.convertScaleAbs(crop, alpha=contrast, beta=rng.uniform(-40, 40) + 128 * (1 - contrast))
    if rng.random() < 0.4:
        gamma = rng.uniform(0.6, 1.6)
        table = np.clip(255 * (np.arange(256) / 255) ** gamma, 0, 255).astype(np.uint8)
        out = cv2.LUT(out, table)
    return out


def _white_balance(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gains = rng.uniform(0.8, 1.2, 3)
    return np.clip(crop.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def _noise(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(2, 12)
    return np.clip(crop + rng.normal(0, sigma, crop.shape), 0, 255).astype(np.uint8)


def _occlude(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand over the lower face, dark glasses over the eyes, or hair over one side."""
    size = crop.shape[0]
    out = crop.copy()
    kind = rng.integers(3)
    if kind == 0:
        skin = np.clip(rng.normal((200, 150, 120), 30), 0, 255)
        centre = (int(rng.uniform(0.2, 0.8) * size), int(rng.uniform(0.75, 1.0) * size))
        axes = (int(rng.uniform(0.15, 0.3) * size), int(rng.uniform(0.1, 0.2) * size))
        cv2.ellipse(out, centre, axes, rng.uniform(0, 180), 0, 360, skin.tolist(), -1)
    elif kind == 1:
        shade = float(rng.uniform(10, 60))
        y = int(rng.uniform(0.33, 0.42) * size)
        for x in (0.34, 0.66):
            cv2.ellipse(out, (int(x * size), y), (int(0.14 * size), int(0.08 * size)), 0, 0, 360, (shade,) * 3, -1)
    else:
        hair = np.clip(rng.normal((50, 35, 25), 20), 0, 255).tolist()
        width = int(rng.uniform(0.1, 0.25) * size)
        x0 = 0 if rng.random() < 0.5 else size - width
        cv2.rectangle(out, (x0, 0), (x0 + width, int(rng.uniform(0.5, 1.0) * size)), hair, -1)
    return out


def _compress(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """JPEG at quality 20-90, or a video codec's blocking: a slightly downscaled frame at quality 8-25."""
    size = crop.shape[0]
    video = rng.random() < 0.4
    if video:
        crop = cv2.resize(crop, (int(size * 0.75), int(size * 0.75)), interpolation=cv2.INTER_AREA)
    quality = int(rng.integers(8, 26) if video else rng.integers(20, 91))
    out = jpeg_round_trip_rgb(crop, quality)
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR) if video else out


def jpeg_round_trip(image_bgr: np.ndarray, quality: int) -> np.ndarray:
    """The image saved as JPEG and read back. OpenCV's encoder takes BGR: given RGB, it would compute
    brightness and subsample colour as if red were blue, unlike a camera."""
    _, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def jpeg_round_trip_rgb(crop: np.ndarray, quality: int) -> np.ndarray:
    return cv2.cvtColor(jpeg_round_trip(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), quality), cv2.COLOR_BGR2RGB)


def grid(crops: np.ndarray, columns: int = 8, seed: int = 0) -> np.ndarray:
    """An image of each crop (first column) beside augmented copies of it, for a reader to judge."""
    rows = []
    for i, crop in enumerate(crops):
        rng = np.random.default_rng([seed, i])
        rows.append(np.concatenate([crop] + [augment(crop, rng) for _ in range(columns - 1)], axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    import argparse

    from training.crops import load_cache
    from training.sources import SOURCES

    parser = argparse.ArgumentParser(description="Write a grid of augmented training crops (first column: "
                                                 "the crop as cached). The grid shows dataset faces: keep it local.")
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--per-source", type=int, default=4)
    args = parser.parse_args()
    picks = []
    for source in SOURCES:
        crops, _ = load_cache(source)
        picks.append(crops[np.random.default_rng(0).choice(len(crops), args.per_source, replace=False)])
    image = grid(np.concatenate(picks))
    if not cv2.imwrite(args.out, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"cannot write {args.out}")
    print(f"wrote {args.out}: {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main()
