"""Starting and stopping `celery -A tasks worker` processes for the Celery scenarios (not a
scenario itself)."""

import os
import signal
import subprocess
import sys

APP_DIR = os.path.dirname(os.path.abspath(__file__))


class WorkerProcess:
    """A worker process (prefork pool) consuming `queue` as node `node`, in its own process
    group so that it can be killed with its pool children; its output goes to a temp file."""

    def __init__(self, node, queue, concurrency=2, env=None):
        self.node = node
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "interop-%s.log" % node), "w+")
        cmd = [
            sys.executable, "-m", "celery", "-A", "tasks", "worker",
            "--pool=prefork", "--concurrency=%d" % concurrency, "--loglevel=warning",
            "-Q", queue, "-n", node,
        ]
        self.proc = subprocess.Popen(cmd, cwd=APP_DIR, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)

    def kill(self):
        """SIGKILL to the worker and its pool processes: no clean-up, no acks, no goodbye."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self, app):
        """Shut the worker down (broadcast, then signals; all bounded); return its output."""
        if self.proc.poll() is None:
            try:
                # The worker exits on the broadcast without replying.
                app.control.shutdown(destination=[self.node])
                self.proc.wait(timeout=30)
            except Exception as exc:  # noqa: BLE001 - reported, then the worker is stopped
                print("worker %s did not stop on the shutdown broadcast: %r" % (self.node, exc))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.seek(0)
        output = self.log.read()
        self.log.close()
        os.unlink(self.log.name)
        return output
