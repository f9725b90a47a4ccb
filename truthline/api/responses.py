"""The JSON response class every route and error uses.

UTF-8 as usual, but a lone surrogate that slipped into a message or a stored value (`"\\ud800"` is valid JSON
text, not encodable UTF-8) makes it fall back to ASCII escapes instead of crashing the response.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as a JSON response, serialized once in pydantic's Rust core (hot routes: FastAPI's
    response_model path validates the returned object again and then encodes it a second time)."""
    try:
        body = model.__pydantic_serializer__.to_json(model)
    except ValueError:  # e.g. a lone surrogate in stored text: let SafeJSONResponse fall back to ASCII escapes
        return SafeJSONResponse(model.model_dump(mode="json"), status_code=status_code)
    return Response(body, status_code=status_code, media_type="application/json")
