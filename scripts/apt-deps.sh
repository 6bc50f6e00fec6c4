#!/usr/bin/env bash
# Installs the Debian packages named as arguments when their command is
# missing. Needs root (as on CI and dev machines here); otherwise it says
# what to install and leaves it to the user.
set -euo pipefail
declare -A cmd=([chromium]=chromium [redis-server]=redis-server [strace]=strace [firefox-esr]=firefox-esr [iproute2]=ip)
missing=()
for pkg in "$@"; do
	c=${cmd[$pkg]:-$pkg}
	command -v "$c" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
