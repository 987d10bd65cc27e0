"""Getting a dataset's source files onto local disk, verified (docs/protocol.md §2).

A source file is known by its name and the md5s it may have: of the file itself, or of its
decompressed content for gzip files (mirrors re-compress). It comes either from a local
folder or archive (`data.sources.<dataset>.path`: no network at all) or from its URLs,
tried in order after the source's `mirrors`.

Downloads go through pooch's downloaders (requests streaming, timeouts, FTP). Pooch checks a
single hash per file, so verification against several accepted md5s, mirrors, retries with
back-off and the temporary-name-then-rename step are driven here. The guarantees:
- a file is verified before it is used, and a verified file is never downloaded again;
- a download is written under a temporary name and renamed only once verified, so an
  interrupted or rejected download never leaves a file under its final name (a stale
  temporary from a killed run is removed before the next try);
- a failure raises one `DataError` whose one-line message names the file, every URL tried
  with what went wrong, the expected md5 and the config key for a local copy.
"""

from __future__ import annotations

import contextlib
import ftplib
import gzip
import hashlib
import os
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from acai_repro.config import load_schema, source_content
from acai_repro.files import write_atomically
from acai_repro.units import format_duration

MiB = 1 << 20


class DataError(RuntimeError):
    """A source file that is missing, corrupt or not what the protocol expects."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    md5: tuple[str, ...]  # accepted md5s: of the file, or of its decompressed content
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class DownloadSettings:
    """`data.download` of the config; its defaults live in config/schema.yaml only."""

    retries: int  # further tries of one URL after a network failure
    backoff_seconds: float  # wait before retry k: backoff · 2^(k-1)
    timeout_seconds: float  # connect / read timeout
    progress_seconds: float  # a progress line at most this often

    @classmethod
    def from_config(cls, download: dict) -> DownloadSettings:
        return cls(**download)

    @classmethod
    def defaults(cls) -> DownloadSettings:
        download = load_schema()["properties"]["data"]["properties"]["download"]["properties"]
        return cls(**{key: spec["default"] for key, spec in download.items()})


Log = Callable[[str], None]


# ---- configuration -----------------------------------------------------------------
def source_files(source: dict) -> dict[str, SourceFile]:
    """The files of one `data.sources.<dataset>` entry, each with its mirrors' URLs first."""
    mirrors = [m.rstrip("/") for m in source.get("mirrors") or []]
    files = {}
    for key, entry in (source.get("files") or {}).items():
        urls = [f"{mirror}/{entry['name']}" for mirror in mirrors] + list(entry.get("urls") or [])
        files[key] = SourceFile(entry["name"], tuple(entry["md5"]), tuple(dict.fromkeys(urls)))
    return files


def content_spec(config: dict, dataset: str) -> dict:
    """What a prepared file's content depends on (acai_repro.config.source_content): the rule's
    params. Where the files come from (path, URLs, mirrors) and how they are downloaded stay out:
    editing them must not rerun the preparation and, through it, every cell trained on the dataset.
    """
    return source_content(config, dataset)


def source_location(config: dict, dataset: str, workflow_dir) -> dict:
    """The dataset's source entry with a relative `path` made relative to the workflow."""
    source = dict(config["data"]["sources"][dataset])
    path = source.get("path")
    if path and not os.path.isabs(path):
        source["path"] = os.path.join(str(workflow_dir), path)
    return source


# ---- verification ------------------------------------------------------------------
# A corrupt gzip stream fails in zlib (zlib.error), gzip (BadGzipFile, an OSError) or at
# its end (EOFError): each becomes a DataError naming the file.
DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error)


def md5sum(path: Path, decompress: bool = False) -> str:
    digest = hashlib.md5()
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as f:
            for block in iter(lambda: f.read(MiB), b""):
                digest.update(block)
    except DECOMPRESSION_ERRORS as error:
        raise DataError(f"{path}: truncated or corrupt ({error})") from None
    return digest.hexdigest()


def expected_text(expected) -> str:
    return "expected md5 " + " or ".join(expected)


def verify(path: Path, expected: tuple[str, ...]) -> str:
    """Return the matching md5 of `path` (or of its gzip content); raise DataError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing ({expected_text(expected)})")
    found = md5sum(path)
    if found in expected:
        return found
    if path.name.endswith(".gz"):
        try:
            content = md5sum(path, decompress=True)
        except DataError as error:
            raise DataError(f"{error}; {expected_text(expected)}") from None
        if content in expected:
            return content
        raise DataError(f"{path}: {found_text(found, content)}, neither is the {expected_text(expected)}")
    raise DataError(f"{path}: md5 {found} does not match the {expected_text(expected)}")


def found_text(found: str, content: str | None) -> str:
    """The md5s a file has: of its bytes and, for gzip, of its decompressed content (the md5 a
    re-compressed copy, e.g. a distribution's package, is accepted by)."""
    return f"md5 {found}" + (f" (decompressed content: md5 {content})" if content else "")


def _verified_md5(path: Path, expected) -> str | None:
    try:
        return verify(path, expected)
    except DataError:
        return None


# ---- progress ----------------------------------------------------------------------
def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


class LogProgress:
    """Pooch's progress-bar interface, writing whole lines at most every `every` seconds.

    A log file (a SLURM job's output, the rule's log) cannot render carriage-return bars,
    so each report is one line: bytes so far, total, rate and ETA.
    """

    def __init__(self, name: str, log: Log, every: float, clock=time.monotonic):
        self.name, self.log, self.every, self.clock = name, log, every, clock
        self.total = 0  # set by the downloader from Content-Length (0: unknown)
        self.done = 0
        self.start = self.last = clock()
        self.closing = False

    def update(self, n: int) -> None:
        self.done += n
        if self.total:
            self.done = min(self.done, self.total)  # pooch counts whole chunks
        now = self.clock()
        if not self.closing and now - self.last >= self.every:
            self.last = now
            self.log(self.line(now))

    def reset(self) -> None:  # pooch: the transfer finished; a final update(total) follows
        self.closing = True
        self.done = 0

    def close(self) -> None:
        elapsed = max(self.clock() - self.start, 1e-9)
        self.log(f"{self.name}: {_size(self.done)} in {format_duration(elapsed)} ({_size(self.done / elapsed)}/s)")

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if not self.total:
            return f"{self.name}: {_size(self.done)} of unknown size, {_size(rate)}/s"
        eta = (self.total - self.done) / rate if rate else float("inf")
        eta_text = format_duration(eta) if eta != float("inf") else "unknown"
        percent = 100 * self.done / self.total
        return (
            f"{self.name}: {_size(self.done)} of {_size(self.total)} ({percent:.0f}%), {_size(rate)}/s, ETA {eta_text}"
        )


# ---- download ----------------------------------------------------------------------
def _downloader(url: str, progress: LogProgress, settings: DownloadSettings):
    import pooch

    if url.startswith("ftp://"):
        return pooch.FTPDownloader(progressbar=progress, timeout=settings.timeout_seconds)
    return pooch.HTTPDownloader(progressbar=progress, chunk_size=MiB, timeout=settings.timeout_seconds)


def _reason(error: BaseException) -> str:
    """A few words for what went wrong with one URL (requests' own messages run long)."""
    import requests

    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-file"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if _is_unknown_host(error):
        return "unknown host (name resolution failed)"
    if isinstance(error, requests.ConnectionError):
        text = str(error)
        for known in ("Connection refused", "Network is unreachable"):
            if known in text:
                return known.lower()
        return "connection failed"
    return f"{type(error).__name__}: {str(error)[:120]}"


# How a failed name lookup reads in requests/urllib3 and the C library (glibc, musl, macOS).
NAME_RESOLUTION_ERRORS = (
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname provided",
    "No address associated with hostname",
)


def _is_unknown_host(error: BaseException) -> bool:
    """A host name that does not resolve: a typo, or no network at all. Either way waiting and
    retrying does not help (with no network, retries cost the whole back-off before the error)."""
    while error is not None:
        if isinstance(error, socket.gaierror) or any(text in str(error) for text in NAME_RESOLUTION_ERRORS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _is_permanent(error: BaseException) -> bool:
    """An error that a retry will not cure: an unknown host, an HTTP client error (404, 403...;
    408/429 excepted), an FTP permanent error."""
    import requests

    if _is_unknown_host(error):
        return True
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        return 400 <= status < 500 and status not in (408, 429)
    return isinstance(error, ftplib.error_perm)


def _remove_stale_temporaries(path: Path) -> None:
    for stale in path.parent.glob(f".part-*-{path.name}"):
        stale.unlink(missing_ok=True)


def _download_once(url: str, spec: SourceFile, path: Path, settings: DownloadSettings, log: Log) -> str:
    """Download `url` to a temporary beside `path`, verify, rename; return the md5."""
    temporary = path.with_name(f".part-{os.getpid()}-{path.name}")  # same suffix: .gz is verified as gzip
    return write_atomically(path, lambda tmp: _download_verified(url, spec, tmp, settings, log), temporary)


def _download_verified(url: str, spec: SourceFile, tmp: Path, settings: DownloadSettings, log: Log) -> str:
    """Download `url` to `tmp` and verify it; its md5, else _ChecksumMismatch."""
    progress = LogProgress(spec.name, log, settings.progress_seconds)
    _downloader(url, progress, settings)(url, str(tmp), None)
    try:
        return verify(tmp, spec.md5)
    except DataError:
        raise _ChecksumMismatch(f"got {found_text(md5sum(tmp), _content_md5(tmp))}") from None


def _content_md5(path: Path) -> str | None:
    """The md5 of a gzip file's decompressed content; None for other files or a corrupt stream."""
    if not path.name.endswith(".gz"):
        return None
    try:
        return md5sum(path, decompress=True)
    except DataError:
        return None


class _ChecksumMismatch(Exception):
    """The bytes arrived in full but are not the expected file: try the next URL."""


def _try_url(url: str, spec: SourceFile, path: Path, settings: DownloadSettings, log: Log) -> tuple[str | None, str]:
    """(md5, '') on success, else (None, why) after the configured retries."""
    tries = 1 + settings.retries
    for attempt in range(1, tries + 1):
        log(f"{spec.name}: downloading from {url}" + (f" (try {attempt} of {tries})" if attempt > 1 else ""))
        try:
            return _download_once(url, spec, path, settings, log), ""
        except _ChecksumMismatch as mismatch:
            return None, str(mismatch)
        except (OSError, EOFError, ftplib.Error) as error:
            reason = _reason(error)
            if _is_permanent(error) or attempt == tries:
                return None, reason if attempt == 1 else f"{reason}, {attempt} tries"
            wait = settings.backoff_seconds * 2 ** (attempt - 1)
            log(f"{spec.name}: {reason} from {url}; retrying in {wait:g} s")
            time.sleep(wait)
    raise AssertionError("unreachable")


def download(spec: SourceFile, path: Path, settings: DownloadSettings, log: Log, dataset: str) -> str:
    """Fetch `spec` into `path` from its URLs in order; return the verified md5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    failures = []
    for index, url in enumerate(spec.urls, 1):
        digest, reason = _try_url(url, spec, path, settings, log)
        if digest is not None:
            log(f"{spec.name}: verified (md5 {digest})")
            return digest
        failures.append(f"{url} ({reason})")
        if index < len(spec.urls):
            log(f"{spec.name}: {reason} from {url}; trying the next URL")
    raise DataError(
        f"{dataset}: could not download {spec.name} ({expected_text(spec.md5)}); "
        f"tried {'; '.join(failures)}. {_local_copy_hint(dataset, spec)}"
    )


def _local_copy_hint(dataset: str, spec: SourceFile) -> str:
    return (
        f"To use a local copy instead, put {spec.name} in a folder and set data.sources.{dataset}.path to that folder"
    )


def fetch(
    files: dict[str, SourceFile],
    source: dict,
    download_dir: Path,
    settings: DownloadSettings | None = None,
    log: Log = print,
    dataset: str = "dataset",
) -> dict[str, tuple[Path, str]]:
    """Local, verified (path, md5) of each of `files`.

    With `source['path']` the files are read from there (a folder, or the archive itself
    for a one-file dataset) and the network is never used. Otherwise they are downloaded
    into `download_dir`, unless a verified copy is already there.
    """
    download_dir = Path(download_dir)
    local = Path(source["path"]) if source.get("path") else None
    if local is None:
        _check_urls(files, dataset)
    with _removed_if_left_empty(download_dir):
        return _fetch_files(files, local, download_dir, settings, log, dataset)


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path):
    """A folder that this block creates and leaves empty (every download failed) is removed."""
    existed = folder.exists()
    try:
        yield
    finally:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _fetch_files(files, local: Path | None, download_dir: Path, settings, log: Log, dataset: str):
    found = {}
    for key, spec in files.items():
        if local is not None:
            path = local if local.is_file() and len(files) == 1 else local / spec.name
            found[key] = (path, _verify_local(path, spec, dataset))
            continue
        path = download_dir / spec.name
        digest = _verified_md5(path, spec.md5) if path.exists() else None
        if digest is None:
            if path.exists():
                log(f"{spec.name}: the copy in {download_dir} does not verify; downloading again")
                path.unlink()
            digest = download(spec, path, settings or DownloadSettings.defaults(), log, dataset)
        found[key] = (path, digest)
    return found


def _check_urls(files: dict[str, SourceFile], dataset: str) -> None:
    """Before any download: every file needs a URL, or the dataset a local path."""
    missing = [spec.name for spec in files.values() if not spec.urls]
    if missing:
        raise DataError(
            f"{dataset}: no download URL for {', '.join(missing)}: give each file urls (or the source "
            f"mirrors), or put the files in a folder and set data.sources.{dataset}.path to that folder"
        )


def _verify_local(path: Path, spec: SourceFile, dataset: str) -> str:
    try:
        return verify(path, spec.md5)
    except DataError as error:
        raise DataError(f"{dataset}: {error} (from data.sources.{dataset}.path)") from None
