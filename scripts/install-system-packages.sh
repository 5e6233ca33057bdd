#!/usr/bin/env bash
# Install the Debian packages listed in the given files (one package per line, '#' comments).
#
# Why a script instead of a README line: CI and developers install exactly the same list, and
# packages already present are skipped so re-running is cheap and needs no network.
#
# Usage: scripts/install-system-packages.sh scripts/system-packages-examples.txt [more.txt ...]
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 PACKAGE-LIST-FILE [PACKAGE-LIST-FILE ...]" >&2
    exit 2
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "error: apt-get/dpkg-query not found; this script supports Debian/Ubuntu only." >&2
    echo "Install these packages with your system's package manager:" >&2
    cat "$@" | sed -e 's/#.*//' -e 's/[[:space:]]//g' | grep -v '^$' >&2 || true
    exit 1
fi

wanted=()
for list in "$@"; do
    if [ ! -r "$list" ]; then
        echo "error: cannot read package list '$list'" >&2
        exit 2
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        pkg="${line%%#*}"
        pkg="$(echo "$pkg" | tr -d '[:space:]')"
        [ -n "$pkg" ] && wanted+=("$pkg")
    done < "$list"
done

# De-duplicate while keeping order (the same package may appear in several lists).
if [ "${#wanted[@]}" -gt 0 ]; then
    mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | awk '!seen[$0]++')
fi

missing=()
for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "All ${#wanted[@]} listed packages are already installed."
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "error: installing ${missing[*]} needs root, and sudo is not available." >&2
    echo "Run this script as root, or install them yourself: apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
