"""Settings: one BaseSettings, read from FRAMEWARDEN_* variables and a TOML file.

Precedence (highest first): keyword arguments, environment variables,
``.env``-style secrets are not used, then the TOML file named by
``FRAMEWARDEN_CONFIG`` (default ``<data_dir>/framewarden.toml`` when present),
then the defaults below.  Every command (``moderate``, ``scan``, ``serve``,
``keys``, ``banks``) reads the same settings, so they share one data directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    """A per-user data folder (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "framewarden"


def _toml_path() -> Path | None:
    explicit = os.environ.get("FRAMEWARDEN_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = Path(os.environ.get("FRAMEWARDEN_DATA_DIR") or default_data_dir())
    candidate = data_dir / "framewarden.toml"
    return candidate if candidate.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAMEWARDEN_", extra="forbid")

    # --- storage -------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite database, hash banks, evidence and keys.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty = SQLite file framewarden.db in data_dir. "
        "Use postgresql+psycopg://... in production.",
    )
    evidence_url: str = Field(
        "",
        description="Where evidence frames go: empty = <data_dir>/evidence, a folder path, "
        "or s3://bucket/prefix on the S3-compatible endpoint below.",
    )
    evidence_keep_clean: bool = Field(False, description="Also keep frames with no violation (clean/).")
    # --- S3-compatible object storage (sources s3://... and evidence) ---
    s3_endpoint_url: str = Field("", description="Endpoint of the S3-compatible store; empty = AWS.")
    s3_access_key_id: str = Field("", description="Access key for the S3-compatible store.")
    s3_secret_access_key: SecretStr = Field(SecretStr(""), description="Secret key for S3.")
    s3_region: str = Field("us-east-1", description="Region name sent to the S3 endpoint.")
    # --- analysis --------------------------------------------------------
    analyzers: list[str] = Field(
        default_factory=lambda: ["nudenet", "ocr_text", "hashlist"],
        description="Analyzers run by default, by registry key.",
    )
    analyzer_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-analyzer config, e.g. [analyzer_options.nudenet] min_score = 0.3.",
    )
    min_confidence: float = Field(50.0, ge=0, le=100, description="Default minimum confidence (0-100).")
    max_image_pixels: int = Field(
        50_000_000, gt=0, description="Refuse images larger than this many pixels (decompression bombs)."
    )
    inference_threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads; 0 = one per core.")
    # --- server ----------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `framewarden serve` listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port `framewarden serve` listens on.")
    auth_enabled: bool = Field(True, description="Require API keys (turn off only for local use).")
    max_upload_bytes: int = Field(25 * 1024 * 1024, gt=0, description="Largest image accepted by the API.")
    image_rate_limit_per_minute: int = Field(
        600, gt=0, description="Per-key rate limit of the image endpoint."
    )
    allowed_source_schemes: list[str] = Field(
        default_factory=lambda: ["rtmp", "rtmps", "rtsp", "rtsps", "srt", "http", "https", "s3"],
        description="URL schemes a channel source may use.",
    )
    allow_file_sources: bool = Field(False, description="Allow file: / local paths as channel sources.")
    # --- notifications ---------------------------------------------------
    smtp_host: str = Field("", description="SMTP server for e-mail alerts; empty = e-mail off.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_username: str = Field("", description="SMTP user name (empty = no AUTH).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Use STARTTLS.")
    smtp_from: str = Field("framewarden@localhost", description="Sender address of alert e-mails.")
    notification_targets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Notification targets (webhook / email / null), e.g. in TOML "
        '[[notification_targets]] name = "ops" type = "webhook" url = "https://..." secret = "...".',
    )
    notify_default: list[str] = Field(
        default_factory=list, description="Targets notified when a rule names none."
    )
    alert_escalation_s: float = Field(
        300.0, ge=0, description="Raise an open alert's severity after this many seconds (0 = never)."
    )
    alert_group_s: float = Field(
        60.0,
        ge=0,
        description="Fold a repeat of an open alert (same channel, same top label) seen within this "
        "many seconds of its last frame into that alert (occurrences + 1, no new notification) "
        "instead of opening a new one (0 = never group).",
    )
    log_level: str = Field("INFO", description="Logging level.")
    # --- scale-out: live channels on a Ray cluster (docs/scale.md) -----------
    engine: Literal["local", "ray"] = Field(
        "local", description="Where `serve` runs live channels: in this process, or as Ray actors."
    )
    ray_address: str = Field(
        "", description="Ray cluster to join (auto, host:port, ray://host:port); empty = a private one."
    )
    ray_max_restarts: int = Field(
        -1, ge=-1, description="Restarts of a channel actor after a lost node or crash (-1 = always)."
    )
    live_node_headroom: float = Field(
        0.9, gt=0, le=1, description="Share of a node's CPUs that live channels may reserve."
    )
    live_decode_ms: float = Field(4.0, gt=0, description="CPU ms to decode one frame (full decode).")
    live_keyframe_decode_ms: float = Field(7.0, gt=0, description="CPU ms to decode one keyframe.")
    live_infer_ms: float = Field(
        65.0, ge=0, description="CPU ms to analyze one sampled frame (default analyzers, bench/live_cost.py)."
    )
    live_assumed_fps: float = Field(30.0, gt=0, description="Frame rate assumed when placing a channel.")
    live_assumed_gop_s: float = Field(
        2.0, gt=0, description="Keyframe spacing assumed when placing a channel."
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # --- derived paths ----------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'framewarden.db'}"

    @property
    def banks_dir(self) -> Path:
        return self.data_dir / "banks"

    @property
    def evidence_location(self) -> str:
        return self.evidence_url or str(self.data_dir / "evidence")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()``)."""
    return Settings()
