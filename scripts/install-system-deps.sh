#!/usr/bin/env bash
# System packages the tests use: FFmpeg, nginx with the RTMP module,
# PostgreSQL, DejaVu fonts, espeak-ng (speech for the ASR tests), Chromium (dashboard tests),
# GStreamer's RTSP server (e2e tests of RTSP ingest, run under the system python3).
# Installs only what is missing (needs root).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v nginx >/dev/null || need+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
[ -x /usr/bin/chromium ] || need+=(chromium)  # the dashboard's browser tests (Playwright drives it)
# SRT ingest relays through the system ffmpeg: Debian's build has libsrt (PyAV's wheel does not).
dpkg -s python3-gi >/dev/null 2>&1 || need+=(python3-gi)
for pkg in gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
