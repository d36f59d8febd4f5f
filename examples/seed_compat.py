"""
The seed provider's own examples, with only the import changed.

    python examples/seed_compat.py
"""

from __future__ import annotations

import os

from lockchat_async.compat import Lockchat, _create_completion
from lockchat_async.testing import serve_in_thread


def seed_examples() -> None:
    # Seed 000
    model = "gpt-3.5-turbo"
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    stream = True
    for token in Lockchat.create_completion(model=model, messages=messages, stream=stream):
        print(token, end="")
    print()

    # Seed 001, example 1
    tokens = _create_completion(
        model="gpt-4", messages=[{"role": "user", "content": "Hello, world!"}], stream=True
    )
    for token in tokens:
        print(token, end="")
    print()

    # Seed 001, example 2 (stream=False yields the whole text once)
    messages = [{"role": "user", "content": "What is the meaning of life?"}]
    completion = Lockchat._create_completion(model="gpt-3.5-turbo", messages=messages, stream=False)
    print("".join(completion))


if __name__ == "__main__":
    if os.environ.get("LOCKCHAT_BASE_URL"):
        seed_examples()
    else:
        with serve_in_thread() as server:
            os.environ["LOCKCHAT_BASE_URL"] = server.base_url
            seed_examples()
