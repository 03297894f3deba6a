"""The overview strip, always visible: what is this server, is it healthy, and is what I see fresh."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timezone

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.renderables._blend_colors import blend_colors
from textual.strip import Strip
from textual.widgets import Sparkline, Static

from ..engines.snapshot import ENGINE_SHORT, Snapshot
from .base import update_static
from .text import clean, duration, number, uptime

HISTORY = 180  # samples kept for the sparklines: 6 minutes at the default 2 s
GAUGE_WIDTH = 20
WARN_AT, CRITICAL_AT = 0.8, 0.9


def connection_gauge(used: int | None, maximum: int | None, width: int = GAUGE_WIDTH,
                     estimated: bool = False) -> Content:
    """A bar of `width` cells with marks at 80% and 90% of max_connections. An `estimated` count
    (some sessions' type hidden from this role) is written `≈n`, its bar one cell shorter."""
    if used is None or not maximum:
        return Content("connections ") + Content.styled("?", "$text-muted")
    if estimated:
        width -= 1
    ratio = used / maximum
    level = "$error" if ratio >= CRITICAL_AT else "$warning" if ratio >= WARN_AT else "$success"
    marks = {int(WARN_AT * width): "$warning", int(CRITICAL_AT * width): "$error"}
    bar = Content("conn ")
    for i in range(width):
        filled = (i + 0.5) / width <= ratio
        if i in marks:
            bar += Content.styled("┃", f"bold {marks[i]}")
        else:
            bar += Content.styled("█" if filled else "░", level if filled else "$text-muted")
    return bar + Content.styled(f" {'≈' if estimated else ''}{used}/{maximum} {ratio:.0%}", f"bold {level}")


def replication_lag(snapshot: Snapshot) -> str:
    rep = snapshot.replication
    if rep is None:
        return "lag ?"
    if rep.role == "standby":
        receiver = rep.receiver
        if receiver is None or receiver.replay_lag_s is None:
            return "replay lag ?"
        return f"replay lag {duration(receiver.replay_lag_s)}" + (" (paused)" if receiver.replay_paused else "")
    lags = [s.replay_lag_s for s in rep.standbys if s.replay_lag_s is not None]
    if not rep.standbys:
        return "no standby"
    if lags:
        return f"lag {duration(max(lags))}"
    # PostgreSQL clears the lag times of a standby that has replayed everything and heard nothing new
    if all(s.replay_lag_bytes == 0 for s in rep.standbys):
        return f"{len(rep.standbys)} standby, caught up"
    return f"{len(rep.standbys)} standby, lag ?"


MANAGER_SHORT = {"patroni": "Patroni", "repmgr": "repmgr", "pg_auto_failover": "pg_auto_failover",
                 "none": "no manager", "unknown": "manager ?"}


def manager_short(snapshot: Snapshot) -> str:
    """Who manages the cluster, in a word or two for the strip ('' before it is known)."""
    manager = snapshot.postgres.manager if snapshot.postgres else None
    if manager is None:
        return ""
    said = MANAGER_SHORT[manager.kind]
    if manager.patroni_cluster is not None and manager.patroni_cluster.paused:
        said += " PAUSED"
    if manager.role_disagreement(snapshot.server.is_standby if snapshot.server else None):
        said += " DISAGREES"
    return said


def spark_data(history: deque[float]) -> list[float]:
    """What a sparkline is given: nothing until there are two samples (Textual draws a lone
    sample as a full bar, so a first `tps 0.0` looked like a peak), then the history."""
    return list(history) if len(history) >= 2 else []


class TrendLine(Sparkline):
    """Textual's Sparkline, one line high, drawn straight into a strip: the same bars in the same
    colours, without Rich's rendering and its Fraction arithmetic (the two on the overview took a
    millisecond and a half of every refresh). Textual 8's drawing, which tests/test_panels_fake.py
    compares it with."""

    def render_line(self, y: int) -> Strip:
        data = self.data or []
        width, height = self.size
        if height != 1 or y != 0 or len(data) < 2 or width <= 0:
            return super().render_line(y)
        _, background = self.background_colors
        min_color = (background + self.get_component_styles("sparkline--min-color").color).rich_color
        max_color = (background + self.get_component_styles("sparkline--max-color").color).rich_color
        base = self.visual_style.rich_style
        count = len(data)
        buckets = [bucket for bucket in (data[count * i // width:count * (i + 1) // width] for i in range(width))
                   if bucket]
        minimum, maximum = min(data), max(data)
        extent = maximum - minimum or 1
        summary, bars, last_bar = self.summary_function, SPARK_BARS, len(SPARK_BARS) - 1
        segments = []
        step, bucket_index = len(buckets) / width, 0.0
        for _ in range(width):
            ratio = (summary(buckets[int(bucket_index)]) - minimum) / extent
            segments.append(Segment(bars[int(ratio * last_bar)],
                                    base + Style.from_color(blend_colors(min_color, max_color, ratio))))
            bucket_index += step
        return Strip(segments, width)


SPARK_BARS = "▁▂▃▄▅▆▇█"


class OverviewStrip(Vertical):
    """Target, version, role, uptime, connections, rates, lag, and how old the data is."""

    status: reactive[str] = reactive("connecting")
    alerts: reactive[str] = reactive("")  # e.g. "3 urgent · 2 waiting", set by the app

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.snapshot: Snapshot | None = None
        self.tps_history: deque[float] = deque(maxlen=HISTORY)
        self.hit_history: deque[float] = deque(maxlen=HISTORY)
        self.profile: str | None = None
        self.read_only = False  # set by the app: no action may run
        self.interval_s: float | None = None  # set by the app: how often it polls while live
        self.widest: dict[str, int] = {}  # figure -> the most cells it has taken since the target was chosen

    def compose(self) -> ComposeResult:
        yield Static(id="overview-identity")
        with Horizontal(id="overview-figures"):
            yield Static(id="overview-gauge")
            yield Static(id="overview-tps", classes="figure")
            yield TrendLine([], id="overview-tps-spark", classes="spark")
            yield Static(id="overview-hit", classes="figure")
            yield TrendLine([], id="overview-hit-spark", classes="spark")
            yield Static(id="overview-lag", classes="figure")

    def apply(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        activity = snapshot.postgres.activity if snapshot.postgres else None
        if activity and activity.transactions_per_s is not None:
            self.tps_history.append(activity.transactions_per_s)
        if activity and activity.cache_hit_ratio is not None:
            self.hit_history.append(activity.cache_hit_ratio * 100)
        gauge = connection_gauge(snapshot.connections_used, snapshot.server.max_connections if snapshot.server else None,
                                 estimated=bool(snapshot.connections_hidden))
        self.show_figure("gauge", gauge)
        tps = activity.transactions_per_s if activity else None
        label = "tps"
        counters = snapshot.mongo.opcounters if snapshot.mongo else None
        if counters is not None:  # MongoDB counts operations, not transactions
            label, tps = "ops", counters.total_per_s
            if tps is not None:
                self.tps_history.append(tps)
        self.show_figure("tps", f"{label} {number(tps, 1) if tps is not None else '-'}")
        hit = activity.cache_hit_ratio if activity else None
        self.show_figure("hit", f"hit {hit * 100:.1f}%" if hit is not None else "hit -")
        self.query_one("#overview-tps-spark", Sparkline).data = spark_data(self.tps_history)
        self.query_one("#overview-hit-spark", Sparkline).data = spark_data(self.hit_history)
        managed = manager_short(snapshot)
        self.show_figure("lag", replication_lag(snapshot) + (f" · {managed}" if managed else ""))
        self.refresh_identity()

    def show_figure(self, name: str, content: str | Content) -> None:
        """Show a figure padded to the widest it has been: its width changed with nearly every
        refresh (tps 2,000.5, then 95.0), and each change laid the whole screen out again."""
        width = cell_len(content) if isinstance(content, str) else content.cell_length
        widest = max(width, self.widest.get(name, 0))
        self.widest[name] = widest
        if width < widest:
            content = content + " " * (widest - width)
        update_static(self.query_one(f"#overview-{name}", Static), content)

    def reset(self, profile: str | None) -> None:
        """Another target: its history starts empty."""
        self.snapshot = None
        self.profile = profile
        self.tps_history.clear()
        self.hit_history.clear()
        self.widest.clear()
        self.status = "connecting"
        self.refresh_identity()

    def watch_status(self) -> None:
        self.refresh_identity()

    def watch_alerts(self) -> None:
        self.refresh_identity()

    def freshness(self, age: float | None) -> Text:
        """How old the data on screen is, in words that change only when it matters (this line is
        looked at again every second, and each change repaints it): while live and on time, nothing
        beyond "live every 2s"; late (no new data after two intervals) or cut off, the age, counting;
        paused, the time the data was taken, and how many minutes ago once it is a minute old."""
        snapshot = self.snapshot
        if snapshot is None or age is None:
            return Text(" ")
        if self.status == "paused":
            taken = snapshot.taken_at.astimezone().strftime("%H:%M:%S")
            return Text(f" data of {taken}{f', {int(age // 60)}m ago' if age >= 60 else ''} ")
        if self.status.startswith("live") and not self.late(age):
            return Text(" ")
        return Text(f" age {duration(age)} ", style="bold" if self.status.startswith("live") else "")

    def late(self, age: float) -> bool:
        """Live data this old is late: no newer data came for two intervals (and two seconds)."""
        return self.interval_s is None or age > 2 * self.interval_s + 2

    def data_age(self) -> float | None:
        """Seconds since the data shown was taken (None before any)."""
        snapshot = self.snapshot
        return (datetime.now(timezone.utc) - snapshot.taken_at).total_seconds() if snapshot else None

    def refresh_identity(self) -> None:
        """Looked at every second too, so that data gone late, paused or cut off says how old it is."""
        snapshot = self.snapshot
        age = self.data_age()
        # Freshness first: at 80 columns whatever comes last may be cut off.
        line = Text()
        line.append(f" {self.status} ", style="reverse")
        line.append_text(self.freshness(age))
        if self.alerts:
            line.append(f" {self.alerts} ", style="bold reverse")
        if snapshot and snapshot.server:
            server = snapshot.server
            line.append(" standby" if server.is_standby else " primary", style="bold")
            line.append(f" {ENGINE_SHORT.get(server.engine, server.engine)} {clean(server.version.split(' ')[0], 20)}")
            if server.replica_set:
                line.append(f" set {clean(server.replica_set, 20)}")
            line.append(f" up {uptime(server.uptime_s)} ")
        if self.profile:
            line.append(f" [{clean(self.profile, 30)}]", style="bold")
        line.append(" " + clean(snapshot.target if snapshot else "", 80), style="bold")
        if self.read_only:  # after the target: the target's name is never pushed off by it
            line.append("  ")
            line.append(" READ-ONLY ", style="bold reverse")
        # One line of the strip's width whatever it says: never a reason to lay the screen out again.
        update_static(self.query_one("#overview-identity", Static), line, fixed_size=True)
        self.set_class(self.status.startswith("disconnected"), "disconnected")
        self.set_class(self.status == "paused", "paused")
