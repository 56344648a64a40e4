"""Where the shipped models live."""
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_DIR = PACKAGE_DIR.parent / "models"
MTCNN_DIR = MODELS_DIR / "mtcnn"
