"""Content-addressed artifact storage on a local folder or any fsspec URL.

An artifact lives at ``<root>/sha256/<first two hex digits>/<remaining 62>``. Writes
go to a temporary name in the destination directory, are flushed and fsynced, then
renamed into place, so a reader never sees half a file; writing content that is
already there is a no-op. Every read checks the SHA-256 again.

On an object store (``s3://``, ``gs://``, ...) the temporary object is uploaded, its
size checked against what was written, then copied to its final key (a server-side
copy, which an object store makes visible at once) and deleted: an upload cut short
(an error, a lost connection, a killed process) leaves at most a ``.tmp-*`` object,
never a truncated artifact under its address. Callers record an artifact only after
this returns, so no record points at an unfinished upload.

A local root (a plain path) is handed to fsspec on first use, not when the store opens:
a command that reads no artifact (``skloop runs``) does not import fsspec (~12 ms). A
URL is resolved at once, so that a bad one fails when the store opens.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from skloop.core import ArtifactIntegrityError, NotFoundError, StoreError, redact_url, sha256_bytes
from skloop.store._entities import ArtifactRef

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["ArtifactStore", "StoredFile"]

_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    """A file under the artifact root, as :meth:`ArtifactStore.scan` lists it.

    ``sha256`` is ``None`` for a ``.tmp-*`` leftover of a write cut short; ``modified``
    is a POSIX time (local files), a datetime (object stores) or ``None``.
    """

    path: str
    where: str
    sha256: str | None
    size: int
    modified: float | datetime | None


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise NotFoundError(f"{sha256!r} is not an artifact address: expected 64 lowercase hex digits")
    return sha256


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


def _plain_path(root: str) -> bool:
    """Whether fsspec reads ``root`` as a local path (no protocol, no chain)."""
    return "://" not in root and "::" not in root and not root.startswith("data:")


def _absolute(root: str) -> str:
    """A relative local path made absolute now, as fsspec's ``make_path_posix`` would.

    >>> import os; _absolute("./a") == f"{os.getcwd()}/a" and _absolute("/x") == "/x"
    True
    """
    if os.sep != "/" or root.startswith(("/", "~")):
        return root  # fsspec's own rules (Windows drives, the home directory) then apply unchanged
    path = root[2:] if root.startswith("./") else "" if root == "." else root
    return f"{os.getcwd()}/{path}"


class ArtifactStore:
    """Content-addressed, verified artifact storage.

    The constructor only remembers ``root``; folders are created by the first write.

    Parameters
    ----------
    root : str or path-like
        A local folder or an fsspec URL (``s3://bucket/prefix``, ``memory://x``).
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoints).

    Examples
    --------
    >>> import tempfile
    >>> store = ArtifactStore(tempfile.mkdtemp())
    >>> ref = store.put_bytes(b"hello")
    >>> ref.sha256[:8], ref.size
    ('2cf24dba', 5)
    >>> store.get_bytes(ref.sha256)
    b'hello'
    """

    def __init__(self, root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None):
        self.root = str(root)
        self._options = dict(storage_options or {})
        self._resolved: tuple[AbstractFileSystem, str] | None = None
        #: a plain local path, resolved by fsspec on first use (against the working directory of now)
        self._local = _plain_path(self.root) and not self._options
        self._target = _absolute(self.root) if self._local else self.root
        if not self._local:
            from fsspec.implementations.local import LocalFileSystem

            self._local = isinstance(self._fs, LocalFileSystem)  # file:// is local too

    @property
    def _fs(self) -> AbstractFileSystem:
        return self._resolve()[0]

    @property
    def _base(self) -> str:
        return self._resolve()[1]

    def _resolve(self) -> tuple[AbstractFileSystem, str]:
        if self._resolved is None:
            import fsspec

            try:
                self._resolved = fsspec.core.url_to_fs(self._target, **self._options)
            except (ImportError, ValueError) as exc:
                raise StoreError(
                    f"cannot use {redact_url(self.root)!r} as the artifact root: {exc}; use a local folder "
                    "or an fsspec URL whose package is installed (e.g. s3fs for s3://)"
                ) from exc
        return self._resolved

    def __repr__(self) -> str:
        return f"ArtifactStore({redact_url(self.root)!r})"

    def _path(self, sha256: str) -> str:
        return f"{self._base.rstrip('/')}/sha256/{sha256[:2]}/{sha256[2:]}"

    def _where(self, path: str) -> str:
        # messages name the object with its protocol (s3://bucket/...), a local file by its path
        return path if self._local else str(self._fs.unstrip_protocol(path))

    def _stored(self, target: str, size: int) -> bool:
        """Whether ``target`` already holds content of ``size`` bytes (the dedup check)."""
        if not self._local:
            self._fs.invalidate_cache(target)  # another process may have written or removed it
        try:
            return bool(self._fs.size(target) == size)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(
                f"cannot look up artifact {self._where(target)}: {exc}; check the artifact root "
                "(SKLOOP_ARTIFACT_ROOT), its credentials and that it is reachable"
            ) from exc

    def path_of(self, sha256: str) -> str:
        """Where the artifact ``sha256`` lives (it may not exist)."""
        return self._path(_check_sha(sha256))

    def exists(self, sha256: str) -> bool:
        """Whether content with this SHA-256 is stored."""
        return bool(self._fs.exists(self._path(_check_sha(sha256))))

    # -- writing ------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store ``data``; return its address. Storing existing content does nothing."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StoreError(f"put_bytes needs bytes, given {type(data).__name__}")
        data = bytes(data)
        sha = sha256_bytes(data)
        target = self._path(sha)
        if not self._stored(target, len(data)):
            self._write_atomic(target, lambda fh: fh.write(data), len(data))
        return ArtifactRef(sha256=sha, size=len(data))

    def put_file(self, path: str | os.PathLike[str]) -> ArtifactRef:
        """Store the content of the local file ``path``; return its address."""
        src = Path(path)
        try:
            with src.open("rb") as fh:
                digest = hashlib.sha256()
                for chunk in _chunks(fh):
                    digest.update(chunk)
            size = src.stat().st_size
        except OSError as exc:
            raise StoreError(f"cannot read {src} to store it as an artifact: {exc}") from exc
        sha = digest.hexdigest()
        target = self._path(sha)
        if not self._stored(target, size):
            sent = hashlib.sha256()

            def copy(fh: IO[bytes]) -> None:
                with src.open("rb") as source:
                    for chunk in _chunks(source):
                        sent.update(chunk)
                        fh.write(chunk)

            def unchanged() -> bool:  # the file may have changed between hashing and copying
                return sent.hexdigest() == sha

            self._write_atomic(target, copy, size, check=unchanged)
        return ArtifactRef(sha256=sha, size=size)

    def _write_atomic(self, target: str, write: Any, size: int, check: Any = None) -> None:
        parent = target.rsplit("/", 1)[0]
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        try:
            if self._local:
                os.makedirs(parent, exist_ok=True)
                with open(tmp, "wb") as fh:
                    write(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                self._fs.makedirs(parent, exist_ok=True)
                remote = self._fs.open(tmp, "wb")
                try:
                    write(remote)
                except BaseException:
                    _abandon(remote)
                    raise
                remote.close()
                self._fs.invalidate_cache(tmp)
            if check is not None and not check():
                raise StoreError(f"the file changed while it was being stored as {self._where(target)}; store it again")
            written = self._fs.size(tmp)
            if written != size:  # a short upload that still reported success
                raise StoreError(
                    f"cannot write artifact to {self._where(target)}: {written} of {size} bytes arrived; "
                    "nothing was stored, try again"
                )
            if self._local:
                os.replace(tmp, target)
                _fsync_dir(parent)
            else:
                # a server-side copy: the final key appears whole, or not at all
                self._fs.copy(tmp, target)
                self._fs.invalidate_cache(target)
        except OSError as exc:
            raise StoreError(
                f"cannot write artifact to {self._where(target)}: {exc.strerror or exc}; nothing was stored. "
                "Check the artifact root's permissions, credentials and free space"
            ) from exc
        finally:  # also on KeyboardInterrupt or an error of the file system's own library
            with contextlib.suppress(Exception):
                if self._fs.exists(tmp):
                    self._fs.rm(tmp)

    # -- checking (skloop db check) -------------------------------------------------

    def scan(self) -> list[StoredFile]:
        """Every file under the root's ``sha256/`` folder: content (by address) and ``.tmp-*`` leftovers."""
        base = f"{self._base.rstrip('/')}/sha256"
        if not self._local:
            self._fs.invalidate_cache(base)
        try:
            found: dict[str, dict[str, Any]] = self._fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(
                f"cannot list the artifact store at {redact_url(self.root)}: {exc}; check the artifact root "
                "(SKLOOP_ARTIFACT_ROOT), its credentials and that it is reachable"
            ) from exc
        out = []
        for path, info in sorted(found.items()):
            folder, name = path.rsplit("/", 1)
            sha = None if name.startswith(".tmp-") else folder.rsplit("/", 1)[-1] + name
            if sha is not None and not _SHA256.match(sha):
                continue  # not ours
            when = info.get("mtime", info.get("LastModified", info.get("last_modified")))
            modified = float(when) if isinstance(when, int | float) else when
            out.append(StoredFile(path, self._where(path), sha, int(info.get("size") or 0), modified))
        return out

    def hash_path(self, path: str) -> str:
        """The SHA-256 of the file at ``path`` (as :meth:`scan` names it), read again."""
        if not self._local:
            self._fs.invalidate_cache(path)  # the listing's ETag may be out of date
        return self._hash_of(path)

    def remove_leftover(self, path: str) -> None:
        """Delete a ``.tmp-*`` leftover that :meth:`scan` listed (nothing else can be removed here)."""
        base = f"{self._base.rstrip('/')}/sha256/"
        if not path.startswith(base) or not path.rsplit("/", 1)[-1].startswith(".tmp-"):
            raise StoreError(f"{path!r} is no leftover upload under {redact_url(self.root)}")
        self._fs.rm(path)

    # -- reading ------------------------------------------------------------------

    def _hash_of(self, path: str) -> str:
        digest = hashlib.sha256()
        with self._fs.open(path, "rb") as fh:
            for chunk in _chunks(fh):
                digest.update(chunk)
        return digest.hexdigest()

    def _missing(self, sha256: str, name: str | None) -> NotFoundError:
        what = f"artifact {name!r} ({sha256})" if name else f"artifact {sha256}"
        return NotFoundError(
            f"{what} is not in the artifact store at {self.root}; check the artifact "
            "root setting (SKLOOP_ARTIFACT_ROOT) or restore it from a backup"
        )

    def _unreadable(self, sha256: str, name: str | None, exc: OSError) -> StoreError:
        what = f"artifact {name!r}" if name else "artifact"
        return StoreError(
            f"{what} at {self._where(self._path(sha256))} cannot be read: {exc.strerror or exc}; "
            "restore the file from a backup or re-run the run that produced it"
        )

    def _corrupt(self, sha256: str, actual: str, name: str | None) -> ArtifactIntegrityError:
        what = f"artifact {name!r}" if name else "artifact"
        return ArtifactIntegrityError(
            f"{what} at {self._where(self._path(sha256))} does not match its hash: expected sha256 "
            f"{sha256}, found {actual}; the file was modified or damaged after it was "
            "written, so it will not be loaded. Restore it from a backup or re-run the "
            "run that produced it"
        )

    def get_bytes(self, sha256: str, *, name: str | None = None) -> bytes:
        """The content stored under ``sha256``, verified.

        Raises
        ------
        NotFoundError
            When nothing is stored under ``sha256``.
        ArtifactIntegrityError
            When the stored bytes no longer hash to ``sha256``.
        """
        path = self._path(_check_sha(sha256))
        try:
            with self._fs.open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError as exc:
            raise self._missing(sha256, name) from exc
        except OSError as exc:  # a directory, or no permission, where the file should be
            raise self._unreadable(sha256, name, exc) from exc
        actual = sha256_bytes(data)
        if actual != sha256:
            raise self._corrupt(sha256, actual, name)
        return bytes(data)

    def open_path(self, sha256: str, *, name: str | None = None) -> Path:
        """A verified local path holding the content (downloaded first if remote)."""
        path = self._path(_check_sha(sha256))
        if not self._local:
            cache = Path(tempfile.gettempdir()) / "skloop-artifacts" / sha256
            self.get_file(sha256, cache, name=name)
            return cache
        try:
            actual = self._hash_of(path)
        except FileNotFoundError as exc:
            raise self._missing(sha256, name) from exc
        except OSError as exc:  # a directory, or no permission, where the file should be
            raise self._unreadable(sha256, name, exc) from exc
        if actual != sha256:
            raise self._corrupt(sha256, actual, name)
        return Path(path)

    def get_file(self, sha256: str, dest: str | os.PathLike[str], *, name: str | None = None) -> Path:
        """Copy the content to the local file ``dest``, verified; return ``dest``."""
        path = self._path(_check_sha(sha256))
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex}")
        digest = hashlib.sha256()
        try:
            with self._fs.open(path, "rb") as src, tmp.open("wb") as fh:
                for chunk in _chunks(src):
                    digest.update(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != sha256:
                raise self._corrupt(sha256, digest.hexdigest(), name)
            os.replace(tmp, out)
        except FileNotFoundError as exc:
            raise self._missing(sha256, name) from exc
        except OSError as exc:  # a directory, or no permission, where the file should be
            raise self._unreadable(sha256, name, exc) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out


def _abandon(fh: Any) -> None:
    # abort a multipart upload rather than finish it with half the bytes (s3fs, gcsfs, adlfs
    # files can discard); other files are closed, and the temporary object removed after
    try:
        fh.discard()
        fh.closed = True
    except Exception:
        with contextlib.suppress(Exception):
            fh.close()


def _fsync_dir(path: str) -> None:
    # make the rename itself durable; not possible on every platform
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
