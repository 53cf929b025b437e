#!/usr/bin/env bash
# Rebuilds src/framewarden/data/demo.mp4 (see its README).
set -euo pipefail
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=15:duration=12" \
  -vf "drawtext=fontfile=$FONT:text='framewarden demo':x=20:y=20:fontsize=36:fontcolor=white:box=1:boxcolor=black@0.6,drawtext=fontfile=$FONT:text='FORBIDDEN DEMO PHRASE':x=(w-tw)/2:y=h-80:fontsize=40:fontcolor=yellow:box=1:boxcolor=black@0.8:enable='between(t,6,10)'" \
  -c:v libx264 -preset veryslow -crf 32 -g 15 -pix_fmt yuv420p -movflags +faststart \
  "$(dirname "$0")/../src/framewarden/data/demo.mp4"
