"""The engine's HTTP faces: the REST API, live WebSocket events, metrics, OpenAPI.

``install(app)`` wires every part onto the engine's aiohttp application
(after ``cti.app.build_app`` has put the engine, database, writer, outbox
and recording service under their keys).  What other modules may import:

- :data:`cti.api.agents.ENGINE` (the engine's app key), :func:`cti.api.http.principal`,
  :func:`cti.api.http.body_of`, :func:`cti.api.http.error`, :class:`cti.api.auth.Role`;
- :class:`cti.api.spec.Operation` with :func:`cti.api.spec.register` to serve a
  route *and* describe it in ``/api/openapi.json``.
"""

from cti.api.setup import install

__all__ = ["install"]
