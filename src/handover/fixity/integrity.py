"""scan, verify and compare: manifests made, checked against the tree, and checked against each other.

Both ``scan`` and ``verify`` keep a journal (a headerless manifest of what has been hashed so far, flushed
after every batch). A rerun after an interruption reuses each journal digest whose file still has the
same size and mtime, so completed files are not hashed again; the journal is removed when a run ends.
"""

from __future__ import annotations

import binascii
import os
import time
from collections import deque
from collections.abc import Callable, Iterator

from handover.fixity import walk as walking
from handover.fixity._types import TYPE_CHECKING, Record
from handover.fixity.errors import FixityError
from handover.fixity.hashing import FileHasher, Throttle, describe_error
from handover.fixity.manifest import (
    Header,
    ManifestEntry,
    ManifestReader,
    ManifestWriter,
    entry_lines,
    format_ns,
    load,
    pack,
    packed_fields,
    read_header,
    unpack,
)
from handover.fixity.parallel import Workers, batches
from handover.fixity.progress import Progress
from handover.fixity.report import TOOL, Report, display_path, host_name

if TYPE_CHECKING:
    from typing import IO

Hook = Callable[[bytes], None]


# Below this size (about a hundred entries), verify runs in one process whatever --jobs says, unless it lists
# several files that add up to SMALL_TOTAL or more (a few big dumps: one core each).
SMALL_MANIFEST = 16 << 10
SMALL_TOTAL = 64 << 20


class Options(Record):
    """How to run: worker processes, read-rate ceiling in bytes/s (all workers together), progress bar."""

    __slots__ = ("jobs", "max_rate", "on_hashed", "progress")

    def __init__(
        self,
        jobs: int = 1,
        max_rate: float | None = None,
        progress: bool = False,
        on_hashed: Hook | None = None,
    ) -> None:
        self.jobs, self.max_rate, self.progress, self.on_hashed = jobs, max_rate, progress, on_hashed


class Item(Record):
    """A file to hash, or whose digest the journal already has (``digest`` set: nothing to read).

    ``digest`` is raw bytes, as the manifest table keeps it; hex is made only for what is written out.
    ``size`` and ``mtime_ns`` are -1 until the worker has looked, when the walk did not stat the file;
    ``expected`` is the manifest's size, if it has one: the worker does not hash a file of another size."""

    __slots__ = ("digest", "error", "expected", "mtime_ns", "relpath", "reused", "size")

    def __init__(
        self,
        relpath: bytes,
        size: int,
        mtime_ns: int,
        digest: bytes = b"",
        error: str = "",
        reused: bool = False,
        expected: int = -1,
    ) -> None:
        self.relpath, self.size, self.mtime_ns, self.digest = relpath, size, mtime_ns, digest
        self.error, self.reused, self.expected = error, reused, expected

    @property
    def wrong_size(self) -> bool:
        """Came back unhashed: its size is not the manifest's."""
        return not self.digest and not self.error


# What a worker sends back for one file: (digest, size, mtime_ns), or why it could not be read. The digest
# is empty when the size was not the one expected.
Result = tuple[bytes, int, int] | str
Work = tuple[bytes, int]

_worker: tuple[bytes, FileHasher] | None = None


def _init_worker(root: bytes, algo: str, rate: float | None) -> None:
    global _worker
    # The root with its separator: relpaths are appended to it (os.path.join costs more than the open).
    _worker = (os.path.join(root, b""), FileHasher(algo, throttle=Throttle(rate)))


def _hash_batch(work: list[Work | None]) -> list[Result | None]:
    """In a worker: the results for one batch of (path, expected size); None in, None out (a file the
    journal already had)."""
    assert _worker is not None
    prefix, hasher = _worker
    results: list[Result | None] = []
    for one in work:
        if one is None:
            results.append(None)
            continue
        try:
            results.append(hasher.digest_file(prefix + one[0], expect_size=one[1]))
        except OSError as exc:
            results.append(describe_error(exc))
    return results


def _weight(item: Item) -> int:
    return 0 if item.digest else max(item.size, item.expected, 0)


def _workers(root: bytes, algo: str, options: Options) -> Workers:
    rate = options.max_rate / max(options.jobs, 1) if options.max_rate else None
    return Workers(options.jobs, _init_worker, (root, algo, rate))


def _hash_all(workers: Workers, items: Iterator[Item]) -> Iterator[Item]:
    """The items in walk order with their digests. Only paths go to the workers and only plain tuples come
    back: pickling the items themselves cost more than hashing a small file (docs/benchmarks.md)."""
    sent: deque[list[Item]] = deque()

    def work() -> Iterator[list[Work | None]]:
        for group in batches(items, _weight):
            sent.append(group)
            yield [None if item.digest else (item.relpath, item.expected) for item in group]

    for _, results in workers.map(_hash_batch, work()):
        # Answers come in submission order, so the oldest batch sent is the one answered.
        for item, result in zip(sent.popleft(), results, strict=True):
            if isinstance(result, tuple):
                item.digest, item.size, item.mtime_ns = result
            elif result is not None:
                item.error = result
            yield item


# The resume journal is written once a second, from a large buffer: flushed every 64 files, as it was, each
# write let the process pool's threads take the interpreter, and a verify of 20,000 small files spent a sixth
# of its time waiting to get it back. A run done within its first second never writes it (docs/benchmarks.md).
JOURNAL_FLUSH_SECONDS = 1.0
JOURNAL_BUFFER = 1 << 20


class Journal:
    """Digests computed so far (path → packed entry) and the file they are appended to, which is written
    about once a second: a run killed outright rehashes at most that second's files, and a run that ends
    within its first second, too short to be worth resuming, never writes it."""

    def __init__(self, path: str | None, header: Header) -> None:
        self.path = path
        self.header = header
        self.known: dict[bytes, bytes] = {}
        self.out: IO[bytes] | None = None
        self._pending: list[Item] = []
        self._flushed = time.monotonic()
        if path is not None and os.path.exists(path):
            self._load(path, header)

    def _load(self, path: str, header: Header) -> None:
        with open(path, "rb") as source:
            reader = ManifestReader(source, algorithm=header.algorithm, lenient=True)
            if (reader.header.algorithm, reader.header.root) != (header.algorithm, header.root):
                return
            for entry in reader:
                self.known[entry.path] = pack(entry)

    def item(self, relpath: bytes, size: int, mtime_ns: int) -> Item:
        """A file to hash, carrying the journal's digest if the file is unchanged since it was hashed."""
        value = self.known.get(relpath)
        if value is not None:
            known_size, known_mtime, digest = packed_fields(value)
            if (known_size, known_mtime) == (size, mtime_ns):
                return Item(relpath, size, mtime_ns, digest, reused=True)
        return Item(relpath, size, mtime_ns)

    def record(self, item: Item) -> None:
        if self.path is not None:
            self._pending.append(item)

    def flush_now_and_then(self) -> None:
        """Write what was recorded, once a second."""
        if self.path is not None and (now := time.monotonic()) - self._flushed >= JOURNAL_FLUSH_SECONDS:
            self._write_pending()
            if self.out is not None:
                self.out.flush()
            self._flushed = now

    def close(self, *, done: bool) -> None:
        """Done: the journal is removed. Interrupted: what was recorded is written, to resume from."""
        if not done and self.path is not None:
            self._write_pending()
        if self.out is not None:
            self.out.close()
        if done and self.path is not None and os.path.exists(self.path):
            os.remove(self.path)

    def _write_pending(self) -> None:
        if self.out is None:
            self._open()
        if self.out is not None:
            write = self.out.write
            for item in self._pending:
                write(entry_lines(item.relpath, binascii.hexlify(item.digest), item.size, item.mtime_ns))
        self._pending.clear()

    def _open(self) -> None:
        """Appended to when resuming, else (re)started with a header; a journal that cannot be opened is
        done without: the run goes on, only not resumable."""
        assert self.path is not None
        mode = "ab" if self.known else "wb"
        try:
            self.out = open(self.path, mode, buffering=JOURNAL_BUFFER)  # noqa: SIM115 (closed by ``close``)
        except OSError:
            self.path = None
            return
        if mode == "wb":
            ManifestWriter(self.out, self.header)


def _relative_inside(root: bytes, path: str) -> bytes | None:
    rel = os.path.relpath(os.path.abspath(os.fsencode(path)), root)
    return None if rel.startswith(b"..") else rel.replace(os.sep.encode(), b"/")


def _tree_size(root: bytes, exclude: frozenset[bytes]) -> int:
    return sum(e.size for e in walking.walk(root, exclude=exclude) if e.kind == walking.FILE)


def _finish_item(item: Item, journal: Journal, progress: Progress, report: Report, options: Options) -> None:
    """Book-keeping common to scan and verify for one file that came back from the workers."""
    progress.advance(item.size)
    if item.error:
        report.add("unreadable", item.error, path=item.relpath)
        return
    report.files += 1
    report.bytes += item.size
    if item.reused:
        report.extra["reused"] += 1
        return
    report.extra["hashed"] += 1
    journal.record(item)
    if options.on_hashed is not None:
        options.on_hashed(item.relpath)


def _tree_problem(entry: walking.Entry, report: Report) -> bool:
    """Reports what the walk could not look at; True if the entry is a regular file to go on with."""
    if entry.kind in (walking.SPECIAL, walking.BROKEN, walking.ERROR):
        what = "cannot list this directory: " if entry.kind == walking.ERROR else ""
        report.add("unreadable", what + entry.error, path=entry.relpath)
    elif entry.kind == walking.DIRLINK:
        report.extra["links_not_followed"] += 1
    return entry.kind == walking.FILE


def scan(root: str, output: str, *, algo: str = "sha256", options: Options | None = None) -> Report:
    """Write a manifest of every file under ``root`` to ``output``; resumable through ``output.partial``."""
    options = options or Options()
    base = os.path.abspath(os.fsencode(root))
    if not os.path.isdir(base):
        raise FixityError(f"{root!r} is not a directory")
    FileHasher(algo)
    header = Header(algo, base, time.time_ns(), host_name(), TOOL, native=True)
    names = (output, f"{output}.partial", f"{output}.tmp")
    exclude = frozenset(r for r in (_relative_inside(base, n) for n in names) if r is not None)
    report = Report("scan", root=display_path(base))
    report.extra.update(algorithm=algo, manifest=output, hashed=0, reused=0, links_not_followed=0)
    journal = Journal(f"{output}.partial", header)
    progress = Progress(
        enabled=options.progress, total_bytes=_tree_size(base, exclude) if options.progress else 0
    )
    done = False
    try:
        with open(f"{output}.tmp", "wb") as out, _workers(base, algo, options) as workers:
            writer = ManifestWriter(out, header)
            files = (
                journal.item(e.relpath, e.size, e.mtime_ns)
                for e in walking.walk(base, exclude=exclude)
                if _tree_problem(e, report)
            )
            for item in _hash_all(workers, files):
                _finish_item(item, journal, progress, report, options)
                if not item.error:
                    writer.write_hashed(item.relpath, item.digest, item.size, item.mtime_ns)
                journal.flush_now_and_then()
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
        os.replace(f"{output}.tmp", output)
        done = True
    finally:
        journal.close(done=done)
        progress.close()
    return report.finish()


class _Verification:
    """State of one verify run: the manifest table shrinks as the tree is walked; extras are kept."""

    def __init__(self, header: Header, table: dict[bytes, bytes], report: Report) -> None:
        self.header = header
        self.table = table
        self.report = report
        self.extras: dict[bytes, tuple[bytes, int]] = {}
        self.unlisted_dirs: list[bytes] = []

    def items(self, base: bytes, journal: Journal, exclude: frozenset[bytes]) -> Iterator[Item]:
        """Files to hash: those the manifest lists (the workers skip any of another size) and the extras
        (for ``moved``). Listed files are not stat-ed here: the worker does it when it opens them."""
        table = self.table
        for entry in walking.walk(base, exclude=exclude, sizes=False):
            if entry.kind == walking.FILE:
                if (item := self._item(base, entry, journal)) is not None:
                    yield item
                continue
            if entry.kind == walking.ERROR:
                self.unlisted_dirs.append(entry.relpath + b"/")
            if table.pop(entry.relpath, None) is not None and entry.kind in (
                walking.DIR,
                walking.DIRLINK,
            ):
                self.report.add("unreadable", "a directory where the manifest has a file", path=entry.relpath)
            elif entry.kind != walking.DIR:
                _tree_problem(entry, self.report)

    def _item(self, base: bytes, entry: walking.Entry, journal: Journal) -> Item | None:
        """The file as an item to hash; None when its size is already known to be wrong (reported)."""
        relpath, size, mtime_ns = entry.relpath, entry.size, entry.mtime_ns
        expected = self.table.get(relpath)
        if size < 0 and (expected is None or relpath in journal.known):
            # An extra (its size decides its batch) or a file the journal may have done: stat it now.
            try:
                st = os.stat(os.path.join(base, relpath))
                size, mtime_ns = st.st_size, st.st_mtime_ns
            except OSError:
                pass  # the worker will tell why
        want = -1 if expected is None else packed_fields(expected)[0]
        if size >= 0 and want >= 0 and size != want:
            self.wrong_size(relpath, size, mtime_ns)
            return None
        item = journal.item(relpath, size, mtime_ns)
        item.expected = want
        return item

    def wrong_size(self, relpath: bytes, size: int, mtime_ns: int) -> None:
        """The ``size`` problem (and ``modified_after_seal`` if it applies) of a file not hashed."""
        want_size, want_mtime, _ = packed_fields(self.table.pop(relpath))
        self.report.add("size", f"{want_size} bytes in the manifest, {size} now", path=relpath)
        self._check_seal(relpath, want_mtime, mtime_ns)
        self.report.files += 1
        self.report.bytes += size

    def check(self, item: Item) -> None:
        expected = self.table.pop(item.relpath, None)
        if expected is None:
            self.extras[item.relpath] = (item.digest, item.size)
            return
        _, want_mtime, want_digest = packed_fields(expected)
        if want_digest != item.digest:
            self.report.add(
                "changed",
                f"{self.header.algorithm} {want_digest.hex()} in the manifest, {item.digest.hex()} now",
                path=item.relpath,
            )
        if want_mtime != item.mtime_ns:
            self._check_seal(item.relpath, want_mtime, item.mtime_ns)

    def _check_seal(self, path: bytes, want_mtime: int, mtime_ns: int) -> None:
        sealed = self.header.created_ns
        if want_mtime >= 0 and mtime_ns != want_mtime and mtime_ns > sealed > 0:
            self.report.add(
                "modified_after_seal",
                f"modified {format_ns(mtime_ns)}, after the manifest was made {format_ns(sealed)}",
                path=path,
            )

    def finish(self) -> None:
        """What is left of the manifest is missing, unless an extra file has its digest (moved)."""
        by_digest: dict[bytes, list[bytes]] = {}
        for path in sorted(self.extras):
            by_digest.setdefault(self.extras[path][0], []).append(path)
        for path in sorted(self.table):
            size, _, digest = packed_fields(self.table[path])
            if candidates := by_digest.get(digest):
                moved_to = candidates.pop(0)
                del self.extras[moved_to]
                self.report.add("moved", f"moved from {display_path(path)}", path=moved_to)
            elif any(path.startswith(d) for d in self.unlisted_dirs):
                self.report.add("unreadable", "inside a directory that cannot be listed", path=path)
            else:
                self.report.add("missing", f"listed in the manifest ({size} bytes), not found", path=path)
        for path, (_, size) in sorted(self.extras.items()):
            self.report.add("extra", f"not in the manifest ({size} bytes)", path=path)


def verify(
    root: str, manifest: str, *, journal_path: str | None = None, options: Options | None = None
) -> Report:
    """Check the tree against a manifest and report every problem (see ``report.KINDS``)."""
    options = options or Options()
    base = os.path.abspath(os.fsencode(root))
    if not os.path.isdir(base):
        raise FixityError(f"{root!r} is not a directory")
    algorithm = read_header(manifest).algorithm
    # A manifest of a few files (one database dump, a day's clearing files) is checked in this process: the
    # workers would cost more to start than they could save, and a huge file gets every core in its mapping
    # child with BLAKE3 anyway (hashing.py). Several big files (SHA-256 dumps: one core each) still get the
    # workers; the few entries are loaded first to tell. The results are the same.
    loaded = None
    if options.jobs > 1 and os.path.getsize(manifest) < SMALL_MANIFEST:
        loaded = load(manifest)
        sizes = [packed_fields(value)[0] for value in loaded[1].values()]
        if len(sizes) < 2 or sum(max(size, 0) for size in sizes) < SMALL_TOTAL:
            options = options.replace(jobs=1)
    # The workers are forked before a big table is loaded: they never use it, and would count its pages.
    with _workers(base, algorithm, options) as workers:
        header, table = loaded or load(manifest)
        if header.algorithm != algorithm:
            raise FixityError(f"{manifest!r} changed while it was being read: run verify again")
        return _verify(base, manifest, header, table, workers, journal_path, options)


def _verify(
    base: bytes,
    manifest: str,
    header: Header,
    table: dict[bytes, bytes],
    workers: Workers,
    journal_path: str | None,
    options: Options,
) -> Report:
    total = sum(max(packed_fields(v)[0], 0) for v in table.values()) if options.progress else 0
    report = Report("verify", root=display_path(base))
    report.extra.update(
        algorithm=header.algorithm,
        manifest=manifest,
        sealed=format_ns(header.created_ns) if header.created_ns else None,
        hashed=0,
        reused=0,
        links_not_followed=0,
    )
    names = [manifest] + ([journal_path] if journal_path else [])
    exclude = frozenset(r for r in (_relative_inside(base, n) for n in names) if r is not None)
    journal = Journal(journal_path, Header(header.algorithm, base, native=True, tool=TOOL))
    state = _Verification(header, table, report)
    progress = Progress(enabled=options.progress, total_bytes=total)
    done = False
    try:
        for item in _hash_all(workers, state.items(base, journal, exclude)):
            if item.wrong_size:
                progress.advance(item.size)
                state.wrong_size(item.relpath, item.size, item.mtime_ns)
                continue
            _finish_item(item, journal, progress, report, options)
            if not item.error:
                state.check(item)
            else:
                state.table.pop(item.relpath, None)
            journal.flush_now_and_then()
        state.finish()
        done = True
    finally:
        journal.close(done=done)
        progress.close()
    return report.finish()


def compare(old_manifest: str, new_manifest: str) -> Report:
    """What changed between two manifests of the same tree: added, removed, changed, moved, and files of the
    old (sealed) backup whose mtime is now later than the old manifest's scan (``modified_after_seal``)."""
    old_header, table = load(old_manifest)
    report = Report("compare", root=display_path(old_header.root))
    report.extra.update(old_manifest=old_manifest, new_manifest=new_manifest, algorithm=old_header.algorithm)
    report.extra["sealed"] = format_ns(old_header.created_ns) if old_header.created_ns else None
    added: dict[bytes, str] = {}
    try:
        with open(new_manifest, "rb") as source:
            reader = ManifestReader(source)
            if reader.header.algorithm != old_header.algorithm:
                raise FixityError(
                    f"the manifests use different algorithms ({old_header.algorithm}, {reader.header.algorithm}):"
                    " scan again with --algo " + old_header.algorithm
                )
            for entry in reader:
                report.files += 1
                report.bytes += max(entry.size, 0)
                _compare_entry(entry, table.pop(entry.path, None), old_header, added, report)
    except OSError as exc:
        raise FixityError(f"cannot read {new_manifest!r}: {exc.strerror or exc}") from exc
    by_digest: dict[str, list[bytes]] = {}
    for path in sorted(added):
        by_digest.setdefault(added[path], []).append(path)
    for path in sorted(table):
        want = unpack(path, table[path])
        if candidates := by_digest.get(want.digest):
            moved_to = candidates.pop(0)
            del added[moved_to]
            report.add("moved", f"moved from {display_path(path)}", path=moved_to)
        else:
            report.add("removed", f"in the old manifest ({want.size} bytes), not in the new one", path=path)
    for path in sorted(added):
        report.add("added", "not in the old manifest", path=path)
    return report.finish()


def _compare_entry(
    entry: ManifestEntry, old: bytes | None, old_header: Header, added: dict[bytes, str], report: Report
) -> None:
    if old is None:
        added[entry.path] = entry.digest
        return
    before = unpack(entry.path, old)
    if before.digest != entry.digest:
        sizes = f" ({before.size} → {entry.size} bytes)" if before.size != entry.size else ""
        report.add("changed", f"{before.digest} → {entry.digest}{sizes}", path=entry.path)
    sealed = old_header.created_ns
    if before.mtime_ns >= 0 and entry.mtime_ns != before.mtime_ns and entry.mtime_ns > sealed > 0:
        report.add(
            "modified_after_seal",
            f"modified {format_ns(entry.mtime_ns)}, after the backup was sealed {format_ns(sealed)}",
            path=entry.path,
        )
