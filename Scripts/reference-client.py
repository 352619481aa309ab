#!/usr/bin/env python3
"""The reference solution's Exercise 01 client (async-exercises-solutions.md, "Concurrent
OpenAI Client"), pointed at a simulator, for `pacer bench --sections reference-client`.

The class is the solution's, changed only where it must be to reach the simulator: the
constructor takes the API root (AsyncOpenAI(api_key=..., base_url=...)), and the summary it
prints goes to stderr so that stdout holds one machine-readable line at the end:

    RESULT {"prompts": N, "successful": S, "wall_seconds": W, "cpu_seconds": X,
            "startup_cpu_seconds": Y, "first_failure": null}

cpu_seconds is this process's user + system CPU from getrusage at the end, interpreter
start-up and imports included; startup_cpu_seconds is the same before the client is created
(the interpreter and its imports); first_failure is the first failed prompt's error, if any.
The benchmark also measures the whole process with wait4.
openai-python's defaults are kept (2 retries, 600 s timeout). Needs openai (the venv
/tmp/pacer-openai-venv has 3.57.0; see .ci/openai-shapes.sh).

    /tmp/pacer-openai-venv/bin/python Scripts/reference-client.py http://127.0.0.1:PORT/v1 5000 100
"""
import asyncio
import json
import resource
import sys
import time
from typing import List, Dict
from openai import AsyncOpenAI


class ConcurrentOpenAIClient:
    """Async client for processing multiple OpenAI prompts concurrently."""

    def __init__(self, api_key: str, base_url: str, max_concurrent: int = 5):
        self.client = AsyncOpenAI(api_key=api_key, base_url=base_url)
        self.semaphore = asyncio.Semaphore(max_concurrent)
        self.total_tokens = 0
        self.completed = 0

    async def generate_completion(self, prompt: str) -> Dict:
        """Generate completion for a single prompt with error handling."""
        async with self.semaphore:  # Limit concurrency
            try:
                response = await self.client.chat.completions.create(
                    model="gpt-3.5-turbo",
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=50
                )

                self.total_tokens += response.usage.total_tokens
                self.completed += 1

                return {
                    "success": True,
                    "prompt": prompt,
                    "response": response.choices[0].message.content,
                    "tokens": response.usage.total_tokens
                }

            except Exception as e:
                return {
                    "success": False,
                    "prompt": prompt,
                    "error": str(e)
                }

    async def batch_generate(self, prompts: List[str]) -> List[Dict]:
        """Process multiple prompts concurrently."""
        print(f"Processing {len(prompts)} prompts (max {self.semaphore._value} concurrent)...\n", file=sys.stderr)

        start = time.time()
        results = await asyncio.gather(*[self.generate_completion(p) for p in prompts])
        elapsed = time.time() - start

        successful = sum(1 for r in results if r["success"])

        print(f"\nCompleted: {successful}/{len(prompts)} successful", file=sys.stderr)
        print(f"Time: {elapsed:.2f}s ({len(prompts)/elapsed:.1f} prompts/sec)", file=sys.stderr)
        print(f"Total tokens: {self.total_tokens}", file=sys.stderr)
        print(f"Est. cost: ${self.total_tokens * 0.0000015:.4f}", file=sys.stderr)

        return results


def main() -> None:
    """Runs N generated prompts through the client and prints the RESULT line."""
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL PROMPTS CONCURRENCY")
    base_url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    startup = resource.getrusage(resource.RUSAGE_SELF)
    # The simulator does not check the key; AsyncOpenAI refuses to start without one.
    client = ConcurrentOpenAIClient(api_key="sk-pacer-bench", base_url=base_url, max_concurrent=concurrency)
    prompts = [f"reference prompt {i}" for i in range(count)]
    start = time.time()
    results = asyncio.run(client.batch_generate(prompts))
    wall = time.time() - start
    failures = [r["error"] for r in results if not r["success"]]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "prompts": count,
        "successful": count - len(failures),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "startup_cpu_seconds": round(startup.ru_utime + startup.ru_stime, 3),
        "first_failure": failures[0] if failures else None,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
