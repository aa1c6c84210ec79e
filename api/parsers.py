"""The API's JSON body parser: numbers become exact Decimals, never floats.

DRF's stock parser turns ``70000.5`` into a float before any field sees it;
prices must stay exact from the wire to the database, so JSON numbers with a
fraction or exponent are parsed as ``Decimal``. NaN/Infinity literals and
bodies nested deeply enough to exhaust the recursion limit are a 400, not a 500.
"""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded_stream = codecs.getreader(encoding)(stream)
            return json.load(decoded_stream, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
