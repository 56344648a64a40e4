#!/bin/sh
# Installs the PyInstaller build (dist/agegender) for the current user: the program in
# ~/.local/opt/agegender, the command in ~/.local/bin, the menu entry and icon, and the kiosk service
# (installed, not enabled). Run from the repository root after building; see docs/unattended.md.
set -eu
OPT="$HOME/.local/opt/agegender"
[ -x dist/agegender/agegender ] || { echo "build first: pyinstaller packaging/agegender.spec (see docs/unattended.md)" >&2; exit 1; }
mkdir -p "$HOME/.local/opt" "$HOME/.local/bin" "$HOME/.local/share/applications" \
         "$HOME/.local/share/icons/hicolor/256x256/apps" "$HOME/.config/systemd/user" "$HOME/.config/agegender"
rm -rf "$OPT" && cp -r dist/agegender "$OPT"
ln -sf "$OPT/agegender" "$HOME/.local/bin/agegender"
sed "s|^Exec=agegender|Exec=$OPT/agegender|" packaging/agegender.desktop > "$HOME/.local/share/applications/agegender.desktop"
cp assets/icon-256.png "$HOME/.local/share/icons/hicolor/256x256/apps/agegender.png"
cp packaging/agegender-kiosk.service "$HOME/.config/systemd/user/"
[ -e "$HOME/.config/agegender/kiosk.toml" ] || cp assets/kiosk.toml "$HOME/.config/agegender/kiosk.toml"
echo "installed in $OPT; for the kiosk: systemctl --user enable --now agegender-kiosk.service"
