"""A GStreamer RTSP server that plays an H.264 FLV clip at real time (run by the *system* python3).

Debian's ``gir1.2-gst-rtsp-server-1.0`` and ``python3-gi`` live in the system
interpreter, not in the project's virtualenv, so tests start this file as a
separate process::

    /usr/bin/python3 tests/e2e/rtsp_server.py PORT MOUNT CLIP [USER:PASSWORD]

Each client gets its own pipeline (the clip from its start, no re-encoding).
It prints ``READY`` once it listens and ``PLAYING <wall clock>`` whenever a
client's pipeline starts, so a benchmark knows when media time 0 went out.
With USER:PASSWORD, clients must authenticate (basic auth); others get 401.
"""

from __future__ import annotations

import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, mount, clip = sys.argv[1], sys.argv[2], sys.argv[3]
    credentials = sys.argv[4] if len(sys.argv) > 4 else ""
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! flvdemux ! h264parse config-interval=-1 '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(False)
    factory.set_latency(0)

    def on_media(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        def on_state(_media: object, state: int) -> None:
            if state == Gst.State.PLAYING:
                print(f"PLAYING {time.time():.6f}", flush=True)

        media.connect("new-state", on_state)

    factory.connect("media-configure", on_media)
    if credentials:
        user, _, password = credentials.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print("ERROR cannot listen", flush=True)
        sys.exit(1)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
