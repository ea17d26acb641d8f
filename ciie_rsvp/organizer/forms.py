"""Organizer console forms (shape only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class PostForm(FlaskForm):
    """CSRF-only form for button POSTs (sign out, single actions)."""
