#!/usr/bin/env python3
"""Drives a client (docker, ctr) through a pseudo-terminal, as a user at a terminal would.

Usage: pty_drive.py ROWS COLS SCRIPT -- COMMAND...
SCRIPT is a list of steps separated by ';;':
  send:TEXT        write TEXT to the terminal (\\r and \\n escapes are understood)
  expect:TEXT      read until TEXT appears in the output (20 s at most)
  resize:R:C       set the terminal's window size and send SIGWINCH to the client
  raw              check that the client put the terminal in raw mode (no ICANON, no ECHO)
Then waits (30 s at most) for the client to exit and prints, on separate lines:
  ok | FAIL <why>
  exit=<code> seconds_after_last_send=<float>
  and the whole output with \\r removed.
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    rows, cols, script = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    master, slave = os.openpty()
    set_size(slave, rows, cols)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.execvp(cmd[0], cmd)
    out = b""
    status = "ok"
    last_send = time.monotonic()

    def read_some(timeout):
        nonlocal out
        """Returns "data", "idle" (nothing within timeout) or "eof"."""
        r, _, _ = select.select([master], [], [], max(timeout, 0))
        if not r:
            return "idle"
        try:
            data = os.read(master, 65536)
        except OSError:
            return "eof"
        if not data:
            return "eof"
        out += data
        return "data"

    for step in [s for s in script.split(";;") if s]:
        kind, _, arg = step.partition(":")
        if kind == "send":
            os.write(master, arg.replace("\\r", "\r").replace("\\n", "\n").encode())
            last_send = time.monotonic()
        elif kind == "expect":
            start = len(out)
            deadline = time.monotonic() + 20
            while arg.encode() not in out[start:] and time.monotonic() < deadline:
                if read_some(0.2) == "eof":
                    break
            if arg.encode() not in out[start:]:
                status = "FAIL no [%s] in the output" % arg
                break
        elif kind == "expectany":
            # TEXT already seen anywhere, or arriving within 20 s
            deadline = time.monotonic() + 20
            while arg.encode() not in out and time.monotonic() < deadline:
                if read_some(0.2) == "eof":
                    break
            if arg.encode() not in out:
                status = "FAIL no [%s] in the output" % arg
                break
        elif kind == "resize":
            r, c = arg.split(":")
            set_size(slave, int(r), int(c))
            os.kill(pid, signal.SIGWINCH)
        elif kind == "raw":
            lflag = termios.tcgetattr(slave)[3]
            if lflag & (termios.ICANON | termios.ECHO):
                status = "FAIL the client left the terminal in cooked mode"
                break
        elif kind == "sleep":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                read_some(end - time.monotonic())
    deadline = time.monotonic() + 30
    code = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(st)
            break
        read_some(0.05)
    exited = time.monotonic()
    while read_some(0.1) == "data":
        pass
    if code is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if status == "ok":
            status = "FAIL the client did not exit within 30 s"
    print(status)
    print("exit=%s seconds_after_last_send=%.2f" % (code, exited - last_send))
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
