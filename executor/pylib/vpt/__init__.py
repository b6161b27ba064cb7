"""vpt: the script API of vpt, for test scripts run by `vpt run`.

Standard library only, Python 3.8 and later. vpt puts this package on the
script's PYTHONPATH; calls go to the running vpt over the socket named in
VPT_CONTROL (newline-delimited JSON, see docs/script-api.md), and vpt does
the device work and records every step, screenshot and verdict.

Plain calls::

    import vpt
    vpt.goto("live")
    with vpt.step("Zap to channel 2"):
        vpt.press("CH_UP")
    vpt.screenshot("after zap")
    vpt.metadata(channel=2)

Seeing and hearing the device (each call records a step with its evidence)::

    if vpt.is_black():
        vpt.fail("black screen")
    zap = vpt.measure_zap("CH_UP", region=[0, 0, 1280, 120])
    print(zap.black_gap, zap.zap_time)
    assert vpt.match_text("Live TV", region=[0, 0, 700, 120])

The framework shape of upstream scripts is here too: ScriptExecutor,
create_argument_parser, setup_execution_context, cleanup_and_exit,
handle_keyboard_interrupt, handle_unexpected_error.
"""

# Only modules the interpreter has loaded already, or built-in ones, at import
# time: `import vpt` stays within a few milliseconds. json and socket load at
# the first call to vpt, argparse and traceback where they are used.
import _thread
import os
import sys
import time

__all__ = [
    "VptError", "NavigationError", "screenshot", "press", "tap", "text", "swipe", "goto", "verify",
    "where", "edge", "step", "metadata", "summary", "fail", "verdict", "info", "tree", "call",
    "is_black", "wait_for_motion", "press_and_wait", "measure_zap", "check_video", "check_audio",
    "wait_for_volume_change", "ocr", "match_text", "Result",
    "ScriptExecutor", "ScriptExecutionContext", "handle_keyboard_interrupt", "handle_unexpected_error",
]

PROTOCOL_VERSION = 1
DEFAULT_TEAM_ID = "7fdeb4bb-3639-4ec3-959f-b54769a219ce"


class VptError(Exception):
    """An error answered by vpt: .code is machine-readable, .message says what happened."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class NavigationError(VptError):
    """A goto that failed, after its one recovery attempt."""


_ERRORS = {"navigation_failed": NavigationError}


def _require_bool(call, name, value):
    """A pass/fail must be True or False: bool("false") is True, so a string,
    a number or None given as a verdict would pass a failed run."""
    if value is True or value is False:
        return value
    raise TypeError("%s: %s must be True or False, got %r (%s)" % (call, name, value, type(value).__name__))


class _Connection:
    """One connection to vpt: requests and replies in order."""

    def __init__(self, path):
        import socket

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError as e:
            s.close()
            raise VptError("run_ended", "cannot reach vpt at %s (%s): the run has ended" % (path, e))
        self.sock = s
        self.file = s.makefile("rb")
        self.last_id = 0

    def close(self):
        try:
            self.sock.close()
        except Exception:
            pass


class _Client:
    """Calls vpt, one connection per thread: vpt serves connections at once,
    so a thread can press a key while another waits for motion."""

    def __init__(self):
        self._lock = _thread.allocate_lock()
        self._conns = {}
        self._pid = os.getpid()

    def _connection(self):
        if self._pid != os.getpid():
            # A forked child: the connections it inherited are its
            # parent's, whose replies it would read. It makes its own.
            self._lock = _thread.allocate_lock()
            self._conns = {}
            self._pid = os.getpid()
        me = _thread.get_ident()
        with self._lock:
            conn = self._conns.get(me)
        if conn is not None:
            return conn
        path = os.environ.get("VPT_CONTROL")
        if not path:
            raise VptError("no_vpt", "not running under vpt (VPT_CONTROL is not set); run the script with: vpt run SCRIPT")
        conn = _Connection(path)
        with self._lock:
            self._conns[me] = conn
        return conn

    def call(self, method, **params):
        import json

        conn = self._connection()
        conn.last_id += 1
        line = json.dumps({"v": PROTOCOL_VERSION, "id": conn.last_id, "method": method, "params": params})
        try:
            conn.sock.sendall(line.encode("utf-8") + b"\n")
            reply = conn.file.readline()
        except OSError as e:
            self._drop(conn)
            raise VptError("run_ended", "lost the connection to vpt (%s): the run has ended" % e)
        if not reply:
            self._drop(conn)
            raise VptError("run_ended", "vpt closed the connection: the run has ended")
        rep = json.loads(reply.decode("utf-8"))
        if rep.get("id") != conn.last_id:
            self._drop(conn)
            raise VptError("protocol", "vpt answered request %r for request %r: the connection is shared (a fork?)" % (rep.get("id"), conn.last_id))
        if not rep.get("ok"):
            err = rep.get("error") or {}
            cls = _ERRORS.get(err.get("code"), VptError)
            raise cls(err.get("code", "error"), err.get("message", "unknown error"))
        return rep.get("result") or {}

    def _drop(self, conn):
        conn.close()
        with self._lock:
            for k, v in list(self._conns.items()):
                if v is conn:
                    del self._conns[k]


_client = _Client()


def call(method, **params):
    """Send any request of the protocol and return its result."""
    return _client.call(method, **params)


def info():
    """The run, device and userinterface vpt runs this script with."""
    return call("hello")


def screenshot(label="screenshot"):
    """Take a screenshot, record it in the report, return its path."""
    return call("screenshot", label=str(label))["path"]


def press(key, times=1):
    """Press a remote key (HOME, BACK, UP, OK, CH_UP, VOLUME_UP, 0..9) times times."""
    call("press", key=str(key), times=int(times))


def tap(x, y):
    """Touch (or click) a point of the screen."""
    call("tap", x=int(x), y=int(y))


def text(s):
    """Type text on devices with a keyboard (Android)."""
    call("text", text=str(s))


def swipe(x1, y1, x2, y2, ms=300):
    """Swipe across a touch screen."""
    call("swipe", x1=int(x1), y1=int(y1), x2=int(x2), y2=int(y2), ms=int(ms))


def goto(node, userinterface=None):
    """Navigate to a node of the userinterface (shortest path, one recovery attempt).

    Returns a dict (target, node, steps, recovered); raises NavigationError when
    the node cannot be reached.
    """
    params = {"node": str(node)}
    if userinterface:
        params["userinterface"] = userinterface
    return call("goto", **params)


def edge(from_node, to_node, userinterface=None):
    """Run one transition of the userinterface (going to from_node first if
    needed), recorded as a step, without recovery. Raises NavigationError
    when it fails."""
    params = {"from": str(from_node), "to": str(to_node)}
    if userinterface:
        params["userinterface"] = userinterface
    return call("edge", **params)


def verify(node, userinterface=None):
    """Check that the device shows node; records a step; returns True or False."""
    params = {"node": str(node)}
    if userinterface:
        params["userinterface"] = userinterface
    return bool(call("verify", **params)["passed"])


def where():
    """The node the device is on, as far as vpt knows ("" when unknown)."""
    return call("where")["node"]


def tree(userinterface=None):
    """The userinterface: {name, entry, nodes, edges}."""
    params = {"userinterface": userinterface} if userinterface else {}
    return call("tree", **params)


class _Step:
    def __init__(self, name, message=""):
        self.name = str(name)
        self.message = message
        self._id = None
        self.passed = None

    def __enter__(self):
        self._id = call("step_start", name=self.name)["step_id"]
        return self

    def __exit__(self, exc_type, exc, tb):
        passed = exc_type is None
        params = {"step_id": self._id, "passed": passed, "message": self.message}
        if exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            params["error"] = "%s: %s" % (exc_type.__name__, exc)
            import traceback

            params["traceback"] = "".join(traceback.format_exception(exc_type, exc, tb))
        elif exc_type is not None:
            params["error"] = exc_type.__name__
        try:
            call("step_end", **params)
        except VptError:
            if passed:
                raise
        self.passed = passed
        return False


def step(name, passed=None, message=""):
    """Record a step.

    vpt.step("Check banner", True, "banner shown") records a finished step;
    `with vpt.step("Zap to channel 2"):` records the block: screenshots at its
    start and end, its duration, and the error and traceback if it raises.
    A failed step fails the run unless the script gives its own verdict.
    passed is True, False, or None (the default) for a block; anything else
    is a TypeError.
    """
    s = _Step(name, message)
    if passed is not None:
        _require_bool("vpt.step(%r)" % s.name, "passed", passed)
        call("step", name=s.name, passed=passed, message=str(message))
        s.passed = passed
    return s


def metadata(**kv):
    """Store key/values with the result (they appear in the report and the store)."""
    call("metadata", **kv)


def summary(text, append=False):
    """Set (or append to) the summary text shown at the top of the report.
    append is True or False (anything else is a TypeError: "no" is true)."""
    _require_bool("vpt.summary()", "append", append)
    call("summary", text=str(text), append=append)


def fail(reason=""):
    """Mark the run failed (the script goes on; return or raise to stop it)."""
    call("fail", reason=str(reason))


def verdict(passed, reason=""):
    """Give the run's verdict: passed is True or False (anything else is a
    TypeError). A failure recorded earlier stays a failure."""
    _require_bool("vpt.verdict()", "passed", passed)
    call("verdict", passed=passed, reason=str(reason))


# ---------------------------------------------------------------------------
# Seeing and hearing the device: picture and sound analysis.
# ---------------------------------------------------------------------------


class Result(object):
    """What an analysis call found. Its fields are attributes (and keys:
    result["at"]); times are ms from the run's start, durations seconds.
    A Result is true when the call found what it looked for: black, motion,
    a complete transition, a clean picture or sound, a volume change, text."""

    _truth = None

    def __init__(self, data):
        self.__dict__.update(data)
        self._data = data

    def _ok(self):
        return bool(self._data.get(self._truth))

    def __bool__(self):
        return self._ok()

    __nonzero__ = __bool__

    def __getitem__(self, key):
        return self._data[key]

    def get(self, key, default=None):
        return self._data.get(key, default)

    def to_dict(self):
        return dict(self._data)

    def __repr__(self):
        fields = ", ".join("%s=%r" % (k, v) for k, v in sorted(self._data.items()) if k != "words")
        return "%s(%s)" % (type(self).__name__, fields)


class BlackResult(Result):
    """is_black: true when the picture (or region) is black."""
    _truth = "black"


class MotionResult(Result):
    """wait_for_motion: true when motion was found."""
    _truth = "found"


class Transition(Result):
    """press_and_wait: true when the picture changed and settled."""

    def _ok(self):
        return self._data.get("status") == "complete"


class ZapResult(Transition):
    """measure_zap: a Transition with zap_time and settled_after."""


class VideoCheck(Result):
    """check_video: true when the picture was never black nor frozen."""

    def _ok(self):
        return not self._data.get("black") and not self._data.get("frozen")


class AudioCheck(Result):
    """check_audio: true when the sound was never silent."""

    def _ok(self):
        return not self._data.get("silent")


class VolumeChange(Result):
    """wait_for_volume_change: true when the level changed."""
    _truth = "found"


class TextResult(Result):
    """ocr: true when some text was read."""
    _truth = "text"


class TextMatch(Result):
    """match_text: true when the text matched."""
    _truth = "matched"


def _number(call, name, value, optional=False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s: %s must be a number, got %r (%s)" % (call, name, value, type(value).__name__))
    return value


def _region(call, region):
    if region is None:
        return None
    if (not isinstance(region, (list, tuple)) or len(region) != 4
            or any(isinstance(v, bool) or not isinstance(v, int) for v in region)):
        raise TypeError("%s: region must be [x, y, width, height], four integers, got %r" % (call, region))
    return list(region)


def _string(call, name, value, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError("%s: %s must be a string, got %r (%s)" % (call, name, value, type(value).__name__))
    return value


def _flag(call, name, value):
    return _require_bool(call, name, value)


def _languages(call, languages):
    if languages is None:
        return None
    if isinstance(languages, str):
        languages = [languages]
    if not isinstance(languages, (list, tuple)) or not all(isinstance(l, str) for l in languages):
        raise TypeError("%s: languages must be tesseract names such as 'eng' or ['eng', 'deu'], got %r" % (call, languages))
    return list(languages)


def _av(cls, method, **params):
    return cls(call(method, **{k: v for k, v in params.items() if v is not None}))


def is_black(region=None, threshold=None, ratio=None):
    """Is the picture black now? A pixel is dark at or below threshold (luma,
    default 32); the picture is black when ratio of it (default 0.98) is dark,
    so a dark scene with a logo on it is not. -> BlackResult(black, dark, mean, at)."""
    c = "vpt.is_black()"
    return _av(BlackResult, "is_black", region=_region(c, region), threshold=_number(c, "threshold", threshold, True),
               ratio=_number(c, "ratio", ratio, True))


def wait_for_motion(timeout=10, region=None, consecutive="10/20", noise=None):
    """Wait up to timeout seconds for the picture (or region) to move: N of the
    last M frames changed ("10/20", as stb-tester). -> MotionResult(found, at,
    started, changed, box, frames)."""
    c = "vpt.wait_for_motion()"
    return _av(MotionResult, "wait_for_motion", timeout=_number(c, "timeout", timeout), region=_region(c, region),
               consecutive=_string(c, "consecutive", consecutive), noise=_number(c, "noise", noise, True))


def press_and_wait(key, stable=1.0, timeout=10, region=None):
    """Press a key and follow the transition to the frame: when the picture
    started to change, its black gap, when it settled (still for stable
    seconds). -> Transition(status, pressed, started, settled, duration,
    black_start, black_end, black_gap, frames, period)."""
    c = "vpt.press_and_wait()"
    return _av(Transition, "press_and_wait", key=_string(c, "key", key), stable=_number(c, "stable", stable),
               timeout=_number(c, "timeout", timeout), region=_region(c, region))


def measure_zap(key, timeout=10, stable=1.0, region=None):
    """Press a channel key and measure the zap: a Transition with zap_time (the
    press to the picture back after the black gap) and settled_after."""
    c = "vpt.measure_zap()"
    return _av(ZapResult, "measure_zap", key=_string(c, "key", key), stable=_number(c, "stable", stable),
               timeout=_number(c, "timeout", timeout), region=_region(c, region))


def check_video(duration, region=None, freeze=2.0, min_black=0):
    """Watch the picture for duration seconds. -> VideoCheck(black, frozen:
    [{start, end, duration}], motion_ratio, frames)."""
    c = "vpt.check_video()"
    return _av(VideoCheck, "check_video", duration=_number(c, "duration", duration), region=_region(c, region),
               freeze=_number(c, "freeze", freeze), min_black=_number(c, "min_black", min_black))


def check_audio(duration, threshold=-50, min_silence=0.2):
    """Listen for duration seconds. -> AudioCheck(rms, peak, loudness, silent:
    [{start, end, duration}]); levels in dBFS, loudness in LUFS."""
    c = "vpt.check_audio()"
    return _av(AudioCheck, "check_audio", duration=_number(c, "duration", duration),
               threshold=_number(c, "threshold", threshold), min_silence=_number(c, "min_silence", min_silence))


def wait_for_volume_change(direction="either", threshold=10, window=0.4, timeout=10, noise_floor=None, key=None):
    """Wait for the sound's level to change by threshold dB from its first
    window's ("louder", "quieter", "either"); with key, press it once that
    window was heard, to measure the change it makes. -> VolumeChange(found,
    at, before, after, difference, direction)."""
    c = "vpt.wait_for_volume_change()"
    return _av(VolumeChange, "wait_for_volume_change", key=_string(c, "key", key, True),
               direction=_string(c, "direction", direction),
               threshold=_number(c, "threshold", threshold), window=_number(c, "window", window),
               timeout=_number(c, "timeout", timeout), noise_floor=_number(c, "noise_floor", noise_floor, True))


def ocr(region=None, mode=None, languages=None):
    """Read the text on screen (or in region) with tesseract. -> TextResult(text,
    confidence, words, cached)."""
    c = "vpt.ocr()"
    return _av(TextResult, "ocr", region=_region(c, region), mode=_string(c, "mode", mode, True),
               languages=_languages(c, languages))


def match_text(text, region=None, regex=False, case_sensitive=False, timeout=0, mode=None, languages=None):
    """Does the screen (or region) read text? Exactly, spaces and case aside,
    or as a regular expression found in it; reads again until timeout seconds
    have passed. -> TextMatch(matched, text)."""
    c = "vpt.match_text()"
    return _av(TextMatch, "match_text", text=_string(c, "text", text), region=_region(c, region),
               regex=_flag(c, "regex", regex), case_sensitive=_flag(c, "case_sensitive", case_sensitive),
               timeout=_number(c, "timeout", timeout), mode=_string(c, "mode", mode, True),
               languages=_languages(c, languages))


# ---------------------------------------------------------------------------
# The framework shape of upstream test scripts.
# ---------------------------------------------------------------------------


def _str_to_bool(v):
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("yes", "true", "t", "y", "1"):
        return True
    if s in ("no", "false", "f", "n", "0"):
        return False
    import argparse

    raise argparse.ArgumentTypeError("expected a boolean, got %r" % v)


_TYPES = {"int": int, "str": str, "float": float, "bool": _str_to_bool}


def _declared_args():
    """Upstream-style declarations: _script_args in __main__, or on its main()."""
    main = sys.modules.get("__main__")
    specs = getattr(main, "_script_args", None)
    if specs is None:
        fn = getattr(main, "main", None)
        specs = getattr(fn, "_script_args", None)
    return list(specs or [])


class Host:
    """The machine the script runs on."""

    def __init__(self, name):
        self.host_name = name
        self.name = name

    def __repr__(self):
        return "Host(%r)" % self.host_name


class Device:
    """The device of the run; its methods act through vpt."""

    def __init__(self, desc):
        self.device_id = desc.get("id", "")
        self.device_name = desc.get("name", "")
        self.device_model = desc.get("model", "")
        self.capabilities = list(desc.get("capabilities") or [])
        self.id, self.name, self.model = self.device_id, self.device_name, self.device_model

    def press_key(self, key, times=1):
        press(key, times)

    def take_screenshot(self, label="screenshot"):
        return screenshot(label)

    def goto(self, node):
        return goto(node)

    def __repr__(self):
        return "Device(%r, %r, %r)" % (self.device_id, self.device_name, self.device_model)


class ScriptExecutionContext:
    """What setup_execution_context gives a script, as upstream."""

    def __init__(self, script_name):
        self.script_name = script_name
        self.start_time = time.time()
        self.host = None
        self.team_id = os.environ.get("TEAM_ID", DEFAULT_TEAM_ID)
        self.selected_device = None
        self.script_executor = None
        self.userinterface_name = None
        self.tree_data = None
        self.tree_id = None
        self.nodes = []
        self.edges = []
        self.current_node_id = None
        self.step_results = []
        self.screenshot_paths = []
        self.overall_success = False
        self.error_message = ""
        self.script_result_id = os.environ.get("VPT_RUN_ID")
        self.metadata = {}
        self.custom_data = {}
        self.variables = {}
        self.execution_summary = ""
        self.args = None

    def add_screenshot(self, path):
        self.screenshot_paths.append(path)


class ScriptExecutor:
    """Upstream's framework: parse arguments, set up the context, report, exit."""

    def __init__(self, script_name, description=""):
        self.script_name = script_name
        self.description = description

    def create_argument_parser(self):
        """Arguments: the userinterface name, --host, --device, and _script_args."""
        import argparse

        env_ui = os.environ.get("VPT_USERINTERFACE") or None
        p = argparse.ArgumentParser(description=self.description or self.script_name)
        p.add_argument("userinterface_name", nargs="?", default=env_ui, help="userinterface to navigate")
        p.add_argument("--userinterface", dest="userinterface", default=None, help="userinterface (same as the positional)")
        p.add_argument("--host", default=os.environ.get("VPT_HOST", ""), help="host name (informational)")
        p.add_argument("--device", default=os.environ.get("VPT_DEVICE", "device1"), help="device id")
        for spec in _declared_args():
            parts = str(spec).split(":", 2)
            if len(parts) != 3 or not parts[0].startswith("-") or parts[0] in ("--userinterface", "--host", "--device"):
                continue
            name, typ, default = parts
            conv = _TYPES.get(typ, str)
            value = default
            if default != "":
                try:
                    value = conv(default)
                except (ValueError, argparse.ArgumentTypeError):
                    value = default
            p.add_argument(name, type=conv, default=value, help="%s (default: %s)" % (typ, default))
        return p

    def setup_execution_context(self, args, enable_db_tracking=True):
        """Connect to vpt, load the userinterface, return the context."""
        ctx = ScriptExecutionContext(self.script_name)
        ctx.script_executor = self
        ctx.args = args
        try:
            hello = info()
        except VptError as e:
            ctx.error_message = e.message
            return ctx
        ctx.host = Host(hello.get("host", ""))
        ctx.team_id = hello.get("team_id") or ctx.team_id
        ctx.selected_device = Device(hello.get("device") or {})
        ctx.script_result_id = hello.get("run_id")
        requested = getattr(args, "device", None)
        if requested and requested != ctx.selected_device.device_id:
            # Never a silent substitute: vpt runs the script on one device.
            ctx.error_message = "Device %s not found. Available: [%s]" % (requested, ctx.selected_device.device_id)
            return ctx
        ui = getattr(args, "userinterface", None) or getattr(args, "userinterface_name", None) or hello.get("userinterface")
        if ui:
            self.load_navigation_tree(ctx, ui)
        return ctx

    def load_navigation_tree(self, context, userinterface_name):
        """Load the userinterface into context.tree_data, nodes and edges."""
        try:
            t = tree(userinterface_name)
        except VptError as e:
            context.error_message = e.message
            return False
        context.userinterface_name = t.get("name", userinterface_name)
        context.tree_data = t
        context.tree_id = t.get("name")
        context.nodes = t.get("nodes") or []
        context.edges = t.get("edges") or []
        return True

    def execute_navigation_sequence(self, context, navigation_path, userinterface_name=None):
        """Go to each node of navigation_path in turn; False at the first failure."""
        for node in navigation_path:
            target = node.get("to") if isinstance(node, dict) else node
            try:
                result = goto(target, userinterface_name or context.userinterface_name)
            except VptError as e:
                context.error_message = e.message
                context.step_results.append({"success": False, "to_node": target, "error": e.message})
                return False
            context.current_node_id = result.get("node")
            context.step_results.append({"success": True, "to_node": target, "recovered": result.get("recovered")})
        return True

    def generate_final_report(self, context, userinterface_name=None):
        """Hand vpt the summary and metadata; vpt writes the report itself."""
        if context.execution_summary:
            summary(context.execution_summary)
        data = dict(context.metadata)
        if context.custom_data:
            data.setdefault("custom_data", context.custom_data)
        if data:
            metadata(**data)
        run_dir = os.environ.get("VPT_RESULTS_DIR", "")
        return {"success": True, "report_path": os.path.join(run_dir, "report.html") if run_dir else ""}

    def cleanup_and_exit(self, context, userinterface_name=None):
        """Give vpt the verdict, print SCRIPT_SUCCESS as upstream, and exit."""
        ok = _require_bool("cleanup_and_exit()", "context.overall_success", context.overall_success) and not context.error_message
        try:
            self.generate_final_report(context, userinterface_name)
            verdict(ok, context.error_message or ("" if ok else "Script execution failed"))
        except VptError as e:
            print("[%s] could not report to vpt: %s" % (self.script_name, e.message), file=sys.stderr)
        print("SCRIPT_SUCCESS:%s" % str(ok).lower())
        sys.stdout.flush()
        sys.exit(0 if ok else 1)


def handle_keyboard_interrupt(script_name):
    """Upstream's Ctrl-C handler: say so and exit 130."""
    print("\n[%s] interrupted by user" % script_name, file=sys.stderr)
    sys.exit(130)


def handle_unexpected_error(script_name, error):
    """Upstream's crash handler: print the traceback, record the failure, exit 1."""
    print("[%s] unexpected error: %s" % (script_name, error), file=sys.stderr)
    import traceback

    traceback.print_exc()
    try:
        fail("%s: %s" % (type(error).__name__, error))
    except VptError:
        pass
    sys.exit(1)
