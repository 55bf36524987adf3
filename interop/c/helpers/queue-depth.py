"""Prints a queue's message count (passive queue.declare with pika), since rabbitmq-c's
command-line tools have no way to read it without deleting the queue."""

import sys

import pika

from interop_common import pika_params


def main():
    conn = pika.BlockingConnection(pika_params())
    try:
        ok = conn.channel().queue_declare(sys.argv[1], passive=True)
        print(ok.method.message_count)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
