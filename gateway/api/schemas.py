"""Request bodies of the REST API (responses are plain JSON documents built by gateway.queries)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketCreate(_Body):
    # "phone"/"walk_in": an operator took the report; "voice" is the old name of "phone" (never a
    # voicemail: those come from the SIP line only and go to the morning review)
    channel: Literal["web", "voice", "phone", "walk_in"] = "web"
    description: str = Field(min_length=1, max_length=20000)
    subject: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    category: str | None = None
    location_text: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    idempotency_key: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _both_coordinates(self) -> TicketCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class Validate(_Body):
    category: str | None = None
    description: str | None = Field(default=None, max_length=20000)
    location_text: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=5000)


class Assign(_Body):
    utility: str | None = None
    note: str | None = Field(default=None, max_length=5000)


class Transition(_Body):
    to: Literal[
        "received",
        "open",
        "assigned",
        "in_progress",
        "resolved",
        "closed",
        "waiting",
        "forwarded",
        "duplicate",
        "discarded",
    ]
    note: str | None = Field(default=None, max_length=5000)
    forwarded_to: str | None = Field(default=None, max_length=500)
    duplicate_of: str | None = Field(default=None, max_length=40)
    utility: str | None = None
    category: str | None = None


class Reply(_Body):
    text: str = Field(min_length=1, max_length=5000)


class Merge(_Body):
    into: str = Field(min_length=1, max_length=40)
    note: str | None = Field(default=None, max_length=5000)


class Note(_Body):
    text: str = Field(min_length=1, max_length=5000)
    public: bool = False


class Callback(_Body):
    needed: bool = True
    note: str | None = Field(default=None, max_length=2000)
