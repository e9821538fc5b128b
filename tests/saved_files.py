"""Finding and re-sealing the files of a save, for tests that inspect or tamper with them."""
import hashlib
import json
import os


def companion(json_path, suffix):
    """The path of the companion file ``suffix`` (e.g. ``'_gp.npz'``) that the save ``json_path`` lists."""
    with open(json_path) as json_file:
        listing = json.load(json_file)['companion_files']
    path = os.path.join(os.path.dirname(json_path), listing['prefix'] + suffix)
    assert os.path.basename(path) in listing['sha256'], '{} lists no {}'.format(json_path, suffix)
    return path


def companion_names(json_path):
    """The companion files' names as the prefix-free suffixes, e.g. ``['_source-0000.params', ...]``."""
    with open(json_path) as json_file:
        listing = json.load(json_file)['companion_files']
    return sorted(name[len(listing['prefix']):] for name in listing['sha256'])


def reseal(json_path):
    """Record the companions' current checksums in the JSON, as someone editing a save on purpose would,
    so that a test reaches the checks behind the checksum."""
    with open(json_path) as json_file:
        content = json.load(json_file)
    directory = os.path.dirname(json_path)
    for name in content['companion_files']['sha256']:
        with open(os.path.join(directory, name), 'rb') as companion_file:
            content['companion_files']['sha256'][name] = hashlib.sha256(companion_file.read()).hexdigest()
    with open(json_path, 'w') as json_file:
        json.dump(content, json_file)
