from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.types import InputModel, Role, StaffText, Storable, UtcDatetime


class LoginIn(InputModel):
    username: Storable = Field(min_length=1, max_length=64)
    password: Storable = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None
    username: str
    display_name: str
    role: str


class StaffUserOut(StaffOut):
    active: bool
    created_at: UtcDatetime


class StaffUserIn(InputModel):
    # What api.services.auth.validate_new_account accepts.
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]{3,64}$")
    password: Storable = Field(min_length=10, max_length=256)
    role: Role
    display_name: StaffText | None = Field(default=None, min_length=1, max_length=64)
