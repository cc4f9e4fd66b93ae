"""The moto server's process (see local/aws.MotoServer): `python -m local.moto_process [port]`.

Prints `<host> <port>` once listening, then serves until stdin closes (the parent ended) or SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys

from local import fair_queue
from local._http import LOOPBACK
from local.aws import ThreadedMotoServerWithLocks


def main(argv: list[str]) -> int:
    # werkzeug would log every AWS call on stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Ctrl-C reaches the whole process group: the parent stops this server when it is done with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fair_queue.install()  # the callback queue is a fair queue on AWS (MessageGroupId): kept here too
    server = ThreadedMotoServerWithLocks(ip_address=LOOPBACK, port=int(argv[0]) if argv else 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(host, port, flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe or ends
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
