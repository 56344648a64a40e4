"""The PySide6 window: video, design toggle, compare panel, recording, kiosk mode."""
import sys


def _guard_against_pyside_refcount_bug() -> None:
    """PySide6 6.12.0 on Python 3.11 gives up one reference to None on every call of a Qt method that
    returns nothing (and to True/False on some that return a bool). Python 3.12 made these objects
    immortal, which hides it there; on 3.11 the window, which makes thousands of such calls a second to
    paint every frame, aborted within seconds ("Fatal Python error: none_dealloc"). Where the loss is
    seen, the three singletons get a reference count no session can use up, as 3.12 gives them."""
    if sys.version_info >= (3, 12):
        return
    from PySide6.QtCore import QObject
    probe, before = QObject(), sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")
    if before - sys.getrefcount(None) < 50:
        return
    import ctypes
    for singleton in (None, True, False):  # ob_refcnt is the first field of every object in CPython 3.11
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40


_guard_against_pyside_refcount_bug()
