"""Downloads against a real HTTP server on 127.0.0.1 (the standard library's, in a thread).

The server serves fabricated dataset files (tiny IDX, .mat, tar.gz) and can answer 404,
drop the connection mid-file a given number of times, and counts the requests per file.
"""

import collections
import gzip
import hashlib
import http.server
import socket
import threading
import time

import h5py
import numpy as np
import pytest
import scipy.io

from acai_repro.data.fetch import DataError, DownloadSettings, LogProgress, SourceFile, fetch, source_files
from acai_repro.data.prepare import prepare
from tests.test_prepare import _cifar_archive, _idx_gz

FAST = DownloadSettings(retries=2, backoff_seconds=0, timeout_seconds=5, progress_seconds=3600)


class FileServer:
    """Serves `files` {url path: bytes}; `drops[path]` responses are cut after half the bytes."""

    def __init__(self):
        self.files, self.drops, self.hits = {}, collections.Counter(), collections.Counter()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits[self.path] += 1
                data = owner.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if owner.drops[self.path] > 0:
                    owner.drops[self.path] -= 1
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url + path


@pytest.fixture
def server():
    files = FileServer()
    files.thread.start()
    yield files
    files.server.shutdown()
    files.server.server_close()


def dead_url(name: str) -> str:
    """A URL on a loopback port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _idx_bytes(tmp_path, n=40):
    path = _idx_gz(tmp_path / "src.gz", np.random.default_rng(0).integers(0, 256, (n, 28, 28)))
    return path.read_bytes()


def _fetch_one(spec, download_dir, settings=FAST):
    lines = []
    found = fetch({"images": spec}, {"path": None}, download_dir, settings, lines.append, "tiny")
    return found["images"], lines


def _left_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_clean_download_is_verified_and_logged(server, tmp_path):
    data = _idx_bytes(tmp_path)
    url = server.add("/train-images-idx3-ubyte.gz", data)
    spec = SourceFile("train-images-idx3-ubyte.gz", (_md5(data),), (url,))
    (path, digest), lines = _fetch_one(spec, tmp_path / "dl")
    assert path == tmp_path / "dl" / spec.name and path.read_bytes() == data and digest == _md5(data)
    assert _left_in(tmp_path / "dl") == [spec.name]  # no temporary left beside it
    assert lines[0] == f"train-images-idx3-ubyte.gz: downloading from {url}"
    assert lines[-1] == f"train-images-idx3-ubyte.gz: verified (md5 {_md5(data)})"
    assert f"{len(data) / 1000:.1f} kB in" in lines[-2]  # the transfer's summary line


def test_mirror_accepting_a_recompressed_file_by_its_content_md5(server, tmp_path):
    data = _idx_bytes(tmp_path)
    recompressed = gzip.compress(gzip.decompress(data), compresslevel=1, mtime=12345)
    assert recompressed != data
    url = server.add("/mirror/images.gz", recompressed)
    spec = SourceFile("images.gz", (_md5(data), _md5(gzip.decompress(data))), (url,))
    (_, digest), _ = _fetch_one(spec, tmp_path / "dl")
    assert digest == _md5(gzip.decompress(data))


def test_wrong_checksum_is_rejected_and_nothing_is_left(server, tmp_path):
    data = _idx_bytes(tmp_path)
    url = server.add("/images.gz", data)
    spec = SourceFile("images.gz", ("ab" * 16,), (url,))
    with pytest.raises(DataError) as error:
        _fetch_one(spec, tmp_path / "dl")
    message = str(error.value)
    content = _md5(gzip.decompress(data))
    assert f"{url} (got md5 {_md5(data)} (decompressed content: md5 {content}))" in message
    assert "expected md5 " + "ab" * 16 in message
    assert not (tmp_path / "dl").exists()  # the folder this download created is not left empty
    assert server.hits["/images.gz"] == 1  # the whole file arrived: no point retrying that URL


def test_connection_dropped_mid_file_is_retried_then_verified(server, tmp_path):
    data = _idx_bytes(tmp_path)
    url = server.add("/images.gz", data)
    server.drops["/images.gz"] = 2
    spec = SourceFile("images.gz", (_md5(data),), (url,))
    (path, _), lines = _fetch_one(spec, tmp_path / "dl")
    assert path.read_bytes() == data and server.hits["/images.gz"] == 3
    assert any("connection dropped mid-file" in line and "retrying" in line for line in lines)
    assert _left_in(tmp_path / "dl") == ["images.gz"]


def test_connection_dropped_every_time_leaves_no_truncated_file(server, tmp_path):
    data = _idx_bytes(tmp_path)
    url = server.add("/images.gz", data)
    server.drops["/images.gz"] = 10
    spec = SourceFile("images.gz", (_md5(data),), (url,))
    with pytest.raises(DataError, match=r"\(connection dropped mid-file, 3 tries\)"):
        _fetch_one(spec, tmp_path / "dl")
    assert _left_in(tmp_path / "dl") == [] and server.hits["/images.gz"] == 3


def test_dead_first_mirror_then_the_second_is_used(server, tmp_path):
    data = _idx_bytes(tmp_path)
    server.add("/official/images.gz", data)
    dead = dead_url("images.gz").rsplit("/", 1)[0]
    source = {
        "path": None,
        "mirrors": [dead],
        "files": {"images": {"name": "images.gz", "md5": [_md5(data)], "urls": [server.url + "/official/images.gz"]}},
    }
    files = source_files(source)
    assert files["images"].urls == (f"{dead}/images.gz", server.url + "/official/images.gz")
    lines = []
    found = fetch(files, source, tmp_path / "dl", FAST, lines.append, "tiny")
    assert found["images"][0].read_bytes() == data
    assert any("connection refused" in line for line in lines)


def test_404_everywhere_is_one_line_naming_the_file_and_every_url(server, tmp_path):
    urls = (server.url + "/a/images.gz", server.url + "/b/images.gz")
    spec = SourceFile("images.gz", ("cd" * 16,), urls)
    with pytest.raises(DataError) as error:
        _fetch_one(spec, tmp_path / "dl")
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        f"tiny: could not download images.gz (expected md5 {'cd' * 16}); "
        f"tried {urls[0]} (HTTP 404 Not Found); {urls[1]} (HTTP 404 Not Found). "
        "To use a local copy instead, put images.gz in a folder and set data.sources.tiny.path to that folder"
    )
    assert server.hits["/a/images.gz"] == 1  # a 404 is not retried
    assert not (tmp_path / "dl").exists()


def test_a_verified_file_is_never_downloaded_again(server, tmp_path):
    data = _idx_bytes(tmp_path)
    spec = SourceFile("images.gz", (_md5(data),), (server.add("/images.gz", data),))
    _fetch_one(spec, tmp_path / "dl")
    _, lines = _fetch_one(spec, tmp_path / "dl")
    assert server.hits["/images.gz"] == 1 and lines == []


def test_truncated_file_under_the_final_name_and_stale_temporary_are_replaced(server, tmp_path):
    data = _idx_bytes(tmp_path)
    spec = SourceFile("images.gz", (_md5(data),), (server.add("/images.gz", data),))
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "images.gz").write_bytes(data[:-100])  # e.g. from a killed older version
    (folder / ".part-999999-images.gz").write_bytes(data[:10])  # a killed download
    (path, _), lines = _fetch_one(spec, folder)
    assert path.read_bytes() == data and server.hits["/images.gz"] == 1
    assert "does not verify; downloading again" in lines[0]
    assert _left_in(folder) == ["images.gz"]


def test_a_local_path_never_uses_the_network(server, tmp_path):
    data = _idx_bytes(tmp_path)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "images.gz").write_bytes(data)
    spec = SourceFile("images.gz", (_md5(data),), (server.add("/images.gz", data),))
    found = fetch({"images": spec}, {"path": str(tmp_path / "local")}, tmp_path / "dl", FAST, print, "tiny")
    assert found["images"][0] == tmp_path / "local" / "images.gz" and server.hits["/images.gz"] == 0


def _source(fmt, server, files):
    entries = {}
    for key, (name, data) in files.items():
        entries[key] = {"name": name, "md5": [_md5(data)], "urls": [server.add(f"/{name}", data)]}
    return {"format": fmt, "path": None, "files": entries}


def test_prepare_svhn_mat_and_cifar_tar_gz_over_http(server, tmp_path):
    rng = np.random.default_rng(5)
    mats = {}
    for split, n in (("train", 3), ("test", 2), ("extra", 2)):
        path = tmp_path / f"{split}_32x32.mat"
        x, y = rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8), rng.integers(1, 11, (n, 1)).astype(np.uint8)
        scipy.io.savemat(path, {"X": x, "y": y}, format="5")
        mats[split] = (path.name, path.read_bytes())
    prepare("svhn", _source("svhn_mat", server, mats), tmp_path / "svhn.h5", tmp_path / "dl", settings=FAST, log=print)
    archive = tmp_path / "cifar-10-python.tar.gz"
    _cifar_archive(archive)
    cifar = _source("cifar10_python", server, {"archive": (archive.name, archive.read_bytes())})
    prepare("cifar10", cifar, tmp_path / "cifar10.h5", tmp_path / "dl", settings=FAST, log=print)
    with h5py.File(tmp_path / "svhn.h5") as f:
        assert f["extra/images"].shape == (2, 32, 32, 3)
        assert f.attrs["md5:train_32x32.mat"] == _md5(mats["train"][1])
    with h5py.File(tmp_path / "cifar10.h5") as f:
        assert f["train/images"].shape == (15, 32, 32, 3) and f["test/images"].shape == (3, 32, 32, 3)


def test_progress_is_whole_lines_with_bytes_rate_and_eta():
    now = [0.0]
    lines = []
    progress = LogProgress("extra_32x32.mat", lines.append, every=30, clock=lambda: now[0])
    progress.total = 1_300_000_000
    for _ in range(100):  # 100 chunks of 4 MB, 1 s apart: 4 MB/s
        now[0] += 1
        progress.update(4_000_000)
    progress.reset()
    progress.update(progress.total)
    progress.close()
    assert len(lines) == 4  # at 30, 60 and 90 s, then the summary
    assert lines[0] == "extra_32x32.mat: 120.0 MB of 1.3 GB (9%), 4.0 MB/s, ETA 4m55s"
    assert lines[-1].startswith("extra_32x32.mat: 1.3 GB in 1m40s")
    assert not any("\r" in line for line in lines)


def test_a_file_without_url_is_reported_before_any_download(server, tmp_path):
    data = _idx_bytes(tmp_path)
    files = {
        "train_images": SourceFile("train.gz", (_md5(data),), (server.add("/train.gz", data),)),
        "test_images": SourceFile("t10k.gz", (_md5(data),)),
    }
    with pytest.raises(DataError, match=r"^tiny: no download URL for t10k.gz: .*set data.sources.tiny.path"):
        fetch(files, {"path": None}, tmp_path / "dl", FAST, print, "tiny")
    assert server.hits["/train.gz"] == 0


SLOW_BACKOFF = DownloadSettings(retries=3, backoff_seconds=5, timeout_seconds=5, progress_seconds=3600)


def test_an_unknown_host_fails_at_once_and_leaves_no_folder(tmp_path):
    """No network, or a typo in a host name: no retries, no back-off (RFC 2606: .invalid never resolves)."""
    url = "http://no-such-host.invalid/images.gz"
    spec = SourceFile("images.gz", ("cd" * 16,), (url,))
    started = time.monotonic()
    with pytest.raises(DataError) as error:
        _fetch_one(spec, tmp_path / "results" / "data" / "downloads", SLOW_BACKOFF)
    assert time.monotonic() - started < 4  # one retry would have waited 5 s
    assert f"tried {url} (unknown host (name resolution failed))." in str(error.value)
    assert not (tmp_path / "results" / "data" / "downloads").exists()


def test_an_existing_download_folder_is_kept(server, tmp_path):
    (tmp_path / "dl").mkdir()
    spec = SourceFile("images.gz", ("cd" * 16,), (server.url + "/gone/images.gz",))
    with pytest.raises(DataError):
        _fetch_one(spec, tmp_path / "dl")
    assert (tmp_path / "dl").is_dir()


def test_a_recompressed_copy_is_named_with_both_md5s(tmp_path):
    """A distribution's re-compressed .gz (Debian's Fashion-MNIST): the message shows the md5 of the
    file and of its content, beside the accepted ones, so the right one can be added to md5."""
    data = _idx_bytes(tmp_path)
    recompressed = gzip.compress(gzip.decompress(data), compresslevel=1, mtime=12345)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "images.gz").write_bytes(recompressed)
    spec = SourceFile("images.gz", (_md5(data), "ab" * 16), ())
    with pytest.raises(DataError) as error:
        fetch({"images": spec}, {"path": str(tmp_path / "local")}, tmp_path / "dl", FAST, print, "tiny")
    assert str(error.value) == (
        f"tiny: {tmp_path / 'local' / 'images.gz'}: md5 {_md5(recompressed)} (decompressed content: md5 "
        f"{_md5(gzip.decompress(data))}), neither is the expected md5 {_md5(data)} or {'ab' * 16} "
        "(from data.sources.tiny.path)"
    )
