"""The engine's side of recordings: the service that fetches, checks and stores them,
its PostgreSQL store, the source (ARI's stored recordings), the writes and the HTTP face.

The decisions (states, retries, retention, the on-disk layout) are the pure
package ``recordings``; this subpackage carries them out.
"""
