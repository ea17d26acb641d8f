"""Render organizer-edited invitation templates safely.

Templates run in Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, fed plain
dicts of strings (never ORM objects), so they can reach nothing but their placeholders. The
sandbox alone does not stop resource exhaustion, so this module adds caps:

- arithmetic and repetition (``*``, ``**``, ``+``, ``//``, ``%``) are intercepted and refuse
  results larger than :data:`MAX_STRING` characters / items or numbers of more than
  :data:`MAX_INT_DIGITS` digits (``{{ 'x' * 10**9 }}``, ``{{ 9**9**9 }}``);
- ``range`` and every ``{% for %}`` loop draw from one iteration budget per render;
- every filter and call checks its arguments and result sizes and the render deadline;
- ``str.format`` (unbounded padding), ``namespace`` (unbounded accumulators) and filters
  that are not needed in an invitation are not available;
- the output is capped in size and the render in time.

Attempts to reach Python internals (``{{ ''.__class__ }}``) raise a clear :class:`RenderError`.
"""

from __future__ import annotations

import contextvars
import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STRING = 100_000  # characters in any intermediate string, items in any list
MAX_INT_DIGITS = 50
MAX_ITERATIONS = 20_000  # loop steps per render
MAX_DEPTH = 50  # nested calls (recursive macros)

# Documented placeholders: what the editor lists, what preflight checks, what templates see.
PLACEHOLDERS: dict[str, list[tuple[str, str]]] = {
    "registrant": [
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("name", "Full name as the language writes it (Chinese names family name first)"),
        ("title", "Job title"),
        ("company", "Company"),
        ("sector", "CIIE exhibition area (sector)"),
    ],
    "event": [
        ("name", "Event name (in the invitation's language)"),
        ("date", "Event date(s), formatted for the language"),
        ("time", "Start and end time on the event's clock, with its zone (empty without times)"),
        ("place", "Where: venue, city and country in one line, as the language writes an "
                  "address (Chinese from the country down)"),
        ("venue", "Venue (in Chinese when the event has it, in a Chinese invitation)"),
        ("city", "City (likewise)"),
        ("hosts", "Hosts (likewise)"),
        ("organizers", "Organizers (likewise)"),
        ("summary", "Summary (in the invitation's language)"),
        ("rsvp_deadline", "RSVP deadline on the event's clock (empty when none is set)"),
    ],
    "links": [
        ("rsvp_accept_url", "Opens the RSVP page to accept"),
        ("rsvp_decline_url", "Opens the RSVP page to decline"),
        ("manage_url", "The registrant's page to view or correct their registration"),
        ("calendar_url", "The event as a calendar file (.ics)"),
    ],
}
LINK_NAMES = [name for name, _ in PLACEHOLDERS["links"]]

_ALLOWED_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int",
    "join", "last", "length", "list", "lower", "max", "min", "replace", "reverse", "round",
    "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper",
    "urlencode", "wordcount", "map", "select", "reject", "selectattr", "rejectattr",
    "dictsort", "items", "tojson",
)
_ALLOWED_GLOBALS = ("range", "dict", "cycler", "joiner")


class RenderError(Exception):
    """A template that cannot be rendered: syntax, unknown placeholder, forbidden or too costly.

    ``lineno`` is the template line when known; ``part`` names the subject, HTML or text body.
    """

    def __init__(self, message: str, *, lineno: int | None = None, part: str = "") -> None:
        super().__init__(message)
        self.message, self.lineno, self.part = message, lineno, part

    def __str__(self) -> str:
        where = " ".join(x for x in (self.part, f"line {self.lineno}" if self.lineno else "") if x)
        return f"{where}: {self.message}" if where else self.message


class _Limits:
    """The budget of one render (kept on the environment for the duration of a render)."""

    def __init__(self, seconds: float, max_output: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.max_output = max_output
        self.iterations = 0
        self.depth = 0
        self.empty: list[str] = []

    def tick(self, steps: int = 1) -> None:
        self.iterations += steps
        if self.iterations > MAX_ITERATIONS:
            raise SecurityError(f"the template loops too much (over {MAX_ITERATIONS} steps)")
        if time.monotonic() > self.deadline:
            raise SecurityError("the template takes too long to render")


def _size(value: Any) -> int:
    """The weight of a value: characters of a string, plus the weight of a container's items."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        return len(value) + sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return len(value) + sum(_size(item) for item in value)
    return 0


def _too_big() -> SecurityError:
    return SecurityError(f"values over {MAX_STRING} characters are not allowed")


def _check_value(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 170:
        raise SecurityError(f"numbers over {MAX_INT_DIGITS} digits are not allowed")
    if isinstance(value, float) and math.isinf(value):
        raise SecurityError("the number is too large")
    if _size(value) > MAX_STRING:
        raise _too_big()
    return value


class Value(str):
    """A placeholder's value that remembers its name, so preflight can report empty ones."""

    _placeholder: str

    def __new__(cls, value: str, placeholder: str) -> Value:
        obj = super().__new__(cls, value)
        obj._placeholder = placeholder
        return obj


# The budget of the render in progress in this thread (environments and compiled templates are
# shared between renders and threads; budgets are not).
_current: contextvars.ContextVar[_Limits | None] = contextvars.ContextVar("render_limits",
                                                                          default=None)


class InvitationEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with resource caps (see the module docstring)."""

    intercepted_binops = frozenset(["*", "**", "+", "//", "%", "/"])
    intercepted_unops = frozenset(["-", "+"])

    def __init__(self, *, html: bool) -> None:
        super().__init__(
            autoescape=html,
            undefined=StrictUndefined,
            finalize=self._finalize,
            trim_blocks=False,
            keep_trailing_newline=True,
            extensions=[],
        )
        self.filters = {name: self._guard(self.filters[name]) for name in _ALLOWED_FILTERS}
        self.filters["_budget"] = self._budget
        self.filters["_concat"] = self._concat
        self.filters["center"] = self._guard(lambda s, width=80: str(s).center(min(width, 200)))
        self.filters["indent"] = self._guard(_capped_indent)
        self.filters["wordwrap"] = self._guard(_capped_wordwrap)
        self.filters["replace"] = self._guard(_checked_replace(self.filters["replace"]))
        self.filters["join"] = self._guard(_checked_join(self.filters["join"]))
        self.filters["tojson"] = self._guard(_capped_tojson(self.filters["tojson"]))
        self.tests = {name: self.tests[name] for name in (
            "defined", "undefined", "none", "number", "string", "even", "odd", "divisibleby",
            "eq", "ne", "lt", "le", "gt", "ge", "in", "true", "false", "lower", "upper",
            "sequence", "mapping", "equalto", "sameas")}
        self.globals = {name: self.globals[name] for name in _ALLOWED_GLOBALS}
        self.globals["range"] = self._range

    # -- hooks the sandbox calls -----------------------------------------------------------

    def _limits(self) -> _Limits:
        limits = _current.get()
        if limits is None:  # rendering outside render_part(): still bounded
            limits = _Limits(2.0, 256 * 1024)
            _current.set(limits)
        return limits

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        self._limits().tick(0)
        numbers = isinstance(right, int | float) and isinstance(left, int | float)
        if operator_ == "**" and numbers and (abs(right) > 64 or (abs(left) > 10**6 and right > 4)):
            raise SecurityError("the power is too large")
        if operator_ == "*":
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int) and _size(seq) * n > MAX_STRING:
                    raise _too_big()
        if operator_ == "+" and _size(left) + _size(right) > MAX_STRING:
            raise _too_big()
        if operator_ == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting is not available; use filters instead")
        return _check_value(self.binop_table[operator_](left, right))

    def call_unop(self, context: Any, operator_: str, arg: Any) -> Any:
        return _check_value(self.unop_table[operator_](arg))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits = __self._limits()
        limits.tick(0)
        for arg in (*args, *kwargs.values()):
            _check_value(arg)
        _check_growth(__obj, args, kwargs)
        limits.depth += 1
        try:
            if limits.depth > MAX_DEPTH:
                raise SecurityError("calls are nested too deeply")
            return _check_value(super().call(__context, __obj, *args, **kwargs))
        finally:
            limits.depth -= 1

    def getattr(self, obj: Any, attribute: str) -> Any:
        self._limits().tick(0)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self._limits().tick(0)
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise SecurityError("str.format is not available; use filters instead")

        return refuse

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then route every ``{% for %}`` through the iteration budget and every ``~``
        concatenation through a size check."""
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import,
                                   nodes.FromImport)):
            raise TemplateSyntaxError("invitation templates cannot include, extend or import "
                                      "other templates", node.lineno, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_budget", [], [], None, None,
                                     lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            items = nodes.List(concat.nodes, lineno=concat.lineno)
            replacement = nodes.Filter(items, "_concat", [], [], None, None,
                                       lineno=concat.lineno)
            _replace_node(tree, concat, replacement)
        return tree

    # -- helpers ---------------------------------------------------------------------------

    def _guard(self, func: Callable[..., Any]) -> Callable[..., Any]:
        from jinja2.utils import _PassArg

        pass_arg = _PassArg.from_obj(func)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            limits = self._limits()
            limits.tick(0)
            for arg in (*args[1 if pass_arg else 0:], *kwargs.values()):
                _check_value(arg)
            result = func(*args, **kwargs)
            if isinstance(result, Iterator):
                result = list(self._budget(result))
            return _check_value(result)

        if pass_arg is not None:
            guarded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
        return guarded

    @staticmethod
    @pass_eval_context
    def _concat(eval_ctx: EvalContext, items: list[Any]) -> str:
        parts = [str(item) if not hasattr(item, "__html__") else item for item in items]
        if sum(len(p) for p in parts) > MAX_STRING:
            raise _too_big()
        return markup_join(parts) if eval_ctx.autoescape else str_join(parts)

    def _budget(self, iterable: Iterable[Any]) -> Iterator[Any]:
        limits = self._limits()
        for item in iterable:
            limits.tick()
            yield item

    def _range(self, *args: int) -> Iterator[int]:
        for arg in args:
            _check_value(arg)
        rng = range(*args)
        if len(rng) > MAX_ITERATIONS:
            raise SecurityError(f"range() is limited to {MAX_ITERATIONS} items")
        return self._budget(rng)

    def _finalize(self, value: Any) -> Any:
        limits = self._limits()
        limits.tick(0)
        if isinstance(value, Value) and not value.strip():
            limits.empty.append(value._placeholder)
        return value


# String methods whose result can be far larger than their inputs. Sizes are checked before
# the call: afterwards the memory has been taken (``name.center(10**9)`` builds 1 GB first).
_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})
# ``encode`` is the way to bytes, whose methods (``ljust``, ``center``, ``replace``...) build
# values as large as asked before anything can measure them: no template needs bytes.
_REFUSED_METHODS = frozenset({"translate", "maketrans", "format_map", "expandtabs", "encode"})


def _check_growth(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call of a string method that would build a value over :data:`MAX_STRING`."""
    owner = getattr(func, "__self__", None)
    if isinstance(owner, bytes | bytearray | memoryview):
        raise SecurityError("bytes are not available in invitation templates")
    if not isinstance(owner, str):
        return
    name = getattr(func, "__name__", "")
    if name in _REFUSED_METHODS:
        raise SecurityError(f"str.{name} is not available in invitation templates")
    if name in _PADDING:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > MAX_STRING:
            raise _too_big()
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_replace(owner, str(args[0]), str(args[1]), count)
    elif name == "join" and args and isinstance(args[0], list | tuple | set | frozenset | str):
        _check_join(args[0], owner)


def _check_replace(s: str, old: str, new: str, count: Any) -> None:
    """Refuse ``s.replace(old, new, count)`` when its result would exceed :data:`MAX_STRING`."""
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(s) + hits * max(0, len(new) - len(old)) > MAX_STRING:
        raise _too_big()


def _check_join(items: Any, separator: str) -> None:
    """Refuse joining ``items`` with ``separator`` when the result would exceed the cap."""
    if _size(items) + len(separator) * len(items) > MAX_STRING:
        raise _too_big()


def _replace_node(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    for parent in tree.find_all(nodes.Node):
        for name, value in parent.iter_fields():
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


def _checked_replace(replace: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def do_replace(eval_ctx: EvalContext, s: str, old: str, new: str,
                   count: int | None = None) -> str:
        s, old, new = str(s), str(old), str(new)
        _check_replace(s, old, new, max(count, 0) if count is not None else -1)
        return replace(eval_ctx, s, old, new, count)

    return do_replace


TOJSON_MAX_INDENT = 8


def _capped_tojson(tojson: Callable[..., Any]) -> Callable[..., Any]:
    """``tojson`` with a small ``indent`` (a huge one builds gigabytes of spaces first)."""

    @pass_eval_context
    def do_tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
        if indent is not None and not (isinstance(indent, int)
                                       and 0 <= indent <= TOJSON_MAX_INDENT):
            raise SecurityError(f"tojson's indent is limited to 0 to {TOJSON_MAX_INDENT}")
        return tojson(eval_ctx, value, indent)

    return do_tojson


def _checked_join(join: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def do_join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "",
                attribute: str | int | None = None) -> str:
        items = list(value)
        _check_join(items, str(d))
        return join(eval_ctx, items, d, attribute)

    return do_join


def _capped_indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    from jinja2.filters import do_indent

    if isinstance(width, int) and width > 40:
        width = 40
    if isinstance(width, str) and len(width) > 40:
        width = width[:40]
    return do_indent(s, width, first, blank)


def _capped_wordwrap(s: str, width: int = 79, break_long_words: bool = True,
                     wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    import textwrap

    width = max(1, min(int(width), 500))
    return (wrapstring or "\n")[:10].join(
        textwrap.wrap(s, width=width, break_long_words=break_long_words,
                      break_on_hyphens=break_on_hyphens))


def check_syntax(source: str, *, part: str = "") -> None:
    """Raise :class:`RenderError` with the line and message when ``source`` does not parse, or
    does not compile: Python refuses code nested over about a hundred blocks deep, and a
    template that saved but cannot compile would stop every send and preview of its event."""
    try:
        _environment(False).from_string(source)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", lineno=exc.lineno, part=part) from exc
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise RenderError(_TOO_COMPLEX, part=part) from exc


_TOO_COMPLEX = ("the template is nested too deeply or is too complex; use fewer nested "
                "{% if %} / {% for %} blocks or parentheses")


@dataclass
class TemplateParts:
    """The three parts of an invitation template."""

    subject: str
    html: str
    text: str


@dataclass
class Rendered:
    subject: str
    html: str
    text: str
    empty_placeholders: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=2)
def _environment(html: bool) -> InvitationEnvironment:
    return InvitationEnvironment(html=html)


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    """Compile once per source: sending to thousands renders the same template each time."""
    return _environment(html).from_string(source)


def render_part(source: str, data: dict[str, Any], *, html: bool, part: str = "",
                seconds: float = 2.0, max_output: int = 256 * 1024) -> tuple[str, list[str]]:
    """Render one part; return the text and the placeholders that rendered empty."""
    limits = _Limits(seconds, max_output)
    token = _current.set(limits)
    try:
        template = _compiled(source, html)
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(_wrap(data)):
            size += len(chunk)
            if size > max_output:
                raise SecurityError(f"the output is larger than {max_output // 1024} KB")
            limits.tick(0)
            chunks.append(chunk)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", lineno=exc.lineno, part=part) from exc
    except SyntaxError as exc:  # compiling: nested too deeply for Python
        raise RenderError(_TOO_COMPLEX, part=part) from exc
    except SecurityError as exc:
        raise RenderError(f"not allowed: {exc}", lineno=_lineno(exc), part=part) from exc
    except UndefinedError as exc:
        raise RenderError(f"unknown placeholder ({exc.message})", lineno=_lineno(exc),
                          part=part) from exc
    except TemplateError as exc:
        raise RenderError(str(exc), lineno=_lineno(exc), part=part) from exc
    except Exception as exc:  # noqa: BLE001 - whatever a filter or global raises (truncate's
        # AssertionError, cycler's RuntimeError, ...) is the template's fault, never a 500
        raise RenderError(f"{exc.__class__.__name__}: {exc}", lineno=_lineno(exc),
                          part=part) from exc
    finally:
        _current.reset(token)
    return "".join(chunks), sorted(set(limits.empty))


def _lineno(exc: BaseException) -> int | None:
    """The template line of ``exc``: its own, or the innermost template frame's."""
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return int(lineno)
    tb = exc.__traceback__
    line = None
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _wrap(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Mark every string placeholder with its name (for the empty-placeholder report)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out[key] = _wrap(value, name + ".")
        elif isinstance(value, str):
            out[key] = Value(value, name)
        else:
            out[key] = value
    return out


def render(parts: TemplateParts, data: dict[str, Any], *, seconds: float = 2.0,
           max_output: int = 256 * 1024) -> Rendered:
    """Render subject, HTML and text for one recipient; raise :class:`RenderError`."""
    subject, empty_s = render_part(parts.subject, data, html=False, part="subject",
                                   seconds=seconds, max_output=1000)
    html, empty_h = render_part(parts.html, data, html=True, part="HTML body",
                                seconds=seconds, max_output=max_output)
    text, empty_t = render_part(parts.text, data, html=False, part="text body",
                                seconds=seconds, max_output=max_output)
    return Rendered(subject.strip(), html, text, sorted(set(empty_s + empty_h + empty_t)))


def sample_data() -> dict[str, Any]:
    """Placeholder values for previews without a registrant."""
    return {
        "registrant": {"first_name": "Maria", "last_name": "Lopez", "name": "Maria Lopez",
                       "title": "Export Manager",
                       "company": "Golden State Almond Growers, Inc.",
                       "sector": "Food and agricultural products"},
        "event": {"name": "Meet in Shanghai, Share the Future", "date": "October 13, 2022",
                  "time": "09:00–17:00 (America/Los Angeles)",
                  "place": "Downtown Los Angeles, United States",
                  "venue": "Downtown Los Angeles", "city": "Los Angeles",
                  "hosts": "Shanghai Municipal Commission of Commerce",
                  "organizers": "World Trade Center Los Angeles",
                  "summary": "A conference in downtown Los Angeles that previews the CIIE.",
                  "rsvp_deadline": "October 7, 2022 17:00 (America/Los Angeles)"},
        **{name: f"https://rsvp.example.org/rsvp/preview#{name}" for name in LINK_NAMES},
    }
