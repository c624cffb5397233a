# Copyright (c) mmavs contributors. All rights reserved.
"""Threads that let decoding, the model and writing overlap.

A video is decoded twice: once for the model (its sampled frames) and once
for the overlay video (every frame). Both passes, the drawing and the
encoding run in threads beside the model: PyAV's codecs and OpenCV release
the GIL, so on a machine with spare cores a segmented frame costs about
what the model costs. Every queue between the threads is bounded, so
memory does not grow with the video, and an error in any thread reaches
the caller, naming the file.
"""
import os
import queue
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

import numpy as np

#: Marks the end of a thread's items.
_END = object()
#: How much nicer (Linux) the writer threads are than the model's: under
#: contention the model, the bottleneck on CPU, goes first; writers use
#: what is left, and catch up while the model waits for its next batch.
WRITER_NICENESS = 5


def lower_priority(niceness: int = WRITER_NICENESS) -> None:
    """Make the calling thread nicer, where the system allows it (Linux
    schedules threads by their own nice value); elsewhere nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass


class StopRequested(Exception):
    """Raised inside a worker whose consumer stopped (no error)."""


class BackgroundIterator:
    """Run an iterator in a thread, a few items ahead of its consumer.

    Iterating yields the items in order; an exception the iterator raises
    is raised by the consumer's ``next``, with its traceback. :meth:`stop`
    ends the thread at its next item (the consumer stopped early or
    failed).

    Args:
        make (Callable[[], Iterable]): Makes the iterator; called in the
            thread, so its set-up overlaps the caller's too.
        size (int): Items computed ahead. Defaults to 2.
        name (str): The thread's name.
    """

    def __init__(self,
                 make: Callable[[], Iterable],
                 size: int = 2,
                 name: str = 'mmavs-reader') -> None:
        self._make = make
        self._queue: 'queue.Queue' = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name,
                                        daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        items = None
        try:
            items = iter(self._make())
            for item in items:
                if not self._put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer
            self._put((_END, error))
            return
        finally:
            # A generator stopped early closes its files now, not when it
            # is collected.
            getattr(items, 'close', lambda: None)()
        self._put((_END, None))

    def __iter__(self) -> Iterator:
        while True:
            item, error = self._queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item

    def stop(self) -> None:
        """End the thread (it stops at its next item) and wait for it."""
        self._stop.set()
        self._thread.join()


class MaskBoard:
    """Hands masks from the model's thread to the overlay writer.

    The model puts masks in sample order; the writer asks for the mask of
    each frame's window (never an earlier one than before) and releases
    the ones no later frame needs. At most ``capacity`` masks wait: a
    model ahead of the writer waits for it, so memory stays bounded.

    Args:
        capacity (int): Masks held at most.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, int(capacity))
        self._masks: Dict[int, np.ndarray] = {}
        self._count = 0
        self._finished = False
        self._aborted = False
        self._condition = threading.Condition()

    def put(self, mask: np.ndarray) -> None:
        """Add the next mask, waiting while the board is full.

        Raises:
            StopRequested: The writer stopped (see :meth:`abort`).
        """
        with self._condition:
            while len(self._masks) >= self.capacity and not self._aborted:
                self._condition.wait()
            if self._aborted:
                raise StopRequested()
            self._masks[self._count] = mask
            self._count += 1
            self._condition.notify_all()

    def get(self, index: int) -> Optional[Tuple[int, np.ndarray]]:
        """The mask of sample ``index``, once it is there; past the last
        sample (the video's last frames), the last mask.

        Args:
            index (int): The sample.

        Returns:
            tuple[int, np.ndarray] | None: The sample it is (``index`` or
            the last one) and its mask; None when the run was aborted or
            ended without any mask.
        """
        with self._condition:
            while (index >= self._count and not self._finished
                   and not self._aborted):
                self._condition.wait()
            if self._aborted or not self._count:
                return None
            index = min(index, self._count - 1)
            return index, self._masks[index]

    def release(self, index: int) -> None:
        """Forget the masks before sample ``index`` (the last is kept)."""
        with self._condition:
            for old in [k for k in self._masks
                        if k < min(index, self._count - 1)]:
                del self._masks[old]
            self._condition.notify_all()

    def finish(self) -> None:
        """No more masks come: the writer uses the last for what remains."""
        with self._condition:
            self._finished = True
            self._condition.notify_all()

    def abort(self) -> None:
        """Stop both sides: ``put`` raises, ``get`` returns None."""
        with self._condition:
            self._aborted = True
            self._condition.notify_all()


class Worker:
    """A thread that runs a function and keeps its error for the caller.

    Args:
        target (Callable[[], Any]): What the thread runs.
        name (str): The thread's name.
    """

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        self.error: Optional[BaseException] = None
        self._target = target
        self._thread = threading.Thread(target=self._run, name=name,
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lower_priority()
        try:
            self._target()
        except StopRequested:
            pass
        except BaseException as error:  # handed to the caller
            self.error = error

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def join(self) -> None:
        """Wait for the thread; raise its error, if any."""
        self._thread.join()
        if self.error is not None:
            raise self.error


class ItemWorker(Worker):
    """A thread that handles items one by one from a bounded queue.

    Args:
        handle (Callable[[Any], None]): Called with each item, in order.
        size (int): Items waiting at most; :meth:`put` waits beyond.
        name (str): The thread's name.
    """

    def __init__(self, handle: Callable[[Any], None], size: int,
                 name: str) -> None:
        self._queue: 'queue.Queue' = queue.Queue(maxsize=size)
        self._handle = handle
        self._stopped = False
        super().__init__(self._loop, name)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if not self._stopped:
                self._handle(item)

    def put(self, item: Any) -> None:
        """Queue an item.

        Raises:
            BaseException: The error a previous item raised in the thread.
        """
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self.alive:
                    raise RuntimeError(f'{self._thread.name} ended')

    def close(self, drop: bool = False) -> None:
        """Handle what is queued (or drop it) and end the thread.

        Args:
            drop (bool): Skip the items still queued. Defaults to False.

        Raises:
            BaseException: The thread's error, if any.
        """
        self._stopped = drop
        while self.alive:
            try:
                self._queue.put(_END, timeout=0.1)
                break
            except queue.Full:
                continue
        self.join()
