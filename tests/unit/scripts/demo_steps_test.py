"""scripts/lib/demo/steps.py: a process listed by the demo's /proc scan that
is gone before it is signalled or read (the heartbeat loop's `sleep 1` and
`nc` children) is skipped, not an error that ends the demo in the middle."""
import os
import pathlib
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts/lib/demo"))
import steps  # noqa: E402


def gone_pid():
    """The PID of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class SignalEach(unittest.TestCase):
    def test_a_process_gone_since_the_scan_is_skipped_and_the_rest_are_reached(self):
        alive = subprocess.Popen(["sleep", "30"])
        try:
            reached = steps.signal_each([gone_pid(), alive.pid], signal.SIGSTOP)
            self.assertEqual(reached, [alive.pid])
            # the stop reaches the child asynchronously: wait for it (a child
            # that never stops hangs here until ctest's timeout)
            _, status = os.waitpid(alive.pid, os.WUNTRACED)
            self.assertTrue(os.WIFSTOPPED(status))
            self.assertEqual(os.WSTOPSIG(status), signal.SIGSTOP)
        finally:
            alive.kill()
            alive.wait()

    def test_the_cmdline_of_a_process_gone_since_the_scan_is_empty(self):
        self.assertEqual(steps.cmdline(gone_pid()), b"")
        self.assertIn(b"demo_steps_test", steps.cmdline(os.getpid()))


if __name__ == "__main__":
    unittest.main()
