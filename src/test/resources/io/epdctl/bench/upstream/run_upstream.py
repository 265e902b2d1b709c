"""Runs an upstream proxy script unmodified: python3 run_upstream.py SCRIPT [its arguments]; and python3
run_upstream.py -c CODE, with this directory (the stand-in vllm package) on the path.

FastAPI before 0.93 (Debian 12 ships 0.92) takes FastAPI(lifespan=...) without error but never calls it, which
leaves the script's state uninitialised; here the lifespan is handed to Starlette's router, as later FastAPI
versions do themselves. Newer FastAPI is left alone.
"""
import inspect
import runpy
import sys

import fastapi

if "lifespan" not in inspect.signature(fastapi.FastAPI.__init__).parameters:
    _original_init = fastapi.FastAPI.__init__

    def _init_with_lifespan(self, *args, lifespan=None, **kwargs):
        _original_init(self, *args, **kwargs)
        if lifespan is not None:
            self.router.lifespan_context = lifespan

    fastapi.FastAPI.__init__ = _init_with_lifespan

if sys.argv[1:2] == ["-c"]:
    # python -c CODE, as epdctl check runs it to see that the script's imports resolve here (the stand-in included)
    exec(compile(sys.argv[2], "<string>", "exec"))
    sys.exit(0)

script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
