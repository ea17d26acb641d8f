"""Public area: the event list, the registration form and the private manage link."""

from flask import Blueprint

bp = Blueprint("registration", __name__)

from . import views  # noqa: E402,F401  (routes attach themselves to bp)
