"""How the persistence layer reports a saved file it cannot trust: one error type naming the file,
and the warning that a file was written by Xfer 1.1 (and so carries no checksums)."""
import warnings


class SavedFileError(ValueError):
    """A saved file that is truncated, tampered with or missing a part."""

    def __init__(self, path, problem):
        super().__init__('Bad saved file {}: {}'.format(path, problem))
        self.path = path
        self.problem = problem


def warn_xfer11_file(path):
    """Tell the user that ``path`` was written by Xfer 1.1 and what that means."""
    warnings.warn('{} was written by Xfer 1.1: it is read in that layout, which records no checksums and no source '
                  'fingerprint, so a mixed set of files or another source network cannot be detected'.format(path))
