"""The base of every file specification read with pydantic: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that refuses keys it does not define (a misspelt key is an error, not
    silently ignored) and NaN or infinite numbers (refused at the boundary of the package, not
    deep inside a computation); a field that means something by ``inf`` allows it itself."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
