"""The launcher's pieces that need no job: arguments, host files, the process plan, ssh commands."""
import shlex
import socket

import pytest

from xfer.distributed import launch


def test_arguments_take_the_command_after_the_double_dash():
    args = launch.parse_args(['-n', '3', '-s', '2', '--', 'python', 'train.py', '--epochs', '2'])
    assert (args.num_workers, args.num_servers, args.hosts) == (3, 2, None)
    assert args.command == ['python', 'train.py', '--epochs', '2']


@pytest.mark.parametrize('argv, message', [
    (['-n', '2', '--'], 'no command to run: put it after --'),
    (['-n', '0', '--', 'python'], '-n/--num-workers must be at least 1, got 0'),
    (['-n', '2', '-s', '0', '--', 'python'], '-s/--num-servers must be at least 1, got 0'),
])
def test_bad_arguments_say_what_is_wrong(argv, message, capsys):
    with pytest.raises(SystemExit):
        launch.parse_args(argv)
    assert message in capsys.readouterr().err


def test_host_files_give_hosts_and_ssh_ports(tmp_path):
    path = tmp_path / 'hosts'
    path.write_text('# the cluster\nnode-a\n\nnode-b:2222  # second rack\n')
    assert launch.read_hosts(str(path)) == [('node-a', '22'), ('node-b', '2222')]
    path.write_text('node-a:ssh\n')
    with pytest.raises(ValueError, match="bad ssh port in line 'node-a:ssh'"):
        launch.read_hosts(str(path))
    path.write_text('# nobody\n')
    with pytest.raises(ValueError, match='no hosts in the file'):
        launch.read_hosts(str(path))


def test_servers_come_first_and_processes_go_round_robin_over_the_hosts():
    hosts = [('a', '22'), ('b', '22')]
    plan = launch.process_plan(3, 1, ['python', 'train.py'], hosts)
    assert [(label, host[0]) for label, _, _, host in plan] == [
        ('server 0', 'a'), ('worker 0', 'b'), ('worker 1', 'a'), ('worker 2', 'b')]
    assert [environment.get('XFER_WORKER_RANK') for _, _, environment, _ in plan] == [None, '0', '1', '2']
    assert [environment['DMLC_NODE_HOST'] for _, _, environment, _ in plan] == ['a', 'b', 'a', 'b']
    local = launch.process_plan(2, 1, ['python', 'train.py'])
    assert {environment['DMLC_NODE_HOST'] for _, _, environment, _ in local} == {'127.0.0.1'}
    assert [host for _, _, _, host in local] == [None, None, None]


def test_the_ssh_command_sets_the_environment_in_the_working_directory_and_quotes_it():
    command = launch.ssh_command(('node-b', '2222'), {'DMLC_ROLE': 'worker', 'PYTHONPATH': '/my dir'},
                                 ['python', 'train.py', "it's"], '/work/run 1')
    assert command[:-2] == ['ssh', '-tt', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-p', '2222']
    assert command[-2] == 'node-b'
    assert shlex.split(command[-1]) == ['cd', '/work/run 1', '&&', 'env', 'DMLC_ROLE=worker', 'PYTHONPATH=/my dir',
                                        'python', 'train.py', "it's"]


def test_every_process_shares_the_job_variables():
    assert launch.job_environment(4, 2, '10.0.0.1', 9000) == {
        'DMLC_NUM_WORKER': '4', 'DMLC_NUM_SERVER': '2', 'DMLC_PS_ROOT_URI': '10.0.0.1', 'DMLC_PS_ROOT_PORT': '9000'}


def test_a_free_port_can_be_bound():
    port = launch.free_port('127.0.0.1')
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', port))


def test_a_failed_process_is_named_with_its_exit_code_or_signal():
    assert launch._describe_exit('worker 1', 3) == 'worker 1 exited with code 3'
    assert launch._describe_exit('server 0', -9) == 'server 0 was killed by signal SIGKILL'
