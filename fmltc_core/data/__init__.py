"""Data pipeline: flow files or simulated traffic to federated clients.

The stages, each in its own module:

``report``      counts of every repair and drop, per file and reason
``vocabulary``  one label vocabulary and the explicit model feature lists
``readers``     robust reading of dirty delimited text (BOM, CRLF, separators)
``cicids2017``, ``bot_iot``, ``iot23``  dataset loaders returning ``FlowData``
``download``    fetch-and-verify for datasets with stable addresses
``simulator``   seeded layered IoT platform traffic (the offline default)
``preprocess``  imputation, outlier clipping, standardisation, PCA
``temporal``    ADWIN + 1 h / 30 min windows into ordered subsets D1..D10,
                SMOTE balancing of low-traffic windows
``partition``   Dirichlet label-skew client partitions
``federation``  glues the stages into per-client, per-subset train/test sets
"""
