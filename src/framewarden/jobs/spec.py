"""What a video job is asked to do: one typed, validated object, stored with the job.

The same spec comes from ``POST /v1/jobs``, from Rekognition's
``StartContentModeration`` and from the bucket watcher; it is stored as the
job's ``inputs`` so a restarted server resumes the job with the settings it
was started with.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from framewarden.config import Settings
from framewarden.errors import ConfigError
from framewarden.pipeline.channels import check_source

JOB_SCHEMES = ("s3", "http", "https")


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        ..., min_length=1, max_length=2048, description="s3://bucket/key, http(s) URL or path."
    )
    sample_interval_s: float = Field(
        1.0, ge=0, le=3600, description="Analyze one frame per interval (0 = all)."
    )
    min_confidence: float = Field(
        50.0, ge=0, le=100, description="Labels below this confidence are left out."
    )
    analyzers: list[str] | None = Field(
        None, description="Subset of the server's analyzers to report (default: all of them)."
    )
    dedup: bool = Field(True, description="Skip frames that are near-duplicates of the last analyzed one.")
    tag: str = Field("", max_length=256, description="Free label returned with the job (JobTag).")
    notify: list[str] = Field(default_factory=list, description="Notification targets told on completion.")
    sns_topic_arn: str = Field("", max_length=1024, description="SNS topic named by a Rekognition client.")
    parent: str = Field("", description="The batch job this video belongs to, if any.")
    version: str = Field("", max_length=1024, description="S3 object version, if pinned.")

    def check(self, settings: Settings, server_analyzers: list[str]) -> JobSpec:
        """Refuse what the operator did not allow (schemes, local files, unknown analyzers)."""
        scheme = self.source.split("://", 1)[0].lower() if "://" in self.source else ""
        allowed = [s for s in settings.job_source_schemes if s in JOB_SCHEMES]
        if scheme and scheme not in allowed:
            raise ConfigError(
                f"{self.source}: scheme {scheme!r} is not allowed for jobs ({', '.join(allowed)})"
            )
        check_source(self.source, settings)
        unknown = sorted(set(self.analyzers or ()) - set(server_analyzers))
        if unknown:
            raise ConfigError(
                f"analyzers {unknown} are not loaded by this server ({', '.join(server_analyzers)})"
            )
        for name in self.notify:
            if name not in {str(t.get("name", "")) for t in settings.notification_targets}:
                raise ConfigError(f"notification target {name!r} is not configured")
        return self

    def to_inputs(self) -> dict[str, Any]:
        return self.model_dump()
