"""Fetch-and-verify for the datasets that have stable direct download addresses.

Only IoT-23 is published as plain files on a web server (the Stratosphere
Laboratory's ``mcfp.felk.cvut.cz``). CIC-IDS2017 is behind a registration
form, the improved release and BoT-IoT sit in cloud folders: for those,
:func:`download_dataset` returns instructions instead of downloading.

Each manifest entry carries a URL, the expected SHA-256 and size. **No hash
in this manifest is known yet**: they were never observed (this project was
built offline) and are not invented, so every entry has ``sha256=None``.
For such an entry the file is streamed to ``<name>.part``, its SHA-256 is
computed and reported, and the file is left as ``<name>.unverified``; it is
renamed to ``<name>`` (and listed in ``SHA256SUMS.unverified``) only with
``trust_unverified=True``. When a hash is known, a mismatch deletes the file
and raises :class:`DownloadError` naming the file and both hashes. A 404 or a
transfer cut short also deletes the partial file and raises.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

logger = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 20


class DownloadError(RuntimeError):
    """A download failed, was cut short or did not match its expected hash."""


@dataclass(frozen=True)
class ManifestEntry:
    """One downloadable file.

    Attributes
    ----------
    file_name : str
        Name to save it under (inside the destination folder).
    url : str
        Direct address.
    sha256 : str or None
        Expected SHA-256 (hex), None when not known.
    size : int or None
        Expected size in bytes, None when not known.
    description : str
        What the file is.
    """

    file_name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    description: str = ""


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of one file download."""

    path: Path
    sha256: str
    size: int
    verified: bool
    trusted: bool


_IOT23_BASE = (
    "https://mcfp.felk.cvut.cz/publicDatasets/IoT-23-Dataset/IndividualScenarios"
)

MANIFEST: dict[str, tuple[ManifestEntry, ...]] = {
    "iot23": (
        ManifestEntry(
            file_name="CTU-IoT-Malware-Capture-34-1.conn.log.labeled",
            url=f"{_IOT23_BASE}/CTU-IoT-Malware-Capture-34-1/bro/conn.log.labeled",
            description="IoT-23 capture 34-1 (Mirai), labelled Zeek conn log",
        ),
    ),
}

INSTRUCTIONS: dict[str, str] = {
    "cicids2017": (
        "CIC-IDS2017 is distributed by the Canadian Institute for Cybersecurity "
        "after a registration form: https://www.unb.ca/cic/datasets/ids-2017.html\n"
        "Download MachineLearningCSV.zip and/or GeneratedLabelledFlows.zip, unzip "
        "them into <DIR>/cicids2017/. The improved release (Engelen et al. 2021) "
        "is linked from https://intrusion-detection.distrinet-research.be/ ; put "
        "its CSVs into <DIR>/cicids2017_improved/. See docs/DATASETS.md."
    ),
    "bot_iot": (
        "BoT-IoT is shared by UNSW Canberra through a cloud folder linked from "
        "https://research.unsw.edu.au/projects/bot-iot-dataset\n"
        "Download the 5% full-feature CSVs (UNSW_2018_IoT_Botnet_Full5pc_*.csv) "
        "or the 10-best training/testing CSVs into <DIR>/bot_iot/. See "
        "docs/DATASETS.md."
    ),
}


def sha256_of(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    destination: str | Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    trust_unverified: bool = False,
    timeout: float = 60.0,
    progress: bool = False,
) -> DownloadResult:
    """Stream ``url`` to ``destination`` through a ``.part`` file and verify it.

    Parameters
    ----------
    url : str
        The address.
    destination : str or Path
        Final file path.
    sha256 : str, optional
        Expected SHA-256; a mismatch deletes the file and raises.
    size : int, optional
        Expected size in bytes; a mismatch deletes the file and raises.
    trust_unverified : bool
        When ``sha256`` is None: rename to ``destination`` anyway. Otherwise
        the file is left at ``<destination>.unverified``.
    timeout : float
        Socket timeout in seconds.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DownloadResult
        Where the file is, its hash and size, and whether it was verified.

    Raises
    ------
    DownloadError
        On an HTTP error, a connection error, a transfer shorter than
        announced, or a size or hash mismatch. No partial file is left.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    received = 0

    # Stream to the .part file.
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced is not None else None
            with part.open("wb") as handle, tqdm(
                total=announced, unit="B", unit_scale=True,
                desc=destination.name, disable=not progress,
            ) as bar:
                while block := response.read(BLOCK_SIZE):
                    handle.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as error:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{destination.name}: HTTP {error.code} {error.reason} for {url}"
        ) from error
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{destination.name}: transfer from {url} failed after {received} "
            f"bytes ({error!r})"
        ) from error
    if announced is not None and received != announced:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{destination.name}: transfer cut short, received {received} of "
            f"{announced} bytes"
        )

    # Verify size and hash.
    computed = digest.hexdigest()
    if size is not None and received != size:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{destination.name}: size {received} bytes, expected {size} bytes"
        )
    if sha256 is not None:
        if computed != sha256.lower():
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{destination.name}: SHA-256 mismatch, expected {sha256.lower()}, "
                f"got {computed}; the file was deleted"
            )
        part.replace(destination)
        logger.info("%s: verified (sha256 %s)", destination.name, computed)
        return DownloadResult(destination, computed, received, True, False)
    if trust_unverified:
        part.replace(destination)
        with destination.with_name("SHA256SUMS.unverified").open("a") as sums:
            sums.write(f"{computed}  {destination.name}\n")
        logger.warning(
            "%s: no expected hash known; kept as trusted-unverified (sha256 %s)",
            destination.name, computed,
        )
        return DownloadResult(destination, computed, received, False, True)
    unverified = destination.with_name(destination.name + ".unverified")
    part.replace(unverified)
    logger.warning(
        "%s: no expected hash known; left as %s (sha256 %s)",
        destination.name, unverified.name, computed,
    )
    return DownloadResult(unverified, computed, received, False, False)


def download_dataset(
    name: str,
    destination: str | Path,
    *,
    trust_unverified: bool = False,
    manifest: dict[str, tuple[ManifestEntry, ...]] | None = None,
    progress: bool = False,
    timeout: float = 60.0,
) -> list[DownloadResult]:
    """Download every manifest file of dataset ``name`` into ``destination/name``.

    Raises
    ------
    ValueError
        If ``name`` has neither manifest entries nor instructions, or only
        instructions (the message then holds them).
    DownloadError
        From :func:`download_file`.
    """
    manifest = MANIFEST if manifest is None else manifest
    if name not in manifest:
        if name in INSTRUCTIONS:
            raise ValueError(
                f"{name} has no direct download address:\n{INSTRUCTIONS[name]}"
            )
        known = sorted(set(manifest) | set(INSTRUCTIONS))
        raise ValueError(f"name must be one of {known}, got {name!r}")
    folder = Path(destination) / name
    return [
        download_file(
            entry.url, folder / entry.file_name, sha256=entry.sha256,
            size=entry.size, trust_unverified=trust_unverified,
            progress=progress, timeout=timeout,
        )
        for entry in manifest[name]
    ]
