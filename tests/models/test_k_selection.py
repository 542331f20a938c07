"""The sentence that says why k was chosen (issue 18 item 1), on hand-made sweep tables."""

import pandas as pd

from customersense.models.k_selection import choose_k


def _sweep(sil, db, ch, elbow, ks=range(2, 7)):
    ks = list(ks)
    return pd.DataFrame({"k": ks, "silhouette": sil, "silhouette_method": "exact", "davies_bouldin": db,
                         "calinski_harabasz": ch, "is_elbow": [k == elbow for k in ks]})


def test_edge_criteria_are_no_optimum_not_a_pick():
    table = _sweep(sil=[0.30, 0.41, 0.35, 0.33, 0.31], db=[1.2, 0.9, 1.0, 1.1, 1.3],
                   ch=[900, 800, 700, 650, 600], elbow=4)
    k, why = choose_k(table)
    assert k == 3 and table["chosen"].tolist() == [False, True, False, False, False]
    assert why == ("k=3: the highest silhouette (0.410, exact) of k = 2..6; Davies-Bouldin agrees; "
                   "Calinski-Harabasz has no optimum within 2..6 (best at the edge, k=2); "
                   "the inertia elbow points to k=4")


def test_a_silhouette_peak_at_the_last_k_says_so_and_interior_picks_are_named():
    table = _sweep(sil=[0.2, 0.25, 0.3, 0.35, 0.4], db=[1.2, 0.9, 1.0, 1.1, 1.3],
                   ch=[600, 650, 900, 800, 700], elbow=6)
    k, why = choose_k(table)
    assert k == 6
    assert why == ("k=6: the highest silhouette (0.400, exact) of k = 2..6, at the edge of the range "
                   "(a larger k may score higher: raise --k-max); the inertia elbow agrees; "
                   "Davies-Bouldin points to k=3; Calinski-Harabasz points to k=4")


def test_all_agree_and_fixed_k():
    table = _sweep(sil=[0.3, 0.5, 0.4, 0.3, 0.2], db=[1.0, 0.5, 0.8, 0.9, 1.0], ch=[5, 9, 8, 7, 6], elbow=3)
    assert choose_k(table)[1] == ("k=3: the highest silhouette (0.500, exact) of k = 2..6; "
                                  "Davies-Bouldin, Calinski-Harabasz and the inertia elbow agree")
    k, why = choose_k(table, fixed=5)
    assert k == 5 and why == "k=5 fixed by the user (the highest silhouette in k = 2..6 would be k=3)"
    assert table.loc[table["chosen"], "k"].tolist() == [5]
