"""Pipeline bench: what the call's journey costs besides the models, and how fast calls get from the PBX to storage.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/pipeline.py     (make bench)
    ... bench/pipeline.py --calls 1000 --day-calls 100000                              (the whole simulated day)

In a throwaway PostgreSQL database, against the fake OnlinePBX (one committed 35 s recording served for every call,
with the PBX's talk time matching it, so the whole-file check passes):
1. orchestration overhead per call: fetch the recording, transcribe, analyse, in this process, with a stub recogniser
   (registered for this bench only: it returns the fixture's words at once) and the offline analyser timed apart;
   overhead = the steps' wall time minus the recogniser's and the analyser's time;
2. calls/s through sync + recordings with real worker processes (`celery -A dialix worker -Q pbx,recordings`, one
   process each) on RabbitMQ: 1 worker, then 2, in the same run, as a ratio;
3. the time for a simulated day (calls spread over 24 h, 4 companies) to go from the PBX to *recording stored* with
   2 workers; with --day-calls below 100,000 the day is scaled down and the 100,000 figure is extrapolated (said so).
Goals are printed beside the figures; nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from the repository root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

FIXTURE = "en-02-complaint"
RECORDING = ROOT / "fixtures" / "calls" / f"{FIXTURE}.stereo8k.mp3"
TALK_SECONDS = 35  # the recording's length: the PBX's talk time agrees with it
TENANTS = 4  # downloads are one at a time per company (the PBX's rule), so parallel workers need several companies
DAY_GOAL_CALLS = 100_000
GOAL_OVERHEAD_MS = 20.0
GOAL_CALLS_PER_SECOND = 200.0
WARMUP_CALLS = 3


def goal(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# --- engines for this bench only --------------------------------------------------------------------------------------


class StubRecogniser:
    """Hears the fixture's reference words at once: the pipeline around the model runs, the model does not."""

    name = "bench:stub"
    provides_speakers = False
    stereo_downmix = True  # one recognition of the downmix, words given to the louder channel (as the offline engine)
    seconds = 0.0  # time spent "recognising", summed over calls

    def recognise(self, audio: Path, *, language: str | None, languages: Sequence[str], **options):
        import json

        from integrations.stt.base import Recognition, Word

        started = time.perf_counter()
        truth = json.loads((ROOT / "fixtures" / "calls" / f"{FIXTURE}.json").read_text())
        words = []
        for turn in truth["turns"]:
            tokens = turn["text"].split()
            span = (turn["end"] - turn["start"]) * 1000 / len(tokens)
            start = turn["start"] * 1000
            words += [
                Word(start_ms=int(start + i * span), end_ms=int(start + (i + 1) * span), text=token, confidence=0.9)
                for i, token in enumerate(tokens)
            ]
        result = Recognition(
            words=tuple(words),
            language=language or truth["language"],
            language_probability=1.0,
            duration_ms=int(truth["duration_seconds"] * 1000),
        )
        StubRecogniser.seconds += time.perf_counter() - started
        return result


def _timed_offline_analyzer():
    from integrations.llm.offline import OfflineAnalyzer

    class TimedOfflineAnalyzer(OfflineAnalyzer):
        seconds = 0.0

        def analyze(self, request):
            started = time.perf_counter()
            try:
                return super().analyze(request)
            finally:
                TimedOfflineAnalyzer.seconds += time.perf_counter() - started

    return TimedOfflineAnalyzer


TimedOfflineAnalyzer = _timed_offline_analyzer()


def register_bench_engines() -> None:
    from integrations.llm.registry import ANALYZERS
    from integrations.stt.registry import ENGINES

    ENGINES["bench-stub"] = f"{__name__}.StubRecogniser"
    ANALYZERS["bench-offline"] = f"{__name__}.TimedOfflineAnalyzer"


# --- database and workers ---------------------------------------------------------------------------------------------


@contextmanager
def bench_database() -> Iterator[str]:
    """A database of its own, made and dropped the way the test runner does it, so no other data is touched."""
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_name = connection.settings_dict["NAME"]
    test_settings["NAME"] = f"{old_name}_pipeline_bench"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """`count` worker processes on the production settings, configured by their environment only."""

    def __init__(self, *, count: int, kinds: Sequence[str], media: Path, pbx_base_url: str, logs: Path) -> None:
        prefix = settings.DIALIX_TASK_QUEUE_PREFIX
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dialix.settings.base",
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "DIALIX_TASK_QUEUE_PREFIX": prefix,
            "DJANGO_MEDIA_ROOT": str(media),
            "DIALIX_ONLINEPBX_BASE_URL": pbx_base_url,
            "DIALIX_AUTO_TRANSCRIBE": "0",  # this bench stops at *recording stored*
            "DIALIX_LOG_LEVEL": "WARNING",
        }
        self.names = [f"bench-{count}-{i}@bench" for i in range(count)]
        self.processes = []
        for name in self.names:
            command = [
                *(sys.executable, "-m", "celery", "-A", "dialix", "worker", "-l", "warning", "-n", name),
                *("-Q", ",".join(f"{prefix}{kind}" for kind in kinds), "--concurrency=1"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ]
            with (logs / f"{name}.log").open("ab") as out:
                self.processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )

    def wait_ready(self, seconds: float = 60) -> None:
        from dialix.celery import app

        deadline = time.monotonic() + seconds
        waiting = set(self.names)
        while waiting:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not ready after {seconds} s: {sorted(waiting)}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=0.5):
                waiting -= set(reply)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


# --- scenarios --------------------------------------------------------------------------------------------------------


def company_with_account(slug: str, fake, *, fetch_recordings: bool = True):
    from companies.models import Company
    from integrations.models import PbxAccount
    from integrations.services import pbx_account_save

    company = Company.objects.create(name=f"Bench {slug}", slug=slug, languages=["en"])
    account = PbxAccount(
        company=company, domain=fake.domain, api_key=fake.auth_key, backfill_days=2, fetch_recordings=fetch_recordings
    )
    return pbx_account_save(account=account)


def add_calls(fake, n: int, *, over: timedelta, until: datetime) -> None:
    """`n` answered calls whose start times are spread evenly over `over`, each with the recording."""
    audio = RECORDING.read_bytes()
    step = over.total_seconds() / max(n, 1)
    first = until - over - timedelta(minutes=5)
    for i in range(n):
        fake.add_call(
            direction="inbound" if i % 3 else "outbound",
            operator_ext=str(101 + i % 5),
            customer_phone=f"99890{1000000 + i:07d}",
            started_at=first + timedelta(seconds=i * step),
            duration_seconds=TALK_SECONDS + 8,
            talk_seconds=TALK_SECONDS,
            recording=audio,
        )


def audio_work_seconds(repeats: int = 5) -> float:
    """The audio work the steps do around the model, on the same file: the whole-file check at download, and the
    probe + channel split (three WAV files and per-frame energies) before recognition."""
    from calls.audio import probe_audio
    from integrations.stt.speakers import probe_audio as stt_probe
    from integrations.stt.speakers import split_channels

    started = time.perf_counter()
    for _ in range(repeats):
        probe_audio(RECORDING, talk_seconds=TALK_SECONDS)
        stt_probe(RECORDING)
        with split_channels(RECORDING) as pair:
            pair.crosstalk_ms()
    return (time.perf_counter() - started) / repeats


def overhead_per_call(calls: int) -> None:
    from django.test.utils import CaptureQueriesContext

    from calls.models import Call, CallStatus
    from calls.services.analysis import call_analyse
    from calls.services.recordings import call_fetch_recording
    from calls.services.sync import pbx_sync_company
    from calls.services.transcription import call_transcribe
    from checklists.demo import demo_checklists
    from integrations.models import PbxAccount
    from integrations.testing.onlinepbx import FakeOnlinePbx

    settings.DIALIX_AUTO_TRANSCRIBE = settings.DIALIX_AUTO_ANALYSE = False  # each step is called and timed here
    with FakeOnlinePbx(domain="pbx-bench.onpbx.ru", auth_key="bench-auth-key") as fake:
        settings.DIALIX_ONLINEPBX_BASE_URL = fake.base_url
        until = datetime.now(UTC)
        add_calls(fake, calls + WARMUP_CALLS, over=timedelta(hours=12), until=until)
        account = company_with_account("overhead-0", fake, fetch_recordings=False)
        demo_checklists(account.company)
        pbx_sync_company(company_id=account.company_id)
        PbxAccount.objects.filter(pk=account.pk).update(fetch_recordings=True)
        ids = list(Call.objects.for_company(account.company).order_by("started_at").values_list("id", flat=True))
        steps = {"fetch recording": 0.0, "transcribe": 0.0, "analyse": 0.0}
        queries: dict[str, int] = {}
        for index, call_id in enumerate(ids):
            if index == WARMUP_CALLS:  # imports, first connections and caches are not per-call costs
                steps = dict.fromkeys(steps, 0.0)
                StubRecogniser.seconds = TimedOfflineAnalyzer.seconds = 0.0
            for step, run, options in (
                ("fetch recording", call_fetch_recording, {}),
                ("transcribe", call_transcribe, {"engine": "bench-stub"}),
                ("analyse", call_analyse, {"engine": "bench-offline"}),
            ):
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    run(call_id=call_id, **options)
                steps[step] += time.perf_counter() - started
                queries[step] = queries.get(step, 0) + len(captured) * (index >= WARMUP_CALLS)
        done = Call.objects.filter(pk__in=ids[WARMUP_CALLS:], status=CallStatus.DONE).count()
    total = sum(steps.values())
    models = StubRecogniser.seconds + TimedOfflineAnalyzer.seconds
    overhead_ms = (total - models) / calls * 1000
    print(f"1. orchestration overhead: {calls} calls (after {WARMUP_CALLS} warm-up) fetched, transcribed, analysed")
    print(f"   in this process on PostgreSQL; {done}/{calls} ended done")
    for step, seconds in steps.items():
        print(f"   {step:<16} {seconds / calls * 1000:7.1f} ms/call, {queries[step] / calls:.0f} SQL queries")
    print(
        f"   models: stub recogniser {StubRecogniser.seconds / calls * 1000:.2f} ms/call, offline analyser "
        f"{TimedOfflineAnalyzer.seconds / calls * 1000:.1f} ms/call (excluded)"
    )
    print(
        f"   overhead per call without model time: {overhead_ms:.1f} ms   "
        f"(goal <= {GOAL_OVERHEAD_MS:.0f} ms: {goal(overhead_ms <= GOAL_OVERHEAD_MS)})"
    )
    audio_ms = audio_work_seconds() * 1000
    print(
        f"   of which audio work around the model (whole-file decode at download, probe + channel split before "
        f"recognition): {audio_ms:.1f} ms;"
    )
    rest_ms = overhead_ms - audio_ms
    print(f"   the rest (HTTP to the PBX, storage, database, state moves and queueing): {rest_ms:.1f} ms")


def through_workers(*, label: str, workers: int, calls: int, over: timedelta, logs: Path) -> tuple[int, float]:
    """Sync + recordings of `calls` calls (split over TENANTS companies) with `workers` worker processes: (stored,
    seconds from queueing the syncs to the last recording stored)."""
    from calls.models import Call, CallStatus
    from calls.tasks import pbx_sync_company_task
    from dialix.celery import app
    from integrations.testing.onlinepbx import FakeOnlinePbx

    with FakeOnlinePbx(domain=f"pbx-{label}.onpbx.ru", auth_key="bench-auth-key") as fake:
        until = datetime.now(UTC)
        # Every company's account reads the same fake PBX (one domain): each stores its own copy of each call.
        add_calls(fake, calls // TENANTS, over=over, until=until)
        accounts = [company_with_account(f"{label}-{i}", fake) for i in range(TENANTS)]
        expected = len(fake.calls) * TENANTS
        media = Path(tempfile.mkdtemp(prefix="dialix-bench-media-"))
        pool = Workers(count=workers, kinds=("pbx", "recordings"), media=media, pbx_base_url=fake.base_url, logs=logs)
        try:
            pool.wait_ready()
            app.conf.task_always_eager = False
            started = time.perf_counter()
            for account in accounts:
                pbx_sync_company_task.delay(account.company_id)
            stored = Call.objects.filter(
                company_id__in=[a.company_id for a in accounts], status=CallStatus.RECORDING_STORED
            )
            count, deadline = 0, time.monotonic() + max(600, expected / 5)
            while count < expected and time.monotonic() < deadline:
                time.sleep(0.2)
                count = stored.count()
            seconds = time.perf_counter() - started
            failed = Call.objects.filter(company_id__in=[a.company_id for a in accounts], status=CallStatus.FAILED)
            if failed.exists():
                print(f"   {failed.count()} calls failed, e.g. {failed.first().failure_reason}")
        finally:
            app.conf.task_always_eager = True
            pool.stop()
    return count, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overhead-calls", type=int, default=20, help="calls for the overhead figure (1.)")
    parser.add_argument("--calls", type=int, default=600, help="calls per worker count for the rate (2.)")
    parser.add_argument("--day-calls", type=int, default=2_000, help="calls of the simulated day (3.); 100000 = real")
    args = parser.parse_args(argv)
    register_bench_engines()
    logging.getLogger().setLevel(logging.WARNING)  # the steps' INFO lines would bury the figures
    from dialix.celery import app

    logs = Path(tempfile.mkdtemp(prefix="dialix-bench-workers-"))
    with bench_database() as db_name:
        print(f"bench database: {db_name} (dropped at the end); worker logs: {logs}")
        print(f"every call: {RECORDING.name} ({RECORDING.stat().st_size // 1024} KiB, {TALK_SECONDS} s, stereo 8 kHz)")
        print()
        overhead_per_call(args.overhead_calls)

        print()
        rates = {}
        for workers in (1, 2):
            count, seconds = through_workers(
                label=f"rate{workers}", workers=workers, calls=args.calls, over=timedelta(hours=6), logs=logs
            )
            rates[workers] = count / seconds
            print(
                f"2. sync + recordings, {workers} worker process{'es' if workers > 1 else ''} "
                f"(-Q pbx,recordings, concurrency 1) over RabbitMQ, {TENANTS} companies: "
                f"{count} calls stored in {seconds:.1f} s = {rates[workers]:.0f} calls/s"
            )
        print(
            f"   2 workers vs 1: {rates[2] / rates[1]:.2f}x   "
            f"(goal >= {GOAL_CALLS_PER_SECOND:.0f} calls/s with 2: {goal(rates[2] >= GOAL_CALLS_PER_SECOND)})"
        )

        print()
        count, seconds = through_workers(
            label="day", workers=2, calls=args.day_calls, over=timedelta(hours=24), logs=logs
        )
        print(
            f"3. a simulated day: {count} calls spread over 24 h, {TENANTS} companies, 2 workers, from the PBX to "
            f"recording stored in {seconds:.1f} s ({count / seconds:.0f} calls/s)"
        )
        if count < DAY_GOAL_CALLS:
            estimate = seconds * DAY_GOAL_CALLS / max(count, 1)
            print(
                f"   100,000 calls: about {estimate:.0f} s ({estimate / 60:.1f} min), EXTRAPOLATED linearly from "
                f"{count} calls (scaled down {DAY_GOAL_CALLS / max(count, 1):.0f}x; --day-calls 100000 runs it whole)"
            )
        else:
            print(f"   100,000 calls: {seconds:.0f} s ({seconds / 60:.1f} min), measured")
    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:  # this run's own queues
            conn.default_channel.queue_delete(queue.name)


if __name__ == "__main__":
    main()
