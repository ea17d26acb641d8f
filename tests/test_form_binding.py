"""Registrant forms bind their fields from prototypes (see ``bind_from_prototype``).

A field copied from a prototype must be the field WTForms itself would bind, in the request's
language, and nothing of one form (data, errors, choices) may show in another.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from ciie_rsvp.organizer.forms import OrganizerRegistrationForm
from ciie_rsvp.registration.forms import RegistrantFields, RegistrationForm

from .conftest import valid_registration

# What a form sets on its fields after binding, per request: not part of the binding.
PER_FORM = {"meta", "_form", "data", "raw_data", "object_data", "process_errors", "errors",
            "choices", "_choices", "_translations"}


def _formdata(**overrides: Any) -> MultiDict[str, Any]:
    data = MultiDict()
    for name, value in valid_registration(**overrides).items():
        for item in value if isinstance(value, list) else [value]:
            data.add(name, item)
    return data


def _comparable(field: Any) -> dict[str, Any]:
    out = {k: v for k, v in vars(field).items() if k not in PER_FORM}
    out["label"] = (field.label.field_id, str(field.label.text))
    out["flags"] = vars(field.flags)
    return out


@pytest.mark.parametrize("form_class", [RegistrationForm, RegistrantFields,
                                        OrganizerRegistrationForm])
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_copied_field_is_the_field_wtforms_binds(app: Flask, form_class: Any,
                                                   language: str) -> None:
    headers = {"Accept-Language": language}
    with app.test_request_context("/", method="POST", data=_formdata(), headers=headers):
        form_class(meta={"csrf": False})  # the first form makes the prototypes
        form = form_class(meta={"csrf": False})
        translations = form.meta.get_translations(form)
        for name, unbound in form_class._unbound_fields:
            fresh = unbound.bind(form=form, name=name, prefix="", translations=translations)
            copied = form[name]
            assert type(copied) is type(fresh)
            assert copied.meta is form.meta and copied._form is form
            assert _comparable(copied) == _comparable(fresh), name


def test_each_form_keeps_its_own_data_and_errors(app: Flask) -> None:
    with app.test_request_context("/", method="POST", headers={"Accept-Language": "zh-CN"},
                                  data=_formdata(company="", email="not-an-email")):
        zh = RegistrationForm(meta={"csrf": False})
        assert not zh.validate()
    with app.test_request_context("/", method="POST", data=_formdata(company="Acme Inc.")):
        en = RegistrationForm(meta={"csrf": False})
        assert en.validate(), en.errors
        assert en.company.data == "Acme Inc." and en.company.errors == []
    assert zh.company.data == "" and zh.company.errors
    assert set(zh.errors) == {"company", "email"}
    assert zh.email.data == "not-an-email"
    assert zh.company.flags.required and en.company.flags.required
    assert en.company is not zh.company


def test_only_declared_fields_become_prototypes(app: Flask) -> None:
    """The CSRF field is a new unbound field in every form: it must not pile up."""
    from ciie_rsvp.registration import forms

    with app.test_request_context("/", method="POST", data=_formdata()):
        RegistrantFields()
        before = len(forms._PROTOTYPES)
        for _ in range(50):
            form = RegistrantFields()
            assert "csrf_token" in form._fields
        assert len(forms._PROTOTYPES) == before
