"""Where the shipped models and assets are.

An installed wheel carries them inside the package (agegender/models, agegender/assets; the build takes
them from the repository's models/ and assets/). In a checkout they are the repository's own folders,
two levels above this package, and so in the PyInstaller build, which keeps that layout.
$AGEGENDER_MODELS (or --models) points at another models folder, MTCNN's included.
"""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent.parent  # the repository root, when running from a checkout


def _bundled(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else CHECKOUT_DIR / name


MODELS_DIR = Path(os.environ.get("AGEGENDER_MODELS") or _bundled("models"))
ASSETS_DIR = _bundled("assets")
SHARED_MEDIA_DIR = CHECKOUT_DIR.parent / "shared" / "media"  # the project's test media, beside a checkout


def mtcnn_dir(models_dir: Path | None = None) -> Path:
    return Path(models_dir or MODELS_DIR) / "mtcnn"


MTCNN_DIR = mtcnn_dir()
