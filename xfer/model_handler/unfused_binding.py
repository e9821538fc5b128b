"""Bind a network without MXNet's MKL-DNN graph fusion, and without its log line about it."""
import contextlib
import os
import sys
import tempfile

_BACKEND_VARIABLE = 'MXNET_SUBGRAPH_BACKEND'
_NOTICE = 'MXNET_SUBGRAPH_BACKEND=NONE is detected'


@contextlib.contextmanager
def unfused_binding():
    """Within this context, a module bound runs every layer as its own operator.

    MXNet 1.9.1 fuses e.g. Convolution + relu or FullyConnected + relu even when the lower layer's
    own output is also asked for, and then returns the fused result for both; a module with
    several requested outputs must therefore be bound unfused. The only switch MXNet offers, the
    environment variable ``MXNET_SUBGRAPH_BACKEND=NONE``, makes MXNet print a notice on standard
    error at every bind; that one line is dropped here, and anything else MXNet prints passes on.
    """
    previous = os.environ.get(_BACKEND_VARIABLE)
    os.environ[_BACKEND_VARIABLE] = 'NONE'
    try:
        with _stderr_without(_NOTICE):
            yield
    finally:
        if previous is None:
            os.environ.pop(_BACKEND_VARIABLE, None)
        else:
            os.environ[_BACKEND_VARIABLE] = previous


@contextlib.contextmanager
def _stderr_without(notice):
    """Capture what is written to file descriptor 2 (where MXNet's C++ logs go) and pass on every
    line except those containing ``notice``."""
    sys.stderr.flush()
    saved_descriptor = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved_descriptor, 2)
            os.close(saved_descriptor)
            captured.seek(0)
            kept = [line for line in captured.read().decode('utf-8', 'replace').splitlines(True)
                    if notice not in line]
            if kept:
                sys.stderr.write(''.join(kept))
