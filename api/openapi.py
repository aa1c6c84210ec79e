"""OpenAPI pieces shared by every app: the error body, the usual error responses, a schema hook."""

import json
import re

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error: one human-readable message; validation errors also list them per field."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: field name -> list of messages. A nested field is named by its "
        'path: "channels.0" for the first item of channels.',
    )


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


BAD_REQUEST = error("Invalid input: malformed JSON or a field that fails validation.")
UNAUTHENTICATED = error("Missing, invalid or expired access token.")
UNSUPPORTED_MEDIA_TYPE = error("The body is not application/json.")


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref", "")
    return components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema


def _typed(prop: dict, components: dict) -> dict | None:
    """One typed string schema for a nullable ``oneOf`` of string alternatives, or None if there is none.

    The alternatives drf-spectacular writes are an enum plus a null enum (a nullable choice) or a
    patterned string plus an empty string (a blank-able one); the empty one is dropped only when
    the pattern already takes "".
    """
    alternatives = [_resolve(alt, components) for alt in prop["oneOf"]]
    values = [alt for alt in alternatives if alt.get("enum") != [None]]
    blank = {"type": "string", "maxLength": 0}
    main = [alt for alt in values if alt != blank and alt.get("enum") != [""]]
    if len(main) != 1 or main[0].get("type") != "string":
        return None
    typed = {key: value for key, value in prop.items() if key != "oneOf"}
    typed.update(main[0])
    if len(main) != len(values) and not re.match(typed.get("pattern", ""), ""):
        return None
    if "enum" in typed:
        typed["enum"] = [*typed["enum"], *([""] if len(main) != len(values) else []), None]
    return typed


def typed_nullables(result, generator, request, public):
    """A postprocessing hook: no ``nullable`` beside a typeless ``oneOf`` (strict generators reject it).

    Runs after drf-spectacular's enum hook; unused enum components it made are then dropped.
    """
    components = result.get("components", {}).get("schemas", {})
    for component in components.values():
        for name, prop in component.get("properties", {}).items():
            if prop.get("nullable") and "type" not in prop and "oneOf" in prop:
                component["properties"][name] = _typed(prop, components) or prop
    text = json.dumps(result)
    for name in [name for name in components if name.startswith(("NullEnum", "BlankEnum"))]:
        if f'"#/components/schemas/{name}"' not in text:
            del components[name]
    return result
