"""Command-line entry point ``fmltc``.

Subcommands (argparse subparsers, so others can be added next to them):

``fmltc download <name> --dest DIR [--trust-unverified]``
    Fetch a dataset with stable download addresses and verify its SHA-256,
    or print how to obtain a dataset that has none (see docs/DATASETS.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fmltc_core.data.download import (
    INSTRUCTIONS,
    MANIFEST,
    DownloadError,
    download_dataset,
)


def _download(arguments: argparse.Namespace) -> int:
    """Run ``fmltc download``; returns the exit status."""
    name = arguments.name
    if name in INSTRUCTIONS and name not in MANIFEST:
        print(f"{name}: no direct download address.")
        print(INSTRUCTIONS[name].replace("<DIR>", str(arguments.dest)))
        return 0
    try:
        results = download_dataset(
            name, arguments.dest, trust_unverified=arguments.trust_unverified,
            progress=not arguments.quiet,
        )
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    status = 0
    for result in results:
        if result.verified:
            print(f"{result.path}: verified, sha256 {result.sha256}")
        elif result.trusted:
            print(f"{result.path}: NOT verified (no known hash), kept because of "
                  f"--trust-unverified; sha256 {result.sha256}")
        else:
            print(f"{result.path}: NOT verified: no expected hash is known for it. "
                  f"Computed sha256 {result.sha256} ({result.size} bytes). Check it "
                  "against the publisher, then rerun with --trust-unverified.")
            status = 2
    return status


def build_parser() -> argparse.ArgumentParser:
    """The ``fmltc`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="fmltc", description="FMLTC-IDS reproduction tools"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO")
    subparsers = parser.add_subparsers(dest="command", required=True)

    download = subparsers.add_parser(
        "download", help="fetch and verify a dataset, or print how to get it"
    )
    download.add_argument("name", choices=sorted(set(MANIFEST) | set(INSTRUCTIONS)))
    download.add_argument("--dest", required=True, help="destination data folder")
    download.add_argument(
        "--trust-unverified", action="store_true",
        help="keep files whose expected SHA-256 is not known (it is printed)",
    )
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=_download)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fmltc`` command; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return arguments.handler(arguments)


if __name__ == "__main__":
    raise SystemExit(main())
