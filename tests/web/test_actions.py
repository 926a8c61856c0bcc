"""web/actions.py: a service's refusal is shown where the reader looks — on the field it names, on the
form, per column for an invalid row, or as a message for a button."""

from __future__ import annotations

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from handover.core.errors import DomainError
from handover.web import actions


class NameForm(forms.Form):
    name = forms.CharField()


class RowForm(NameForm):
    def add_service_errors(self, errors):
        for key, messages in errors.items():
            for message in messages:
                self.add_error(key, message)


class RowRefused(DomainError):
    def __init__(self, errors):
        super().__init__("2 invalid fields", field=next(iter(errors)))
        self.errors = errors


def request():
    made = RequestFactory().post("/")
    made.session = {}
    made._messages = FallbackStorage(made)
    return made


def refuse(exc):
    def action():
        raise exc

    return action


def test_a_refusal_lands_on_the_field_it_names_or_on_the_form():
    form = NameForm({"name": "x"})
    assert form.is_valid()
    assert actions.run(None, form, refuse(DomainError("taken", field="name"))) is None
    assert form.errors["name"] == ["taken"]
    other = NameForm({"name": "x"})
    assert other.is_valid()
    actions.run(None, other, refuse(DomainError("closed", field="not_on_this_form")))
    assert other.non_field_errors() == ["closed"]


def test_an_invalid_row_is_shown_on_each_of_its_fields():
    form = RowForm({"name": "x"})
    assert form.is_valid()
    actions.run(None, form, refuse(RowRefused({"name": ["too long"], "__all__": ["bad"]})))
    assert form.errors["name"] == ["too long"] and form.non_field_errors() == ["bad"]


def test_a_result_passes_through_and_a_button_says_done_or_why_not():
    made = request()
    assert actions.run(made, None, lambda: 42) == 42
    assert actions.run(made, None, refuse(DomainError("sealed"))) is None
    assert actions.press(made, lambda: None, "done") is True
    assert actions.press(made, refuse(DomainError("refused")), "done") is False
    assert [str(m) for m in get_messages(made)] == ["sealed", "done", "refused"]


def test_a_refusal_naming_a_service_field_lands_on_the_form_field_it_maps_to():
    form = NameForm({"name": "x"})
    assert form.is_valid()
    assert (
        actions.run(None, form, refuse(DomainError("too long", field="title")), fields={"title": "name"})
        is None
    )
    assert form.errors == {"name": ["too long"]}


class Choice:
    def __init__(self, pk):
        self.pk = pk


def test_the_posted_choice_is_found_among_those_offered_or_refused_on_its_field():
    offered = [Choice(3), Choice(7)]
    made = RequestFactory().post("/", {"case": "7"})
    assert actions.chosen(made, offered, name="case", missing="Choose a case.") is offered[1]
    for posted in ({"case": "8"}, {"case": "x"}, {}):
        try:
            actions.chosen(RequestFactory().post("/", posted), offered, name="case", missing="Choose a case.")
        except DomainError as exc:
            assert (exc.field, exc.message) == ("case", "Choose a case.")
        else:
            raise AssertionError(f"{posted} was not refused")
