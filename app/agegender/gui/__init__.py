"""The PySide6 window: video, design toggle, compare panel, recording, kiosk mode."""
