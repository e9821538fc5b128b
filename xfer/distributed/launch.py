"""Start a distributed job: ``python -m xfer.distributed.launch -n WORKERS -s SERVERS [--hosts FILE] -- CMD ...``.

Starts MXNet's scheduler (here), ``SERVERS`` parameter servers and ``WORKERS`` copies of
``CMD``, on this machine or round-robin over the hosts of ``--hosts`` by ssh (servers first, as
MXNet's ``dmlc_tracker`` places them). Each process gets the ``DMLC_*`` variables of its role;
each worker also gets its rank in ``XFER_WORKER_RANK``. Every output line is prefixed with
``[worker R]``, ``[server S]`` or ``[scheduler]``. The job fails (exit code 1, with a message
saying which process failed) as soon as any process exits with an error; then, and when the
time limit passes, every process group left is terminated, so no process outlives the launcher.

MXNet's ``dmlc_tracker`` launches its processes from threads it never stops and, on Python
3.11, calls the removed ``Thread.isAlive``; only its host-address lookup is reused here.
"""
import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

#: Seconds the servers and scheduler get to stop by themselves after the last worker has finished.
SHUTDOWN_GRACE_S = 10
#: Seconds between SIGTERM and SIGKILL when stopping a process group.
KILL_GRACE_S = 3
SERVER_COMMAND = [sys.executable, '-c', 'import mxnet']  # scheduler and servers run inside ``import mxnet``


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m xfer.distributed.launch', description=__doc__.split('\n')[0])
    parser.add_argument('-n', '--num-workers', type=int, required=True, help='worker processes running CMD')
    parser.add_argument('-s', '--num-servers', type=int, default=1, help='parameter servers (default 1)')
    parser.add_argument('--hosts', help='file of hosts, one per line (HOST or HOST:SSH_PORT), to start the '
                                        'servers and workers on by ssh; default: all on this machine')
    parser.add_argument('--host-ip', help='address the hosts reach this machine at (the scheduler runs here); '
                                          'default: found as dmlc_tracker does')
    parser.add_argument('--timeout', type=float, default=None, help='stop the job after this many seconds')
    parser.add_argument('command', nargs=argparse.REMAINDER, help='-- CMD ...: what each worker runs')
    args = parser.parse_args(argv)
    if args.command[:1] == ['--']:
        args.command = args.command[1:]
    if not args.command:
        parser.error('no command to run: put it after --, e.g. -- python train.py')
    if args.num_workers < 1:
        parser.error('-n/--num-workers must be at least 1, got {}'.format(args.num_workers))
    if args.num_servers < 1:
        parser.error('-s/--num-servers must be at least 1, got {}'.format(args.num_servers))
    return args


def read_hosts(path):
    """``[(host, ssh_port), ...]`` from a host file: one ``HOST`` or ``HOST:PORT`` a line, ``#`` comments."""
    hosts = []
    with open(path) as lines:
        for line in lines:
            line = line.split('#', 1)[0].strip()
            if line:
                host, _, port = line.partition(':')
                if port and not port.isdigit():
                    raise ValueError('{}: bad ssh port in line {!r}; expected HOST or HOST:PORT'.format(path, line))
                hosts.append((host, port or '22'))
    if not hosts:
        raise ValueError('{}: no hosts in the file'.format(path))
    return hosts


def free_port(host):
    """A TCP port nobody listens on at ``host`` now, for the scheduler."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def job_environment(num_workers, num_servers, root_uri, root_port):
    """The ``DMLC_*`` variables every process of the job shares."""
    return {'DMLC_NUM_WORKER': str(num_workers), 'DMLC_NUM_SERVER': str(num_servers),
            'DMLC_PS_ROOT_URI': root_uri, 'DMLC_PS_ROOT_PORT': str(root_port)}


def process_plan(num_workers, num_servers, command, hosts=None):
    """``[(label, role, environment, host), ...]`` for the servers and workers; host None: this machine."""
    plan = []
    for index in range(num_servers + num_workers):
        role, number = ('server', index) if index < num_servers else ('worker', index - num_servers)
        host = hosts[index % len(hosts)] if hosts else None
        environment = {'DMLC_ROLE': role, 'DMLC_NODE_HOST': host[0] if host else '127.0.0.1'}
        if role == 'worker':
            environment['XFER_WORKER_RANK'] = str(number)
        plan.append(('{} {}'.format(role, number), role, environment, host))
    return plan


def ssh_command(host, environment, command, working_directory):
    """The ssh command that runs ``command`` on ``host = (name, port)`` with ``environment`` set, in
    ``working_directory``; ``-tt`` ties the remote process to the connection, so it ends with it."""
    name, port = host
    exports = ' '.join('{}={}'.format(key, shlex.quote(value)) for key, value in sorted(environment.items()))
    remote = 'cd {} && env {} {}'.format(shlex.quote(working_directory), exports,
                                         ' '.join(shlex.quote(part) for part in command))
    return ['ssh', '-tt', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-p', port, name, remote]


def forwarded_environment(shared):
    """What a remote process needs beside its role: the job's variables and this side's Python setup."""
    keep = {key: os.environ[key] for key in ('PYTHONPATH', 'OMP_NUM_THREADS', 'MXNET_ENGINE_TYPE')
            if key in os.environ}
    return dict(keep, **shared)


class _Job:
    """The processes of one job: started, their output streamed, watched, and stopped."""

    def __init__(self, timeout):
        self.processes = []  # (label, role, Popen)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._print_lock = threading.Lock()
        self._stopped = False
        self._readers = []

    def start(self, label, role, command, environment=None):
        process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((label, role, process))
        reader = threading.Thread(target=self._stream, args=(label, process), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _stream(self, label, process):
        for line in iter(process.stdout.readline, b''):
            text = line.decode(errors='replace').rstrip('\r\n')
            with self._print_lock:
                print('[{}] {}'.format(label, text), flush=True)

    def wait(self):
        """0 when every worker exits with 0; else 1, after saying which process failed."""
        try:
            while True:
                failed = [(label, process.returncode) for label, _, process in self.processes
                          if process.poll() not in (None, 0)]
                if failed:
                    return self._fail(_describe_exit(*failed[0]))
                workers = [process for _, role, process in self.processes if role == 'worker']
                if all(process.returncode == 0 for process in workers):
                    self._let_servers_finish()
                    return 0
                if self.deadline is not None and time.monotonic() > self.deadline:
                    return self._fail('the job ran past its --timeout')
                time.sleep(0.1)
        finally:
            self.stop()

    def _let_servers_finish(self):
        end = time.monotonic() + SHUTDOWN_GRACE_S
        while time.monotonic() < end and any(process.poll() is None for _, _, process in self.processes):
            time.sleep(0.1)
        left = [label for label, _, process in self.processes if process.poll() is None]
        if left:
            self._report('the workers finished but {} did not stop within {} s (did the workers never use the '
                         'kvstore?); stopping them'.format(', '.join(left), SHUTDOWN_GRACE_S))

    def _fail(self, reason):
        self._report('job failed: {}; stopping the other processes'.format(reason))
        return 1

    def _report(self, message):
        with self._print_lock:
            print('xfer.distributed.launch: {}'.format(message), file=sys.stderr, flush=True)

    def stop(self):
        """Terminate every process group still running (SIGTERM, then SIGKILL) and reap them; once."""
        if self._stopped:
            return
        self._stopped = True
        running = [process for _, _, process in self.processes if process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        end = time.monotonic() + KILL_GRACE_S
        for process in running:
            try:
                process.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for _, _, process in self.processes:
            _signal_group(process, signal.SIGKILL)  # also ends what a process left behind in its group
            process.wait()
        for reader in self._readers:  # print the last lines of every process
            reader.join(KILL_GRACE_S)


def _describe_exit(label, returncode):
    if returncode < 0:
        return '{} was killed by signal {}'.format(label, signal.Signals(-returncode).name)
    return '{} exited with code {}'.format(label, returncode)


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    hosts = read_hosts(args.hosts) if args.hosts else None
    if hosts:
        from dmlc_tracker.tracker import get_host_ip
        root_uri = get_host_ip(args.host_ip)
    else:
        root_uri = '127.0.0.1'
    shared = job_environment(args.num_workers, args.num_servers, root_uri, free_port(root_uri))
    job = _Job(args.timeout)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        job.start('scheduler', 'scheduler', SERVER_COMMAND,
                  dict(os.environ, DMLC_ROLE='scheduler', DMLC_NODE_HOST=root_uri, **shared))
        for label, role, environment, host in process_plan(args.num_workers, args.num_servers, args.command, hosts):
            command = SERVER_COMMAND if role == 'server' else args.command
            if host:
                job.start(label, role, ssh_command(host, forwarded_environment(dict(shared, **environment)),
                                                   command, os.getcwd()))
            else:
                job.start(label, role, command, dict(os.environ, **shared, **environment))
        return job.wait()
    finally:
        job.stop()


if __name__ == '__main__':
    sys.exit(main())
