"""Media: frames, image decoding, video sources and the sampler."""

from framewarden.media.frame import Frame

__all__ = ["Frame"]
