"""Uploaded files: checked, then stored once under their SHA-256 content hash."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import filetype

log = logging.getLogger("ptfops.storage")

#: Accepted extensions and the MIME type each is served with.
ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg"}
_ZIP_BASED = {"docx", "xlsx", "pptx", "odt", "ods"}
_TEXT = {"csv", "txt"}


class UploadError(ValueError):
    """An upload refused; `code` selects the user-facing (translated) message."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class StoredFile:
    """A file now in the store."""

    sha256: str
    filename: str
    mime_type: str
    size: int


def safe_filename(name: str) -> str:
    """A download name without path parts, control characters or leading dots."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"<>:|?*]", "", name).strip().lstrip(".")
    return name[:150] or "document"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _check_content(ext: str, head: bytes) -> None:
    """Refuse a file whose bytes do not match its extension (a disguised upload)."""
    if ext in _TEXT:
        if b"\x00" in head:
            raise UploadError("disguised", "binary content in a text file")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
                try:
                    head.decode("cp1252")
                except UnicodeDecodeError:
                    raise UploadError("disguised", "not text") from exc
        return
    kind = filetype.guess(head)
    if kind is None:
        raise UploadError("disguised", "unknown content")
    if ext in _ZIP_BASED:
        ok = kind.extension in (ext, "zip") or kind.mime.startswith("application/vnd.")
    elif ext in ("jpg", "jpeg"):
        ok = kind.extension == "jpg"
    else:
        ok = kind.extension == ext
    if not ok:
        raise UploadError("disguised", f"content is {kind.mime}, name says .{ext}")


class FileStore:
    """A folder of files named by hash: `<root>/ab/abcdef…`."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path_for(self, sha256: str) -> Path:
        """Where the file with this hash lives (the hash is checked first)."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise UploadError("bad_hash", sha256)
        return self.root / sha256[:2] / sha256

    def save(self, stream: IO[bytes], original_name: str,
             allowed: set[str] | None = None) -> StoredFile:
        """Check and store an upload; never leaves a partial file behind."""
        filename = safe_filename(original_name)
        ext = _extension(filename)
        if ext not in (allowed or ALLOWED_TYPES.keys()):
            raise UploadError("type", ext or "(none)")
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                head = b""
                while chunk := stream.read(64 * 1024):
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadError("too_large", str(size))
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise UploadError("empty")
            _check_content(ext, head)
            sha = digest.hexdigest()
            final = self.path_for(sha)
            final.parent.mkdir(exist_ok=True)
            if final.exists():
                tmp.unlink()
            else:
                tmp.chmod(0o644)
                tmp.replace(final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                log.error("upload of %r refused: disk full in %s", filename, self.root)
                raise UploadError("disk_full", str(exc)) from exc
            log.exception("upload of %r failed", filename)
            raise UploadError("io", str(exc)) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredFile(sha, filename, ALLOWED_TYPES[ext], size)
