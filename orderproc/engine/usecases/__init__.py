"""The engine's use cases, one module each, over one shared Context (`context.py`).

`LocalEngine` (service.py) is a thin facade: it turns a token into claims and calls these."""
