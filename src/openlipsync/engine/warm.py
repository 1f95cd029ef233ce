"""Importing this module builds the engine's reusable state: the phone recogniser (pocketsphinx) and the
view of the BLAS libraries that keeps the plan's linear algebra single-threaded.

Fork servers can only preload modules (``multiprocessing.set_forkserver_preload``), so the warm-up is an
import side effect here and nowhere else. Jobs forked from the importing thread start with it built.
"""

from openlipsync.engine.audio.phones import warm_up
from openlipsync.engine.plan import blas_controller

warm_up()
blas_controller()
