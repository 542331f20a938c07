"""The API's request and answer bodies: fixed pydantic models, so the OpenAPI schema is exact.

Feature values are finite numbers (JSON has no NaN; ``NaN``/``Infinity`` literals are refused)
within generous bounds, so that every accepted value can be scored without overflow.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Larger than any real count, day span or money amount; keeps log1p, exp and int casts finite.
BOUND = 1e12
Number = Annotated[float, Field(allow_inf_nan=False, ge=-BOUND, le=BOUND)]
Count = Annotated[float, Field(allow_inf_nan=False, ge=0, le=BOUND)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerFeatures(_Strict):
    """One customer as in a run's ``customer_segments``: its id and its feature columns. Which
    features are required depends on the model (``GET /v1/model``: ``required_columns``); the CLV
    inputs are optional (without them the CLV fields of the answer are null)."""

    customer_id: Text
    recency_days: Count | None = None
    frequency: Count | None = None
    monetary: Number | None = None
    gross_revenue: Number | None = None
    returns_value: Number | None = None
    avg_order_value: Number | None = None
    order_value_std: Count | None = None
    tenure_days: Count | None = None
    mean_interpurchase_days: Count | None = None
    return_rate: Number | None = None
    clv_frequency: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    clv_recency: Annotated[float, Field(allow_inf_nan=False, ge=0, le=100_000)] | None = None
    clv_T: Annotated[float, Field(allow_inf_nan=False, ge=0, le=100_000)] | None = None
    clv_monetary_value: Number | None = None


class ScoreRequest(_Strict):
    customers: list[CustomerFeatures] = Field(min_length=1)


class Transaction(_Strict):
    """One transaction line, standard column names. ``amount`` is the line's value; without it,
    ``quantity`` x ``unit_price``. A timestamp with a UTC offset is taken in UTC; one without, as given."""

    customer_id: Text
    timestamp: dt.datetime
    amount: Number | None = None
    quantity: Number | None = None
    unit_price: Number | None = None
    order_id: Text | None = None
    product_id: Text | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    country: Text | None = None

    @model_validator(mode="after")
    def _has_value(self) -> Transaction:
        if self.amount is None and (self.quantity is None or self.unit_price is None):
            raise ValueError("give amount, or quantity and unit_price")
        return self


class TransactionsRequest(_Strict):
    as_of: dt.date | None = Field(None, description="Features as of this day (rows on or after it are left "
                                  "out); default: the day after the last transaction.")
    transactions: list[Transaction] = Field(min_length=1)


class CustomerScore(BaseModel):
    customer_id: str
    segment: str | None = Field(description="Learned segment's business name (null without learned segments).")
    cluster: int | None
    rfm_segment: str
    r_score: int
    f_score: int
    m_score: int
    is_anomaly: bool | None
    anomaly_score: float | None
    anomaly_reason: str | None
    engagement_score: float
    p_alive: float | None
    churn_probability: float | None = Field(
        description="P(no purchase in the next horizon_days days) (GET /v1/model: churn_horizon_days).")
    expected_purchases: float | None = Field(description="Expected purchase days in the next horizon_days days.")
    expected_spend: float | None = Field(description="Expected spend in the next horizon_days days.")
    clv: float | None


class ScoreResponse(BaseModel):
    customers: list[CustomerScore]
    model_version: str


class TransactionsScoreResponse(ScoreResponse):
    as_of: dt.date = Field(description="The day the features were computed as of.")


class SegmentInfo(BaseModel):
    segmentation: str = Field(description='"rfm" or "learned".')
    segment: str
    customers: int | None
    share: float | None
    revenue: float | None
    description: str | None
    strategy: str | None
    recommendations: dict[str, list[str]] = Field(description="retention, pricing and campaigns actions.")
    profile: dict[str, float | int | str | None] = Field(description="The segment's other profile statistics.")


class ModelInfo(BaseModel):
    model_version: str
    customersense_version: str | None
    trained_on: dict[str, Any]
    k: int | None = Field(description="Number of learned segments (null without learned segments).")
    features: list[str] = Field(description="Features the learned segments use.")
    required_columns: list[str] = Field(description="Features every customer of POST /v1/score must carry.")
    clv: bool = Field(description="Whether churn and CLV are scored (false: those fields are null).")
    clv_inputs: str | None = Field(
        default=None, description="What churn and CLV need from a request (a saved supervised churn model: "
                                  "transactions only; without them those fields are null). Null without CLV.")
    churn_horizon_days: int | None = Field(description="The churn horizon H in days (null without CLV).")
    segments: list[SegmentInfo]


class Health(BaseModel):
    status: str
    model_version: str


class Reloaded(BaseModel):
    model_version: str
    previous_model_version: str


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong, in one line.")
    detail: Any = None
