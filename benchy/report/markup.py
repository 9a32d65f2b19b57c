"""Text for rich, which reads `[...]` as markup: every string that comes from a user, a file or
a device (model, variant, target and delegate names, paths, errors, facts) goes through `plain`
or `styled`, so `cnn[v2]` shows as written and `c[/]nn` cannot break a table."""

from __future__ import annotations

from rich.markup import escape


def plain(value: object) -> str:
    """`value` as literal text inside markup."""
    return escape(str(value))


def styled(value: object, style: str) -> str:
    """`value` as literal text in `style` (no style: plain; `[]...[/]` would not parse)."""
    text = plain(value)
    return f"[{style}]{text}[/]" if style else text
