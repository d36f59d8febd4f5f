"""
Test helpers: a real, Lockchat/OpenAI-compatible server on loopback, with scriptable faults.

Use it to run the examples and to test applications built on lockchat_async without network::

    from lockchat_async import Lockchat
    from lockchat_async.testing import serve

    async with serve() as base_url, Lockchat(base_url=base_url) as client:
        print(await client.complete("gpt-4", [{"role": "user", "content": "hi"}]))

In pytest, the ``lockchat_server`` fixture (installed as a pytest plugin with the package)
gives a running `LockchatServer`; see the README.
"""

from __future__ import annotations

from ._server import LockchatServer, Scenario, echo_reply, serve, serve_in_thread, tokenize

__all__ = ["LockchatServer", "Scenario", "echo_reply", "serve", "serve_in_thread", "tokenize"]
