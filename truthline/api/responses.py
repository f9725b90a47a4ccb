"""The JSON response class every route and error uses.

UTF-8 as usual, but a lone surrogate that slipped into a message or a stored value (`"\\ud800"` is valid JSON
text, not encodable UTF-8) makes it fall back to ASCII escapes instead of crashing the response.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
