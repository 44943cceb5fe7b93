from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import UtcDatetime


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None
    username: str
    display_name: str
    role: str


class StaffUserOut(StaffOut):
    active: bool
    created_at: UtcDatetime


class StaffUserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str
    display_name: str | None = Field(default=None, max_length=64)
