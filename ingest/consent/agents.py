"""The crawlers whose robots.txt treatment we evaluate by default.

Each is the product token its operator documents for robots.txt. `*` stands for a crawler
that is named nowhere in the file (ours, when we reuse a crawl), so its verdict is the one
the catch-all group gives. The list is configuration: callers pass their own.
"""

from __future__ import annotations

DEFAULT_AI_AGENTS: tuple[str, ...] = (
    "GPTBot",
    "ChatGPT-User",
    "OAI-SearchBot",
    "CCBot",
    "Google-Extended",
    "Applebot-Extended",
    "anthropic-ai",
    "ClaudeBot",
    "Claude-Web",
    "cohere-ai",
    "PerplexityBot",
    "Amazonbot",
    "FacebookBot",
    "Bytespider",
    "*",
)
