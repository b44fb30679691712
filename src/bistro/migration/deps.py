"""The migration feature's dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from bistro.core.deps import StateDep
from bistro.migration.runtime import FlagRuntime


async def get_flag_runtime(state: StateDep) -> FlagRuntime:
    runtime: FlagRuntime = state.extras["flags"]
    return runtime


FlagRuntimeDep = Annotated[FlagRuntime, Depends(get_flag_runtime)]
