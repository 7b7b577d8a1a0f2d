#!/bin/sh
# Installs rolecall for one user: the binary, the menu entry (its Exec the
# binary's full path, so that it starts whatever PATH the desktop has) and
# the icon. From the unpacked tarball: ./install.sh. From the source tree,
# `make install` runs it with the built binary.
#   PREFIX (default ~/.local)   where to install
#   install.sh [BINARY DESKTOP ICON]   default: the files beside this script
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
bin=${1:-$here/rolecall}
desktop=${2:-$here/rolecall.desktop}
icon=${3:-$here/rolecall.png}
install -Dm755 "$bin" "$PREFIX/bin/rolecall"
mkdir -p "$PREFIX/share/applications"
sed "s|^Exec=rolecall\$|Exec=$PREFIX/bin/rolecall|" "$desktop" >"$PREFIX/share/applications/rolecall.desktop"
install -Dm644 "$icon" "$PREFIX/share/icons/hicolor/256x256/apps/rolecall.png"
echo "installed $PREFIX/bin/rolecall, its menu entry and its icon"
case ":$PATH:" in
*":$PREFIX/bin:"*) ;;
*) echo "$PREFIX/bin is not on PATH yet: export PATH=\"$PREFIX/bin:\$PATH\" (Debian adds ~/.local/bin at the next login)" ;;
esac
