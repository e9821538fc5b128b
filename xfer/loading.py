"""``xfer.load``: rebuild a saved repurposer without executing anything from its files."""
import os
import warnings

from .repurposer import Repurposer
from .serialization import SavedFileError, read_json, require


def load(file_path, model_directory='', source_model=None, check_source=True):
    """The repurposer saved by ``save_repurposer(file_path, model_directory)``.

    Parameters
    ----------
    file_path : str
        The saved model's name (``<model_directory>/<file_path>.json`` is read).
    model_directory : str, default ''
    source_model : mx.mod.Module, optional
        The source network; None loads the one saved beside the repurposer.
    check_source : bool, default True
        Refuse a source network (given, or in the saved files) other than the one the repurposer
        was trained with, as recorded by its fingerprint (graph, param shapes and values). False
        skips the check, e.g. to load onto a source whose params were knowingly changed.

    Notes
    -----
    The saved class is looked up among the subclasses of :class:`~xfer.Repurposer` defined so far
    (xfer's own and any the user's code has defined); nothing from the file is imported or run.
    """
    file_prefix = os.path.join(model_directory, file_path)
    path = file_prefix + '.json'
    content = read_json(path)
    repurposer_class = _repurposer_class(require(content, 'repurposer_class', str, path), path)
    _warn_if_other_version(require(content, 'version', str, path), path)
    return repurposer_class.from_saved(file_prefix, content, source_model, check_source)


def _repurposer_class(name, path):
    """The concrete repurposer class called ``name``; a clear error for anything else."""
    known = {}
    for cls in _subclasses(Repurposer):
        known.setdefault(cls.__name__, []).append(cls)
    candidates = known.get(name, [])
    if not candidates:
        concrete = sorted(n for n, classes in known.items() if not any(c.__abstractmethods__ for c in classes))
        raise SavedFileError(path, 'unknown repurposer class {!r}; known classes are {}. A custom repurposer '
                                   'must be defined (imported) before loading'.format(name[:80], concrete))
    if len(candidates) > 1:
        raise SavedFileError(path, 'several classes are called {!r}: {}'.format(
            name, ['{}.{}'.format(c.__module__, c.__qualname__) for c in candidates]))
    if candidates[0].__abstractmethods__:
        raise SavedFileError(path, '{} is abstract and cannot be loaded'.format(name))
    return candidates[0]


def _subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def _warn_if_other_version(saved_version, path):
    from . import __version__
    if saved_version != __version__:
        warnings.warn('{} was saved by xfer {}; this is xfer {}'.format(path, saved_version, __version__))
