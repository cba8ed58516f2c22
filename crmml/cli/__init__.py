"""The ``crmml`` command line (top layer: imports anything, imported by nothing).

Commands::

    crmml synth b2c|b2b          generate a synthetic CRM world with ground truth
    crmml features               build point-in-time features and print a summary
    crmml train KIND             holdout check, fit, log to MLflow, save, register (crmml.training.train)
    crmml score --model URI      score every entity with a saved/registered model; the kind is read from
                                 the model (``crmml score clv --model URI`` also refuses another kind)
    crmml leads daily            today's prioritised lead list (score, grade, follow-up, reasons, change since
                                 yesterday) from a lead-scoring model, printed and written atomically
    crmml forecast               period bookings P10-P90 beside the stage-weighted pipeline
    crmml backtest forecast      replay the forecast over past origins: coverage and errors
    crmml batch run --config F   the nightly batch: every configured model over every entity, resumable,
                                 published atomically, drift-checked (crmml.batch.run_batch)
    crmml batch init             write an example batch configuration
    crmml retrain KIND           champion/challenger gate: train a challenger, compare on the latest
                                 holdout, move the champion alias only when it is not worse
    crmml demo                   the main job on the embedded sample world

Exit codes (also printed by ``crmml --help``)::

    0    success
    1    another crmml error (e.g. a fit that did not converge), an operating-system error,
         or an internal error ("internal error: … — rerun with --debug and report it")
    2    usage error: unknown command or option, a number that is not finite or out of
         range (nan, inf, a negative count), contradictory options
    3    bad input data: the tables break the data contract, --data is not a folder of
         tables, no event to choose the default --as-of from
    4    the model cannot be loaded: no model at --model, not a crmml artifact, an
         incompatible or tampered artifact, a registered model/version/alias or run
         that does not exist, a model of another kind than the one named
    5    invalid parameter: a value out of range or not understood (--as-of 31/31/2025,
         an unknown --tracking-uri scheme, an invalid --name/--alias), or a path crmml
         cannot write (--out is a folder, not writable, --save/--out is a non-empty
         folder crmml did not write)
    6    the MLflow tracking store or registry is unusable: the server does not answer
         (a few seconds of retries, not minutes), no store at the URI for a read, the
         store refuses or fails
    7    crmml batch run --fail-on-drift: a model's features or score drifted to the act
         level (PSI > 0.25); the run was published
    130  interrupted (Ctrl-C)

Every path a command writes (``--out``, ``--save``, ``--plots-dir``,
``--workdir``) and every MLflow setting (``--tracking-uri``, ``--name``,
``--alias``) is checked before the long work starts. ``--debug`` prints the
traceback of a crmml error and lets an unexpected exception propagate.

Layout: :mod:`crmml.cli._main` (parser, errors → exit codes, ``main``),
:mod:`crmml.cli._commands` (one function per command; training and scoring
are library calls), :mod:`crmml.cli._kinds` (per-kind ``train`` options and
``score`` summaries, e.g. :mod:`crmml.cli._clv`), :mod:`crmml.cli._paths`
(output checks), :mod:`crmml.cli._common` (exit codes, progress, option types).
"""

from crmml.cli._common import (
    EXIT_ARTIFACT,
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARAM,
    EXIT_TRACKING,
    EXIT_USAGE,
)
from crmml.cli._main import main

__all__ = [
    "EXIT_ARTIFACT",
    "EXIT_DATA",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARAM",
    "EXIT_TRACKING",
    "EXIT_USAGE",
    "main",
]
