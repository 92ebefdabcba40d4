"""Server-side time-series clustering of clients (FMLTC-IDS section 3.3-3.4).

``features``  eq. 6 last-layer features, eqs. 7-8 PCA, eq. 10 enhanced
              per-round series over a sliding window of rounds
``dtw``       eq. 9 gradient-weighted DTW
``dba``       eqs. 11-12 dynamically weighted DBA centres
``kmeans``    K-Means with weighted DBA, eq. 13 stopping rule, eq. 14 SSE and
              the elbow choice of K, initial centres from meta-cluster centres
``quality``   silhouette score under DTW and intra-cluster gradient similarity
"""
