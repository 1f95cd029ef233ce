#!/usr/bin/env bash
# Install everything openlipsync needs on Debian 12 + Python 3.11 (idempotent; a second run is fast).
#   scripts/setup.sh            system packages + .venv + the package
#   scripts/setup.sh --test     also the test/eval dependencies and the test services (PostgreSQL, Redis, chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

sudo_cmd=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; else
    echo "note: not root and no sudo; assuming system packages are installed" >&2; sudo_cmd="skip"; fi
fi

python=${PYTHON:-python3}
apt_pkgs=(ffmpeg espeak-ng)
# Debian's own python3 ships venv without ensurepip until python3-venv is installed.
"$python" -c "import ensurepip, venv" 2>/dev/null || apt_pkgs+=(python3-venv)
[ $want_test = 1 ] && apt_pkgs+=(postgresql redis-server chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ "$sudo_cmd" != "skip" ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
stamp_src=$(cat pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.openlipsync-$stamp_src-$want_test"
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages into .venv"
  extras=""
  [ $want_test = 1 ] && extras="[test,eval]"
  .venv/bin/pip install -q --disable-pip-version-check -e ".$extras" 2>&1 | grep -v "^WARNING: Location" || true
  # mediapipe pulls opencv-contrib-python; a second cv2 wheel (headless) would overwrite it half-way.
  if .venv/bin/pip show -q opencv-python-headless >/dev/null 2>&1; then
    .venv/bin/pip uninstall -y -q opencv-python-headless
    .venv/bin/pip install -q --force-reinstall --no-deps "opencv-contrib-python==5.1.0.95" 2>&1 | grep -v "^WARNING: Location" || true
  fi
  .venv/bin/python -c "import openlipsync, cv2, mediapipe" 2>/dev/null
  rm -f .venv/.openlipsync-*
  touch "$stamp"
fi
