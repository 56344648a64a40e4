"""Where the shipped models and assets live: beside the app package (in a checkout, and in the
PyInstaller build, which keeps the same layout), or $AGEGENDER_MODELS for the models."""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_DIR = Path(os.environ.get("AGEGENDER_MODELS", PACKAGE_DIR.parent / "models"))
MTCNN_DIR = MODELS_DIR / "mtcnn"
ASSETS_DIR = PACKAGE_DIR.parent / "assets"
