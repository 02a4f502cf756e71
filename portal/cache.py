"""The cache: Redis, and while Redis cannot be reached, this process's memory (S26).

Rate limits (django-ratelimit counters for keys, tokens and confirmation links) and job
locks live in the cache. Django's RedisCache raises when Redis is down, which would turn
every throttled page into a 500. This backend catches connection errors, remembers for a
few seconds that Redis is down (so pages do not wait on it call after call), and answers
from a per-process memory cache meanwhile: limits still count, per web process, until
Redis is back. Sessions live in the database and do not depend on any of this.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5.0
_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._fallback = LocMemCache(
            f"redis-fallback-{id(self)}",
            {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 10_000}},
        )
        self._down_until = 0.0

    def _call(self, name, *args, **kwargs):
        if time.monotonic() >= self._down_until:
            try:
                return getattr(super(), name)(*args, **kwargs)
            except _ERRORS as exc:
                self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
                log.warning(
                    "Redis cache unreachable (%s); using process memory", type(exc).__name__
                )
        return getattr(self._fallback, name)(*args, **kwargs)

    def add(self, *args, **kwargs):
        return self._call("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._call("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._call("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._call("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._call("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._call("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._call("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._call("delete_many", *args, **kwargs)

    def clear(self):
        self._fallback.clear()
        return self._call("clear")
