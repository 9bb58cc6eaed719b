"""Flows: the co-design loop as data. A YAML file names the model, the target and the
stages; `run_flow` runs them with a content-hashed cache, sweeps the points over a
process pool or Dask, and writes a run directory with an HTML/markdown report."""

from codesign.flow.located import FlowError
from codesign.flow.run import RunResult, run_flow
from codesign.flow.schema import Flow, load_flow
from codesign.flow.stages import STAGES, Point, Stage, StageContext

__all__ = ["STAGES", "Flow", "FlowError", "Point", "RunResult", "Stage", "StageContext",
           "load_flow", "run_flow"]
