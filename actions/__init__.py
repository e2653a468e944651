"""The built-in action families (installed as ``runbook_engine.actions``).

Each module declares its actions against the plugin contract in ``runbook_engine.plugin`` and is
registered through the ``runbook_engine.actions`` entry-point group in ``pyproject.toml``,
exactly as a third-party plugin is. Nothing outside this package imports it directly.
"""
