"""The report: the study's figures per readout and a self-contained HTML report (`seqgx report`).

- :mod:`seqgx.report.genedata` - the compact per-gene data `seqgx stats` writes for the gene pages;
- :mod:`seqgx.report.inputs` - finding and reading a run's outputs;
- :mod:`seqgx.report.figures` - one function per figure, returning the figure and the data it plots;
- :mod:`seqgx.report.render` - files, inline images, the index and gene pages (Jinja2 templates).
"""
