"""The PySide6 window: video, playback bar, design toggle, compare panel, outputs, kiosk mode."""
