-- Hand-written DuckDB SQL applying CustomerSense's cleaning rules (src/customersense/cleaning/rules.py)
-- and computing the same feature columns (src/customersense/features/customer.py), without the
-- cleaning report. {path} and {codes} (the default non-product codes) are filled in by
-- bench_features.py.
WITH src AS (
  SELECT CASE WHEN "Customer ID" = floor("Customer ID")
              THEN CAST(CAST("Customer ID" AS BIGINT) AS VARCHAR)
              ELSE CAST("Customer ID" AS VARCHAR) END AS customer_id,
         trim(Invoice) AS order_id, InvoiceDate AS ts, Quantity * Price AS amount,
         CAST(Quantity AS DOUBLE) AS quantity, Price AS unit_price,
         trim(StockCode) AS product_id, Country AS country
  FROM read_parquet({path})),
bounds AS (SELECT CAST(max(ts) AS DATE) + 1 AS as_of FROM src),
dedup AS (SELECT DISTINCT * FROM src
          WHERE customer_id IS NOT NULL AND ts IS NOT NULL AND ts < (SELECT as_of FROM bounds)),
valid AS (
  SELECT *, (coalesce(amount, 0) < 0 OR coalesce(quantity, 0) < 0
             OR starts_with(coalesce(order_id, ''), 'C')) AS is_return
  FROM dedup
  WHERE NOT coalesce(upper(product_id) IN ({codes}) OR regexp_matches(product_id, '(?i)^gift_'), false)
    AND amount IS NOT NULL AND NOT coalesce(quantity = 0, false)
    AND NOT coalesce(unit_price <= 0, false)),
kept AS (SELECT * FROM valid
         WHERE NOT is_return OR customer_id IN (SELECT customer_id FROM valid WHERE NOT is_return)),
orders AS (
  SELECT customer_id, coalesce(order_id, CAST(CAST(ts AS DATE) AS VARCHAR)) AS order_key,
         sum(abs(amount)) AS order_value, min(CAST(ts AS DATE)) AS order_day
  FROM kept WHERE NOT is_return GROUP BY ALL),
per_customer AS (
  SELECT customer_id, count(*) AS frequency, sum(order_value) AS gross_revenue,
         avg(order_value) AS avg_order_value, stddev_samp(order_value) AS order_value_std,
         min(order_day) AS first_day, max(order_day) AS last_day,
         count(DISTINCT order_day) AS purchase_days
  FROM orders GROUP BY customer_id),
returned AS (SELECT customer_id, sum(abs(amount)) AS returns_value
             FROM kept WHERE is_return GROUP BY customer_id),
f AS (
  SELECT p.customer_id, (SELECT as_of FROM bounds) - p.last_day AS recency_days, p.frequency,
         round(p.gross_revenue - coalesce(r.returns_value, 0), 6) AS monetary,
         round(p.gross_revenue, 6) AS gross_revenue,
         round(coalesce(r.returns_value, 0), 6) AS returns_value,
         round(p.avg_order_value, 6) AS avg_order_value,
         round(coalesce(p.order_value_std, 0), 6) AS order_value_std,
         (SELECT as_of FROM bounds) - p.first_day AS tenure_days,
         round(CASE WHEN p.purchase_days > 1
                    THEN (p.last_day - p.first_day) / (p.purchase_days - 1) END, 6)
           AS mean_interpurchase_days,
         round(coalesce(r.returns_value, 0) / p.gross_revenue, 6) AS return_rate
  FROM per_customer p LEFT JOIN returned r USING (customer_id))
SELECT *, round(100 * (0.4 * percent_rank() OVER (ORDER BY recency_days DESC)
                       + 0.3 * percent_rank() OVER (ORDER BY frequency)
                       + 0.3 * percent_rank() OVER (ORDER BY monetary)), 6) AS engagement_score
FROM f ORDER BY customer_id
