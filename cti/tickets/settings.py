"""The sender's configuration, validated when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from cti.tickets.errors import SenderConfigError


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """The sender's configuration (the ticket backend section of ``engine.yaml``).

    ``token_env`` names the environment variable that holds the backend's
    bearer token; the value itself never appears in configuration or logs.
    ``lease_s`` must exceed ``request_timeout_s``: it is how long a claimed
    row is kept from other senders.  ``engine_id``: give each engine a stable
    name (e.g. its host name) so that, after a crash, it re-sends its own
    interrupted rows at start instead of after the lease; by default a name
    unique to the process is used.
    """

    backend_url: str
    token_env: str | None = None
    request_timeout_s: float = 10.0
    connect_timeout_s: float = 3.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    max_in_flight: int = 4
    poll_interval_s: float = 5.0
    lease_s: float = 60.0
    engine_id: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.backend_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SenderConfigError(f"backend_url must be absolute http(s): {self.backend_url!r}")
        if parts.username or parts.password:
            raise SenderConfigError("backend_url must not carry credentials; use token_env")
        positive = {
            "request_timeout_s": self.request_timeout_s,
            "connect_timeout_s": self.connect_timeout_s,
            "backoff_base_s": self.backoff_base_s,
            "backoff_cap_s": self.backoff_cap_s,
            "poll_interval_s": self.poll_interval_s,
            "lease_s": self.lease_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise SenderConfigError(f"{name} must be positive, not {value}")
        if self.backoff_cap_s < self.backoff_base_s:
            raise SenderConfigError("backoff_cap_s must be at least backoff_base_s")
        if self.max_in_flight < 1:
            raise SenderConfigError("max_in_flight must be at least 1")
        if self.lease_s <= self.request_timeout_s:
            raise SenderConfigError("lease_s must be longer than request_timeout_s")
