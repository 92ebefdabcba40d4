"""fmltc_core: the reference implementation of FMLTC-IDS.

FMLTC-IDS is a federated meta-learning intrusion detection system for IoT
networks that clusters clients by the time series of their model updates
(Zhou, Liu and Zhu, "FMLTC-IDS: A Federated Meta-Learning and Adaptive Time
Clustering-based IoT Intrusion Detection System").

Every algorithm of the reproduction lives in this package; the notebooks in
``notebooks/`` only call it, plot and write tables.

Sub-packages
------------
data
    Loaders for the public datasets (CICIDS2017, BoT-IoT, IoT-23), the seeded
    IoT traffic simulator that stands in for the paper's private traffic,
    preprocessing, ADWIN/SMOTE temporal subsets D1..D10 and Dirichlet clients.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
