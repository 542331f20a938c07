"""The representations stage inside a run: columns, outputs and the run record."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run


def test_a_run_with_trajectories_and_embeddings(tmp_path):
    table, _ = planted_transactions(n_customers=300, seed=2)
    # baskets of several products: each planted order gets two more lines of nearby products
    frame = table.to_pandas()
    extra = [frame.assign(product_id=frame["product_id"].map(lambda p: f"P{(int(p[1:]) + k) % 200:03d}"))
             for k in (1, 2)]
    pq.write_table(pa.Table.from_pandas(pd.concat([frame, *extra], ignore_index=True), preserve_index=False),
                   tmp_path / "tx.parquet")
    result = run(load_config(None, {
        "input": {"source": str(tmp_path / "tx.parquet")}, "validation": {"enabled": False},
        "clv": {"enabled": False}, "output": {"dir": str(tmp_path / "out"), "plots": False, "dashboards": False},
        "representations": {"trajectories": True, "embeddings": True}}))
    reps = result.representations
    customers = pd.read_parquet(tmp_path / "out" / "customer_segments.parquet").set_index("customer_id")
    # every customer with a purchase in the trajectory window has a shape; the others none
    shaped = customers["trajectory"].notna()
    assert shaped.sum() == len(reps.trajectories.columns) and set(customers.index[shaped]) == set(
        reps.trajectories.columns.index)
    assert set(customers["trajectory"].dropna()) <= {"growing", "declining", "seasonal", "steady", "one-off"}
    vectors = pd.read_parquet(tmp_path / "out" / "customer_embeddings.parquet").set_index("customer_id")
    assert (vectors["embedding_segment"] == customers.loc[vectors.index, "embedding_segment"]).all()
    assert [c for c in vectors.columns if c.startswith("emb_")] == [f"emb_{i}" for i in range(reps.embeddings.model.dim_)]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["representations"]["trajectories"]["k"] == reps.trajectories.k
    assert record["representations"]["embeddings"]["k"] == reps.embeddings.k
    assert record["representations"]["holdout"] is None
    assert not (tmp_path / "out" / "representations.csv").exists()


def test_one_product_per_basket_skips_the_embeddings_with_a_note(tmp_path):
    table, _ = planted_transactions(n_customers=200, seed=3)  # every order holds one line
    pq.write_table(table, tmp_path / "tx.parquet")
    result = run(load_config(None, {
        "input": {"source": str(tmp_path / "tx.parquet")}, "validation": {"enabled": False},
        "clv": {"enabled": False}, "output": {"dir": str(tmp_path / "out"), "plots": False, "dashboards": False},
        "representations": {"embeddings": True}}))
    assert result.representations.embeddings is None
    assert any(n.startswith("basket embeddings skipped: ") for n in result.notes)
