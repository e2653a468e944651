"""Slack integration: live run messages, approval prompts and the ``/runbook`` command.

``notifier`` posts and updates run messages from the event bus; ``interactions`` handles slash
commands, buttons and modals; ``app`` wires them into a slack-bolt ``App``; ``fake_server`` is a
Slack Web API stand-in for tests and benchmarks. ``engine.server`` runs it all (``runbook serve``).
"""
