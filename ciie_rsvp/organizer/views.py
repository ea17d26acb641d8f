"""Organizer console pages."""

from __future__ import annotations

from flask import render_template

from ..registration import services as registration_services
from . import bp
from .auth import organizer_required


@bp.get("/")
@organizer_required()
def dashboard() -> str:
    return render_template("organizer/dashboard.html",
                           events=registration_services.open_events())
