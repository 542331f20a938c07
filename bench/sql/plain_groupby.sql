-- Plain DuckDB baseline from the issue: a basic RFM GROUP BY per customer.
-- Rows with a customer, not cancelled, positive price; {path} is filled in by bench_features.py.
SELECT "Customer ID" AS customer_id, count(DISTINCT Invoice) AS frequency,
       sum(Quantity * Price) AS monetary, min(InvoiceDate) AS first_purchase,
       max(InvoiceDate) AS last_purchase
FROM read_parquet({path})
WHERE "Customer ID" IS NOT NULL AND Invoice NOT LIKE 'C%' AND Price > 0
GROUP BY "Customer ID"
