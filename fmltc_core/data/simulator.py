"""Seeded simulator of layered IoT platform traffic (SIMULATED, not the paper's data).

The FMLTC-IDS paper (section 4.1) fine-tunes and evaluates on private traffic
recorded on a layered simulation platform: firewalls, smart routers, a traffic
acquisition system and IoT terminals (smart cameras, sensors, smart plugs).
That traffic is not public. This module stands in for it with a seeded,
vectorised generator of our own design; everything it returns is simulated
and says so (``FlowData.simulated=True``, ``source_file="simulated"``, an INFO
log line and an ``added`` entry in the data report). Numbers obtained on it
are not comparable with the paper's "real IoT" tables.

The platform
------------
Each edge *site* has a firewall (drops part of unsolicited probes), a smart
router (sets the site's round-trip time), a collection point (the traffic
acquisition system; it records one CICFlowMeter-like record per flow and adds
its own clock jitter) and a set of devices of four types: cameras, sensors,
smart plugs and hubs. The device mix of each site is a Dirichlet draw over
the device types, so sites differ (spatial non-IID).

Time enters in three ways (temporal non-IID):

* a daily load cycle per device type, shifted by a per-site offset, sets the
  flow rate of every device;
* per-site network conditions evolve on a one-minute grid: slow interference
  drift (a trend plus a smoothed random walk) scales latency and loss, short
  episodes of TCP retransmission bursts add packets, resets and long gaps, and
  contention periods stretch inter-arrival times and add duplicate ACKs;
* attack *campaigns* (port scans, SYN floods, UDP floods, SSH/telnet brute
  force, botnet command-and-control beacons) each hit a few sites during one
  interval with their own intensity.

Difficulty is deliberate: camera streams have flood-like packet rates, sensor
heartbeats look like C&C beacons, hubs run legitimate SSH and telnet sessions,
and a share of benign flows is recorded in reverse direction (an ephemeral
destination port), as CICFlowMeter often does.

Features
--------
The feature columns (:data:`SIMULATED_FEATURES`) use the exact, stripped
CICIDS2017 MachineLearningCVE names, and follow CICFlowMeter's definitions so
that a model pretrained on CICIDS2017 applies: durations and inter-arrival
times in microseconds, packet lengths are payload bytes,
``Flow Packets/s = (fwd + bwd packets) * 1e6 / Flow Duration`` (likewise for
bytes), ``Average Packet Size = total bytes / total packets``,
``Down/Up Ratio = floor(bwd / fwd packets)``, and the flag counts are 0/1
presence indicators as in the published CSV files. ``Init_Win_bytes_forward``
is -1 for UDP. Single-packet flows get the collector's clock resolution
(1 microsecond) as duration, so every rate is finite.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fmltc_core.data.report import DataReport
from fmltc_core.data.schema import FlowData

logger = logging.getLogger(__name__)

SOURCE_FILE = "simulated"

SIMULATED_FEATURES = [
    "Destination Port",
    "Flow Duration",
    "Total Fwd Packets",
    "Total Backward Packets",
    "Total Length of Fwd Packets",
    "Total Length of Bwd Packets",
    "Fwd Packet Length Mean",
    "Bwd Packet Length Mean",
    "Flow Bytes/s",
    "Flow Packets/s",
    "Flow IAT Mean",
    "Flow IAT Std",
    "Flow IAT Max",
    "Fwd IAT Mean",
    "Fwd Packets/s",
    "Bwd Packets/s",
    "FIN Flag Count",
    "SYN Flag Count",
    "RST Flag Count",
    "PSH Flag Count",
    "ACK Flag Count",
    "Down/Up Ratio",
    "Average Packet Size",
    "Init_Win_bytes_forward",
    "act_data_pkt_fwd",
]

DEVICE_TYPES = ("camera", "sensor", "smart_plug", "hub")

# Attack kinds: label -> family (the shared family vocabulary of schema.py).
ATTACK_FAMILIES = {
    "portscan": "scan",
    "dos-syn": "dos",
    "ddos-udp": "ddos",
    "ssh-bruteforce": "brute_force",
    "telnet-bruteforce": "brute_force",
    "botnet-c2": "botnet",
}
BENIGN_LABEL = "benign"
NO_CAMPAIGN = "none"

# Port codes below zero are drawn at random: -1 any port, -2 a port below 1025.
_ANY_PORT = -1
_LOW_PORT = -2
_EPHEMERAL_PORTS = (32768, 61000)
_MAX_PAYLOAD = 1460.0
_UDP_WINDOW = -1.0


@dataclass(frozen=True)
class _Profile:
    """Generative parameters of one kind of flow (a service or an attack)."""

    tcp: bool
    ports: tuple[int, ...]
    port_weights: tuple[float, ...]
    fwd_median: float
    fwd_sigma: float
    fwd_range: tuple[int, int]
    bwd_ratio: tuple[float, float]
    no_reply: float
    fwd_data: tuple[float, float]
    fwd_payload: tuple[float, float]
    bwd_data: tuple[float, float]
    bwd_payload: tuple[float, float]
    gap_median_us: float
    gap_sigma: float
    iat_cv: tuple[float, float]
    syn: float = 0.0
    fin: float = 0.0
    rst: float = 0.0
    windows: tuple[int, ...] = (-1,)
    window_weights: tuple[float, ...] = (1.0,)


# Benign services. Numbers are plausible orders of magnitude for IoT traffic
# (RTSP/RTP video, MQTT/CoAP telemetry, cloud HTTPS, DNS/NTP, SSDP/mDNS).
_BENIGN_PROFILES = {
    "camera_stream_tcp": _Profile(
        True, (554, 443, 8554), (0.45, 0.4, 0.15), 300, 1.0, (10, 50_000),
        (0.3, 0.6), 0.0, (0.85, 1.0), (1100, 180), (0.0, 0.05), (20, 15),
        5_000, 0.6, (0.8, 1.6), syn=0.3, fin=0.3, rst=0.02,
        windows=(29200, 14600, 65535), window_weights=(0.5, 0.3, 0.2)),
    "camera_stream_udp": _Profile(
        False, (5004, 6970, 8000), (0.5, 0.3, 0.2), 250, 1.0, (10, 50_000),
        (0.0, 0.03), 0.3, (1.0, 1.0), (1150, 160), (1.0, 1.0), (60, 20),
        4_000, 0.7, (0.6, 1.4)),
    "camera_control": _Profile(
        True, (443, 80), (0.8, 0.2), 10, 0.5, (3, 200),
        (0.8, 1.3), 0.02, (0.4, 0.7), (300, 150), (0.4, 0.7), (500, 300),
        15_000, 0.8, (0.5, 1.5), syn=0.9, fin=0.85, rst=0.05,
        windows=(29200, 14600), window_weights=(0.6, 0.4)),
    "dns_ntp": _Profile(
        False, (53, 123), (0.75, 0.25), 1, 0.2, (1, 2),
        (1.0, 1.0), 0.05, (1.0, 1.0), (45, 10), (1.0, 1.0), (120, 60),
        20_000, 0.7, (0.0, 0.3)),
    "sensor_mqtt": _Profile(
        True, (1883, 8883), (0.6, 0.4), 4, 0.4, (1, 20),
        (0.5, 1.0), 0.02, (0.5, 0.8), (80, 40), (0.3, 0.6), (20, 15),
        30_000, 0.8, (0.2, 0.8), syn=0.5, fin=0.4, rst=0.03,
        windows=(2144, 5840, 5760), window_weights=(0.4, 0.4, 0.2)),
    "sensor_coap": _Profile(
        False, (5683,), (1.0,), 2, 0.3, (1, 6),
        (0.5, 1.0), 0.1, (1.0, 1.0), (60, 30), (1.0, 1.0), (30, 20),
        25_000, 0.8, (0.1, 0.6)),
    "plug_cloud": _Profile(
        True, (443, 8883), (0.7, 0.3), 7, 0.5, (2, 80),
        (0.7, 1.2), 0.02, (0.4, 0.7), (150, 80), (0.4, 0.7), (200, 120),
        25_000, 0.8, (0.4, 1.2), syn=0.8, fin=0.7, rst=0.05,
        windows=(8192, 5840), window_weights=(0.6, 0.4)),
    "hub_web": _Profile(
        True, (443, 80, 8080), (0.7, 0.2, 0.1), 20, 1.0, (3, 5_000),
        (1.0, 2.0), 0.01, (0.3, 0.6), (400, 200), (0.6, 0.9), (1100, 300),
        8_000, 1.0, (0.8, 2.0), syn=0.9, fin=0.8, rst=0.05,
        windows=(65535, 29200, 64240), window_weights=(0.4, 0.3, 0.3)),
    "hub_discovery": _Profile(
        False, (1900, 5353), (0.5, 0.5), 2, 0.5, (1, 8),
        (0.0, 0.0), 1.0, (1.0, 1.0), (250, 100), (0.0, 0.0), (0, 0),
        100_000, 0.8, (0.1, 0.5)),
    "admin_ssh": _Profile(
        True, (22,), (1.0,), 40, 1.0, (8, 5_000),
        (0.8, 1.4), 0.0, (0.6, 0.9), (90, 60), (0.6, 0.9), (150, 100),
        200_000, 1.0, (1.0, 3.0), syn=0.95, fin=0.8, rst=0.1,
        windows=(29200, 64240), window_weights=(0.5, 0.5)),
    "admin_telnet": _Profile(
        True, (23,), (1.0,), 20, 0.8, (5, 2_000),
        (0.8, 1.4), 0.0, (0.6, 0.9), (20, 15), (0.6, 0.9), (60, 40),
        250_000, 1.0, (1.0, 3.0), syn=0.95, fin=0.8, rst=0.1,
        windows=(5840, 29200), window_weights=(0.5, 0.5)),
    # Zero-payload TCP: failed connection attempts (SYN retries at 1 s, 2 s,
    # then a reset or silence) and keep-alive probes of idle sessions.
    "connection_attempt": _Profile(
        True, (443, 8883, 1883, 80, 554), (0.4, 0.2, 0.2, 0.1, 0.1), 1, 0.6, (1, 4),
        (0.0, 1.0), 0.5, (0.0, 0.0), (0, 0), (0.0, 0.0), (0, 0),
        1_000_000, 0.5, (0.0, 0.5), syn=1.0, fin=0.0, rst=0.5,
        windows=(2144, 5840, 8192, 29200, 65535),
        window_weights=(0.2, 0.3, 0.2, 0.2, 0.1)),
    "tcp_keepalive": _Profile(
        True, (443, 8883, 1883, 554), (0.4, 0.2, 0.3, 0.1), 1, 0.4, (1, 3),
        (0.8, 1.2), 0.1, (0.0, 0.0), (0, 0), (0.0, 0.0), (0, 0),
        30_000, 0.8, (0.0, 0.5), syn=0.0, fin=0.1, rst=0.1,
        windows=(2144, 5840, 8192, 29200), window_weights=(0.3, 0.3, 0.2, 0.2)),
}

# Services of each device type with their shares of the device's flows.
_DEVICE_SERVICES = {
    "camera": {"camera_stream_tcp": 0.28, "camera_stream_udp": 0.18,
               "camera_control": 0.26, "dns_ntp": 0.18,
               "connection_attempt": 0.04, "tcp_keepalive": 0.06},
    "sensor": {"sensor_mqtt": 0.5, "sensor_coap": 0.22, "dns_ntp": 0.18,
               "connection_attempt": 0.04, "tcp_keepalive": 0.06},
    "smart_plug": {"plug_cloud": 0.58, "dns_ntp": 0.32,
                   "connection_attempt": 0.04, "tcp_keepalive": 0.06},
    "hub": {"hub_web": 0.38, "hub_discovery": 0.19, "dns_ntp": 0.28,
            "admin_ssh": 0.07, "admin_telnet": 0.03, "connection_attempt": 0.05},
}

# Flows per hour of one device of each type, daily amplitude and local peak hour.
_DEVICE_FLOWS_PER_HOUR = {"camera": 30.0, "sensor": 60.0, "smart_plug": 12.0,
                          "hub": 40.0}
_DIURNAL_AMPLITUDE = {"camera": 0.5, "sensor": 0.2, "smart_plug": 0.7, "hub": 0.6}
_DIURNAL_PEAK_HOUR = {"camera": 13.0, "sensor": 14.0, "smart_plug": 19.0,
                      "hub": 20.0}

_ATTACK_PROFILES = {
    "portscan": _Profile(
        True, (_LOW_PORT, _ANY_PORT, 23, 80, 443, 554, 1883, 8080),
        (0.35, 0.25, 0.1, 0.06, 0.06, 0.06, 0.06, 0.06), 1, 0.3, (1, 3),
        (1.0, 1.0), 0.2, (0.0, 0.0), (0, 0), (0.0, 0.0), (0, 0),
        3_000, 0.8, (0.0, 0.3), syn=1.0, fin=0.0, rst=0.7,
        windows=(1024, 2048, 29200, 65535, 5840),
        window_weights=(0.35, 0.1, 0.2, 0.2, 0.15)),
    "dos-syn": _Profile(
        True, (80, 443, 554, 8080), (0.35, 0.35, 0.15, 0.15), 2, 1.5, (1, 100_000),
        (0.0, 0.3), 0.3, (0.0, 0.0), (0, 0), (0.0, 0.0), (0, 0),
        600, 1.2, (0.2, 1.0), syn=1.0, fin=0.0, rst=0.3,
        windows=(512, 1024, 8192, 65535, 5840),
        window_weights=(0.2, 0.2, 0.2, 0.2, 0.2)),
    "ddos-udp": _Profile(
        False, (53, 123, 1900, 80, _ANY_PORT), (0.2, 0.15, 0.1, 0.15, 0.4),
        60, 1.3, (1, 200_000),
        (0.0, 0.01), 0.5, (1.0, 1.0), (512, 25), (1.0, 1.0), (60, 20),
        1_500, 1.0, (0.1, 0.8)),
    "ssh-bruteforce": _Profile(
        True, (22,), (1.0,), 14, 0.35, (6, 40),
        (0.8, 1.2), 0.0, (0.5, 0.8), (70, 40), (0.5, 0.8), (120, 80),
        60_000, 0.7, (0.5, 1.5), syn=1.0, fin=0.7, rst=0.3,
        windows=(29200, 64240, 65535), window_weights=(0.4, 0.3, 0.3)),
    "telnet-bruteforce": _Profile(
        True, (23, 2323), (0.8, 0.2), 8, 0.4, (3, 30),
        (0.8, 1.2), 0.05, (0.5, 0.8), (12, 8), (0.5, 0.8), (40, 30),
        80_000, 0.8, (0.5, 1.5), syn=1.0, fin=0.6, rst=0.35,
        windows=(5840, 29200, 14600), window_weights=(0.4, 0.4, 0.2)),
    "botnet-c2": _Profile(
        True, (_ANY_PORT,), (1.0,), 4, 0.4, (1, 20),
        (0.5, 1.0), 0.05, (0.5, 0.8), (60, 40), (0.3, 0.6), (40, 30),
        30_000, 0.8, (0.2, 0.8), syn=0.5, fin=0.4, rst=0.05,
        windows=(2144, 5840, 29200), window_weights=(0.35, 0.35, 0.3)),
}

# Campaign shape per kind: share of campaigns, length in minutes, number of
# target sites and median intensity (attack flows per benign flow of a site).
_CAMPAIGN_KINDS = {
    "portscan": dict(share=0.22, minutes=(10, 60), sites=(1, 3), intensity=3.0),
    "dos-syn": dict(share=0.14, minutes=(10, 60), sites=(1, 1), intensity=4.0),
    "ddos-udp": dict(share=0.14, minutes=(15, 90), sites=(2, 4), intensity=4.0),
    "ssh-bruteforce": dict(share=0.14, minutes=(20, 120), sites=(1, 2),
                           intensity=2.0),
    "telnet-bruteforce": dict(share=0.12, minutes=(20, 120), sites=(1, 2),
                              intensity=2.0),
    "botnet-c2": dict(share=0.24, minutes=(120, 600), sites=(1, 3), intensity=0.5),
}
_C2_PORTS = (6667, 8080, 443, 1883, 4444, 23)
_FLOOD_PAYLOADS = (64, 128, 512, 1024, 1400)


@dataclass(frozen=True)
class SimulatorConfig:
    """Knobs of the simulated platform beyond the main arguments.

    Parameters
    ----------
    devices_per_site : int
        Devices behind each site's router.
    device_mix_concentration : float
        Concentration of the symmetric Dirichlet over device types that sets
        each site's device mix; smaller means more different sites.
    campaigns_per_site_day : float
        Mean number of attack campaigns per site and 24 h (Poisson; at least
        one campaign in all), so the attack share does not grow with fewer sites.
    bin_seconds : float
        Resolution of the time grid of rates and network conditions.
    site_offset_hours : float
        Half-width of the uniform shift of each site's daily cycle.
    drift_per_day : float
        Largest log-latency trend of the interference drift over 24 h.
    drift_walk : float
        Standard deviation over 24 h of the random-walk part of the drift.
    retransmission_bursts_per_day : float
        Mean number of retransmission-burst episodes per site and day.
    contention_periods_per_day : float
        Mean number of bandwidth-contention periods per site and day.
    reverse_direction : float
        Share of benign flows recorded with the ends swapped.
    """

    devices_per_site: int = 24
    device_mix_concentration: float = 0.5
    campaigns_per_site_day: float = 2.4
    bin_seconds: float = 60.0
    site_offset_hours: float = 2.0
    drift_per_day: float = 0.6
    drift_walk: float = 0.3
    retransmission_bursts_per_day: float = 6.0
    contention_periods_per_day: float = 4.0
    reverse_direction: float = 0.08

    def __post_init__(self) -> None:
        _check(self.devices_per_site >= 1, "devices_per_site", "an integer >= 1",
               self.devices_per_site)
        _check(self.device_mix_concentration > 0, "device_mix_concentration",
               "a number > 0", self.device_mix_concentration)
        _check(self.campaigns_per_site_day >= 0, "campaigns_per_site_day",
               "a number >= 0", self.campaigns_per_site_day)
        _check(self.bin_seconds > 0, "bin_seconds", "a number > 0",
               self.bin_seconds)
        _check(0 <= self.reverse_direction < 1, "reverse_direction",
               "a share in [0, 1)", self.reverse_direction)


@dataclass(frozen=True)
class Campaign:
    """One attack campaign: which sites it hits, when, and how hard.

    Attributes
    ----------
    identifier : str
        The value of the ``campaign`` column for its flows (``"c07-portscan"``).
    label, family : str
        Fine label and attack family of its flows.
    sites : tuple of int
        Target sites.
    start, end : pandas.Timestamp
        UTC interval ``[start, end)`` that holds all of its flows.
    start_bin, end_bin : int
        The same interval as indices into the platform's time grid.
    intensity : float
        Attack flows per average benign flow of a target site while active.
    port : int
        Fixed destination port (botnet C&C) or 0.
    payload : int
        Fixed payload bytes of flood packets or 0.
    compromised : tuple of int
        Global device indices of compromised devices (botnet) or empty.
    """

    identifier: str
    label: str
    family: str
    sites: tuple[int, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    start_bin: int
    end_bin: int
    intensity: float
    port: int = 0
    payload: int = 0
    compromised: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class SimulatedPlatform:
    """Everything of the simulated platform except the flows themselves.

    It depends only on ``seed``, ``n_sites``, ``start``, ``duration_hours``
    and the config (not on ``n_flows``), so :func:`plan_platform` returns
    exactly the platform behind :func:`simulate_iot_traffic` for those values.

    Attributes
    ----------
    device_site, device_type : numpy.ndarray of int, shape (n_devices,)
        Site and index into :data:`DEVICE_TYPES` of every device, grouped by site.
    device_names : tuple of str
        ``"<type>-<number>"``, unique within a site.
    device_rate : numpy.ndarray, shape (n_devices,)
        Mean flows per hour of each device.
    site_offset_hours, site_rtt_ms, site_clock_jitter, site_firewall_drop,
    site_base_loss : numpy.ndarray, shape (n_sites,)
        Per-site parameters of the daily cycle, router, collector and firewall.
    bin_edges_ns : numpy.ndarray of int64, shape (n_bins + 1,)
        Edges of the time grid in nanoseconds after ``start``.
    load : numpy.ndarray, shape (n_devices, n_bins)
        Daily-cycle rate factor of every device.
    interference : numpy.ndarray, shape (n_sites, n_bins)
        Log-latency drift from interference.
    burst, contention : numpy.ndarray of bool, shape (n_sites, n_bins)
        Retransmission-burst and contention episodes.
    campaigns : tuple of Campaign
    """

    start: pd.Timestamp
    n_sites: int
    device_site: np.ndarray
    device_type: np.ndarray
    device_names: tuple[str, ...]
    device_rate: np.ndarray
    site_offset_hours: np.ndarray
    site_rtt_ms: np.ndarray
    site_clock_jitter: np.ndarray
    site_firewall_drop: np.ndarray
    site_base_loss: np.ndarray
    bin_edges_ns: np.ndarray
    load: np.ndarray
    interference: np.ndarray
    burst: np.ndarray
    contention: np.ndarray
    campaigns: tuple[Campaign, ...] = field(default_factory=tuple)

    @property
    def n_bins(self) -> int:
        return len(self.bin_edges_ns) - 1

    def device_mix(self) -> pd.DataFrame:
        """Device counts per site (rows) and device type (columns)."""
        counts = np.zeros((self.n_sites, len(DEVICE_TYPES)), dtype=np.int64)
        np.add.at(counts, (self.device_site, self.device_type), 1)
        return pd.DataFrame(counts, columns=list(DEVICE_TYPES)).rename_axis("site")

    def campaign_table(self) -> pd.DataFrame:
        """One row per campaign: id, label, family, sites, start, end, intensity."""
        rows = [
            {"campaign": c.identifier, "label": c.label, "family": c.family,
             "sites": c.sites, "start": c.start, "end": c.end,
             "intensity": c.intensity, "port": c.port, "payload": c.payload}
            for c in self.campaigns
        ]
        return pd.DataFrame(rows)


def _check(condition: bool, name: str, expected: str, received: object) -> None:
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {received!r}")


def _validate(n_flows, n_sites, duration_hours, attack_fraction) -> None:
    for name, value in (("n_flows", n_flows), ("n_sites", n_sites)):
        _check(isinstance(value, (int, np.integer)) and not isinstance(value, bool)
               and value >= 1, name, "an integer >= 1", value)
    _check(isinstance(duration_hours, (int, float, np.number))
           and math.isfinite(duration_hours) and duration_hours > 0,
           "duration_hours", "a finite number > 0", duration_hours)
    if attack_fraction is not None:
        _check(isinstance(attack_fraction, (int, float, np.number))
               and 0 <= attack_fraction < 1, "attack_fraction",
               "None or a share in [0, 1)", attack_fraction)


def _parse_start(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        timestamp = pd.Timestamp(start)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"start must be an ISO 8601 timestamp, got {start!r}") from error
    _check(not pd.isna(timestamp), "start", "an ISO 8601 timestamp", start)
    if timestamp.tzinfo is None:
        return timestamp.tz_localize("UTC")
    return timestamp.tz_convert("UTC")


def _episodes(rng, n_sites, n_bins, per_bin_rate, length_bins) -> np.ndarray:
    """Boolean (n_sites, n_bins) mask of Poisson episodes of random length."""
    mask = np.zeros((n_sites, n_bins), dtype=bool)
    counts = rng.poisson(per_bin_rate * n_bins, size=n_sites)
    total = int(counts.sum())
    sites = np.repeat(np.arange(n_sites), counts)
    starts = rng.integers(0, n_bins, size=total)
    lengths = rng.integers(length_bins[0], length_bins[1] + 1, size=total)
    # Mark each episode with a +1/-1 difference array, then integrate.
    change = np.zeros((n_sites, n_bins + 1), dtype=np.int64)
    np.add.at(change, (sites, starts), 1)
    np.add.at(change, (sites, np.minimum(starts + lengths, n_bins)), -1)
    mask[:] = np.cumsum(change, axis=1)[:, :n_bins] > 0
    return mask


def plan_platform(
    *,
    seed: int = 0,
    n_sites: int = 10,
    start: str | pd.Timestamp = "2024-03-04T00:00:00Z",
    duration_hours: float = 24.0,
    config: SimulatorConfig | None = None,
) -> SimulatedPlatform:
    """Draw the simulated platform: devices, network conditions, campaigns.

    Parameters
    ----------
    seed : int
        Seed; the platform uses its own stream, independent of ``n_flows``.
    n_sites : int
        Number of edge sites (each a firewall, router, collector and devices).
    start : str or pandas.Timestamp
        Start of the recording; naive times are taken as UTC.
    duration_hours : float
        Length of the recording.
    config : SimulatorConfig, optional
        Further knobs; defaults to ``SimulatorConfig()``.

    Returns
    -------
    SimulatedPlatform
    """
    _validate(1, n_sites, duration_hours, None)
    config = config or SimulatorConfig()
    start_time = _parse_start(start)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    n_types = len(DEVICE_TYPES)

    # Devices: a Dirichlet device mix per site (spatial non-IID).
    mixes = rng.dirichlet(np.full(n_types, config.device_mix_concentration),
                          size=n_sites)
    counts = np.stack([rng.multinomial(config.devices_per_site, mix)
                       for mix in mixes])
    device_site = np.repeat(np.arange(n_sites), config.devices_per_site)
    device_type = np.concatenate(
        [np.repeat(np.arange(n_types), row) for row in counts])
    names = []
    for row in counts:
        for type_index, count in enumerate(row):
            names += [f"{DEVICE_TYPES[type_index]}-{k:02d}" for k in range(count)]
    base_rate = np.array([_DEVICE_FLOWS_PER_HOUR[t] for t in DEVICE_TYPES])
    device_rate = base_rate[device_type] * rng.lognormal(0.0, 0.3, len(device_type))

    # Per-site router, collector and firewall parameters.
    site_offset = rng.uniform(-config.site_offset_hours, config.site_offset_hours,
                              n_sites)
    site_rtt = rng.lognormal(math.log(20.0), 0.6, n_sites)
    site_jitter = rng.uniform(0.03, 0.15, n_sites)
    site_drop = rng.uniform(0.1, 0.6, n_sites)
    site_loss = rng.uniform(0.005, 0.03, n_sites)

    # Time grid with integer nanosecond edges.
    total_ns = int(round(duration_hours * 3600e9))
    n_bins = max(1, math.ceil(duration_hours * 3600.0 / config.bin_seconds))
    bin_edges = (np.arange(n_bins + 1, dtype=np.int64) * total_ns) // n_bins
    bin_seconds = duration_hours * 3600.0 / n_bins
    bin_mid_hours = (bin_edges[:-1] + bin_edges[1:]) / 2 / 3600e9
    start_hour = (start_time - start_time.normalize()).total_seconds() / 3600.0
    hour_of_day = (start_hour + bin_mid_hours) % 24.0

    # Daily load cycle of every device, shifted per site.
    amplitude = np.array([_DIURNAL_AMPLITUDE[t] for t in DEVICE_TYPES])
    peak = np.array([_DIURNAL_PEAK_HOUR[t] for t in DEVICE_TYPES])
    phase = (hour_of_day[None, :] - peak[device_type][:, None]
             - site_offset[device_site][:, None])
    load = 1.0 + amplitude[device_type][:, None] * np.cos(2 * np.pi * phase / 24.0)

    # Interference drift: a per-site trend plus a smoothed random walk.
    day_fraction = bin_mid_hours / 24.0
    trend = rng.uniform(0.3, 1.0, n_sites) * config.drift_per_day
    step_scale = config.drift_walk * math.sqrt(bin_seconds / (24.0 * 3600.0))
    steps = rng.normal(0.0, step_scale, (n_sites, n_bins))
    walk = np.cumsum(steps, axis=1)
    kernel = np.ones(min(15, n_bins)) / min(15, n_bins)
    walk = np.stack([np.convolve(row, kernel, mode="same") for row in walk])
    interference = trend[:, None] * day_fraction[None, :] + walk

    # Retransmission bursts (5-30 min) and contention periods (20-90 min).
    per_bin = bin_seconds / (24.0 * 3600.0)
    burst = _episodes(rng, n_sites, n_bins,
                      config.retransmission_bursts_per_day * per_bin,
                      (max(1, round(300 / bin_seconds)),
                       max(1, round(1800 / bin_seconds))))
    contention = _episodes(rng, n_sites, n_bins,
                           config.contention_periods_per_day * per_bin,
                           (max(1, round(1200 / bin_seconds)),
                            max(1, round(5400 / bin_seconds))))

    # Attack campaigns confined to some sites and one interval each.
    kinds = list(_CAMPAIGN_KINDS)
    shares = np.array([_CAMPAIGN_KINDS[k]["share"] for k in kinds])
    n_campaigns = max(1, int(rng.poisson(config.campaigns_per_site_day * n_sites
                                         * duration_hours / 24.0)))
    site_start = np.concatenate([[0], np.cumsum(counts.sum(axis=1))])
    campaigns = []
    for number in range(n_campaigns):
        kind = kinds[rng.choice(len(kinds), p=shares / shares.sum())]
        shape = _CAMPAIGN_KINDS[kind]
        minutes = rng.uniform(*shape["minutes"])
        length = int(min(n_bins, max(1, round(minutes * 60.0 / bin_seconds))))
        first = int(rng.integers(0, n_bins - length + 1))
        n_targets = int(min(n_sites, rng.integers(shape["sites"][0],
                                                  shape["sites"][1] + 1)))
        sites = tuple(sorted(int(s) for s in rng.choice(n_sites, n_targets,
                                                        replace=False)))
        intensity = float(shape["intensity"] * rng.lognormal(0.0, 0.4))
        port = int(rng.choice(_C2_PORTS)) if kind == "botnet-c2" else 0
        payload = int(rng.choice(_FLOOD_PAYLOADS)) if kind == "ddos-udp" else 0
        compromised: tuple[int, ...] = ()
        if kind == "botnet-c2":
            chosen = []
            for site in sites:
                n_here = int(rng.integers(1, 4))
                chosen += list(rng.integers(site_start[site], site_start[site + 1],
                                            size=n_here))
            compromised = tuple(int(d) for d in chosen)
        campaigns.append(Campaign(
            identifier=f"c{number:02d}-{kind}", label=kind,
            family=ATTACK_FAMILIES[kind], sites=sites,
            start=start_time + pd.Timedelta(int(bin_edges[first]), "ns"),
            end=start_time + pd.Timedelta(int(bin_edges[first + length]), "ns"),
            start_bin=first, end_bin=first + length, intensity=intensity,
            port=port, payload=payload, compromised=compromised))

    return SimulatedPlatform(
        start=start_time, n_sites=n_sites, device_site=device_site,
        device_type=device_type, device_names=tuple(names),
        device_rate=device_rate, site_offset_hours=site_offset,
        site_rtt_ms=site_rtt, site_clock_jitter=site_jitter,
        site_firewall_drop=site_drop, site_base_loss=site_loss,
        bin_edges_ns=bin_edges, load=load, interference=interference,
        burst=burst, contention=contention, campaigns=tuple(campaigns))


def _draw_cells(rng, platform, n_flows, attack_fraction):
    """Pick (device or campaign-site, bin) cells for every flow from the rates."""
    n_bins = platform.n_bins
    hours_per_bin = np.diff(platform.bin_edges_ns) / 3600e9

    # Benign rate of every (device, bin) cell.
    benign_rate = (platform.device_rate[:, None] * platform.load
                   * hours_per_bin[None, :]).ravel()

    # Attack rate of every (campaign, target site, bin) cell: intensity times
    # the site's mean benign rate, inside the campaign interval only.
    site_rate = np.bincount(platform.device_site, weights=platform.device_rate,
                            minlength=platform.n_sites)
    pairs = [(c, s) for c, campaign in enumerate(platform.campaigns)
             for s in campaign.sites]
    attack_rate = np.zeros((len(pairs), n_bins))
    for row, (c, site) in enumerate(pairs):
        campaign = platform.campaigns[c]
        span = slice(campaign.start_bin, campaign.end_bin)
        attack_rate[row, span] = (campaign.intensity * site_rate[site]
                                  * hours_per_bin[span])
    attack_rate = attack_rate.ravel()

    if attack_fraction is None:
        rates = np.concatenate([benign_rate, attack_rate])
        cells = rng.choice(len(rates), size=n_flows, p=rates / rates.sum())
    else:
        n_attack = int(round(attack_fraction * n_flows))
        if attack_rate.sum() == 0:
            n_attack = 0
        benign = rng.choice(len(benign_rate), size=n_flows - n_attack,
                            p=benign_rate / benign_rate.sum())
        attack = len(benign_rate) + rng.choice(
            len(attack_rate), size=n_attack,
            p=attack_rate / attack_rate.sum() if n_attack else None)
        cells = np.concatenate([benign, attack])

    is_attack = cells >= len(benign_rate)
    bins = np.where(is_attack, (cells - len(benign_rate)) % n_bins, cells % n_bins)
    device = np.where(is_attack, -1, cells // n_bins)
    pair = np.where(is_attack, (cells - len(benign_rate)) // n_bins, -1)
    pair_campaign = np.array([c for c, _ in pairs] + [-1], dtype=np.int64)
    pair_site = np.array([s for _, s in pairs] + [-1], dtype=np.int64)
    campaign = pair_campaign[pair]
    site = np.where(is_attack, pair_site[pair], platform.device_site[device])
    return is_attack, bins, device, campaign, site


def _choose(rng, values, weights, size):
    weights = np.asarray(weights, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=size,
                                         p=weights / weights.sum())]


def _draw_ports(rng, profile, size):
    ports = _choose(rng, profile.ports, profile.port_weights, size).astype(float)
    ports[ports == _ANY_PORT] = rng.integers(1, 65536, size=(ports == _ANY_PORT).sum())
    ports[ports == _LOW_PORT] = rng.integers(1, 1025, size=(ports == _LOW_PORT).sum())
    return ports


def _generate_profile(rng, profile, size) -> dict[str, np.ndarray]:
    """Raw per-flow quantities of one profile before network effects."""
    low, high = profile.fwd_range
    fwd = np.clip(np.rint(rng.lognormal(math.log(profile.fwd_median),
                                        profile.fwd_sigma, size)), low, high)
    bwd = np.rint(fwd * rng.uniform(*profile.bwd_ratio, size))
    bwd[rng.random(size) < profile.no_reply] = 0.0
    fwd_data = np.minimum(fwd, np.rint(fwd * rng.uniform(*profile.fwd_data, size)))
    bwd_data = np.minimum(bwd, np.rint(bwd * rng.uniform(*profile.bwd_data, size)))
    fwd_payload = np.clip(rng.normal(*profile.fwd_payload, size), 1.0, _MAX_PAYLOAD)
    bwd_payload = np.clip(rng.normal(*profile.bwd_payload, size), 1.0, _MAX_PAYLOAD)
    if profile.tcp:
        window = _choose(rng, profile.windows, profile.window_weights, size)
    else:
        window = np.full(size, _UDP_WINDOW)
    return {
        "port": _draw_ports(rng, profile, size),
        "tcp": np.full(size, profile.tcp),
        "fwd": fwd, "bwd": bwd, "fwd_data": fwd_data, "bwd_data": bwd_data,
        "fwd_payload": fwd_payload, "bwd_payload": bwd_payload,
        "gap": rng.lognormal(math.log(profile.gap_median_us), profile.gap_sigma,
                             size),
        "cv": rng.uniform(*profile.iat_cv, size),
        "syn": profile.tcp & (rng.random(size) < profile.syn),
        "fin": profile.tcp & (rng.random(size) < profile.fin),
        "rst": profile.tcp & (rng.random(size) < profile.rst),
        "window": window.astype(float),
    }


def _flow_quantities(rng, platform, is_attack, device, campaign, site):
    """Raw quantities of every flow, by benign service or attack kind."""
    n = len(is_attack)
    out = {key: np.zeros(n) for key in (
        "port", "fwd", "bwd", "fwd_data", "bwd_data", "fwd_payload",
        "bwd_payload", "gap", "cv", "window")}
    for key in ("tcp", "syn", "fin", "rst"):
        out[key] = np.zeros(n, dtype=bool)

    def fill(index, profile):
        if len(index):
            for key, values in _generate_profile(rng, profile, len(index)).items():
                out[key][index] = values

    # Benign flows: a service drawn from the device type's service shares.
    benign_index = np.flatnonzero(~is_attack)
    device_type = platform.device_type[device[benign_index]]
    for type_index, type_name in enumerate(DEVICE_TYPES):
        of_type = benign_index[device_type == type_index]
        services = list(_DEVICE_SERVICES[type_name])
        shares = list(_DEVICE_SERVICES[type_name].values())
        choice = _choose(rng, np.arange(len(services)), shares, len(of_type))
        for service_index, service in enumerate(services):
            fill(of_type[choice == service_index], _BENIGN_PROFILES[service])

    # Attack flows: the campaign's kind, with its fixed port or payload.
    for number, spec in enumerate(platform.campaigns):
        index = np.flatnonzero(campaign == number)
        fill(index, _ATTACK_PROFILES[spec.label])
        if spec.port:
            out["port"][index] = spec.port
        if spec.payload:
            out["fwd_payload"][index] = np.clip(
                rng.normal(spec.payload, 0.03 * spec.payload, len(index)),
                1.0, _MAX_PAYLOAD)
    return out


def simulate_iot_traffic(
    n_flows: int = 10_000,
    *,
    seed: int = 0,
    n_sites: int = 10,
    start: str | pd.Timestamp = "2024-03-04T00:00:00Z",
    duration_hours: float = 24.0,
    attack_fraction: float | None = None,
    config: SimulatorConfig | None = None,
) -> FlowData:
    """Simulate timestamped CICFlowMeter-like flows of a layered IoT platform.

    This is SIMULATED traffic standing in for the paper's private "real IoT"
    dataset (section 4.1, 10,000 flows); it is not the paper's data.

    Parameters
    ----------
    n_flows : int, default 10_000
        Number of flow records (the paper's real IoT set has 10,000).
    seed : int, default 0
        Seed of all randomness; the same arguments give the same frame.
    n_sites : int, default 10
        Edge sites (potential federated clients), each with its own device mix.
    start : str or pandas.Timestamp, default "2024-03-04T00:00:00Z"
        Start of the recording (UTC; naive times are taken as UTC).
    duration_hours : float, default 24.0
        Length of the recording.
    attack_fraction : float in [0, 1), optional
        Exact share of attack flows. ``None`` lets the share follow from the
        campaigns' intensities and lengths (about 30 % on average with the
        default config, varying strongly between sites and hours).
    config : SimulatorConfig, optional
        Further knobs of the platform.

    Returns
    -------
    FlowData
        ``dataset="simulated"``, ``time_source="timestamp"``, ``simulated=True``;
        features :data:`SIMULATED_FEATURES` (float32) and the metadata columns
        ``label``, ``family``, ``is_attack``, ``time``, ``order``, ``source_file``,
        ``site`` (int), ``device`` (str) and ``campaign`` (str, ``"none"`` for
        benign flows), sorted by time.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    _validate(n_flows, n_sites, duration_hours, attack_fraction)
    platform = plan_platform(seed=seed, n_sites=n_sites, start=start,
                             duration_hours=duration_hours, config=config)
    config = config or SimulatorConfig()
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    logger.info(
        "simulating %d IoT flows (seed %d, %d sites, %.1f h): SIMULATED traffic, "
        "not the paper's private real IoT data", n_flows, seed, n_sites,
        duration_hours)

    # Which device or campaign, site and time bin each flow belongs to.
    is_attack, bins, device, campaign, site = _draw_cells(
        rng, platform, n_flows, attack_fraction)
    edges = platform.bin_edges_ns
    offset_ns = edges[bins] + np.floor(
        rng.random(n_flows) * (edges[bins + 1] - edges[bins])).astype(np.int64)

    # Attack flows involve a device of the target site (botnet: a compromised one).
    site_first = np.searchsorted(platform.device_site, np.arange(n_sites))
    site_size = np.bincount(platform.device_site, minlength=n_sites)
    attack_index = np.flatnonzero(is_attack)
    device[attack_index] = site_first[site[attack_index]] + np.floor(
        rng.random(len(attack_index)) * site_size[site[attack_index]]).astype(int)
    for number, spec in enumerate(platform.campaigns):
        if not spec.compromised:
            continue
        for target in spec.sites:
            own = [d for d in spec.compromised if platform.device_site[d] == target]
            index = np.flatnonzero((campaign == number) & (site == target))
            device[index] = np.asarray(own)[rng.integers(0, len(own), len(index))]

    raw = _flow_quantities(rng, platform, is_attack, device, campaign, site)
    fwd, bwd = raw["fwd"], raw["bwd"]
    fwd_data, bwd_data = raw["fwd_data"], raw["bwd_data"]
    tcp, rst = raw["tcp"], raw["rst"]

    # Firewall: unsolicited probes to closed ports get no reply at all.
    scan = np.isin(campaign, [i for i, c in enumerate(platform.campaigns)
                              if c.label == "portscan"])
    dropped = scan & (rng.random(n_flows) < platform.site_firewall_drop[site])
    bwd[dropped] = 0.0
    rst &= ~dropped

    # Network conditions at the flow's site and time.
    interference = platform.interference[site, bins]
    in_burst = platform.burst[site, bins]
    in_contention = platform.contention[site, bins]
    site_load = platform.load[device, bins]
    latency = (platform.site_rtt_ms[site] / 20.0) * np.exp(interference) * (
        1.0 + 0.3 * (site_load - 1.0)) * np.where(in_contention, 2.0, 1.0)

    # TCP retransmissions: interference-driven losses plus burst episodes.
    loss = platform.site_base_loss[site] * np.exp(interference) + 0.5 * in_burst
    retransmitted = tcp & (fwd > 1) & (rng.random(n_flows) < loss)
    extra = np.where(retransmitted, 1 + rng.poisson(0.05 * np.minimum(fwd, 1e4)), 0)
    fwd = fwd + extra
    fwd_data = fwd_data + np.where(fwd_data > 0, extra, 0)
    rto_wait_us = extra * rng.uniform(2e5, 1e6, n_flows)
    rst |= retransmitted & (rng.random(n_flows) < 0.25)
    cv = raw["cv"] * np.where(retransmitted, 2.0, 1.0)
    duplicate_acks = np.where(tcp & in_contention, np.rint(0.2 * bwd), 0.0)
    bwd = bwd + duplicate_acks

    # Some benign flows are recorded with the ends swapped (ephemeral port).
    port = raw["port"]
    swapped = (~is_attack) & (bwd > 0) & (rng.random(n_flows)
                                          < config.reverse_direction)
    port[swapped] = rng.integers(*_EPHEMERAL_PORTS, size=swapped.sum())
    fwd, bwd = np.where(swapped, bwd, fwd), np.where(swapped, fwd, bwd)
    fwd_data, bwd_data = (np.where(swapped, bwd_data, fwd_data),
                          np.where(swapped, fwd_data, bwd_data))
    fwd_payload = np.where(swapped, raw["bwd_payload"], raw["fwd_payload"])
    bwd_payload = np.where(swapped, raw["fwd_payload"], raw["bwd_payload"])

    # Byte totals and the collector's timing (with its clock jitter).
    fwd_bytes = np.rint(fwd_data * fwd_payload)
    bwd_bytes = np.rint(bwd_data * bwd_payload)
    packets = fwd + bwd
    jitter = rng.lognormal(0.0, platform.site_clock_jitter[site])
    duration = np.where(
        packets > 1,
        np.maximum(1.0, np.rint((packets - 1) * raw["gap"] * latency * jitter
                                + rto_wait_us)),
        1.0)
    gaps = np.maximum(packets - 1, 1)
    iat_mean = np.where(packets > 1, duration / gaps, 0.0)
    iat_std = np.where(packets > 2, iat_mean * cv, 0.0)
    iat_max = np.where(
        packets > 1,
        np.minimum(duration, iat_mean + iat_std * np.sqrt(2 * np.log(gaps))),
        0.0)
    fwd_iat_mean = np.where(
        fwd > 1, duration * rng.uniform(0.75, 1.0, n_flows) / np.maximum(fwd - 1, 1),
        0.0)

    # Flags as 0/1 presence indicators, like the published CICIDS2017 CSVs.
    ack = tcp & (packets > 1) & ~(raw["syn"] & (bwd == 0))
    psh = tcp & (fwd_data + bwd_data > 0)
    features = {
        "Destination Port": port,
        "Flow Duration": duration,
        "Total Fwd Packets": fwd,
        "Total Backward Packets": bwd,
        "Total Length of Fwd Packets": fwd_bytes,
        "Total Length of Bwd Packets": bwd_bytes,
        "Fwd Packet Length Mean": fwd_bytes / fwd,
        "Bwd Packet Length Mean": np.where(bwd > 0, bwd_bytes / np.maximum(bwd, 1),
                                           0.0),
        "Flow Bytes/s": (fwd_bytes + bwd_bytes) * 1e6 / duration,
        "Flow Packets/s": packets * 1e6 / duration,
        "Flow IAT Mean": iat_mean,
        "Flow IAT Std": iat_std,
        "Flow IAT Max": iat_max,
        "Fwd IAT Mean": fwd_iat_mean,
        "Fwd Packets/s": fwd * 1e6 / duration,
        "Bwd Packets/s": bwd * 1e6 / duration,
        "FIN Flag Count": tcp & raw["fin"] & ~rst,
        "SYN Flag Count": raw["syn"],
        "RST Flag Count": rst,
        "PSH Flag Count": psh,
        "ACK Flag Count": ack,
        "Down/Up Ratio": np.floor(bwd / fwd),
        "Average Packet Size": (fwd_bytes + bwd_bytes) / packets,
        "Init_Win_bytes_forward": np.where(tcp, raw["window"], _UDP_WINDOW),
        "act_data_pkt_fwd": fwd_data,
    }

    # Assemble the frame in time order.
    order = np.argsort(offset_ns, kind="stable")
    frame = pd.DataFrame({name: np.asarray(values, dtype=np.float32)[order]
                          for name, values in features.items()})
    labels = np.array([BENIGN_LABEL] + [c.label for c in platform.campaigns])
    families = np.array([BENIGN_LABEL] + [c.family for c in platform.campaigns])
    identifiers = np.array([NO_CAMPAIGN] + [c.identifier for c in platform.campaigns])
    code = (campaign + 1)[order]
    frame["label"] = labels[code]
    frame["family"] = families[code]
    frame["is_attack"] = is_attack[order].astype(np.int8)
    frame["time"] = pd.to_datetime(
        platform.start.value + offset_ns[order], utc=True).as_unit("ns")
    frame["order"] = np.arange(n_flows, dtype=np.int64)
    frame["source_file"] = SOURCE_FILE
    frame["site"] = site[order].astype(np.int64)
    frame["device"] = np.asarray(platform.device_names)[device[order]]
    frame["campaign"] = identifiers[code]

    report = DataReport()
    report.add(SOURCE_FILE, "simulated flows (not the paper's real IoT data)",
               n_flows, action="added")
    logger.info("simulated %d flows, attack share %.3f, %d campaigns",
                n_flows, float(is_attack.mean()), len(platform.campaigns))
    return FlowData(frame=frame, feature_columns=list(SIMULATED_FEATURES),
                    dataset="simulated", time_source="timestamp", report=report,
                    simulated=True)
