"""The typed records the parser produces and the loader stores."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["active", "completed"]
Coverage = Literal["national", "regional", "multi-regional", "global"]
Lang = Literal["en", "fr", "es"]


class Problem(BaseModel):
    """Something in a page the parser could not read as expected (kept with the record)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    field: str | None = None


class ProjectRecord(BaseModel):
    """One project page, read and normalised. Missing fields are None."""

    kind: Literal["project"] = "project"
    source: str
    lang: Lang | None = None
    title: str | None = None
    project_id: str | None = None
    prima_id: str | None = None
    status: Status | None = None
    status_label: str | None = None
    project_type: str | None = None  # as written: the `idf-etl parse` contract
    project_type_canonical: str | None = None  # one of vocabulary.PROJECT_TYPE_NAMES
    budget_usd: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    budget_label: str | None = None
    coverage: Coverage | None = None
    coverage_label: str | None = None
    idf_region: str | None = None
    idf_region_label: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    year: int | None = None
    states: list[str] = Field(default_factory=list)
    state_names: list[str] = Field(default_factory=list)
    description: str | None = None
    template: str | None = None
    node_id: int | None = None
    translations: dict[str, str] = Field(default_factory=dict)
    problems: list[Problem] = Field(default_factory=list)


class OtherPage(BaseModel):
    """A page that is not a project page (news, FAQ, guidance, listing, error)."""

    kind: Literal["other"] = "other"
    source: str
    lang: Lang | None = None
    title: str | None = None
    reason: str
    problems: list[Problem] = Field(default_factory=list)


PageRecord = ProjectRecord | OtherPage
