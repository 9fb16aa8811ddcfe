"""The base of every file specification read with pydantic: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that refuses keys it does not define (a misspelt key is an error, not
    silently ignored)."""

    model_config = ConfigDict(extra="forbid")
