"""The worker: imports the student's package, runs scenario functions on it, answers with plain data.

It runs inside the sandbox (another uid, rlimits, no network), started by sandbox/process.py as
`python -s -B -u worker_main.py CONFIG_JSON` from a scratch folder holding copies of this file,
channel.py, errors.py, the scenarios file and the submission. Self-contained: stdlib + numpy + channel.py
(plain-data conversion and frames) and errors.py (student tracebacks), loaded by path; it never imports
the `autograder` package, the reference, or any test.

Protocol (see docs/ARCHITECTURE.md): once numpy, the channel and the scenarios are loaded it sends
`{"ok": true, "loaded": true}`; after importing the package `{"ok": true, "ready": true}` or an
import error; then for each `{"op": "call", "scenario", "kwargs"}` it replies `{"ok": true, "result":
tree}` or `{"ok": false, "error": {"kind", "type", "message", "traceback"}}`.
"""

import importlib
import importlib.util
import json
import os
import signal
import sys
import traceback

MAX_MESSAGE_CHARS = 4000


def _load_by_path(name, path):
    """Import a module from a file path under a private name."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path  # a .py file path always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Worker:
    """State of one worker: the channel, the submission root, the imported package and scenarios."""

    def __init__(self, config, channel, errors):
        self.channel = channel
        self.errors = errors  # the framework's errors.py, copied beside this file: one traceback format
        self.req_fd = config["req_fd"]
        self.rep_fd = config["rep_fd"]
        self.sub_root = os.path.realpath(config["submission_root"])
        self.package = config["package"]
        self.scenarios_path = config["scenarios"]
        self.scenarios = None
        self.lib = None
        # Keep a private copy of the capture pipe so student redirections can be undone before each call.
        self.saved_out = os.dup(1)

    # ---- replies ----------------------------------------------------------------------------
    def send(self, reply):
        """Flush student output first (so it is drained before the reply arrives), then send."""
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except BaseException:
                pass
        self.channel.write_frame(self.rep_fd, reply)

    def error(self, kind, exc_type, message, tb=""):
        """An error reply; `kind` tells the parent which StudentError to raise."""
        self.send({"ok": False, "error": {"kind": kind, "type": exc_type, "message": message, "traceback": tb}})

    # ---- student code ---------------------------------------------------------------------------
    def restore_output(self):
        """Point fds 1 and 2 and sys.stdout/stderr back at the capture pipe (students may redirect them)."""
        os.dup2(self.saved_out, 1)
        os.dup2(self.saved_out, 2)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    def start(self):
        """Load the scenarios, then the student's package; report readiness or the import failure."""
        try:
            self.scenarios = _load_by_path("autograder_scenarios", self.scenarios_path)
        except BaseException:
            self.error("grader", "ScenariosError", "could not load the scenarios file", traceback.format_exc())
            return False
        # Up to here only grader code ran: a death before this frame is the grader's problem, not the student's.
        self.send({"ok": True, "loaded": True})
        sys.path.insert(0, self.sub_root)
        self.restore_output()
        try:
            self.lib = importlib.import_module(self.package)
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: all are the student's doing
            self.restore_output()
            self.report_exception(e, phase="import")
            return False
        self.restore_output()
        self.send({"ok": True, "ready": True, "pid": os.getpid()})
        return True

    def call(self, request):
        """Run one scenario and reply."""
        name = request.get("scenario")
        func = getattr(self.scenarios, name, None) if isinstance(name, str) and not name.startswith("_") else None
        if not callable(func):
            self.error("unknown_scenario", "LookupError", f"unknown scenario {name!r}")
            return
        kwargs = request.get("kwargs") or {}
        self.restore_output()
        try:
            result = func(self.lib, **kwargs)
        except BaseException as e:
            self.restore_output()
            self.report_exception(e, phase="call")
            return
        self.restore_output()
        try:
            clean = self.channel.plain(result, name)  # the one plain-data conversion (channel.py)
        except self.channel.NotPlainData as e:
            self.error("bad_result", "BadObservation", str(e))
            return
        except BaseException as e:  # a student __float__/__array__ that raises or a MemoryError while copying
            self.report_exception(e, phase="call")
            return
        try:
            self.send({"ok": True, "result": clean})
        except self.channel.ChannelError as e:  # e.g. more arrays than a frame holds
            self.error("bad_result", "BadObservation", f"scenario {name!r} returned data that cannot be sent: {e}")

    # ---- exceptions -> student-readable text ----------------------------------------------------
    def scrub(self, text):
        """Show submission paths relative to the submission root (no sandbox paths in messages)."""
        text = text.replace(self.sub_root + os.sep, "")
        return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [... message cut]"

    def report_exception(self, exc, phase):
        """Reply with the exception's type, message and student-only traceback."""
        try:
            message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
        except BaseException:
            message = "<the exception's message could not be shown>"
        if isinstance(exc, SystemExit):
            kind = "exit"
            message = f"sys.exit({exc.code!r})"
        elif isinstance(exc, MemoryError):
            kind = "oom"
        else:
            kind = "exception"
        self.error(
            kind if phase == "call" else f"import_{kind}",
            type(exc).__name__,
            self.scrub(message),
            self.scrub(self.errors.student_traceback(exc, self.sub_root)),
        )

    # ---- main loop ------------------------------------------------------------------------------
    def serve(self):
        """Answer requests until the parent closes the channel."""
        while True:
            try:
                request = self.channel.read_frame(self.req_fd)
            except EOFError:
                return
            if request.get("op") == "call":
                self.call(request)
            else:
                self.error("grader", "ProtocolError", f"unknown op {request.get('op')!r}")


def main(argv):
    """Entry point: `worker_main.py CONFIG_JSON`."""
    config = json.loads(argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    # Python put this script's folder first on sys.path; the submission goes there instead, later.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    import numpy  # noqa: F401 (before the submission is on sys.path, so a student "numpy/" cannot replace it)

    channel = _load_by_path("autograder_channel", os.path.join(here, "channel.py"))
    errors = _load_by_path("autograder_errors", os.path.join(here, "errors.py"))
    for fd in (config["req_fd"], config["rep_fd"]):
        os.set_inheritable(fd, False)  # student subprocesses must not inherit the channel
    # Writing past RLIMIT_FSIZE should raise OSError in the student's code, not kill the worker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    worker = Worker(config, channel, errors)
    if worker.start():
        worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
