"""Form posts checked by the API's own serializers and services, errors in the API's words.

A page's form fields carry the API's names, so a post is turned into the
API's input (blank fields left out, multi-valued fields as lists) and handed
to the same serializer the endpoint uses; what it refuses, and what the
service refuses after it, comes back as ``{field: [messages]}``, shown next
to each field. Errors that name no field go under ``form``.
"""

from django.core.exceptions import ValidationError
from rest_framework import serializers

NON_FIELD = "form"


def post_data(post, *, lists: tuple[str, ...] = (), keep_blank: tuple[str, ...] = ()) -> dict:
    """The API input a form post stands for: blank inputs are "not sent" (unless listed in keep_blank)."""
    data = {}
    for name in post:
        if name == "csrfmiddlewaretoken":
            continue
        if name in lists:
            data[name] = [value for value in post.getlist(name) if value.strip()]
            continue
        value = post.get(name, "")
        if value.strip() or name in keep_blank:
            data[name] = value.strip() if name != "note" else value
    return data


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]


def field_errors(detail) -> dict[str, list[str]]:
    """DRF's error detail or a Django ValidationError as {field: [messages]}."""
    if isinstance(detail, ValidationError):
        if hasattr(detail, "error_dict"):
            errors: dict[str, list[str]] = {}
            for field, messages in detail.message_dict.items():
                # "symbols.1" (a watchlist's second symbol) shows next to the symbols field.
                name = NON_FIELD if field == "__all__" else field.split(".", 1)[0]
                errors.setdefault(name, []).extend(messages)
            return errors
        return {NON_FIELD: list(detail.messages)}
    if isinstance(detail, dict):
        errors = {}
        for field, value in detail.items():
            name = NON_FIELD if field == "non_field_errors" else field.split(".", 1)[0]
            errors.setdefault(name, []).extend(_messages(value))
        return errors
    return {NON_FIELD: _messages(detail)}


def validated(serializer_class: type[serializers.Serializer], data: dict) -> tuple[dict | None, dict]:
    """(validated data, {}) or (None, errors) from the API's serializer."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data, {}
    return None, field_errors(serializer.errors)


def with_passwords(data: dict, post, names: tuple[str, ...]) -> dict:
    """``data`` with these password fields exactly as typed: the API's PasswordField keeps
    surrounding spaces (trim_whitespace=False), so a page must not strip them either."""
    return {**data, **{name: post.get(name, "") for name in names}}
