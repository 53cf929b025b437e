"""``POST /v1/channels/{name}/chat``: the chat beside a stream, judged by the channel's rule.

Messages in, one verdict per message out; a flagged message raises an alert
on the channel like a flagged frame (same rules, same blocklist as OCR and
speech).  English only: the profanity model is English.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from framewarden.api.deps import IngestDep, RuntimeDep

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field("", max_length=200, description="The client's message id (echoed back).")
    user: str = Field("", max_length=200, description="Who wrote it (echoed back, not judged).")
    text: str = Field(..., max_length=4000, description="The message.")


class ChatBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(..., min_length=1, max_length=500)


@router.post("/channels/{name}/chat")
async def moderate_chat(
    name: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")],
    body: ChatBatch,
    runtime: RuntimeDep,
    _: IngestDep,
) -> dict[str, Any]:
    """One verdict per message, in order: labels, matched terms, rule violations, alert id."""
    judge = runtime.text_judge()

    def run() -> list[dict[str, Any]]:
        return [
            {"id": m.id, "user": m.user, **judge.judge(name, m.text, source="chat").to_dict()}
            for m in body.messages
        ]

    verdicts = await run_in_threadpool(run)
    return {"channel": name, "verdicts": verdicts, "flagged": sum(v["flagged"] for v in verdicts)}
