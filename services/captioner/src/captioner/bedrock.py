"""The ``bedrock`` backend: the Bedrock Converse API with the keyframe as an image block."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from captioner.aws_errors import classify
from captioner.backend import ImageLimits
from captioner.remote import RemoteBackend, RemoteOptions

if TYPE_CHECKING:
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

#: Converse accepts images up to 3.75 MB; models cap the sides (8000 px for the largest).
BEDROCK_MAX_IMAGE_BYTES = 3_750_000
BEDROCK_MAX_SIDE = 8000


class BedrockBackend(RemoteBackend):
    """One ``converse`` call per keyframe: the JPEG and the prompt in one user turn."""

    name = "bedrock"

    def __init__(
        self,
        client: BedrockRuntimeClient,
        *,
        model: str,
        options: RemoteOptions,
    ) -> None:
        super().__init__(
            model=model,
            limits=ImageLimits(
                max_side=min(options.max_side, BEDROCK_MAX_SIDE),
                max_bytes=BEDROCK_MAX_IMAGE_BYTES,
            ),
            options=options,
        )
        self._client = client

    async def _caption_one(self, image: bytes) -> str:
        try:
            response = await self._client.converse(
                modelId=self._model,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"image": {"format": "jpeg", "source": {"bytes": image}}},
                            {"text": self._options.prompt},
                        ],
                    }
                ],
                # Deterministic: the same frame should read the same on a redelivery.
                inferenceConfig={"maxTokens": self._options.max_tokens, "temperature": 0.0},
            )
        except (ClientError, BotoCoreError) as err:
            raise classify(err, f"Bedrock model {self._model}") from err
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        return " ".join(block["text"].strip() for block in blocks if "text" in block).strip()
