"""The ``sagemaker`` backend: a SageMaker runtime endpoint in the BLIP-2 style (base64 image and
prompt as JSON in, generated text out)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from captioner.aws_errors import classify
from captioner.backend import CaptioningError, ImageLimits
from captioner.remote import RemoteBackend, RemoteOptions

if TYPE_CHECKING:
    from types_aiobotocore_sagemaker_runtime import SageMakerRuntimeClient

#: InvokeEndpoint takes a 6 MB payload at most; base64 inflates the image by 4/3.
SAGEMAKER_MAX_IMAGE_BYTES = 4_300_000


def parse_generated_text(payload: bytes) -> str:
    """Read the caption out of the response shapes captioning containers commonly return:
    ``[{"generated_text": ...}]``, ``{"generated_text": ...}``, ``{"caption": ...}`` (or a list
    of those), ``["..."]`` and a bare JSON string.

    Raises:
        CaptioningError: the payload has none of these shapes.
    """
    try:
        data: Any = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise CaptioningError(f"endpoint returned non-JSON: {payload[:200]!r}") from err
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, str):
        return data.strip()
    if isinstance(data, dict):
        for key in ("generated_text", "caption", "text"):
            value = data.get(key)
            if isinstance(value, list) and value and isinstance(value[0], str):
                value = value[0]
            if isinstance(value, str):
                return value.strip()
    raise CaptioningError(f"endpoint response has no generated text: {payload[:200]!r}")


class SageMakerBackend(RemoteBackend):
    """One ``invoke_endpoint`` call per keyframe."""

    name = "sagemaker"

    def __init__(
        self,
        client: SageMakerRuntimeClient,
        *,
        endpoint: str,
        options: RemoteOptions,
    ) -> None:
        super().__init__(
            model=endpoint,
            limits=ImageLimits(max_side=options.max_side, max_bytes=SAGEMAKER_MAX_IMAGE_BYTES),
            options=options,
        )
        self._client = client

    def request_body(self, image: bytes) -> bytes:
        """The JSON a BLIP-2 style endpoint takes: base64 image, prompt, generation limits."""
        return json.dumps(
            {
                "image": base64.b64encode(image).decode("ascii"),
                "prompt": self._options.prompt,
                "parameters": {"max_new_tokens": self._options.max_tokens},
            }
        ).encode()

    async def _caption_one(self, image: bytes) -> str:
        what = f"SageMaker endpoint {self._model}"
        try:
            response = await self._client.invoke_endpoint(
                EndpointName=self._model,
                ContentType="application/json",
                Accept="application/json",
                Body=self.request_body(image),
            )
            payload = await response["Body"].read()
        except (ClientError, BotoCoreError) as err:
            raise classify(err, what) from err
        return parse_generated_text(payload)
