"""lean-install's tracer, loaded into every traced Python process through PYTHONPATH.

It runs inside the workload, so it imports nothing of lean_install and nothing the
interpreter has not already loaded, writes nothing on stdout, and leaves sys.path and
sys.modules as they would be without it. It then hands over to the sitecustomize that
would have run without it, if any.

Each process appends NUL-terminated records to its own file in $LEAN_INSTALL_TRACE_DIR,
one per first sighting, with ``os.write`` (no buffer to lose on ``os._exit`` or a
kill). A record is one kind letter followed by its payload:

  p  "pid ppid"              a  argv, joined by \\x1f       x  sys.executable
  L  a file loaded (imported, opened, executed, mapped)     P  a file probed (stat, access, find_spec)
  D  a directory listed (outside the import system)         Z  "exit" (the process ended cleanly)
  G  "directory/pattern": a directory listed by glob (it sees only the names that match)
  R  a module's source (.py) opened outside the import system: read, not run
"""

import os
import sys

_DIR_VAR = "LEAN_INSTALL_TRACE_DIR"


def _start(directory):
    seen = set()
    state = {"fd": -1, "busy": False, "pending": {}}
    abspath = os.path.abspath
    fsdecode = os.fsdecode
    write = os.write
    modules = sys.modules

    def open_record_file():
        name = "%d-%d.trace" % (os.getpid(), id(state))
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        state["busy"] = True
        try:
            state["fd"] = os.open(os.path.join(directory, name), flags, 0o600)
        finally:
            state["busy"] = False

    def emit(kind, payload):
        try:
            write(state["fd"], (kind + payload + "\0").encode("utf-8", "surrogateescape"))
        except OSError:
            pass

    def note(kind, path):
        if isinstance(path, int) or path is None:
            return
        try:
            path = fsdecode(path)
        except TypeError:
            return
        if not path:
            return
        key = kind + path if path[0] == "/" else kind + abspath(path)
        if key not in seen:
            seen.add(key)
            emit(key[0], key[1:])

    def settle_pending():
        pending = state["pending"]
        for name in [n for n in pending if n in modules]:
            for path in pending.pop(name):
                note("L", path)

    def describe():
        emit("p", "%d %d" % (os.getpid(), os.getppid()))
        emit("a", "\x1f".join(sys.argv))
        emit("x", sys.executable)

    def module_files(module):
        spec = getattr(module, "__spec__", None)
        files = []
        for attr in ("origin", "cached"):
            value = getattr(spec, attr, None) if spec is not None else None
            if isinstance(value, str) and value.startswith("/"):
                files.append(value)
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files.append(path)
        return files

    def scan_modules():
        for module in list(modules.values()):
            for path in module_files(module):
                note("L", path)

    def scan_maps():
        try:
            with open("/proc/self/maps", "rb") as maps:
                lines = maps.read().decode("utf-8", "surrogateescape").splitlines()
        except OSError:
            return
        for line in lines:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                note("L", parts[5].replace(" (deleted)", ""))

    def note_startup_files():
        """Files site read before the tracer started: the .pth files of site dirs."""
        site = modules.get("site")
        dirs = list(getattr(site, "getsitepackages", lambda: [])()) if site else []
        for directory in dirs:
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                if name.endswith(".pth"):
                    note("L", os.path.join(directory, name))

    def finish():
        if state["fd"] < 0:
            return
        state["busy"] = True
        try:
            settle_pending()
            for paths in state["pending"].values():
                for path in paths:
                    note("P", path)
            state["pending"].clear()
            scan_modules()
            scan_maps()
            emit("Z", "exit")
        except Exception:
            pass

    def on_open(args):
        path = args[0]
        if isinstance(path, str) and path.endswith(".py") and not importing():
            # a module's source read as data (hashed, shown, parsed), not run: an
            # import of it opens it from the import system, or its bytecode
            note("R", path)
        else:
            note("L", path)
        if state["pending"]:
            settle_pending()

    def importing():
        caller = sys._getframe(3).f_globals.get("__name__", "")
        return caller.startswith(("importlib", "_frozen_importlib"))

    def on_listdir(args):
        caller = sys._getframe(2).f_globals.get("__name__", "")
        # the import system and module discovery (pkgutil.iter_modules, which
        # torch.compile runs over all of torch) list directories for modules only
        if caller.startswith(("importlib", "_frozen_importlib", "pkgutil")):
            return
        directory = args[0] if args and args[0] is not None else "."
        pattern = glob_pattern(sys._getframe(2))
        if pattern is None:
            note("D", directory)
        elif isinstance(directory, str):
            note("G", os.path.join(directory, pattern))

    def glob_pattern(frame):
        # glob.glob("nvidia/cu13/lib/libcudart.so.*[0-9]") lists the directory and
        # sees only the names its pattern matches (torch globs each CUDA library)
        while frame is not None and frame.f_globals.get("__name__") == "glob":
            pattern = frame.f_locals.get("pattern")
            if isinstance(pattern, str) and "**" not in pattern and "/" not in pattern:
                return pattern
            frame = frame.f_back
        return None

    def on_exec(args):
        note("L", args[0])

    def on_popen(args):
        executable, argv = args[0], args[1]
        if executable is None and argv:
            first = argv if isinstance(argv, (str, bytes)) else list(argv)[0]
            executable = first
        if isinstance(executable, (str, bytes)):
            executable = fsdecode(executable)
            note("L", executable if "/" in executable else which(executable))

    def which(name):
        for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
            candidate = os.path.join(directory or os.curdir, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def on_import(args):
        if state["pending"]:
            settle_pending()

    handlers = {
        "open": on_open,
        "os.listdir": on_listdir,
        "os.scandir": on_listdir,
        "ctypes.dlopen": on_exec,
        "os.exec": on_exec,
        "os.posix_spawn": on_exec,
        "os.spawn": lambda args: note("L", args[1]),
        "subprocess.Popen": on_popen,
        "import": on_import,
    }
    get_handler = handlers.get

    def audit(event, args):
        handler = get_handler(event)
        if handler is not None and not state["busy"]:
            state["busy"] = True
            try:
                handler(args)
            except Exception:
                pass
            finally:
                state["busy"] = False

    def wrap_probe(original):
        def probe(path, *args, **kwargs):
            if not state["busy"] and kwargs.get("dir_fd") is None:
                state["busy"] = True
                try:
                    note("P", path)
                except Exception:
                    pass
                finally:
                    state["busy"] = False
            return original(path, *args, **kwargs)

        probe.__name__ = original.__name__
        probe.__qualname__ = original.__qualname__
        probe.__doc__ = original.__doc__
        probe.__wrapped_by_lean_install__ = original
        return probe

    def patch_os():
        for name in ("stat", "lstat", "access"):
            original = getattr(os, name)
            wrapper = wrap_probe(original)
            setattr(os, name, wrapper)
            for group in (
                "supports_dir_fd",
                "supports_fd",
                "supports_follow_symlinks",
                "supports_effective_ids",
            ):
                members = getattr(os, group, None)
                if members is not None and original in members:
                    members.add(wrapper)
        real_exit = os._exit

        def _exit(status):
            finish()
            real_exit(status)

        _exit.__doc__ = real_exit.__doc__
        os._exit = _exit

    def patch_finder():
        import _frozen_importlib_external as external

        finder = external.PathFinder
        original = finder.find_spec

        def find_spec(cls, fullname, path=None, target=None):
            spec = original(fullname, path, target)
            if spec is not None and not state["busy"]:
                files = [p for p in (spec.origin, spec.cached) if isinstance(p, str)]
                for location in spec.submodule_search_locations or ():
                    note("P", location)
                for file in files:
                    note("P", file)
                if files:
                    state["pending"][fullname] = files
            return spec

        finder.find_spec = classmethod(find_spec)

    def after_fork():
        open_record_file()
        emit("p", "%d %d" % (os.getpid(), os.getppid()))
        emit("a", "\x1f".join(sys.argv))

    open_record_file()
    describe()
    note("L", sys.executable)
    if sys.argv and sys.argv[0] and sys.argv[0] not in ("-c", "-m"):
        note("L", sys.argv[0])
    scan_modules()
    note_startup_files()
    patch_os()
    patch_finder()
    sys.addaudithook(audit)
    os.register_at_fork(after_in_child=after_fork)
    import atexit

    atexit.register(finish)


def _chain_to_next_sitecustomize():
    """Import the sitecustomize that would have run without the tracer, if there is one."""
    here = os.path.dirname(os.path.abspath(__file__))
    ours = sys.modules.pop("sitecustomize", None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        import sitecustomize  # noqa: F401
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    if "sitecustomize" not in sys.modules and ours is not None:
        sys.modules["sitecustomize"] = ours  # site's import expects to find it there


if os.environ.get(_DIR_VAR):
    try:
        _start(os.environ[_DIR_VAR])
    except Exception as _exc:  # the workload must run even if tracing cannot start
        sys.stderr.write("lean-install trace: tracer failed to start: %r\n" % (_exc,))
_chain_to_next_sitecustomize()
