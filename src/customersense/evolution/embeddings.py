"""Basket embeddings: product vectors learned from what is bought together, customer vectors
from them, and segments of customers described by their products.

Method. Item2vec (Barkan & Koenigstein, 2016) trains word2vec's skip-gram with negative
sampling (SGNS) on baskets, every pair of products in a basket being a (word, context) pair.
Levy & Goldberg (2014, "Neural word embedding as implicit matrix factorization", NIPS) show
that SGNS with k negative samples implicitly factorises the shifted PMI matrix,
PMI(i, j) - log k. So the vectors here are that factorisation made explicit: the positive
shifted PMI (SPPMI) of product co-occurrence within baskets, factorised by a truncated SVD,
vectors U * sqrt(S) (the symmetric weighting Levy, Goldberg & Dagan 2015 recommend), then
L2-normalised. Compared with training SGNS it is deterministic (a seeded randomized SVD), takes
seconds on the CPU, and needs only scipy and scikit-learn (no gensim, no torch).

Definitions (a basket is one order of one customer, ``(customer_id, order_key)``, purchase
lines only; a product counts once per basket):

- ``C[i, j]``: baskets holding both i and j (i != j), from a sparse basket x product
  incidence matrix ``B``: ``C = B^T B`` without its diagonal; never a loop over baskets.
- ``PMI(i, j) = log(C[i, j] * D / (n_i * m_j))`` with ``D = sum C``, ``n_i = sum_j C[i, j]``
  and ``m_j = (sum_i C[i, j]) ** a / sum_j (sum_i C[i, j]) ** a * D``: word2vec's context
  distribution smoothed by ``a = context_smoothing`` (0.75, as word2vec samples negatives;
  1.0 gives the plain PMI).
- ``SPPMI = max(PMI - shift, 0)``, ``shift = log k`` for k negative samples (default 0).

Products in fewer than ``min_count`` baskets are dropped (counted in ``n_dropped_``), as
word2vec drops rare words. A customer's vector is the spend-weighted mean of the vectors of
the products they bought (gross purchase spend), L2-normalised; customers with no embedded
product are flagged and left out of the segments. Segments: K-Means on the customer vectors,
k chosen by :func:`~customersense.models.k_selection.choose_k` (highest silhouette), each
described by its top products by lift, share of the segment's spend / share of all spend,
among the segment's ``TOP_CANDIDATES`` products with the most spend (so a product one customer
bought once cannot top the list).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.extmath import randomized_svd
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY
from ..engine.base import Engine, fetch
from ..errors import DataError
from ..models.k_selection import choose_k, sweep_k

BASKET = "basket"
NO_EMBEDDING = -1
TOP_PRODUCTS = 5       # products describing a segment
TOP_CANDIDATES = 50    # a segment's products with most spend, among which lift ranks
NAME_CHARS = 24        # characters of a product's description in a segment's name


def basket_pairs(clean: ibis.Table) -> ibis.Table:
    """Distinct (customer_id, order_key, product_id) of the purchase lines, in the engine; a
    basket is one order of one customer (an order key is a day without order ids)."""
    if S.PRODUCT_ID not in clean.columns:
        raise DataError("basket embeddings need a product column (product_id)")
    purchases = clean.filter(~clean[IS_RETURN] & clean[S.PRODUCT_ID].notnull())
    return purchases.select(S.CUSTOMER_ID, ORDER_KEY, S.PRODUCT_ID).distinct()


def incidence(pairs: pd.DataFrame, basket: list[str] | str, product: str = S.PRODUCT_ID
              ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The sparse basket x product 0/1 matrix of distinct pairs, and the product ids of its
    columns (sorted)."""
    rows = pairs.groupby(basket, sort=False).ngroup().to_numpy() if isinstance(basket, list) \
        else pd.factorize(pairs[basket])[0]
    cols, products = pd.factorize(pairs[product], sort=True)
    B = sparse.csr_matrix((np.ones(len(pairs)), (rows, cols)),
                          shape=(int(rows.max()) + 1 if len(rows) else 0, len(products)))
    B.data[:] = 1.0  # a product counts once per basket
    return B, np.asarray(products)


def cooccurrence(B: sparse.spmatrix) -> sparse.csr_matrix:
    """C[i, j]: baskets holding both products i and j, i != j (``B^T B`` without its diagonal)."""
    B = sparse.csr_matrix(B, dtype=np.float64)
    B.data[:] = 1.0
    C = (B.T @ B).tocsr()
    C.setdiag(0)
    C.eliminate_zeros()
    return C


def sppmi(C: sparse.spmatrix, shift: float = 0.0, context_smoothing: float = 0.75) -> sparse.csr_matrix:
    """max(PMI - shift, 0) of a co-occurrence matrix (see the module's docstring), sparse: only
    co-occurring pairs can be positive."""
    C = sparse.coo_matrix(C)
    total = C.sum()
    rows = np.asarray(C.sum(axis=1)).ravel()
    ctx = np.asarray(C.sum(axis=0)).ravel() ** context_smoothing
    ctx = ctx / ctx.sum() * total
    pmi = np.log(C.data * total / (rows[C.row] * ctx[C.col])) - shift
    keep = pmi > 0
    return sparse.csr_matrix((pmi[keep], (C.row[keep], C.col[keep])), shape=C.shape)


class ProductEmbedder(BaseEstimator):
    """Product vectors from baskets: the SVD of the shifted positive PMI (see the module).

    ``fit(X, products=None)``: ``X`` a basket x product matrix (nonzero = bought; sparse or
    dense), ``products`` the ids of its columns (default 0..p-1). Fitted: ``vectors_``
    (products x dim_, rows of norm 1), ``products_`` (the kept ids), ``baskets_`` (baskets per
    kept product), ``n_dropped_`` (products in fewer than ``min_count`` baskets), ``dim_``
    (``dim``, or fewer when there are fewer products), ``singular_values_``.
    """

    def __init__(self, dim=32, min_count=5, shift=0.0, context_smoothing=0.75, random_state=None):
        self.dim = dim
        self.min_count = min_count
        self.shift = shift
        self.context_smoothing = context_smoothing
        self.random_state = random_state

    def fit(self, X, y=None, products=None):
        B = sparse.csr_matrix(X, dtype=np.float64)
        B.data = (B.data != 0).astype(np.float64)
        B.eliminate_zeros()
        ids = np.arange(B.shape[1]) if products is None else np.asarray(products)
        if len(ids) != B.shape[1]:
            raise ValueError(f"{len(ids)} product ids for {B.shape[1]} columns")
        counts = np.asarray(B.sum(axis=0)).ravel()
        kept = np.flatnonzero(counts >= self.min_count)
        if len(kept) < 2:
            raise DataError(f"basket embeddings need 2 products in at least {self.min_count} baskets; "
                            f"{len(kept)} found")
        B = B[:, kept]
        C = cooccurrence(B)
        if C.nnz == 0:
            raise DataError("basket embeddings need products bought together; no basket holds two products "
                            "(one line per order?)")
        M = sppmi(C, self.shift, self.context_smoothing)
        self.dim_ = int(min(self.dim, len(kept) - 1))
        U, s, _ = randomized_svd(M, self.dim_, n_iter=7, random_state=self.random_state)
        U = U * np.sign(U[np.abs(U).argmax(axis=0), range(self.dim_)])  # a fixed sign per axis
        self.vectors_ = _unit_rows(U * np.sqrt(s))
        self.singular_values_ = s
        self.products_ = ids[kept]
        self.baskets_ = counts[kept].astype(np.int64)
        self.n_dropped_ = int(len(ids) - len(kept))
        self.pmi_ = M
        return self

    def most_similar(self, product, n: int = 10) -> list[tuple[Any, float]]:
        """The ``n`` products with the highest cosine similarity to ``product`` (itself left out)."""
        check_is_fitted(self, "vectors_")
        where = np.flatnonzero(self.products_ == product)
        if not len(where):
            raise KeyError(f"product {product!r} has no vector (fewer than {self.min_count} baskets?)")
        sims = self.vectors_ @ self.vectors_[where[0]]
        sims[where[0]] = -np.inf
        order = np.argsort(-sims, kind="stable")[:n]
        return [(self.products_[i], float(sims[i])) for i in order]


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def customer_vectors(spend: sparse.spmatrix, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spend-weighted mean of each customer's product vectors, L2-normalised, from a customer x
    product spend matrix (columns as the rows of ``vectors``); and which customers have one
    (those with no spend on an embedded product get zeros and False)."""
    W = sparse.csr_matrix(spend) @ vectors
    has = np.asarray(sparse.csr_matrix(spend).sum(axis=1)).ravel() > 0
    return _unit_rows(np.asarray(W)), has & (np.linalg.norm(W, axis=1) > 0)


def segment_products(spend: sparse.spmatrix, labels: np.ndarray, products: np.ndarray,
                     descriptions: pd.Series | None = None, top: int = TOP_PRODUCTS) -> dict[int, pd.DataFrame]:
    """Per segment, its top products by lift (share of the segment's spend / share of all
    spend) among its ``TOP_CANDIDATES`` products with most spend."""
    spend = sparse.csr_matrix(spend)
    overall = np.asarray(spend.sum(axis=0)).ravel()
    overall_share = overall / overall.sum()
    out = {}
    for c in np.unique(labels[labels != NO_EMBEDDING]):
        seg = np.asarray(spend[labels == c].sum(axis=0)).ravel()
        share = seg / seg.sum()
        cand = np.argsort(-share, kind="stable")[:TOP_CANDIDATES]
        cand = cand[share[cand] > 0]
        lift = share[cand] / overall_share[cand]
        best = cand[np.argsort(-lift, kind="stable")[:top]]
        table = pd.DataFrame({S.PRODUCT_ID: products[best], "lift": share[best] / overall_share[best],
                              "spend_share": share[best]})
        if descriptions is not None:
            table.insert(1, S.DESCRIPTION, descriptions.reindex(products[best]).to_numpy())
        out[int(c)] = table
    return out


def _segment_name(table: pd.DataFrame) -> str:
    label = table[S.DESCRIPTION].fillna(table[S.PRODUCT_ID].astype(str)) if S.DESCRIPTION in table \
        else table[S.PRODUCT_ID].astype(str)
    return " & ".join(str(v).strip().title()[:NAME_CHARS].strip() for v in label.iloc[:2])


@dataclass(frozen=True)
class BasketEmbeddings:
    model: ProductEmbedder
    columns: pd.DataFrame              # by customer_id: embedding_cluster, embedding_segment, emb_*
    top_products: dict[int, pd.DataFrame]
    names: dict[int, str]
    k: int
    why: str
    selection: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def vectors(self) -> pd.DataFrame:
        """Product vectors, indexed by product id."""
        m = self.model
        return pd.DataFrame(m.vectors_, index=pd.Index(m.products_, name=S.PRODUCT_ID),
                            columns=[f"emb_{i}" for i in range(m.dim_)])

    def summary(self) -> dict[str, Any]:
        m, clusters = self.model, self.columns["embedding_cluster"]
        return {
            "method": "truncated SVD of the shifted positive PMI of basket co-occurrence "
                      "(Levy & Goldberg 2014: what item2vec's SGNS factorises)",
            "dim": m.dim_, "min_count": m.min_count, "shift": m.shift,
            "context_smoothing": m.context_smoothing, "random_state": m.random_state,
            "products_embedded": len(m.products_), "products_dropped": m.n_dropped_,
            "customers": len(clusters), "customers_without_embedding": int((clusters == NO_EMBEDDING).sum()),
            "k": self.k, "why": self.why,
            "segments": [
                {"cluster": c, "segment": self.names[c], "customers": int((clusters == c).sum()),
                 "top_products": self.top_products[c].to_dict(orient="records")}
                for c in sorted(self.names)
            ],
            "seconds": self.seconds,
        }


def learn_embeddings(clean: ibis.Table, engine: Engine | None = None, dim: int = 32, min_count: int = 5,
                     k_range: tuple[int, int] = (2, 8), random_state: int = 42) -> BasketEmbeddings:
    """Product vectors from ``clean``'s baskets, customer vectors, and K-Means segments of them.

    Three tables come from the engine: the distinct basket lines, spend per customer and
    product, and (with a description column) the count of each product's descriptions. The
    SVD and the K-Means sweep run on one thread: on a shared machine, small fits are faster so.
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    pairs = fetch(basket_pairs(clean), engine)
    B, products = incidence(pairs, [S.CUSTOMER_ID, ORDER_KEY])
    purchases = clean.filter(~clean[IS_RETURN] & clean[S.PRODUCT_ID].notnull())
    spend_t = fetch(purchases.group_by([S.CUSTOMER_ID, S.PRODUCT_ID]).aggregate(spend=purchases[LINE_AMOUNT].sum()),
                    engine)
    descriptions = None
    if S.DESCRIPTION in clean.columns:
        d = purchases.filter(purchases[S.DESCRIPTION].notnull())
        d = fetch(d.group_by([S.PRODUCT_ID, S.DESCRIPTION]).aggregate(n=d.count()), engine)
        # the most frequent description of each product (ties: the first in sort order)
        d = d.sort_values([S.PRODUCT_ID, "n", S.DESCRIPTION], ascending=[True, False, True], kind="stable")
        descriptions = d.drop_duplicates(S.PRODUCT_ID).set_index(S.PRODUCT_ID)[S.DESCRIPTION]
    seconds["fetch"] = time.perf_counter() - t0

    with threadpool_limits(1):
        t0 = time.perf_counter()
        model = ProductEmbedder(dim=dim, min_count=min_count, random_state=random_state).fit(B, products=products)
        seconds["embed"] = time.perf_counter() - t0
        columns, top, names, k, why, selection = _segments(model, spend_t, descriptions, k_range, random_state)
        seconds["segments"] = time.perf_counter() - t0 - seconds["embed"]
    return BasketEmbeddings(model, columns, top, names, k, why, selection,
                            {s: round(v, 3) for s, v in seconds.items()})


def _segments(model: ProductEmbedder, spend_t: pd.DataFrame, descriptions: pd.Series | None,
              k_range: tuple[int, int], random_state: int):
    """Customer vectors from the spend table, their K-Means segments and each one's products."""
    customers, rows = np.unique(spend_t[S.CUSTOMER_ID].to_numpy(), return_inverse=True)
    col = pd.Index(model.products_).get_indexer(spend_t[S.PRODUCT_ID])
    inside = col >= 0
    spend = sparse.csr_matrix((spend_t["spend"].to_numpy(dtype=np.float64)[inside], (rows[inside], col[inside])),
                              shape=(len(customers), len(model.products_)))
    V, has = customer_vectors(spend, model.vectors_)
    labels = np.full(len(customers), NO_EMBEDDING)
    k_lo, k_hi = k_range
    ks = list(range(k_lo, min(k_hi, int(has.sum()) - 1) + 1))
    if not ks:
        raise DataError(f"basket segments need more than {k_lo} customers with embedded products; {int(has.sum())} found")
    selection, fitted = sweep_k(V[has], ks, random_state=random_state)
    k, why = choose_k(selection)
    raw = fitted[k].labels_
    by_size = np.argsort(-np.bincount(raw, minlength=k), kind="stable")  # cluster 0: the largest
    labels[has] = np.argsort(by_size)[raw]
    top = segment_products(spend, labels, model.products_, descriptions)
    names = _unique({c: _segment_name(t) for c, t in top.items()})

    columns = pd.DataFrame(V, index=pd.Index(customers, name=S.CUSTOMER_ID),
                           columns=[f"emb_{i}" for i in range(model.dim_)])
    columns.loc[~has] = np.nan
    columns.insert(0, "embedding_cluster", labels)
    columns.insert(1, "embedding_segment", pd.Series(labels).map(names).fillna("no embedded products").to_numpy())
    return columns, top, names, int(k), why, selection


def _unique(names: dict[int, str]) -> dict[int, str]:
    seen = pd.Series(list(names.values())).duplicated(keep=False).to_numpy()
    return {c: f"{n} ({c})" if dup else n for (c, n), dup in zip(names.items(), seen)}
