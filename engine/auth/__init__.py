"""Who is asking, how they proved it, and what they may do.

``principal`` is the identity every door hands on; ``tokens`` and ``oidc`` prove one from an
``Authorization`` header (``authenticate`` picks between them, ``ratelimit`` slows guessing);
``slack_identity`` maps Slack users onto the same names; ``policy`` is the one function every
door asks; ``audit`` records what was asked; ``local`` decides who acts on the CLI.
"""
