"""Where the shipped models live: models/ beside the app package, or $AGEGENDER_MODELS."""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_DIR = Path(os.environ.get("AGEGENDER_MODELS", PACKAGE_DIR.parent / "models"))
MTCNN_DIR = MODELS_DIR / "mtcnn"
