"""Runs left open at interpreter exit: finished, or (Ctrl-C) left in their spools for `darkroom sync`."""

from __future__ import annotations

import atexit
import os
import sys
import weakref
from typing import TYPE_CHECKING

from darkroom._guard import DarkroomStrictError

if TYPE_CHECKING:
    from darkroom._run import Run

open_runs: "weakref.WeakSet[Run]" = weakref.WeakSet()
_EXIT_TIMEOUT = 120.0  # seconds an open run may take to finish at interpreter exit


def _leave_spooled(run: "Run") -> None:
    """After Ctrl-C at exit: stop sending and spool what memory holds, then say how to send it."""
    sender = run._sender
    if sender is None:
        return
    held = sender.in_memory()
    if held:
        print(f"\ndarkroom: interrupted; writing {held} entr{'y' if held == 1 else 'ies'} of run {run.path} from "
              "memory to its spool (press Ctrl-C again to drop them)", file=sys.stderr, flush=True)
    try:
        lost = sender.stop_sending(timeout=_EXIT_TIMEOUT)
    except KeyboardInterrupt:
        lost = sender.in_memory()
    if lost:
        print(f"darkroom: {lost} entr{'y' if lost == 1 else 'ies'} of run {run.path} were not spooled and are lost",
              file=sys.stderr)
    where = f"what run {run.path} had not sent stays in its spool; send it with: darkroom sync {run.dir}"
    print(f"darkroom: {where}" if held else f"\ndarkroom: interrupted; {where}", file=sys.stderr)


@atexit.register
def _finish_open_runs() -> None:
    # A run left open is finished at interpreter exit: the spool is drained and
    # embedded conversions complete; a remote fleet converts the rest.
    interrupted = False
    for run in list(open_runs):
        if run._pid != os.getpid():  # a forked child's exit: the run is its parent's
            continue
        if interrupted:  # the user chose to leave: the other open runs are left spooled too
            _leave_spooled(run)
            continue
        try:
            if run._sender is not None and run._sender.backlog():
                print(f"darkroom: finishing run {run.path} at exit (up to {_EXIT_TIMEOUT:.0f} s); press Ctrl-C "
                      f"to stop and leave what is not sent in its spool for: darkroom sync {run.dir}",
                      file=sys.stderr, flush=True)
            # Bounded: with the backend gone, exit must not hang; what is not
            # delivered stays in the spool for `darkroom sync`.
            run.finish(wait=False, timeout=_EXIT_TIMEOUT)
        except DarkroomStrictError:
            raise
        except KeyboardInterrupt:  # the user chose to leave now: the spool keeps what is not sent
            interrupted = True
            _leave_spooled(run)
        except Exception as e:  # at exit there is no training loop left to protect, only data
            print(f"darkroom: could not finish run {run.path} at exit: {e}; "
                  f"send its spool with: darkroom sync {run.dir}", file=sys.stderr)
