"""Limits a vendor imposes, shared by every worker on every machine: a per-key mutex with a lease (one OnlinePBX
recording download at a time per tenant), a token bucket (rate + burst: e.g. a CRM portal's 2 req/s, burst 50) and a
sliding window (at most N in any W seconds: UzbekVoice's submissions a minute).

With ``REDIS_URL`` set they live in Redis (each check one atomic Lua script on Redis's own clock, so machines with
skewed clocks agree); without it (the embedded demo: one worker process) in this process, with the same interface.
A limit that cannot be had within the caller's wait bound raises ``RateLimited`` (a transient error) with a
``retry_after``, so the task retries later instead of holding a worker; an unreachable Redis is transient too.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from integrations.errors import RateLimited, TransientIntegrationError
from integrations.wire import setting

logger = logging.getLogger(__name__)

KEY_PREFIX = "dialix:limit:"
_POLL_SECONDS = (0.02, 0.2)  # a waiting mutex looks again after a random pause in this range


class LimitBusy(RateLimited):
    """A per-key mutex stayed held by another worker for the whole wait bound."""


class LimitUnavailable(TransientIntegrationError):
    """The shared limiter (Redis) cannot be reached: the step retries later rather than run unlimited."""


class LimitBackend(Protocol):
    def mutex_acquire(self, key: str, token: str, lease_ms: int) -> int:
        """0 when ``token`` now holds ``key``; else the milliseconds left on the holder's lease."""

    def mutex_renew(self, key: str, token: str, lease_ms: int) -> bool: ...

    def mutex_release(self, key: str, token: str) -> None: ...

    def bucket_take(self, key: str, rate: float, burst: int) -> float:
        """0 when a token was taken; else the seconds until one is there (nothing taken)."""

    def window_take(self, key: str, limit: int, per_seconds: float) -> float:
        """0 when admitted (and counted); else the seconds until the oldest admission leaves the window."""


# --- Redis ------------------------------------------------------------------------------------------------------------

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then return 1 end
return ttl
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Token bucket: `tokens` refill at `rate` a second up to `burst`; `ts` is when they were counted (Redis's clock, µs).
_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil or ts == nil then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""
# Sliding window: a sorted set of admissions scored by time; members are unique (ARGV[3]).
_WINDOW = """
local limit, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(per * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(tonumber(oldest[2]) + per - now, 0.001))
"""


class RedisLimits:
    """The limits in Redis; `prefix` namespaces the keys (tests use their own)."""

    def __init__(self, url: str, *, prefix: str = KEY_PREFIX) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._prefix = prefix
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in {
                "acquire": _ACQUIRE,
                "renew": _RENEW,
                "release": _RELEASE,
                "bucket": _BUCKET,
                "window": _WINDOW,
            }.items()
        }

    def _run(self, script: str, key: str, *args: Any) -> Any:
        try:
            return self._scripts[script](keys=[self._prefix + key], args=list(args))
        except self._errors as exc:
            raise LimitUnavailable(f"The shared limiter (Redis) is unavailable: {type(exc).__name__}") from exc

    def mutex_acquire(self, key: str, token: str, lease_ms: int) -> int:
        return int(self._run("acquire", key, token, lease_ms))

    def mutex_renew(self, key: str, token: str, lease_ms: int) -> bool:
        return bool(int(self._run("renew", key, token, lease_ms)))

    def mutex_release(self, key: str, token: str) -> None:
        self._run("release", key, token)

    def bucket_take(self, key: str, rate: float, burst: int) -> float:
        return float(self._run("bucket", key, repr(float(rate)), int(burst)))

    def window_take(self, key: str, limit: int, per_seconds: float) -> float:
        return float(self._run("window", key, int(limit), repr(float(per_seconds)), uuid.uuid4().hex))


# --- in process (no Redis) --------------------------------------------------------------------------------------------


class LocalLimits:
    """The same limits for one process (the embedded demo runs one worker): a lock guards plain dictionaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mutexes: dict[str, tuple[str, float]] = {}  # key -> (token, lease end)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, counted at)
        self._windows: dict[str, deque[float]] = {}

    def mutex_acquire(self, key: str, token: str, lease_ms: int) -> int:
        with self._lock:
            now = time.monotonic()
            held = self._mutexes.get(key)
            if held is not None and held[1] > now:
                return max(int((held[1] - now) * 1000), 1)
            self._mutexes[key] = (token, now + lease_ms / 1000)
            return 0

    def mutex_renew(self, key: str, token: str, lease_ms: int) -> bool:
        with self._lock:
            held = self._mutexes.get(key)
            if held is None or held[0] != token:
                return False
            self._mutexes[key] = (token, time.monotonic() + lease_ms / 1000)
            return True

    def mutex_release(self, key: str, token: str) -> None:
        with self._lock:
            held = self._mutexes.get(key)
            if held is not None and held[0] == token:
                del self._mutexes[key]

    def bucket_take(self, key: str, rate: float, burst: int) -> float:
        with self._lock:
            now = time.monotonic()
            tokens, counted = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + max(0.0, now - counted) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            self._buckets[key] = (tokens, now)
            return wait

    def window_take(self, key: str, limit: int, per_seconds: float) -> float:
        with self._lock:
            now = time.monotonic()
            times = self._windows.setdefault(key, deque())
            while times and now - times[0] >= per_seconds:
                times.popleft()
            if len(times) < limit:
                times.append(now)
                return 0.0
            return max(per_seconds - (now - times[0]), 0.001)


_local = LocalLimits()
_redis: dict[str, RedisLimits] = {}
_redis_lock = threading.Lock()


def limits_backend() -> LimitBackend:
    """Redis when ``REDIS_URL`` is set (one client per URL and process), else this process's limiter."""
    url = setting("REDIS_URL", "")
    if not url:
        return _local
    with _redis_lock:
        backend = _redis.get(url)
        if backend is None:
            backend = _redis[url] = RedisLimits(url)
        return backend


# --- what callers use -------------------------------------------------------------------------------------------------


class _Renewer(threading.Thread):
    """Keeps a held mutex's lease alive while its holder works, so a long download never loses it; a holder that
    dies stops renewing and the lease lapses after at most `lease_ms`."""

    def __init__(self, backend: LimitBackend, key: str, token: str, lease_ms: int) -> None:
        super().__init__(name=f"limit-renew-{key}", daemon=True)
        self._backend, self._key, self._token, self._lease_ms = backend, key, token, lease_ms
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self._lease_ms / 3000):
            try:
                if not self._backend.mutex_renew(self._key, self._token, self._lease_ms):
                    logger.warning("limit_mutex_lease_lost", extra={"limit_key": self._key})
                    return
            except LimitUnavailable:
                logger.warning("limit_mutex_renew_failed", extra={"limit_key": self._key})


@contextmanager
def limit_mutex(
    key: str,
    *,
    lease_seconds: float = 60.0,
    wait_seconds: float = 30.0,
    what: str = "this resource",
    backend: LimitBackend | None = None,
) -> Iterator[None]:
    """Holds `key` alone across every worker while the block runs (the lease is renewed meanwhile). Waits up to
    `wait_seconds` for another holder to finish, then raises LimitBusy (retry later)."""
    backend = backend or limits_backend()
    token = uuid.uuid4().hex
    lease_ms = max(int(lease_seconds * 1000), 1000)
    deadline = time.monotonic() + wait_seconds
    while True:
        left_ms = backend.mutex_acquire(key, token, lease_ms)
        if left_ms == 0:
            break
        if time.monotonic() >= deadline:
            raise LimitBusy(
                f"Another worker is busy with {what}; one at a time",
                retry_after=min(left_ms / 1000, 30.0) + random.uniform(1.0, 3.0),
            )
        time.sleep(min(random.uniform(*_POLL_SECONDS), max(deadline - time.monotonic(), 0.0)))
    renewer = _Renewer(backend, key, token, lease_ms)
    renewer.start()
    try:
        yield
    finally:
        renewer.stopped.set()
        renewer.join()
        try:
            backend.mutex_release(key, token)
        except LimitUnavailable:  # the lease lapses on its own
            logger.warning("limit_mutex_release_failed", extra={"limit_key": key})


def _take(take, wait_seconds: float, message: str) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        wait = take()
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:  # it would not come within the bound: no point sleeping
            raise RateLimited(message, retry_after=wait)
        time.sleep(wait)


def limit_rate(
    key: str,
    *,
    rate: float,
    burst: int,
    wait_seconds: float = 0.0,
    what: str = "requests",
    backend: LimitBackend | None = None,
) -> None:
    """One request of a token bucket shared by every worker: `burst` at once, then `rate` a second. Waits for a
    token when it comes within `wait_seconds`, else raises RateLimited with when it will."""
    if rate <= 0 or burst < 1:
        raise ValueError("a rate limit needs rate > 0 and burst >= 1")
    backend = backend or limits_backend()
    _take(lambda: backend.bucket_take(key, rate, burst), wait_seconds, f"The limit of {rate:g} {what} a second reached")


def limit_window(
    key: str,
    *,
    limit: int,
    per_seconds: float,
    wait_seconds: float = 0.0,
    what: str = "requests",
    backend: LimitBackend | None = None,
) -> None:
    """One admission of at most `limit` in any `per_seconds`, shared by every worker; as limit_rate otherwise."""
    if limit < 1 or per_seconds <= 0:
        raise ValueError("a window limit needs limit >= 1 and per_seconds > 0")
    backend = backend or limits_backend()
    _take(
        lambda: backend.window_take(key, limit, per_seconds),
        wait_seconds,
        f"The limit of {limit} {what} per {per_seconds:g} s reached",
    )
