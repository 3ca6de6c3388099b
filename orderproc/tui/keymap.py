"""The terminal's keys by binding id, and the user's keymap (the config file's `[keys]` table).

Every binding of the terminal has an id, `<scope>.<name>`: the scope is `app` (the keys of every
page) or the module under `orderproc.tui.screens` that binds it (`trade.buy`, `markets.search`);
the Keys screen (`?`) shows each id. `checked_keymap` reads the user's keymap against them (a
page's module is imported only when the keymap names one of its keys) and the app hands it to
Textual's `set_keymap`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from textual.binding import Binding
from textual.keys import KEY_NAME_REPLACEMENTS, Keys, _character_to_key, key_to_character

from orderproc.config import ConfigFile

MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
_NAMED_KEYS = {key.value for key in Keys} | set(KEY_NAME_REPLACEMENTS.values()) | {"space"}


def scope_module(scope: str) -> str | None:
    """The module whose bindings carry ids `<scope>.*`, or None for an unknown scope."""
    if scope == "app":
        return "orderproc.tui.app"
    if not scope.isidentifier():
        return None
    name = f"orderproc.tui.screens.{scope}"
    return name if importlib.util.find_spec(name) is not None else None


def bindings_by_class(module_name: str) -> dict[str, list[Binding]]:
    """The bindings with ids of each class defined in `module_name`."""
    module = importlib.import_module(module_name)
    found: dict[str, list[Binding]] = {}
    for name, cls in vars(module).items():
        if inspect.isclass(cls) and cls.__module__ == module_name:
            own = [b for b in cls.__dict__.get("BINDINGS", ()) if isinstance(b, Binding) and b.id]
            if own:
                found[name] = own
    return found


def key_problem(key: str) -> str | None:
    """Why `key` (one key of a binding: `b`, `B`, `ctrl+s`, `f5`, `question_mark`, `?`) is not one
    the terminal can receive, or None."""
    if not key:
        return "an empty key"
    *modifiers, base = key.split("+") if key != "+" else ["+"]
    if unknown := [m for m in modifiers if m not in MODIFIERS]:
        return f"{unknown[0]!r} is not a modifier (ctrl, shift, alt, meta, super, hyper)"
    if len(base) == 1 or base in _NAMED_KEYS or key_to_character(base) is not None:
        return None
    return f"{base!r} is not a key name (a character, or a name such as enter, escape, tab, space, f5, up, pageup)"


def checked_keymap(keys: Mapping[str, str], config: ConfigFile) -> dict[str, str]:
    """`keys` (binding id -> keys, comma-separated) once every id and key is known and no two of
    a screen's bindings end on one key; a validation_error naming the config file's line if not."""
    by_scope: dict[str, dict[str, list[Binding]]] = {}
    for binding_id, value in keys.items():
        scope, _, name = binding_id.partition(".")
        module = scope_module(scope) if name else None
        if module is None:
            raise config.error(f"{binding_id!r} is not a binding id (ids are like trade.buy or app.quit: "
                               "the Keys screen, ?, shows them)", name=binding_id, table="keys")
        classes = by_scope.setdefault(scope, bindings_by_class(module))
        known = {b.id for bindings in classes.values() for b in bindings}
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, sorted(k for k in known if k), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the {scope} ids: {', '.join(sorted(known))}"
            raise config.error(f"{binding_id!r} is not a binding id{hint}", name=binding_id, table="keys")
        for key in (part.strip() for part in value.split(",")):
            if problem := key_problem(key):
                raise config.error(f"{binding_id} = {value!r}: {problem}", name=binding_id, table="keys")
    for classes in by_scope.values():
        for bindings in classes.values():
            _check_clashes(bindings, keys, config)
    return dict(keys)


def _check_clashes(bindings: list[Binding], keys: Mapping[str, str], config: ConfigFile) -> None:
    """No key of one screen's bindings may end on two ids once `keys` applies."""
    owner: dict[str, str] = {}
    for binding in bindings:
        assert binding.id is not None
        chosen = keys.get(binding.id, binding.key)
        for key in (_character_to_key(k) if len(k) == 1 else k for k in (p.strip() for p in chosen.split(","))):
            other = owner.setdefault(key, binding.id)
            if other != binding.id:
                mapped = binding.id if binding.id in keys else other
                raise config.error(f"{mapped} = {keys.get(mapped, key)!r}: {key!r} is also the key of "
                                   f"{other if mapped == binding.id else binding.id} on the same screen",
                                   name=mapped, table="keys")


def all_bindings() -> dict[str, tuple[str, str]]:
    """Every binding id with its default keys and description (for docs and tests)."""
    import pkgutil

    import orderproc.tui.screens as screens

    found: dict[str, tuple[str, str]] = {}
    modules = ["orderproc.tui.app"] + [f"orderproc.tui.screens.{m.name}" for m in pkgutil.iter_modules(screens.__path__)]
    for module in modules:
        for bindings in bindings_by_class(module).values():
            for binding in bindings:
                assert binding.id is not None
                found.setdefault(binding.id, (binding.key, binding.description))
    return found

