#!/usr/bin/env bash
# No container engine runs on the development machines, so this proves the Dockerfile's runtime
# stage another way: build the release binaries as the build stage does (static Swift runtime),
# list their shared-library needs, and check that each comes from a Debian package the runtime
# stage installs (its "# RUNTIME-PACKAGES:" line). Exit 1 on any library the image would lack.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product ternd >/dev/null
swift build -c release --static-swift-stdlib --product tern >/dev/null
packages=$(sed -n 's/^# RUNTIME-PACKAGES: //p' Dockerfile)
[ -n "$packages" ] || { echo "Dockerfile has no '# RUNTIME-PACKAGES:' line"; exit 1; }
status=0
for binary in .build/release/ternd .build/release/tern; do
    echo "$binary:"
    while read -r library path; do
        case "$library" in linux-vdso.so.*) continue ;; esac
        if [ -z "$path" ] || [ ! -e "$path" ]; then
            echo "  $library: not found on this machine"; status=1; continue
        fi
        real=$(readlink -f "$path")
        package=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true)
        package=${package%%:*}
        package=${package%%,*}
        if [ -z "$package" ]; then
            echo "  $library ($path): from no Debian package (is the Swift runtime linked dynamically?)"; status=1
        elif [[ " $packages " == *" $package "* ]]; then
            echo "  $library: $package (installed by the runtime stage)"
        else
            echo "  $library: $package is NOT installed by the runtime stage"; status=1
        fi
    done < <(ldd "$binary" | awk '/=>/ {print $1, $3; next} {print $1, $1}')
done
[ "$status" -eq 0 ] && echo "runtime stage provides every shared library the binaries need"
exit "$status"
