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

from framewarden.netpolicy import DEFAULT_DENY


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
    s3_timeout_s: float = Field(10.0, gt=0, description="Connect and read timeout of S3 calls, seconds.")
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
    models_dir: Path | None = Field(
        None,
        description="Folder of model files installed by `framewarden models install` (image_safety); "
        "empty = <python prefix>/share/framewarden/models, i.e. inside the environment framewarden runs in.",
    )
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
    # --- what the server may reach (docs/security.md) ----------------------
    controllers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Stream controllers by name, e.g. in TOML [controllers.edge] type = "nginx_rtmp" '
        'control_url = "http://127.0.0.1:8080/control"; channels refer to them by name only.',
    )
    network_allow: list[str] = Field(
        default_factory=list,
        description="Hosts / networks sources and controllers may reach (10.0.0.0/8, cams.example.com, "
        "*.example.com); empty = any address not in network_deny.",
    )
    network_deny: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENY),
        description="Hosts / networks never reached (default: link-local and cloud metadata targets).",
    )
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
    api_webhook_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (exact names or IP addresses) that webhook targets created through the API "
        "may call; empty = the API can create e-mail targets only (the SMTP server is the setting's).",
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
    # --- video jobs, the Rekognition-compatible endpoint, bucket watching ---
    job_source_schemes: list[str] = Field(
        default_factory=lambda: ["s3"],
        description="URL schemes a video job's source may use (clients submit jobs: add http/https only "
        "if the server may fetch any URL a client names).",
    )
    job_inference_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Largest share of the inference thread video jobs take while live channels run "
        "(1 = no limit); live frames always go first in the batcher's queue.",
    )
    job_workers: int = Field(1, ge=1, le=64, description="Video jobs run at once by `framewarden serve`.")
    rekognition_path_prefix: str = Field(
        "/rekognition",
        description="Path the AWS JSON endpoint also answers under (it always answers on POST /).",
    )
    rekognition_sample_interval_s: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="Sample interval of videos started by StartContentModeration (0 = all).",
    )
    rekognition_sns_topics: dict[str, str] = Field(
        default_factory=dict,
        description="SNS topic ARN (a client's NotificationChannel) -> notification target name "
        "that receives the SNS-shaped completion message.",
    )
    aws_key_master: SecretStr = Field(
        SecretStr(""),
        description="Secret from which AWS-style access keys' secrets are derived; empty = a random "
        "one kept in <data_dir>/aws-key-master (set it when several servers share one database).",
    )
    watch_urls: list[str] = Field(
        default_factory=list,
        description="s3://bucket/prefix locations whose new objects the server moderates.",
    )
    watch_interval_s: float = Field(10.0, gt=0, description="How often watched buckets are listed.")
    dashboard_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="A dashboard sign-in lasts this long (then sign in again)."
    )
    log_level: str = Field("INFO", description="Logging level.")
    # --- capacity and retention (bounded queues, bounded storage) ---------
    inference_queue_size: int = Field(
        64, gt=0, description="Frames waiting for or in inference; pushed images past it get 503."
    )
    image_timeout_s: float = Field(
        30.0, gt=0, description="A pushed image without a result after this long gets 503 (and is dropped)."
    )
    evidence_queue_size: int = Field(
        64, gt=0, description="Evidence frames waiting for upload; past it frames are dropped and counted."
    )
    retention_results_days: float = Field(
        30.0, ge=0, description="Delete live channels' results older than this many days (0 = keep)."
    )
    retention_notifications_days: float = Field(
        90.0, ge=0, description="Delete notification log entries older than this many days (0 = keep)."
    )
    retention_resolved_alerts_days: float = Field(
        365.0,
        ge=0,
        description="Delete confirmed / dismissed alerts last changed this many days ago (0 = keep).",
    )
    retention_interval_s: float = Field(
        3600.0, ge=0, description="How often the server applies retention (0 = never; see `db prune`)."
    )
    # --- shared text moderation (OCR, speech, chat) ----------------------
    text_blocklist: list[str | dict[str, str]] = Field(
        default_factory=list,
        description="Terms flagged in OCR text, transcripts and chat: "
        '"word" or {term = "...", label = "..."}. '
        "analyzer_options.ocr_text.blocklist is still read and joined to it.",
    )
    text_blocklist_file: Path | None = Field(
        None, description="A UTF-8 file of shared blocklisted terms, one a line ('term | Label' optional)."
    )
    # --- speech and uploads ----------------------------------------------
    speech_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Speech to text (English only), e.g. "
        '[speech_options] model = "moonshine" (default whisper).',
    )
    upload_max_bytes: int = Field(2 * 1024**3, gt=0, description="Largest video accepted by POST /v1/videos.")
    uploads_dir: Path | None = Field(
        None, description="Where uploaded videos are stored; None = <data_dir>/uploads."
    )
    upload_transcribe: bool = Field(True, description="Transcribe the speech of uploads.")
    upload_channel: str = Field(
        "uploads", description="Channel name whose rule judges uploads (a channel rule 'uploads' overrides)."
    )
    upload_sample_interval_s: float = Field(
        1.0, gt=0, description="Media seconds between analyzed upload frames."
    )
    upload_status_by_action: dict[str, str] = Field(
        default_factory=lambda: {"alert": "rejected", "review": "needs_review", "auto_stop": "rejected"},
        description="Status an upload gets for each rule action (rejected beats needs_review).",
    )
    upload_workers: int = Field(1, ge=1, le=16, description="Uploads processed at the same time.")
    upload_notify: list[str] = Field(
        default_factory=list,
        description="Targets told of every upload status change (empty = notify_default).",
    )
    live_transcribe: bool = Field(False, description="Transcribe the audio of live channels.")
    live_inference_lanes: int = Field(
        2,
        ge=1,
        le=64,
        description="Inference threads of `serve`'s shared batcher, each taking its own micro-batch "
        "(docs/live.md, 'Measured'): 2 holds more live channels than 1 on 2 cores. Above 1, analyzers "
        "run concurrently (ONNX Runtime sessions allow it; OCR and the hash list serialize themselves).",
    )
    live_inference_max_batch: int = Field(
        4,
        ge=1,
        le=64,
        description="Largest micro-batch of `serve`'s batcher: every frame of a batch waits for the "
        "whole batch, and on CPU a bigger batch saves almost nothing per frame.",
    )
    live_audio_max_lag_s: float = Field(
        10.0, gt=0, description="Audio further behind live than this is dropped (and counted)."
    )
    # --- scale-out: live channels on a Ray cluster (docs/scale.md) -----------
    engine: Literal["local", "ray"] = Field(
        "local", description="Where `serve` runs live channels: in this process, or as Ray actors."
    )
    ray_address: str = Field(
        "", description="Ray cluster to join (auto, host:port, ray://host:port); empty = a private one."
    )
    jobs_engine: Literal["local", "ray"] = Field(
        "local",
        description="Where `serve` runs the frames of video jobs: in this process, or as Ray tasks "
        "with a pool of inference actors (on the cluster at ray_address); the API still writes the results.",
    )
    jobs_ray_mode: Literal["actors", "tasks"] = Field(
        "actors",
        description="jobs_engine = ray: decode each job's video inside an inference actor, beside the models "
        "(actors), or in a Ray task of its own that sends the frames to the actors (tasks: decoding and "
        "inference scale apart, at more CPU per frame).",
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
    live_rebalance: bool = Field(
        False,
        description="Move a live channel whose real stream cost takes its node past its budget to a node "
        "with room (its moderation pauses a few seconds while it moves).",
    )
    ray_live_shared_inference: bool = Field(
        False,
        description="Live channel actors on a node share one inference actor (models loaded once per node).",
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

    @property
    def uploads_location(self) -> Path:
        return self.uploads_dir or self.data_dir / "uploads"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()``).

    A bad setting raises ``ConfigError`` with one line naming the file or
    variable, the field and the value (``settings_errors``).
    """
    from framewarden.settings_errors import load_checked

    return load_checked(Settings, _toml_path())
