"""The base of every model here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator and serializer are built when first used, not when its module is
    imported: a cold start imports every model its routes name, and its first request uses a few (about
    45 ms of a webhook's cold start was building the others)."""

    model_config = ConfigDict(defer_build=True)
