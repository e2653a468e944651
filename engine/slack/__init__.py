"""Slack integration: live run messages, approval prompts and the ``/runbook`` command.

``notifier`` posts and updates run messages from the event bus; ``interactions`` handles slash
commands, buttons and modals; ``app`` wires them into a slack-bolt ``App``.
``runbook_engine.server`` runs it all (``runbook serve``); the Slack Web API stand-in for tests is
``runbook_engine.testing``.
"""
