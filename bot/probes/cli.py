"""`tierbot probe ...`: run the probes now, see their state, keep the model registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bot.db import transaction
from bot.errors import TierbotError
from bot.notifiers import notifiers_for
from bot.probes.alerts import alerts
from bot.probes.cloud_tier import tls_verification
from bot.probes.notify import Alert
from bot.probes.registry import RegisteredBuild, register_build
from bot.probes.results import ProbeResult, describe
from bot.probes.store import latest_results
from bot.probes.tiers import TierChoice
from bot.settings import Settings, get_settings
from bot.store import open_store
from bot.timeutil import to_rfc3339, utcnow

probe_app = typer.Typer(no_args_is_help=True, help="Health probes of the edge and cloud tiers.")
out = Console()

TierOption = Annotated[
    str, typer.Option("--tier", help="edge, cloud or all.", case_sensitive=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]


def register(app: typer.Typer) -> None:
    """Add the `probe` command group to the tierbot CLI."""
    app.add_typer(probe_app, name="probe")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise TierbotError(f"invalid settings: {exc}") from None


_TIERS: dict[str, TierChoice] = {"edge": "edge", "cloud": "cloud", "all": "all"}


def _tier(value: str) -> TierChoice:
    try:
        return _TIERS[value.lower()]
    except KeyError:
        raise TierbotError(f"--tier must be edge, cloud or all, not {value!r}") from None


def render_results(console: Console, results: list[ProbeResult]) -> None:
    """A table: each target, pass or fail, and the failing checks with their numbers."""
    if not results:
        console.print("no probe targets: register an edge build or configure cloud endpoints")
        return
    table = Table("target", "tier", "result", "checks")
    for result in results:
        if result.error is not None:
            verdict, detail = "[red]error[/red]", result.error
        elif result.ok:
            verdict = "[green]ok[/green]"
            detail = ", ".join(f"{n} {describe(c)}" for n, c in result.checks.items())
        else:
            verdict = "[red]FAIL[/red]"
            detail = "; ".join(f"{n} {describe(result.checks[n])}" for n in result.failed_checks)
        table.add_row(result.target, result.tier, verdict, detail)
    console.print(table)


def _render_alerts(console: Console, states: list[Alert]) -> None:
    for alert in states:
        if alert.state == "open" and alert.opened_at is not None:
            console.print(
                f"[red]alert open[/red] {alert.target} since {to_rfc3339(alert.opened_at)} "
                f"({alert.consecutive_failures} consecutive failures)",
                highlight=False,
            )


@probe_app.command("run")
def run(tier: TierOption = "all", as_json: JsonOption = False) -> None:
    """Probe now, store the results and update the alerts. Exit status 0 even when probes fail."""
    from bot.probes.service import ProbeRunner  # loads onnxruntime: only when probing

    settings = _settings()
    chosen = _tier(tier)
    store = open_store(settings)
    try:
        runner = ProbeRunner(store, settings.probes, notifiers_for(settings).probe_alerts)
        results = runner.run_round(chosen)
        with store.sessions() as session:
            states = alerts(session=session)
    finally:
        store.close()
    _show(results, states, as_json)


def _show(results: list[ProbeResult], states: list[Alert], as_json: bool) -> None:
    """Print results (and, for people, the alerts): one place for `run` and `status`."""
    if as_json:
        sys.stdout.write(orjson.dumps([r.to_dict() for r in results]).decode() + "\n")
        return
    render_results(out, results)
    _render_alerts(out, states)


@probe_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """The latest result of every probe target and the open alerts (from the store)."""
    store = open_store(_settings())
    try:
        with store.sessions() as session:
            results = latest_results(session=session)
            states = alerts(session=session)
    finally:
        store.close()
    _show(results, states, as_json)


@probe_app.command("register")
def register_command(
    model_id: Annotated[str, typer.Argument(help="The build's model id.")],
    file: Annotated[str, typer.Option("--file", help="Local path or http(s) URL of the model.")],
    golden_set: Annotated[
        Path | None, typer.Option("--golden-set", help="The .npz golden set to judge it on.")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Model id of its reference build.")
    ] = None,
    quantization: Annotated[str | None, typer.Option(help="fp32, fp16, int8, ...")] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Refuse the build unless its file has this hash.")
    ] = None,
    tier: Annotated[str, typer.Option(help="edge or cloud.")] = "edge",
) -> None:
    """Register a model build for probing; its file's sha256 is computed and checked."""
    settings = _settings()
    store = open_store(settings)
    try:
        with transaction(store.sessions) as session:
            build = register_build(
                session=session,
                model_id=model_id,
                tier=tier,
                location=file,
                quantization=quantization,
                reference_model_id=reference,
                golden_set=str(golden_set) if golden_set else None,
                expected_sha256=sha256,
                now=utcnow(),
                cache_dir=settings.probes.model_cache_dir,
                verify=tls_verification(settings.probes.ca_bundle),
            )
    finally:
        store.close()
    _print_registered([build])


@probe_app.command("register-demo")
def register_demo(
    without_bad: Annotated[
        bool, typer.Option("--without-bad", help="Leave out the deliberately broken int8 build.")
    ] = False,
) -> None:
    """Register the demo router builds shipped with tierbot (fp32, good int8, broken int8)."""
    from bot.sandbox.models import register_demo_builds

    settings = _settings()
    store = open_store(settings)
    try:
        with transaction(store.sessions) as session:
            builds = register_demo_builds(
                session=session,
                now=utcnow(),
                cache_dir=settings.probes.model_cache_dir,
                include_bad=not without_bad,
            )
    finally:
        store.close()
    _print_registered(builds)


def _print_registered(builds: list[RegisteredBuild]) -> None:
    for build in builds:
        out.print(
            f"registered {build.model_id} ({build.tier}, {build.quantization or '?'}) "
            f"sha256 {build.sha256[:16]}… from {build.file_path}",
            highlight=False,
        )
