"""Files on Telegram's servers as the bot reaches them: `getFile` (refused above the public Bot
API's 20 MB download cap) and `/file/bot<TOKEN>/<path>`, streamed in chunks with the bytes
served counted, so a test can see how much of a file the bot read."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import web

from tests.emulators.telegram.protocol import TOKEN, ApiError, Method, error_response
from tests.emulators.telegram.recording import TelegramRecording
from tests.emulators.telegram.world import TelegramWorld

FILE_CHUNK = 64 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the public Bot API server's getFile cap


class FileServer:
    """Serves the world's files to the bot, writing down what it fetched."""

    def __init__(self, world: TelegramWorld, recording: TelegramRecording) -> None:
        self._world = world
        self._recording = recording

    def file_methods(self) -> dict[str, Method]:
        return {"getFile": self._get_file}

    async def download(self, request: web.Request) -> web.StreamResponse:
        """A file, in chunks: with its length when Telegram reports its size, else chunked.
        `served` counts what left, up to the bot closing the connection."""
        if request.match_info["token"] != TOKEN:
            return error_response(401, "Unauthorized")
        wanted = request.match_info["path"]
        found = [f for f in self._world.files.values() if f[0] == wanted]
        if not found:
            return error_response(404, "Not Found")
        path, data, reported = found[0]
        self._recording.downloads.append(path)
        served = self._recording.served
        served.setdefault(path, 0)
        # A small send buffer keeps what sits in the kernel, unread by the bot, small.
        connection = request.transport.get_extra_info("socket") if request.transport else None
        if connection is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FILE_CHUNK)
        response = web.StreamResponse()
        if reported is not None:
            response.content_length = len(data)
        await response.prepare(request)
        try:
            for start in range(0, len(data), FILE_CHUNK):
                chunk = data[start : start + FILE_CHUNK]
                await response.write(chunk)
                served[path] += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the bot stopped reading
        return response

    async def _get_file(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        if file_id not in self._world.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, _, size = self._world.files[file_id]
        if size is not None and size > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        file = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": path}
        return file if size is None else {**file, "file_size": size}
