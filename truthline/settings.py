"""One typed settings object. Every setting has a default and help text; env prefix TRUTHLINE_."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUTHLINE_", extra="ignore")

    db: str = Field("sqlite:///truthline.db", description="Database URL: sqlite:///path or postgresql+psycopg://user@host/db.")
    host: str = Field("127.0.0.1", description="Address `truthline serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `truthline serve` listens on.")
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Extra key mixed into the web pages' CSRF tokens (HMACs of the secret session token). Empty is safe: a built-in key, the same across restarts and serve processes.",
    )
    lease_seconds: int = Field(600, ge=1, description="Default lease length for a routed item, in seconds.")
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1, description="Largest import upload accepted, in bytes.")
    max_batch_items: int = Field(100_000, ge=1, description="Most items in one JSON-array import request.")
    secure_cookies: bool = Field(False, description="Mark session cookies Secure (set true behind HTTPS).")
    default_method: str = Field("auto", description="Truth-inference method used when a request names none.")
    project_creators: Literal["everyone", "admins"] = Field(
        "everyone", description="Who may create projects: every signed-in user, or admins only (a crowd's workers "
                                "then cannot start projects of their own and add others to them).")
    offload_min_labels: int = Field(
        20_000, ge=0,
        description="`truthline serve` runs truth inference over at least this many labels in a separate process at "
                    "lower CPU priority, so a manager's page load does not slow annotators' requests (0: in-process).",
    )
    offload_idle_seconds: int = Field(
        300, ge=0, le=86_400,
        description="That process ends after this many seconds without work, giving back its memory (175-230 MB); "
                    "the next inference starts another (0: it stays).",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
