"""The server's own Prometheus metrics: HTTP requests (Slack endpoint, ingest), `/tier` use,
dropped redeliveries, and the per-component status of the last which-tier run.

One registry per server (not prometheus_client's global one), so tests and benchmarks can build
many apps in one process. Process-local: with replicas, each reports what it saw.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from bot.diagnosis.report import STATUS_ORDER, Report

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "tierbot_http_requests",
            "HTTP requests by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.slack_commands = Counter(
            "tierbot_slack_commands",
            "/tier commands acknowledged, by subcommand (usage: refused with a usage message).",
            ["subcommand"],
            registry=self.registry,
        )
        self.slack_dropped = Counter(
            "tierbot_slack_dropped",
            "Slack deliveries acknowledged and dropped: retries, duplicate events and clicks.",
            ["reason"],
            registry=self.registry,
        )
        self.which_tier_status = Gauge(
            "tierbot_which_tier_status",
            "Status of each component in the last which-tier run: "
            "0 no_data, 1 healthy, 2 degraded, 3 failing.",
            ["component"],
            registry=self.registry,
        )
        self.which_tier_last_run = Gauge(
            "tierbot_which_tier_last_run_timestamp_seconds",
            "End of the window of the last which-tier run.",
            registry=self.registry,
        )

    def record_report(self, report: Report) -> None:
        for name, tier in report.tiers.items():
            self.which_tier_status.labels(component=name).set(STATUS_ORDER[tier.status])
        self.which_tier_status.labels(component="router").set(STATUS_ORDER[report.router.status])
        self.which_tier_last_run.set(report.window_end.timestamp())

    def render(self) -> str:
        return generate_latest(self.registry).decode()
