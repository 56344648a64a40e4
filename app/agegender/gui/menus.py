"""The main window's menu bar: what each menu offers, its keys, and the dialogs that choose a source.
Every action calls back into the window (gui/window.py); the window keeps the actions it updates."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QStyle

from agegender.sources.live import list_cameras

DESIGN_TITLES = {"multitask": "Multi-task", "single": "Single-task pair", "compare": "Compare"}


@dataclass
class WindowMenus:
    play: QAction  # Pause / Play, as the playback bar shows it too
    step: QAction
    loop: QAction
    designs: dict[str, QAction]  # one per design choice, exclusive
    record: QAction
    snapshot: QAction
    export: QAction


def build_menus(window) -> WindowMenus:
    bar = window.menuBar()
    source = bar.addMenu("&Source")
    cameras = source.addMenu("Cameras")
    cameras.aboutToShow.connect(lambda: fill_cameras(cameras, window.open_source))
    source.addAction("Open &file…", lambda: ask_file(window), QKeySequence.StandardKey.Open)
    source.addAction("Open &URL…", lambda: ask_url(window))

    playback = bar.addMenu("&Playback")
    icon = lambda name: window.style().standardIcon(getattr(QStyle.StandardPixmap, name))
    play = playback.addAction(icon("SP_MediaPause"), "&Pause", window.toggle_pause, QKeySequence(Qt.Key.Key_Space))
    step = playback.addAction(icon("SP_MediaSkipForward"), "&Step", window.step, QKeySequence(Qt.Key.Key_Period))
    step.setToolTip("Step one frame (.)")
    loop = playback.addAction(icon("SP_BrowserReload"), "&Loop")
    loop.setCheckable(True)
    loop.toggled.connect(lambda on: setattr(window.grabber, "loop", on) if window.grabber else None)

    menu = bar.addMenu("&Design")
    group = QActionGroup(window)
    designs = {}
    for i, (key, title) in enumerate(DESIGN_TITLES.items()):
        action = menu.addAction(title, lambda k=key: window.set_design(k), QKeySequence(f"Ctrl+{i + 1}"))
        action.setCheckable(True)
        group.addAction(action)
        designs[key] = action

    output = bar.addMenu("&Output")
    record = output.addAction("&Record video…", window.toggle_recording, QKeySequence("Ctrl+R"))
    record.setCheckable(True)
    snapshot = output.addAction("&Snapshot…", window.ask_snapshot, QKeySequence("Ctrl+S"))
    export = output.addAction("&Export results (JSONL or CSV)…", window.outputs.toggle_export, QKeySequence("Ctrl+E"))
    export.setCheckable(True)

    view = bar.addMenu("&View")
    view.addAction("&Settings…", window.show_settings, QKeySequence("Ctrl+,"))
    return WindowMenus(play, step, loop, designs, record, snapshot, export)


def enable_designs(designs: dict[str, QAction], available) -> None:
    """Once the models are loaded: a design whose networks are not loaded cannot be chosen."""
    for key, action in designs.items():
        action.setEnabled(available(key))
        action.setToolTip("" if available(key) else "its model files are missing from models/")


def fill_cameras(menu: QMenu, open_source) -> None:
    menu.clear()
    cameras = list_cameras()
    for index in cameras:
        menu.addAction(f"Camera {index}", lambda i=index: open_source(str(i)))
    if not cameras:
        menu.addAction("No camera found").setEnabled(False)


def ask_file(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open a video or image")
    if path:
        window.open_source(path)


def ask_url(window) -> None:
    url, ok = QInputDialog.getText(window, "Open a stream", "rtsp:// or http:// address:")
    if ok and url.strip():
        window.open_source(url.strip())
