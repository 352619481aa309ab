"""Validates an Anthropic Message Batch results file that `pacer batch` wrote with the
`anthropic` package's own types: every line a `MessageBatchIndividualResponse`, every
succeeded message a `Message` (strictly), every errored one an `ErrorResponse`; each input
`custom_id` exactly once; the refused requests (those with an empty `messages`) errored with
`invalid_request_error`, and every other one succeeded.

usage: check.py INPUT RESULTS
"""

import json
import sys

from anthropic.types import Message
from anthropic.types.messages import (
    MessageBatchErroredResult,
    MessageBatchIndividualResponse,
    MessageBatchSucceededResult,
)
from anthropic.types.shared import ErrorResponse


def main(input_path: str, results_path: str) -> None:
    refused = set()
    expected = []
    with open(input_path) as f:
        for line in f:
            request = json.loads(line)
            expected.append(request["custom_id"])
            if not request["params"]["messages"]:
                refused.add(request["custom_id"])
    seen = {}
    with open(results_path) as f:
        for number, line in enumerate(f, 1):
            raw = json.loads(line)
            response = MessageBatchIndividualResponse.model_validate(raw)
            custom_id = response.custom_id
            assert custom_id not in seen, f"line {number}: {custom_id} written twice"
            seen[custom_id] = response
            result = response.result
            if custom_id in refused:
                assert isinstance(result, MessageBatchErroredResult), f"line {number}: {custom_id} should have errored"
                ErrorResponse.model_validate(raw["result"]["error"], strict=True)
                assert result.error.error.type == "invalid_request_error", f"line {number}: {result.error.error.type}"
            else:
                assert isinstance(result, MessageBatchSucceededResult), f"line {number}: {custom_id}: {raw['result']}"
                message = Message.model_validate(raw["result"]["message"], strict=True)
                assert message.usage.output_tokens > 0 and message.content, f"line {number}: empty message"
    missing = [custom_id for custom_id in expected if custom_id not in seen]
    assert not missing, f"{len(missing)} requests have no result, e.g. {missing[:3]}"
    assert len(seen) == len(expected), f"{len(seen)} results for {len(expected)} requests"
    print(f"anthropic-shapes: {len(seen)} results validate ({len(seen) - len(refused)} succeeded, {len(refused)} errored)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
