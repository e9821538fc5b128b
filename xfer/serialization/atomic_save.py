"""Crash-safe saves: a save takes effect at one moment, when its JSON file is renamed into place.

Its companion files (networks, ``.npz`` arrays) are first written under names no earlier save
used (``<name>.<16 hex digits><suffix>``) in a private staging folder, flushed to disk and
linked into the model directory without overwriting anything; the JSON records their names and
SHA-256 checksums. A save killed part-way therefore leaves the previous save loadable, and a
mixed or edited set of files is reported on load. Files written by Xfer 1.1 (fixed names, no
checksums) still load.
"""
import contextlib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import stat
import tempfile

from .errors import SavedFileError
from .json_fields import require

#: The JSON key that lists a save's companion files and their checksums.
COMPANIONS_KEY = 'companion_files'
_TOKEN_DIGITS = 16
_STAGING_PREFIX = '.xfer-save-'


@contextlib.contextmanager
def staged_save(json_path):
    """Yield the prefix under which a save writes its companion files, in a private staging folder.

    The folder (mode 0700, inside the model directory so that files can be linked out of it)
    is removed afterwards; :func:`commit_save` publishes its files and the JSON.
    """
    directory = os.path.dirname(json_path) or '.'
    if not os.path.isdir(directory):
        raise FileNotFoundError('Cannot save {}: the directory {} does not exist'.format(json_path, directory))
    name = os.path.basename(json_path)[:-len('.json')]
    staging = tempfile.mkdtemp(prefix=_staging_prefix(name) + '{}.'.format(os.getpid()), dir=directory)
    try:
        yield os.path.join(staging, '{}.{}'.format(name, secrets.token_hex(_TOKEN_DIGITS // 2)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def commit_save(json_path, staged_prefix, content):
    """Publish the files written under ``staged_prefix``, then the JSON ``content`` that lists them.

    Each companion is flushed, checksummed and hard-linked into the model directory under its
    fresh name (a link never overwrites nor follows an existing file); then the JSON is written
    to a temporary file, flushed and renamed over ``json_path`` (a symlink there is replaced,
    never written through). Companions of earlier saves of this name are removed last.
    """
    staging, prefix = os.path.split(staged_prefix)
    directory = os.path.dirname(json_path) or '.'
    checksums = {}
    for file_name in sorted(os.listdir(staging)):
        staged = os.path.join(staging, file_name)
        if not file_name.startswith(prefix) or not _is_regular_file(staged):
            raise ValueError('serialize() wrote {}, which is not a file named {}*'.format(staged, staged_prefix))
        checksums[file_name] = _flushed_checksum(staged)
        _publish(staged, os.path.join(directory, file_name))
    content = dict(content, **{COMPANIONS_KEY: {'prefix': prefix, 'sha256': checksums}})
    staged_json = os.path.join(staging, prefix + '.json.tmp')
    with _fresh_file(staged_json) as json_file:
        json_file.write(json.dumps(content, indent=1).encode('utf-8'))
    _sync_directory(directory)
    os.replace(staged_json, json_path)
    _sync_directory(directory)
    name = os.path.basename(json_path)[:-len('.json')]
    _tidy_after_commit(directory, name, set(checksums))


def companion_prefix(json_path, content, skip_source=False):
    """The prefix of the companion files of the save ``content`` read from ``json_path``.

    For a save that lists its companions, each listed file is checked to exist and to match
    its recorded SHA-256 (the source model's files are skipped when ``skip_source``). Files
    written by Xfer 1.1 or an earlier xfer list none: their fixed names are used unchecked.
    """
    if COMPANIONS_KEY not in content:
        return json_path[:-len('.json')]
    listing = require(content, COMPANIONS_KEY, dict, json_path)
    prefix = listing.get('prefix')
    checksums = listing.get('sha256')
    if not isinstance(prefix, str) or not _is_plain_name(prefix) or not isinstance(checksums, dict):
        raise SavedFileError(json_path, "'{}' should hold a file name 'prefix' and a dict 'sha256'".format(
            COMPANIONS_KEY))
    directory = os.path.dirname(json_path)
    for file_name, checksum in sorted(checksums.items()):
        if not (_is_plain_name(file_name) and file_name.startswith(prefix) and isinstance(checksum, str)):
            raise SavedFileError(json_path, "'{}' lists {!r}, which is not a companion file name".format(
                COMPANIONS_KEY, file_name[:100]))
        if skip_source and file_name.startswith(prefix + '_source'):
            continue
        path = os.path.join(directory, file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError('Saved file not found: {} (listed in {})'.format(path, json_path))
        if _checksum(path) != checksum:
            raise SavedFileError(path, 'its SHA-256 differs from the one {} records: the file was edited, or '
                                       'belongs to another save'.format(os.path.basename(json_path)))
    return os.path.join(directory, prefix)


def _is_plain_name(name):
    return bool(name) and os.sep not in name and '/' not in name and name not in ('.', '..') \
        and not name.startswith('.')


def _is_regular_file(path):
    return stat.S_ISREG(os.lstat(path).st_mode)


@contextlib.contextmanager
def _fresh_file(path):
    """A binary file object on a new file at ``path``: fails if anything, a symlink included, is there."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    with os.fdopen(descriptor, 'wb') as stream:
        yield stream
        stream.flush()
        os.fsync(stream.fileno())


def _flushed_checksum(path):
    """Flush ``path`` to disk and return its SHA-256."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return _checksum(path)


def _checksum(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for block in iter(lambda: stream.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _publish(staged, target):
    """Give the staged file the name ``target``; never replaces or follows what is already there."""
    try:
        os.link(staged, target, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError('Cannot save: {} already exists (a fresh name was expected)'.format(target)) from None
    except OSError:  # a file system without hard links: copy into a new file instead
        with open(staged, 'rb') as source, _fresh_file(target) as copy:
            shutil.copyfileobj(source, copy)


def _sync_directory(directory):
    """Flush a directory's entries (new names, renames) to disk, where the platform allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _tidy_after_commit(directory, name, current):
    """Remove what earlier saves of ``name`` left: their companions, listed or orphaned by a killed save,
    and the staging folders of killed saves on this machine.

    The files of a save still in progress are kept (they are also in its staging folder, whose
    process is alive or runs on another machine), so concurrent saves of one name never
    delete each other's files; the last JSON renamed into place wins.
    """
    in_progress = set()
    for entry in os.listdir(directory):
        if not entry.startswith('{}{}.'.format(_STAGING_PREFIX, name)):
            continue
        folder = os.path.join(directory, entry)
        if _abandoned(entry, name):
            shutil.rmtree(folder, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                in_progress.update(os.listdir(folder))
    pattern = re.compile(r'{}\.[0-9a-f]{{{}}}[-_.]'.format(re.escape(name), _TOKEN_DIGITS))
    for file_name in os.listdir(directory):
        if pattern.match(file_name) and file_name not in current and file_name not in in_progress:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(os.path.join(directory, file_name))


def _staging_prefix(name):
    """Staging folders of saves of ``name`` on this machine start with this, then the saving process's id."""
    return '{}{}.{}.'.format(_STAGING_PREFIX, name, platform.node() or 'host')


def _abandoned(staging_folder, name):
    """Whether a staging folder of ``name`` was left by a save on this machine whose process is gone."""
    prefix = _staging_prefix(name)
    pid = staging_folder[len(prefix):].split('.', 1)[0]
    return staging_folder.startswith(prefix) and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True
