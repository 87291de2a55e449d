"""Asterisk's stored recordings as a :class:`recordings.RecordingSource`, over the ARI client.

``GET /recordings/stored/{name}/file`` answers ``200`` with the whole file
(``Content-Type: audio/wav``; a ``Range`` header is ignored, see
``tests/fixtures/asterisk/README.md``), ``404 {"message": "Recording not
found"}`` for an unknown name and ``403`` when Asterisk cannot open the file.
``DELETE /recordings/stored/{name}`` answers ``204`` or ``404``.

The ARI client's :class:`~cti.ari.AriNotFound` becomes
:class:`recordings.RecordingMissing`; every other ARI error (another status,
Asterisk unreachable, a body cut short in transit) becomes
:class:`recordings.SourceUnavailable`, which the fetcher retries.
"""

from __future__ import annotations

from cti.ari import AriClient, AriError, AriHttpError, AriNotFound
from cti.ids import RecordingName as AriRecordingName
from recordings import RecordingMissing, RecordingName, SourceUnavailable


class AriRecordingSource:
    """Fetch and delete stored recordings through ``client.recordings``."""

    def __init__(self, client: AriClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<AriRecordingSource {self._client.http.base_url}>"

    async def fetch(self, name: RecordingName) -> bytes:
        try:
            return await self._client.recordings.get_stored_file(AriRecordingName(name))
        except AriNotFound as exc:
            raise RecordingMissing(name) from exc
        except AriError as exc:
            raise SourceUnavailable(name, str(exc), status=_status(exc)) from exc

    async def is_live(self, name: str) -> bool:
        """Whether Asterisk still records ``name`` (``GET /recordings/live/{name}``).

        Only a 404 says no; when Asterisk cannot be asked, the answer is yes,
        so nothing is fetched while it may still be written.
        """
        try:
            await self._client.recordings.get_live(AriRecordingName(name))
        except AriNotFound:
            return False
        except AriError:
            return True
        return True

    async def delete(self, name: RecordingName) -> None:
        try:
            await self._client.recordings.delete_stored(AriRecordingName(name))
        except AriNotFound as exc:
            raise RecordingMissing(name) from exc
        except AriError as exc:
            raise SourceUnavailable(name, str(exc), status=_status(exc)) from exc


def _status(exc: AriError) -> int | None:
    return exc.status if isinstance(exc, AriHttpError) else None


class NodesRecordingSource:
    """Recordings on several Asterisk nodes: each request asks the nodes in turn.

    A recording is stored on the node of its call; a node that answers 404 does
    not hold it, so the next one is asked.  Missing only when every node said
    so; unavailable when one that could hold it cannot be asked.
    """

    def __init__(self, sources: list[AriRecordingSource]) -> None:
        self._sources = sources

    def __repr__(self) -> str:
        return f"<NodesRecordingSource nodes={len(self._sources)}>"

    async def fetch(self, name: RecordingName) -> bytes:
        unavailable: SourceUnavailable | None = None
        for source in self._sources:
            try:
                return await source.fetch(name)
            except RecordingMissing:
                continue
            except SourceUnavailable as exc:
                unavailable = exc
        if unavailable is not None:
            raise unavailable
        raise RecordingMissing(name)

    async def is_live(self, name: str) -> bool:
        for source in self._sources:
            if await source.is_live(name):
                return True
        return False

    async def delete(self, name: RecordingName) -> None:
        unavailable: SourceUnavailable | None = None
        deleted = False
        for source in self._sources:
            try:
                await source.delete(name)
                deleted = True
            except RecordingMissing:
                continue
            except SourceUnavailable as exc:
                unavailable = exc
        if deleted:
            return
        if unavailable is not None:
            raise unavailable
        raise RecordingMissing(name)
